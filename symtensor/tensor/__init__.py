"""Theano's ``tensor`` namespace (``import symtensor.tensor as TT``): a public face that
re-exports the op catalogue; it holds no logic."""
from ..graph.type import TensorType
from ..ops.api import *  # noqa: F401,F403
from ..ops import api as _api
from ..ops.basic import TensorConstant, TensorVariable, as_tensor_variable, constant, tensor
from ..compile.shared import TensorSharedVariable, shared
from ..grad import Lop, Rop, grad, verify_grad
from ..grad.jacobian import hessian, jacobian
from . import extra_ops, nlinalg, nnet, raw_random, shared_randomstreams, signal, slinalg

__all__ = [n for n in vars(_api) if not n.startswith("_") and n != "annotations"]


def _make_module_callable() -> None:
    """``T.tensor`` is both this module (Theano's layout) and, when called, the constructor
    ``tensor(dtype, broadcastable)`` that API.md puts at the top level."""
    import sys
    import types
    from ..ops.basic import tensor as _construct

    class _TensorModule(types.ModuleType):
        def __call__(self, *args, **kwargs):
            return _construct(*args, **kwargs)

    sys.modules[__name__].__class__ = _TensorModule


_make_module_callable()
