"""Identity ops that only change how gradients flow: zero_grad, disconnected_grad, grad_clip."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph.basic import Apply, Op, Variable
from ..graph.null import disconnected_type
from .basic import as_tensor_variable


class _GradIdentity(Op):
    """Forward: the identity (a view). Backward: defined by subclasses."""

    view_map = {0: [0]}

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0]

    def infer_shape(self, node, input_shapes):
        return [input_shapes[0]]

    def R_op(self, inputs, eval_points):
        return [eval_points[0]]

    def vectorize_node(self, node, x):
        return [self(x)]


class ZeroGrad(_GradIdentity):
    """Gradient is zero (the variable still counts as connected)."""

    def L_op(self, inputs, outputs, output_grads):
        from .alloc import zeros_like
        return [zeros_like(inputs[0])]

    def R_op(self, inputs, eval_points):
        from .alloc import zeros_like
        return [zeros_like(inputs[0])]


class DisconnectedGrad(_GradIdentity):
    """Gradient is disconnected: grad() treats the input as not depending on the cost."""

    def connection_pattern(self, node):
        return [[False]]

    def L_op(self, inputs, outputs, output_grads):
        return [disconnected_type()]


class GradClip(_GradIdentity):
    """Clip the gradient flowing back into ``[lower, upper]``."""

    __props__ = ("lower", "upper")

    def __init__(self, lower: float, upper: float):
        if not lower <= upper:
            raise ValueError(f"grad_clip: lower bound {lower} exceeds upper bound {upper}")
        self.lower = float(lower)
        self.upper = float(upper)

    def L_op(self, inputs, outputs, output_grads):
        from .api import clip
        return [clip(output_grads[0], self.lower, self.upper)]


_zero_grad = ZeroGrad()
_disconnected_grad = DisconnectedGrad()


def zero_grad(x: Any) -> Variable:
    """``x`` in the forward pass; its gradient is zero."""
    return _zero_grad(x)


def disconnected_grad(x: Any) -> Variable:
    """``x`` in the forward pass; gradients do not flow through it (consider it constant)."""
    return _disconnected_grad(x)


def grad_clip(x: Any, lower_bound: float, upper_bound: float) -> Variable:
    return GradClip(lower_bound, upper_bound)(x)
