"""symtensor: symbolic tensors in the style of Theano.

``import symtensor as T``: build a graph from symbolic variables, differentiate it with
``T.grad`` and compile it with ``T.function``. Every public name is re-exported here; this
module holds no logic.
"""
from .config import config, change_flags  # noqa: F401
from .graph.type import TensorType, Type  # noqa: F401
from .graph.basic import Apply, Constant, Op, Variable  # noqa: F401
from .graph.fg import FunctionGraph, MissingInputError  # noqa: F401
from .ops.api import *  # noqa: F401,F403
from .ops.scan import foldl, foldr, map, reduce, scan  # noqa: F401  (theano.scan, theano.map, ...)
from .ops.basic import TensorConstant, TensorVariable, as_tensor_variable, constant, tensor  # noqa: F401
from .grad import (DisconnectedInputError, GradientError, Lop, NullTypeGradError, Rop,  # noqa: F401
                   disconnected_grad, grad, grad_clip, verify_grad, zero_grad)
from .compile import (Function, In, Mode, Out, SharedVariable, TensorSharedVariable,  # noqa: F401
                      UnusedInputError, function, get_mode, shared)
from .printing import debugprint, dprint, pp, pydotprint  # noqa: F401
from . import gradient, printing, scalar, tensor  # noqa: F401
from .tensor import nlinalg, nnet, shared_randomstreams, slinalg  # noqa: F401
from .grad.jacobian import hessian, hessian_vector_product, jacobian  # noqa: F401
from .grad.vectorize import vectorize_graph, vmap  # noqa: F401
from .compile.random_streams import MRG_RandomStreams, RandomStreams  # noqa: F401
from . import ifelse, linalg, sandbox, updates  # noqa: F401

__version__ = "0.1.0"
