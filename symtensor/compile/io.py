"""``In`` and ``Out``: per-input and per-output options of ``function``."""
from __future__ import annotations

from typing import Any

from ..graph.basic import Variable


class In:
    """A function input with options: a default ``value``, a keyword ``name``, ``strict`` typing
    (no conversion at all), ``allow_downcast``; ``update`` and ``mutable`` as in Theano."""

    def __init__(self, variable: Variable, name: str | None = None, value: Any = None, update: Any = None,
                 mutable: bool | None = None, strict: bool = False, allow_downcast: bool | None = None,
                 autoname: bool = True, implicit: bool | None = None, borrow: bool = False, shared: bool = False):
        if not isinstance(variable, Variable):
            raise TypeError(f"In: expected a symbolic variable, got {type(variable).__name__}")
        self.variable = variable
        self.name = name if name is not None else (variable.name if autoname else None)
        self.value = value
        self.has_default = value is not None
        self.update = update
        self.mutable = bool(mutable)
        self.strict = strict
        self.allow_downcast = allow_downcast
        self.borrow = borrow
        if self.mutable:
            raise NotImplementedError("In(mutable=True): functions never write into their inputs")

    def __repr__(self) -> str:
        return f"In({self.variable}, name={self.name!r})"


class Out:
    """A function output; ``borrow=True`` allows returning internal memory without a copy."""

    def __init__(self, variable: Variable, borrow: bool = False):
        if not isinstance(variable, Variable):
            raise TypeError(f"Out: expected a symbolic variable, got {type(variable).__name__}")
        self.variable = variable
        self.borrow = borrow

    def __repr__(self) -> str:
        return f"Out({self.variable}, borrow={self.borrow})"
