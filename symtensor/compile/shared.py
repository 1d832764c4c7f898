"""Shared variables: symbolic tensors whose value lives between function calls.

``get_value``/``set_value`` copy unless ``borrow=True``; a compiled function reads the
current value on every call and stores its update, which a compiled (FAST_RUN) function may
have written into the old array. As in Theano, an array given or taken with ``borrow=True``
can therefore change in place when a function updating the variable runs.
"""
from __future__ import annotations

import copy
import itertools
import threading
from typing import Any, Sequence

import numpy as np

from ..graph.basic import Variable
from ..graph.type import TensorType
from ..ops.variable import TensorMethods


#: Creation order of locks; a call that needs several locks takes them by increasing rank,
#: so two calls never wait on each other in a cycle.
_LOCK_ORDER = itertools.count()


def ranked_lock() -> tuple:
    """(rank, re-entrant lock): a lock with its place in the process-wide acquisition order."""
    return next(_LOCK_ORDER), threading.RLock()


class Container(list):
    """The one-element list holding a shared variable's value, plus the lock that makes a
    function call reading and replacing the value atomic with respect to other calls
    (see ``Function``). Clones of a shared variable share the container, hence the lock."""

    __slots__ = ("lock",)

    def __init__(self, value: Any = None):
        super().__init__([value])
        self.lock = ranked_lock()

    def __reduce__(self):
        return (Container, (self[0],))


class SharedVariable(Variable):
    """A variable with a persistent value held in ``container``.

    ``default_update``: an expression that every function using this variable applies as
    its update unless told otherwise (``function(no_default_updates=...)``).
    """

    is_shared = True
    default_update: Any = None

    def __init__(self, type: TensorType, value: Any, name: str | None = None, strict: bool = False,
                 allow_downcast: bool | None = None):
        super().__init__(type, None, None, name)
        self.strict = strict
        self.allow_downcast = allow_downcast
        try:
            self.container = Container(type.filter(value, strict=strict, allow_downcast=allow_downcast))
        except (TypeError, ValueError) as err:
            raise err.__class__(f"shared variable {name or '<unnamed>'}: bad initial value: {err}") from None

    def get_value(self, borrow: bool = False, return_internal_type: bool = False) -> Any:
        """The current value; a copy unless ``borrow=True``."""
        v = self.container[0]
        return v if borrow else _copy(v)

    def set_value(self, new_value: Any, borrow: bool = False) -> None:
        """Replace the value (converted to this variable's type; copied unless ``borrow=True``)."""
        try:
            v = self.type.filter(new_value, strict=self.strict, allow_downcast=self.allow_downcast)
        except (TypeError, ValueError) as err:
            raise type(err)(f"set_value of shared variable {self.name or '<unnamed>'}: {err} "
                            f"(expected {self.type})") from None
        if not borrow and (v is new_value or _may_alias(v, new_value)):
            v = _copy(v)
        self.container[0] = v

    @property
    def value(self) -> np.ndarray:
        return self.get_value()

    def zero(self, borrow: bool = False) -> None:
        """Set the value to zeros of the same shape."""
        self.container[0] = np.zeros_like(self.container[0])

    def clone(self) -> "SharedVariable":
        """A new variable sharing this one's storage (as in Theano)."""
        cp = type(self)(self.type, self.container[0], self.name, strict=True)
        cp.container = self.container
        cp.strict, cp.allow_downcast = self.strict, self.allow_downcast
        cp.tag = self.tag
        return cp

    def __str__(self) -> str:
        return self.name if self.name is not None else f"<shared {self.type}>"


def _copy(value: Any) -> Any:
    return value.copy() if isinstance(value, np.ndarray) else copy.deepcopy(value)


def _may_alias(a: Any, b: Any) -> bool:
    return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.may_share_memory(a, b)


class TensorSharedVariable(TensorMethods, SharedVariable):
    """A shared tensor; supports every tensor operator and method."""


def shared(value: Any, name: str | None = None, strict: bool = False, allow_downcast: bool | None = None,
           borrow: bool = False, broadcastable: Sequence[bool] | None = None,
           shape: Sequence | None = None) -> TensorSharedVariable:
    """A shared variable holding a copy of ``value`` (or ``value`` itself with ``borrow=True``).

    A Python scalar gives a 0-d int64, float64, complex128 or bool variable, as in Theano
    (floatX does not apply: pass ``numpy.float32(x)`` for a float32 scalar). Its type is not
    broadcastable in any dimension unless ``broadcastable`` says so, since a
    later ``set_value`` may change the shape.
    """
    if isinstance(value, Variable):
        raise TypeError("shared() takes a value (e.g. a numpy array), not a symbolic variable")
    arr = np.asarray(value)
    if arr.dtype == object:
        raise TypeError(f"shared(): cannot hold a value of type {type(value).__name__}; expected a numeric array")
    if broadcastable is None and shape is None:
        broadcastable = (False,) * arr.ndim
    ttype = TensorType(str(arr.dtype), broadcastable=broadcastable, shape=shape)
    if not borrow or arr is not value:
        arr = np.array(arr, copy=True)
    return TensorSharedVariable(ttype, arr, name=name, strict=strict, allow_downcast=allow_downcast)
