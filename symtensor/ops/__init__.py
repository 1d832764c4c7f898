"""The op catalogue, by family. Each op is defined once; ``ops.api`` gathers the functions."""
from . import api
from .basic import TensorConstant, TensorVariable, as_tensor_variable, constant, tensor
