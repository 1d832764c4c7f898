"""Tensor variables and constants, ``as_tensor_variable``, and the typed constructors
(``matrix``, ``fvector``, ``tensor4`` ...)."""
from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

from ..config import config
from ..graph.basic import Constant, Variable
from ..graph.type import TensorType
from .variable import TensorMethods


class TensorVariable(TensorMethods, Variable):
    """A symbolic n-dimensional array; Python operators build elementwise graphs."""


class TensorConstant(TensorMethods, Constant):
    """A tensor with a fixed value."""


TensorType.variable_class = TensorVariable
TensorType.constant_class = TensorConstant


def autocast_dtype(value: Any) -> str:
    """The dtype a bare Python scalar becomes on its own: bool, int64, floatX or complex128."""
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, numbers.Integral):
        return "int64" if -2**63 <= int(value) < 2**63 else "uint64"
    if isinstance(value, numbers.Real):
        return config.floatX
    if isinstance(value, numbers.Complex):
        return "complex128"
    raise TypeError(f"cannot make a tensor from {type(value).__name__}")


def constant(x: Any, name: str | None = None, ndim: int | None = None, dtype: str | None = None) -> TensorConstant:
    """A constant tensor. Python scalars get ``autocast_dtype``; arrays keep their dtype."""
    if isinstance(x, TensorConstant) and dtype is None and ndim is None:
        return x
    if isinstance(x, Constant):
        x = x.data
    if dtype is None:
        if isinstance(x, (bool, numbers.Number)) and not isinstance(x, np.generic):
            dtype = autocast_dtype(x)
        else:
            arr = np.asarray(x)
            if arr.dtype == object:
                raise TypeError(f"cannot make a constant from {type(x).__name__} (object array)")
            if arr.dtype.kind == "f" and not isinstance(x, (np.ndarray, np.generic)):
                dtype = config.floatX if _fits(arr, config.floatX) else str(arr.dtype)
            else:
                dtype = str(arr.dtype)
    arr = np.asarray(x, dtype=dtype)
    if ndim is not None:
        if arr.ndim < ndim:
            arr = arr.reshape((1,) * (ndim - arr.ndim) + arr.shape)
        elif arr.ndim > ndim:
            raise ValueError(f"constant of shape {arr.shape} cannot have {ndim} dimension(s)")
    ttype = TensorType(str(arr.dtype), shape=arr.shape)
    return TensorConstant(ttype, arr, name=name)


def _fits(arr: np.ndarray, dtype: str) -> bool:
    with np.errstate(all="ignore"):
        return bool(np.all(arr.astype(dtype).astype(arr.dtype) == arr))


def as_tensor_variable(x: Any, name: str | None = None, ndim: int | None = None,
                       dtype: str | None = None) -> Variable:
    """Turn ``x`` (a variable, an array, a number, a nested list) into a tensor variable."""
    if isinstance(x, Variable):
        if not isinstance(x.type, TensorType):
            raise TypeError(f"expected a tensor variable, got {x} of type {x.type}")
        if ndim is not None and x.ndim != ndim:
            if x.ndim < ndim:
                from .elemwise import shape_padleft
                return shape_padleft(x, ndim - x.ndim)
            raise ValueError(f"{x} has {x.ndim} dimension(s), expected {ndim}")
        if dtype is not None and x.dtype != dtype:
            from .elemwise import cast
            return cast(x, dtype)
        return x
    if hasattr(x, "owner") and hasattr(x, "type"):  # a variable from a foreign graph library
        raise TypeError(f"cannot use {type(x).__name__} in a symtensor graph")
    if isinstance(x, (list, tuple)) and any(isinstance(e, Variable) for e in _flatten(x)):
        from .shape import stack
        return stack([as_tensor_variable(e) for e in x])
    return constant(x, name=name, ndim=ndim, dtype=dtype)


def _flatten(seq):
    for e in seq:
        if isinstance(e, (list, tuple)):
            yield from _flatten(e)
        else:
            yield e


def is_python_scalar(x: Any) -> bool:
    return isinstance(x, (bool, numbers.Number)) and not isinstance(x, (np.generic, np.ndarray))


# --- typed constructors -------------------------------------------------------------------
def tensor(dtype: str | None = None, broadcastable: Sequence[bool] | None = None, name: str | None = None,
           shape: Sequence | None = None) -> TensorVariable:
    """A symbolic tensor: ``tensor('float32', (False, True))`` or ``tensor('int64', shape=(None, 3))``."""
    if dtype is None:
        dtype = config.floatX
    if broadcastable is None and shape is None:
        raise TypeError("tensor() needs a broadcastable pattern or a shape")
    return TensorType(dtype, broadcastable=broadcastable, shape=shape)(name)


def _maker(broadcastable: tuple, fixed_dtype: str | None):
    def make(name: str | None = None, dtype: str | None = None, shape: Sequence | None = None):
        dt = fixed_dtype or dtype or config.floatX
        if shape is not None and len(shape) != len(broadcastable):
            raise ValueError(f"shape {shape} has {len(shape)} entries, expected {len(broadcastable)}")
        return TensorType(dt, broadcastable=broadcastable if shape is None else None,
                          shape=shape)(name)
    return make


_PATTERNS = {
    "scalar": (), "vector": (False,), "matrix": (False, False), "row": (True, False),
    "col": (False, True), "tensor3": (False,) * 3, "tensor4": (False,) * 4,
    "tensor5": (False,) * 5, "tensor6": (False,) * 6, "tensor7": (False,) * 7,
}
_PREFIXES = {"b": "int8", "w": "int16", "i": "int32", "l": "int64", "f": "float32", "d": "float64",
             "c": "complex64", "z": "complex128"}

_PLURALS = {"scalar": "scalars", "vector": "vectors", "matrix": "matrices", "row": "rows", "col": "cols",
            "tensor3": "tensor3s", "tensor4": "tensor4s", "tensor5": "tensor5s", "tensor6": "tensor6s",
            "tensor7": "tensor7s"}


def _plural(make):
    def make_many(*names, dtype: str | None = None):
        """Several variables at once: ``a, b = dmatrices('a', 'b')`` (or a count: ``matrices(2)``)."""
        if len(names) == 1 and isinstance(names[0], int):
            return [make(dtype=dtype) for _ in range(names[0])]
        if len(names) == 1 and isinstance(names[0], str) and "," in names[0]:
            names = tuple(n.strip() for n in names[0].split(","))
        return [make(n, dtype=dtype) for n in names]
    return make_many


CONSTRUCTORS: dict = {}
for _kind, _pattern in _PATTERNS.items():
    CONSTRUCTORS[_kind] = _maker(_pattern, None)
    CONSTRUCTORS[_PLURALS[_kind]] = _plural(CONSTRUCTORS[_kind])
    for _p, _dt in _PREFIXES.items():
        CONSTRUCTORS[_p + _kind] = _maker(_pattern, _dt)
        CONSTRUCTORS[_p + _PLURALS[_kind]] = _plural(CONSTRUCTORS[_p + _kind])
globals().update(CONSTRUCTORS)
