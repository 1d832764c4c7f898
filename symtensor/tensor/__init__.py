"""Theano's ``tensor`` namespace (``import symtensor.tensor as TT``): a public face that
re-exports the op catalogue; it holds no logic."""
from ..graph.type import TensorType
from ..ops.api import *  # noqa: F401,F403
from ..ops import api as _api
from ..ops.basic import TensorConstant, TensorVariable, as_tensor_variable, constant, tensor
from ..compile.shared import TensorSharedVariable, shared
from ..grad import Lop, Rop, grad, verify_grad
from . import nnet

__all__ = [n for n in vars(_api) if not n.startswith("_") and n != "annotations"]
