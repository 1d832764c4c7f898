"""Marker types for gradients that are disconnected or undefined (Theano's
DisconnectedType and NullType). Ops return variables of these types from ``grad``."""
from __future__ import annotations

from .basic import Variable
from .type import Type


class DisconnectedType(Type):
    """The gradient of an output that does not depend on the input."""

    def filter(self, data, strict=False, allow_downcast=None):
        raise TypeError("a disconnected gradient has no value")

    def __eq__(self, other):
        return type(other) is type(self)

    def __hash__(self):
        return hash(type(self))

    def __str__(self):
        return "DisconnectedType"


class NullType(Type):
    """A gradient that is mathematically undefined; ``why_null`` says why."""

    def __init__(self, why_null: str = "(no explanation given)"):
        self.why_null = why_null

    def filter(self, data, strict=False, allow_downcast=None):
        raise TypeError(f"an undefined gradient has no value: {self.why_null}")

    def __eq__(self, other):
        return type(other) is type(self) and other.why_null == self.why_null

    def __hash__(self):
        return hash((type(self), self.why_null))

    def __str__(self):
        return "NullType"


def disconnected_type() -> Variable:
    return Variable(DisconnectedType())


def grad_undefined(op, x_pos: int, x, comment: str = "") -> Variable:
    why = f"{op}'s gradient with respect to input {x_pos} is undefined. {comment}".strip()
    return Variable(NullType(why))


def grad_not_implemented(op, x_pos: int, x, comment: str = "") -> Variable:
    why = f"{op}'s gradient with respect to input {x_pos} is not implemented. {comment}".strip()
    return Variable(NullType(why))


def is_disconnected(v) -> bool:
    return isinstance(getattr(v, "type", None), DisconnectedType)


def is_null(v) -> bool:
    return isinstance(getattr(v, "type", None), NullType)
