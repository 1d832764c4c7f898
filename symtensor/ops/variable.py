"""Python operators and methods of tensor variables (Theano's ``_tensor_py_operators``).

Every method delegates to the function of the same meaning in ``ops.api``, so each
operation is defined once.
"""
from __future__ import annotations

from typing import Any


def _api():
    from . import api
    return api


class TensorMethods:
    """Mixed into TensorVariable, TensorConstant and shared tensor variables."""

    # Variables are hashed by identity; == stays identity as in Theano (use T.eq).
    __hash__ = object.__hash__
    __array_priority__ = 1000

    # --- arithmetic --------------------------------------------------------------------
    def __add__(self, other): return _api().add(self, other)
    def __radd__(self, other): return _api().add(other, self)
    def __sub__(self, other): return _api().sub(self, other)
    def __rsub__(self, other): return _api().sub(other, self)
    def __mul__(self, other): return _api().mul(self, other)
    def __rmul__(self, other): return _api().mul(other, self)
    def __truediv__(self, other): return _api().true_div(self, other)
    def __rtruediv__(self, other): return _api().true_div(other, self)
    def __floordiv__(self, other): return _api().int_div(self, other)
    def __rfloordiv__(self, other): return _api().int_div(other, self)
    def __mod__(self, other): return _api().mod(self, other)
    def __rmod__(self, other): return _api().mod(other, self)
    def __pow__(self, other): return _api().pow(self, other)
    def __rpow__(self, other): return _api().pow(other, self)
    def __neg__(self): return _api().neg(self)
    def __pos__(self): return self
    def __abs__(self): return _api().abs_(self)
    def __invert__(self): return _api().invert(self)
    def __and__(self, other): return _api().and_(self, other)
    def __rand__(self, other): return _api().and_(other, self)
    def __or__(self, other): return _api().or_(self, other)
    def __ror__(self, other): return _api().or_(other, self)
    def __xor__(self, other): return _api().xor(self, other)
    def __rxor__(self, other): return _api().xor(other, self)
    def __divmod__(self, other): return _api().int_div(self, other), _api().mod(self, other)
    def __rdivmod__(self, other): return _api().int_div(other, self), _api().mod(other, self)
    def __matmul__(self, other): return _api().dot(self, other)
    def __rmatmul__(self, other): return _api().dot(other, self)

    # --- comparisons (symbolic, except == and != which stay identity) -------------------
    def __lt__(self, other): return _api().lt(self, other)
    def __le__(self, other): return _api().le(self, other)
    def __gt__(self, other): return _api().gt(self, other)
    def __ge__(self, other): return _api().ge(self, other)

    def __bool__(self):
        raise TypeError("a symbolic variable has no truth value; use symtensor.switch or "
                        "symtensor.where to choose between values")

    def __iter__(self):
        raise TypeError("a symbolic tensor cannot be iterated over in Python; index it with "
                        "x[i] or use symtensor.scan")

    def __len__(self):
        raise TypeError("a symbolic tensor has no Python length; use x.shape[0]")

    # --- indexing -----------------------------------------------------------------------
    def __getitem__(self, index): return _api().getitem(self, index)

    # --- shape ---------------------------------------------------------------------------
    @property
    def shape(self): return _api().shape(self)

    @property
    def size(self): return _api().prod(_api().shape(self))

    @property
    def T(self): return _api().transpose(self)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _api().transpose(self, axes or None)

    def reshape(self, shape, ndim=None): return _api().reshape(self, shape, ndim=ndim)
    def flatten(self, ndim=1): return _api().flatten(self, ndim)
    def dimshuffle(self, *pattern):
        if len(pattern) == 1 and isinstance(pattern[0], (list, tuple)):
            pattern = tuple(pattern[0])
        return _api().dimshuffle(self, pattern)
    def squeeze(self, axis=None): return _api().squeeze(self, axis)
    def ravel(self): return _api().flatten(self, 1)
    def repeat(self, repeats, axis=None): return _api().repeat(self, repeats, axis)

    def swapaxes(self, axis1: int, axis2: int):
        """The tensor with two axes exchanged (negative axes count from the end)."""
        order = list(range(self.ndim))
        a1, a2 = (a + self.ndim if a < 0 else a for a in (axis1, axis2))
        if not (0 <= a1 < self.ndim and 0 <= a2 < self.ndim):
            raise ValueError(f"swapaxes: axes ({axis1}, {axis2}) are out of range for a "
                             f"{self.ndim}-d tensor")
        order[a1], order[a2] = order[a2], order[a1]
        return _api().transpose(self, order)

    def take(self, indices, axis=None, mode="raise"):
        return _api().take(self, indices, axis=axis, mode=mode)

    # --- reductions -------------------------------------------------------------------------
    def sum(self, axis=None, dtype=None, keepdims=False, acc_dtype=None):
        return _api().sum(self, axis=axis, dtype=dtype, keepdims=keepdims, acc_dtype=acc_dtype)
    def prod(self, axis=None, dtype=None, keepdims=False, acc_dtype=None):
        return _api().prod(self, axis=axis, dtype=dtype, keepdims=keepdims, acc_dtype=acc_dtype)
    def mean(self, axis=None, dtype=None, keepdims=False, acc_dtype=None):
        return _api().mean(self, axis=axis, dtype=dtype, keepdims=keepdims, acc_dtype=acc_dtype)
    def var(self, axis=None, ddof=0, keepdims=False, corrected=False):
        return _api().var(self, axis=axis, ddof=ddof, keepdims=keepdims, corrected=corrected)
    def std(self, axis=None, ddof=0, keepdims=False, corrected=False):
        return _api().std(self, axis=axis, ddof=ddof, keepdims=keepdims, corrected=corrected)
    def max(self, axis=None, keepdims=False): return _api().max(self, axis=axis, keepdims=keepdims)
    def min(self, axis=None, keepdims=False): return _api().min(self, axis=axis, keepdims=keepdims)
    def ptp(self, axis=None, keepdims=False):
        """Range of values (maximum - minimum) along ``axis``."""
        return _api().max(self, axis=axis, keepdims=keepdims) - _api().min(self, axis=axis, keepdims=keepdims)
    def argmax(self, axis=None, keepdims=False): return _api().argmax(self, axis=axis, keepdims=keepdims)
    def argmin(self, axis=None, keepdims=False): return _api().argmin(self, axis=axis, keepdims=keepdims)
    def all(self, axis=None, keepdims=False): return _api().all(self, axis=axis, keepdims=keepdims)
    def any(self, axis=None, keepdims=False): return _api().any(self, axis=axis, keepdims=keepdims)
    def norm(self, L, axis=None, keepdims=False):
        return _api().norm(self, L, axis=axis, keepdims=keepdims)

    # --- elementwise methods -----------------------------------------------------------------
    def astype(self, dtype): return _api().cast(self, dtype)
    def clip(self, a_min, a_max): return _api().clip(self, a_min, a_max)
    def dot(self, other): return _api().dot(self, other)
    def exp(self): return _api().exp(self)
    def log(self): return _api().log(self)
    def sqrt(self): return _api().sqrt(self)
    def tanh(self): return _api().tanh(self)
    def round(self, mode=None):
        return _api().round(self) if mode is None else _api().round(self, mode)
    def nonzero_values(self): return _api().getitem(self.flatten(), _api().neq(self.flatten(), 0))
    def copy(self, name: str | None = None):
        out = _api().tensor_copy(self)
        out.name = name
        return out
    def fill(self, value): return _api().fill(self, value)
    def zeros_like(self, dtype=None): return _api().zeros_like(self, dtype=dtype)
    def ones_like(self, dtype=None): return _api().ones_like(self, dtype=dtype)

    def __array__(self, *args: Any, **kwargs: Any):
        raise TypeError(f"{self} is symbolic and has no value yet; compile a function with "
                        f"symtensor.function or call .eval()")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """``numpy_array + variable`` builds a graph instead of numpy iterating the variable."""
        if method != "__call__" or kwargs:
            return NotImplemented
        fn = _UFUNC_NAMES.get(ufunc.__name__)
        if fn is None:
            return NotImplemented
        return getattr(_api(), fn)(*inputs)


