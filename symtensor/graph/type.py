"""Types of symbolic values: a ``Type`` validates and converts runtime data.

``TensorType`` is a dtype plus a static shape whose entries are an int or ``None``
(unknown). Its ``broadcastable`` pattern (Theano's notion) is ``shape[i] == 1``.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

from ..config import config

ALL_DTYPES = (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128",
)
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
FLOAT_DTYPES = ("float16", "float32", "float64")
COMPLEX_DTYPES = ("complex64", "complex128")
DISCRETE_DTYPES = ("bool",) + INT_DTYPES


class Type:
    """Base class of all types. Subclasses implement ``filter`` and ``make_variable``."""

    variable_class: type = None  # set by the graph/basic module
    constant_class: type = None

    def filter(self, data: Any, strict: bool = False, allow_downcast: bool | None = None) -> Any:
        raise NotImplementedError

    def is_valid_value(self, data: Any) -> bool:
        try:
            self.filter(data, strict=True)
            return True
        except (TypeError, ValueError):
            return False

    def make_variable(self, name: str | None = None):
        return self.variable_class(self, owner=None, index=None, name=name)

    def __call__(self, name: str | None = None):
        return self.make_variable(name)

    def values_eq(self, a: Any, b: Any) -> bool:
        return a == b


def _normalize_shape(shape: Iterable) -> tuple:
    out = []
    for s in shape:
        if s is None:
            out.append(None)
        else:
            s = int(s)
            if s < 0:
                raise ValueError(f"static shape entries must be >= 0 or None, got {s}")
            out.append(s)
    return tuple(out)


class TensorType(Type):
    """An n-dimensional array type: ``TensorType(dtype, broadcastable)`` as in Theano, or
    ``TensorType(dtype, shape=(None, 3))`` with a static shape."""

    def __init__(self, dtype: str, broadcastable: Sequence[bool] | None = None,
                 name: str | None = None, shape: Sequence | None = None):
        if dtype == "floatX":
            dtype = config.floatX
        try:
            dtype = str(np.dtype(dtype))
        except TypeError:
            raise TypeError(f"unknown dtype {dtype!r}; expected one of {ALL_DTYPES}") from None
        if dtype not in ALL_DTYPES:
            raise TypeError(f"unsupported dtype {dtype!r}; expected one of {ALL_DTYPES}")
        if shape is None:
            if broadcastable is None:
                raise TypeError("TensorType needs a broadcastable pattern or a shape")
            shape = tuple(1 if b else None for b in broadcastable)
        elif broadcastable is not None:
            shape = tuple(1 if b else s for b, s in zip(broadcastable, shape))
        self.dtype = dtype
        self.shape = _normalize_shape(shape)
        self.name = name

    # --- descriptive properties -------------------------------------------------
    @property
    def broadcastable(self) -> tuple:
        return tuple(s == 1 for s in self.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def numpy_dtype(self) -> np.dtype:
        return np.dtype(self.dtype)

    def clone(self, dtype: str | None = None, broadcastable=None, shape=None) -> "TensorType":
        if dtype is None:
            dtype = self.dtype
        if shape is None and broadcastable is None:
            shape = self.shape
        return TensorType(dtype, broadcastable=broadcastable, shape=shape)

    # --- identity ---------------------------------------------------------------------
    def __eq__(self, other: Any) -> bool:
        return type(other) is type(self) and other.dtype == self.dtype and other.shape == self.shape

    def __hash__(self) -> int:
        return hash((type(self), self.dtype, self.shape))

    def __repr__(self) -> str:
        if self.name:
            return self.name
        if all(s in (None, 1) for s in self.shape):
            pattern = ", ".join("True" if s == 1 else "False" for s in self.shape)
            return f"TensorType({self.dtype}, ({pattern}{',' if self.ndim == 1 else ''}))"
        return f"TensorType({self.dtype}, shape={self.shape})"

    __str__ = __repr__

    def is_super(self, other: "TensorType") -> bool:
        """True if every value of ``other`` is a value of ``self``."""
        return (isinstance(other, TensorType) and other.dtype == self.dtype and other.ndim == self.ndim
                and all(s is None or s == o for s, o in zip(self.shape, other.shape)))

    def in_same_class(self, other: "TensorType") -> bool:
        return isinstance(other, TensorType) and other.dtype == self.dtype and other.ndim == self.ndim

    # --- runtime data -----------------------------------------------------------------
    def filter(self, data: Any, strict: bool = False, allow_downcast: bool | None = None) -> np.ndarray:
        """Check and convert ``data`` to a value of this type.

        ``strict``: only accept ndarrays of exactly this dtype. Otherwise accept any data
        numpy can convert without loss; a lossy conversion (float64 -> float32) needs
        ``allow_downcast=True``, except a Python float into a floatX tensor when
        ``allow_downcast`` is None (Theano's rule).
        """
        if isinstance(data, np.ndarray) and data.dtype == self.numpy_dtype:
            arr = data
        elif strict:
            if not isinstance(data, np.ndarray):
                raise TypeError(f"expected a numpy.ndarray of dtype {self.dtype}, got {type(data).__name__}")
            raise TypeError(f"expected dtype {self.dtype}, got {data.dtype}")
        else:
            arr = self._convert(data, allow_downcast)
        if arr.ndim != self.ndim:
            raise TypeError(f"expected an array with {self.ndim} dimension(s), got one with {arr.ndim} "
                            f"(shape {arr.shape})")
        for axis, (want, got) in enumerate(zip(self.shape, arr.shape)):
            if want is not None and want != got:
                kind = "broadcastable (size 1)" if want == 1 else f"of size {want}"
                raise ValueError(f"dimension {axis} must be {kind}, but the value has shape {arr.shape}")
        return arr

    def _convert(self, data: Any, allow_downcast: bool | None) -> np.ndarray:
        target = self.numpy_dtype
        if isinstance(data, np.ndarray):
            src = data.dtype
            if allow_downcast or np.can_cast(src, target, casting="safe"):
                return data.astype(target)
            raise TypeError(f"expected dtype {self.dtype}, got {src}; converting would lose precision. "
                            f"Cast the value (e.g. numpy.asarray(value, dtype='{self.dtype}')) or pass "
                            f"allow_input_downcast=True")
        if isinstance(data, (str, bytes, dict)) or data is None:
            raise TypeError(f"expected array-like data for {self}, got {type(data).__name__}")
        if hasattr(data, "__array__") and not isinstance(data, np.generic):
            return self._convert(np.asarray(data), allow_downcast)
        # Python numbers, numpy scalars and any sequence numpy accepts (lists, tuples, range,
        # array.array, buffers): converted with np.asarray as Theano's filter does.
        try:
            raw = np.asarray(data)
        except (TypeError, ValueError) as err:   # e.g. ragged nested lists
            raise TypeError(f"cannot convert {type(data).__name__} to a numeric array ({err})") from None
        if raw.dtype.kind not in "biufc":
            if raw.ndim == 0 and raw.dtype == object and not isinstance(data, (list, tuple)):
                raise TypeError(f"expected array-like data for {self}, got {type(data).__name__}")
            raise TypeError(f"cannot convert {type(data).__name__} to a numeric array (its elements have "
                            f"dtype {raw.dtype})")
        if allow_downcast or np.can_cast(raw.dtype, target, casting="safe"):
            return raw.astype(target)
        with np.errstate(all="ignore"):
            converted = raw.astype(target)
        python_float_to_floatx = (allow_downcast is None and type(data) is float
                                  and self.dtype == config.floatX)
        if python_float_to_floatx or _lossless(raw, converted):
            return converted
        raise TypeError(f"expected dtype {self.dtype}, got data of dtype {raw.dtype} that {self.dtype} "
                        f"cannot represent exactly; converting would lose precision. Pass "
                        f"allow_input_downcast=True to allow it")

    def value_zeros(self, shape: Sequence[int]) -> np.ndarray:
        return np.zeros(shape, dtype=self.dtype)

    def values_eq(self, a: Any, b: Any) -> bool:
        return a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")

    def values_eq_approx(self, a: np.ndarray, b: np.ndarray, rtol: float | None = None,
                         atol: float | None = None) -> bool:
        if a.shape != b.shape:
            return False
        if a.dtype.kind in "fc" or b.dtype.kind in "fc":
            lowp = "float16" in (a.dtype, b.dtype) or "float32" in (a.dtype, b.dtype)
            rtol = rtol if rtol is not None else (1e-4 if lowp else 1e-7)
            atol = atol if atol is not None else (1e-5 if lowp else 1e-9)
            return bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True))
        return bool(np.array_equal(a, b))


def _lossless(raw: np.ndarray, converted: np.ndarray) -> bool:
    """Whether ``converted`` holds exactly the values of ``raw`` (NaN equal to NaN): Theano
    accepts non-ndarray data (Python numbers, lists, numpy scalars) whenever the conversion
    to the type's dtype loses nothing."""
    with np.errstate(all="ignore"):
        back = converted.astype(raw.dtype)
    return bool(np.array_equal(back, raw, equal_nan=raw.dtype.kind in "fc"))


def upcast(*dtypes: str) -> str:
    """The dtype numpy's promotion gives for these dtypes (Theano's ``scalar.upcast``)."""
    return str(np.result_type(*[np.dtype(d) for d in dtypes]))
