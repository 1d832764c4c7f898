"""Theano's ``printing.Print``: an identity op that prints a message and its value when computed.

``Print('x is')(x)`` returns a variable equal to ``x``; each time a compiled function computes
it, ``global_fn(op, value)`` runs, by default printing ``message attr = value.attr`` for each
name in ``attrs`` (called when it is a method), exactly Theano's format. Only a Print whose
output is used (directly or through later nodes) runs, and one whose value is only needed
for its shape does not, as in Theano. It is never constant-folded, so it prints at run time.
Gradients and forward-mode tangents pass straight through.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from ..graph.basic import Apply, Op, Variable
from .basic import as_tensor_variable


def _print_fn(op: "Print", xin: Any) -> None:
    """Theano's default: one line per attribute, ``message attr = value``."""
    for attr in op.attrs:
        temp = getattr(xin, attr)
        pmsg = temp() if callable(temp) else temp
        print(op.message, attr, "=", pmsg)


class Print(Op):
    """Identity that calls ``global_fn(self, value)`` (default: print ``message`` and the
    ``attrs`` of the value, e.g. ``('__str__', 'shape')``) whenever its output is computed."""

    __props__ = ("message", "attrs", "global_fn")
    view_map = {0: [0]}

    def __init__(self, message: str = "", attrs: Sequence[str] = ("__str__",),
                 global_fn: Callable = _print_fn):
        if isinstance(attrs, str):
            attrs = (attrs,)
        self.message = message
        self.attrs = tuple(attrs)
        self.global_fn = global_fn

    def __str__(self) -> str:
        return f"Print{{{self.message}}}"

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        (x,) = inputs
        output_storage[0][0] = x
        self.global_fn(self, x)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [input_shapes[0]]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        return [output_grads[0]]

    def R_op(self, inputs: list, eval_points: list) -> list:
        return [eval_points[0]]

    def vectorize_node(self, node: Apply, x: Variable) -> list:
        return [self(x)]

    def do_constant_folding(self, node: Apply) -> bool:
        return False
