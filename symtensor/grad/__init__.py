"""Derivatives: reverse mode (grad, Lop), forward mode (Rop), gradient checking, Jacobians and
Hessians, and vectorization over a batch axis (vectorize_graph, vmap)."""
from .gradient import DisconnectedInputError, Lop, NullTypeGradError, Rop, grad
from .verify import GradientError, verify_grad
from . import forward_rules  # noqa: F401  (registers the forward rules)
from .vectorize import PerSample, vectorize_graph, vmap
from .jacobian import JacobianInputError, hessian, hessian_vector_product, jacobian
from ..ops.misc import disconnected_grad, grad_clip, zero_grad
