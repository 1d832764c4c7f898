"""Reductions: ``CAReduce`` (sum, prod, max, min, all, any over any axes), ``Argmax``/``Argmin``,
and mean/var/std/norm built from them."""
from __future__ import annotations

import builtins
from typing import Any, Sequence

import numpy as np

from ..config import config
from ..graph.basic import Apply, Op, Variable
from ..graph.null import disconnected_type
from ..graph.type import TensorType
from .basic import as_tensor_variable
from .elemwise import cast, dimshuffle

_REDUCERS = {
    "add": (np.sum, "sum"), "mul": (np.prod, "prod"), "maximum": (np.max, "max"),
    "minimum": (np.min, "min"), "and": (np.all, "all"), "or": (np.any, "any"),
}


def normalize_axis(axis: Any, ndim: int, what: str = "axis") -> tuple:
    """Sorted tuple of non-negative axes; None means every axis."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, Variable):
        from ..graph.basic import Constant
        if not isinstance(axis, Constant):
            raise TypeError(f"{what} must be a constant int or tuple of ints, got a symbolic {axis}")
        axis = axis.data.tolist()
    if isinstance(axis, (int, np.integer)):
        axis = (int(axis),)
    out = []
    for a in axis:
        if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
            raise TypeError(f"{what} entries must be ints, got {a!r}")
        a = int(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"{what} {a} is out of bounds for a {ndim}-d tensor")
        a = a % ndim if ndim else a
        if a in out:
            raise ValueError(f"{what} {tuple(axis)} repeats axis {a}")
        out.append(a)
    return tuple(sorted(out))


def _default_dtype(kind: str, in_dtype: str) -> str:
    if kind in ("and", "or"):
        return "bool"
    if kind in ("maximum", "minimum"):
        return in_dtype
    fn = _REDUCERS[kind][0]
    return str(fn(np.zeros(1, dtype=in_dtype)).dtype)


class CAReduce(Op):
    """Reduce ``axis`` (a sorted tuple) of the input with a commutative, associative operation.
    ``kind`` is one of add, mul, maximum, minimum, and, or."""

    __props__ = ("kind", "axis", "dtype")

    def __init__(self, kind: str, axis: tuple, dtype: str | None = None):
        if kind not in _REDUCERS:
            raise ValueError(f"unknown reduction {kind!r}")
        self.kind = kind
        self.axis = tuple(axis)
        self.dtype = dtype

    def __str__(self) -> str:
        name = _REDUCERS[self.kind][1].capitalize()
        return f"{name}{{axis={list(self.axis)}}}" if self.axis is not None else name

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        for a in self.axis:
            if a >= x.ndim:
                raise ValueError(f"{self}: axis {a} is out of bounds for a {x.ndim}-d input")
        if self.kind in ("maximum", "minimum") and x.dtype.startswith("complex"):
            raise TypeError(f"{self}: complex input is not ordered")
        dtype = self.dtype or _default_dtype(self.kind, x.dtype)
        shape = tuple(s for i, s in enumerate(x.type.shape) if i not in self.axis)
        return Apply(self, [x], [TensorType(dtype, shape=shape)()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        (x,) = inputs
        fn = _REDUCERS[self.kind][0]
        out_dtype = node.outputs[0].dtype
        if self.kind in ("maximum", "minimum"):
            if x.size == 0 and any(x.shape[a] == 0 for a in self.axis):
                raise ValueError(f"{self}: cannot take the {_REDUCERS[self.kind][1]} over a zero-size "
                                 f"axis (input shape {x.shape}); there is no identity")
            res = fn(x, axis=self.axis)
        elif self.kind in ("and", "or"):
            res = fn(x, axis=self.axis)
        else:
            res = fn(x, axis=self.axis, dtype=out_dtype)
        output_storage[0][0] = np.asarray(res, dtype=out_dtype)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [tuple(s for i, s in enumerate(input_shapes[0]) if i not in self.axis)]

    def _expand(self, v: Variable, ndim: int) -> Variable:
        """Re-insert the reduced axes as broadcastable ones."""
        order, it = [], iter(range(v.ndim))
        for i in range(ndim):
            order.append("x" if i in self.axis else next(it))
        return dimshuffle(v, order)

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        from . import api as A
        (x,), (z,), (gz,) = inputs, outputs, output_grads
        if x.dtype[0] not in "fc" or self.kind in ("and", "or"):
            return [A.zeros_like(x, dtype=x.dtype if x.dtype[0] in "fc" else config.floatX)]
        gz = cast(gz, x.dtype)
        gz_e = self._expand(gz, x.ndim)
        if self.kind == "add":
            return [A.second(x, gz_e)]
        z_e = self._expand(cast(z, x.dtype), x.ndim)
        if self.kind in ("maximum", "minimum"):
            return [gz_e * A.eq(x, z_e)]
        # prod: exact also when zeros are present
        is_zero = A.eq(x, 0)
        n_zeros = self._expand(CAReduce("add", self.axis, "int64")(is_zero), x.ndim)
        prod_nonzero = self._expand(CAReduce("mul", self.axis)(A.switch(is_zero, 1, x)), x.ndim)
        safe_x = A.switch(is_zero, 1, x)
        g = A.switch(A.eq(n_zeros, 0), z_e / safe_x,
                     A.switch(A.and_(A.eq(n_zeros, 1), is_zero), prod_nonzero, 0))
        return [gz_e * g]

    def R_op(self, inputs: list, eval_points: list) -> list:
        from . import api as A
        (x,), (ev,) = inputs, eval_points
        if ev is None:
            return [None]
        if self.kind == "add":
            return [CAReduce("add", self.axis, self.dtype)(ev)]
        if self.kind in ("maximum", "minimum"):
            z_e = self._expand(self(x), x.ndim)
            mask = A.eq(x, z_e)
            return [CAReduce("add", self.axis)(ev * mask) / CAReduce("add", self.axis)(cast(mask, ev.dtype))]
        if self.kind == "mul":
            z_e = self._expand(self(x), x.ndim)
            return [CAReduce("add", self.axis)(ev * z_e / x)]
        return [None]

    def vectorize_node(self, node: Apply, x: Variable) -> list:
        if x.ndim == node.inputs[0].ndim:
            return [self(x)]
        return [CAReduce(self.kind, tuple(a + 1 for a in self.axis), self.dtype)(x)]


def _reduce(kind: str, x: Any, axis: Any, keepdims: bool, dtype: str | None = None) -> Variable:
    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.ndim)
    if dtype is not None:
        dtype = config.floatX if dtype == "floatX" else str(np.dtype(dtype))
    out = CAReduce(kind, axes, dtype)(x) if axes or dtype else x
    if keepdims:
        out = _keep(out, axes, x.ndim)
    return out


def _keep(v: Variable, axes: tuple, ndim: int) -> Variable:
    order, it = [], iter(range(v.ndim))
    for i in range(ndim):
        order.append("x" if i in axes else next(it))
    return dimshuffle(v, order)


def sum(x: Any, axis: Any = None, dtype: str | None = None, keepdims: bool = False,
        acc_dtype: str | None = None) -> Variable:
    """Sum over ``axis`` (int, tuple or None for all); ints accumulate as numpy does (int64)."""
    return _reduce("add", x, axis, keepdims, dtype or acc_dtype)


def prod(x: Any, axis: Any = None, dtype: str | None = None, keepdims: bool = False,
         acc_dtype: str | None = None, no_zeros_in_input: bool = False) -> Variable:
    """Product over ``axis``; its gradient is exact when the input holds zeros."""
    return _reduce("mul", x, axis, keepdims, dtype or acc_dtype)


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    return _reduce("maximum", x, axis, keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    return _reduce("minimum", x, axis, keepdims)


def all(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    return _reduce("and", x, axis, keepdims)


def any(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    return _reduce("or", x, axis, keepdims)


class Argmax(Op):
    """Index of the largest (``kind='max'``) or smallest value over ``axis``; flattened index
    over several axes, as numpy gives over a reshaped array."""

    __props__ = ("kind", "axis")

    def __init__(self, kind: str, axis: tuple):
        self.kind = kind
        self.axis = tuple(axis)

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        shape = tuple(s for i, s in enumerate(x.type.shape) if i not in self.axis)
        return Apply(self, [x], [TensorType("int64", shape=shape)()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        (x,) = inputs
        keep = [i for i in range(x.ndim) if i not in self.axis]
        if builtins.any(x.shape[a] == 0 for a in self.axis):
            raise ValueError(f"arg{self.kind}: cannot take it over a zero-size axis (input shape {x.shape})")
        moved = np.transpose(x, keep + list(self.axis))
        flat = moved.reshape(moved.shape[:len(keep)] + (-1,))
        fn = np.argmax if self.kind == "max" else np.argmin
        output_storage[0][0] = np.asarray(fn(flat, axis=-1), dtype="int64")

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [tuple(s for i, s in enumerate(input_shapes[0]) if i not in self.axis)]

    def connection_pattern(self, node: Apply) -> list:
        return [[False]]

    def L_op(self, inputs, outputs, output_grads):
        return [disconnected_type()]

    def vectorize_node(self, node: Apply, x: Variable) -> list:
        if x.ndim == node.inputs[0].ndim:
            return [self(x)]
        return [Argmax(self.kind, tuple(a + 1 for a in self.axis))(x)]


def argmax(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.ndim)
    out = Argmax("max", axes)(x)
    return _keep(out, axes, x.ndim) if keepdims else out


def argmin(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.ndim)
    out = Argmax("min", axes)(x)
    return _keep(out, axes, x.ndim) if keepdims else out


def max_and_argmax(x: Any, axis: Any = None, keepdims: bool = False) -> list:
    return [max(x, axis, keepdims), argmax(x, axis, keepdims)]


def _count(x: Variable, axes: tuple, dtype: str) -> Variable:
    from .shape import shape_i
    from . import api as A
    if not axes:
        return A.constant(1, dtype=dtype)
    known = [x.type.shape[a] for a in axes]
    if None not in known:
        return A.constant(int(np.prod(known)), dtype=dtype)
    return cast(A.mul(*[shape_i(x, a) for a in axes]) if len(axes) > 1 else shape_i(x, axes[0]), dtype)


def mean(x: Any, axis: Any = None, dtype: str | None = None, keepdims: bool = False,
         acc_dtype: str | None = None) -> Variable:
    """Arithmetic mean; integer inputs give float64 as in numpy."""
    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.ndim)
    out_dtype = dtype or (x.dtype if x.dtype[0] in "fc" else "float64")
    s = sum(x, axis=axes, dtype=acc_dtype or out_dtype, keepdims=keepdims)
    return cast(s / _count(x, axes, s.dtype), out_dtype)


def var(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False, corrected: bool = False) -> Variable:
    """Variance (``ddof`` as numpy; ``corrected=True`` means ddof=1, Theano's name)."""
    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.ndim)
    if corrected:
        ddof = 1
    centered = x - mean(x, axis=axes, keepdims=True)
    sq = sum(centered * centered, axis=axes, keepdims=keepdims)
    n = _count(x, axes, sq.dtype)
    return sq / (n - ddof) if ddof else sq / n


def std(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False, corrected: bool = False) -> Variable:
    from . import api as A
    return A.sqrt(var(x, axis=axis, ddof=ddof, keepdims=keepdims, corrected=corrected))


def norm(x: Any, L: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    """L-p norm over ``axis`` (L=1, 2, inf or any positive number)."""
    from . import api as A
    x = as_tensor_variable(x)
    if L == 1:
        return sum(A.abs_(x), axis=axis, keepdims=keepdims)
    if L == 2:
        return A.sqrt(sum(A.sqr(x), axis=axis, keepdims=keepdims))
    if L in (np.inf, "inf"):
        return max(A.abs_(x), axis=axis, keepdims=keepdims)
    if isinstance(L, (int, float)) and L > 0:
        return sum(A.abs_(x) ** L, axis=axis, keepdims=keepdims) ** (1.0 / L)
    raise ValueError(f"norm: L must be a positive number or inf, got {L!r}")
