"""Derivatives: reverse mode (grad, Lop), forward mode (Rop), gradient checking."""
from .gradient import DisconnectedInputError, Lop, NullTypeGradError, Rop, grad
from .verify import GradientError, verify_grad
from ..ops.misc import disconnected_grad, grad_clip, zero_grad
