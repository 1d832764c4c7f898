"""Theano's ``gradient`` module: a public face over symtensor.grad."""
from .graph.null import DisconnectedType, NullType, grad_not_implemented, grad_undefined  # noqa: F401
from .grad import (DisconnectedInputError, GradientError, Lop, NullTypeGradError, Rop,  # noqa: F401
                   disconnected_grad, grad, grad_clip, verify_grad, zero_grad)
from .grad.jacobian import JacobianInputError, hessian, hessian_vector_product, jacobian  # noqa: F401
from .grad.vectorize import vectorize_graph, vmap  # noqa: F401
