"""Shared variables: symbolic tensors whose value lives between function calls.

``get_value``/``set_value`` copy unless ``borrow=True``; a compiled function reads the
current value on every call and replaces it (never writes into it) when it has an update.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..graph.basic import Variable
from ..graph.type import TensorType
from ..ops.variable import TensorMethods


class SharedVariable(Variable):
    """A variable with a persistent value held in ``container``."""

    is_shared = True

    def __init__(self, type: TensorType, value: Any, name: str | None = None, strict: bool = False,
                 allow_downcast: bool | None = None):
        super().__init__(type, None, None, name)
        self.container = [type.filter(value, strict=strict, allow_downcast=allow_downcast)]

    def get_value(self, borrow: bool = False, return_internal_type: bool = False) -> np.ndarray:
        """The current value; a copy unless ``borrow=True``."""
        v = self.container[0]
        return v if borrow else v.copy()

    def set_value(self, new_value: Any, borrow: bool = False) -> None:
        """Replace the value (converted to this variable's type; copied unless ``borrow=True``)."""
        try:
            v = self.type.filter(new_value, allow_downcast=None)
        except (TypeError, ValueError) as err:
            raise type(err)(f"set_value of shared variable {self.name or '<unnamed>'}: {err}") from None
        if v is new_value and not borrow:
            v = v.copy()
        self.container[0] = v

    @property
    def value(self) -> np.ndarray:
        return self.get_value()

    def zero(self, borrow: bool = False) -> None:
        self.container[0] = np.zeros_like(self.container[0])

    def clone(self) -> "SharedVariable":
        cp = type(self)(self.type, self.container[0], self.name, strict=True)
        cp.container = self.container  # a clone shares the storage, as in Theano
        cp.tag = self.tag
        return cp

    def __str__(self) -> str:
        return self.name if self.name is not None else f"<shared {self.type}>"


class TensorSharedVariable(TensorMethods, SharedVariable):
    """A shared tensor; supports every tensor operator and method."""


def shared(value: Any, name: str | None = None, strict: bool = False, allow_downcast: bool | None = None,
           borrow: bool = False, broadcastable: Sequence[bool] | None = None,
           shape: Sequence | None = None) -> TensorSharedVariable:
    """A shared variable holding a copy of ``value`` (or ``value`` itself with ``borrow=True``).

    Its type is not broadcastable in any dimension unless ``broadcastable`` says so, since a
    later ``set_value`` may change the shape.
    """
    if isinstance(value, Variable):
        raise TypeError("shared() takes a value (e.g. a numpy array), not a symbolic variable")
    if isinstance(value, (bool, int, float, complex, np.generic)) and not isinstance(value, np.ndarray):
        arr = np.asarray(value)
        if isinstance(value, float) and not isinstance(value, np.generic):
            from ..config import config
            arr = arr.astype(config.floatX) if not allow_downcast else arr
    else:
        arr = np.asarray(value)
    if arr.dtype == object:
        raise TypeError(f"shared(): cannot hold a value of type {type(value).__name__}; expected a numeric array")
    if broadcastable is None and shape is None:
        broadcastable = (False,) * arr.ndim
    ttype = TensorType(str(arr.dtype), broadcastable=broadcastable, shape=shape)
    if not borrow or arr is not value:
        arr = np.array(arr, copy=True)
    return TensorSharedVariable(ttype, arr, name=name, strict=False)