# numpy ufunc name -> the symtensor function computing the same thing (``ndarray + variable``,
# ``np.exp(variable)``); ``np.true_divide`` is named "divide" in numpy 2.
_UFUNC_NAMES = {
    "add": "add", "subtract": "sub", "multiply": "mul", "divide": "true_div", "true_divide": "true_div",
    "floor_divide": "int_div", "remainder": "mod", "power": "pow", "less": "lt", "less_equal": "le",
    "greater": "gt", "greater_equal": "ge", "equal": "eq", "not_equal": "neq", "matmul": "dot",
    "bitwise_and": "and_", "bitwise_or": "or_", "bitwise_xor": "xor", "invert": "invert",
    "maximum": "maximum", "minimum": "minimum", "arctan2": "arctan2", "negative": "neg",
    "absolute": "abs_", "sign": "sgn", "exp": "exp", "exp2": "exp2", "expm1": "expm1", "log": "log",
    "log2": "log2", "log10": "log10", "log1p": "log1p", "sqrt": "sqrt", "square": "sqr",
    "floor": "floor", "ceil": "ceil", "trunc": "trunc", "rint": "round_half_to_even", "sin": "sin",
    "cos": "cos", "tan": "tan", "arcsin": "arcsin", "arccos": "arccos", "arctan": "arctan",
    "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "arcsinh": "arcsinh", "arccosh": "arccosh",
    "arctanh": "arctanh", "isnan": "isnan", "isinf": "isinf",
}
