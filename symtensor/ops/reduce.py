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
    """Sorted tuple of non-negative axes; None means every axis.

    Raises (at graph build time) a TypeError for a non-integer or symbolic axis and a
    ValueError for an axis out of range or repeated, naming the axis and the ndim.
    """
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, Variable):
        from ..graph.basic import Constant
        if not isinstance(axis, Constant):
            raise TypeError(f"{what} must be a constant int or tuple of ints, got a symbolic {axis}")
        axis = axis.data
    if isinstance(axis, np.ndarray):
        axis = axis.tolist()
    if isinstance(axis, (int, np.integer)) and not isinstance(axis, (bool, np.bool_)):
        axis = (int(axis),)
    if not isinstance(axis, (tuple, list)):
        raise TypeError(f"{what} must be None, an int or a tuple of ints, got {axis!r} "
                        f"({type(axis).__name__})")
    out = []
    for a in axis:
        if not isinstance(a, (int, np.integer)) or isinstance(a, (bool, np.bool_)):
            raise TypeError(f"{what} entries must be ints, got {a!r} ({type(a).__name__}) in {what}={axis!r}")
        a = int(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"{what} {a} is out of bounds for a {ndim}-d tensor "
                             f"(valid axes are {-ndim}..{ndim - 1})")
        a = a % ndim
        if a in out:
            raise ValueError(f"{what} {tuple(axis)} repeats axis {a} of a {ndim}-d tensor")
        out.append(a)
    return tuple(sorted(out))


def _default_dtype(kind: str, in_dtype: str) -> str:
    """numpy's result dtype for the reduction (int sums and products widen to 64 bits)."""
    if kind in ("and", "or"):
        return "bool"
    if kind in ("maximum", "minimum"):
        return in_dtype
    fn = _REDUCERS[kind][0]
    return str(fn(np.zeros(1, dtype=in_dtype)).dtype)


def _dtype_name(dtype: Any, what: str) -> str | None:
    """Canonical dtype name (``'floatX'`` allowed), or None; a clear TypeError otherwise."""
    if dtype is None:
        return None
    if dtype == "floatX":
        return config.floatX
    try:
        return str(np.dtype(dtype))
    except TypeError:
        raise TypeError(f"{what} must be a numpy dtype name such as 'float64', got {dtype!r}") from None


def _check_acc_dtype(in_dtype: str, acc_dtype: str | None, name: str) -> None:
    """As in Theano: an accumulator dtype that would lose the input's precision is refused."""
    if acc_dtype is not None and str(np.promote_types(in_dtype, acc_dtype)) != acc_dtype:
        raise TypeError(f"{name}: acc_dtype {acc_dtype} would lose precision for an input of dtype "
                        f"{in_dtype}; leave acc_dtype out, use one at least as precise as {in_dtype}, "
                        f"or give dtype instead")


class CAReduce(Op):
    """Reduce ``axis`` (a sorted tuple) of the input with a commutative, associative operation.

    ``kind`` is one of add, mul, maximum, minimum, and, or. ``dtype`` is the output dtype
    (None: numpy's default); ``acc_dtype`` the accumulator of sums and products (None: the
    output dtype, as numpy accumulates)."""

    __props__ = ("kind", "axis", "dtype", "acc_dtype")

    def __init__(self, kind: str, axis: Sequence[int], dtype: str | None = None, acc_dtype: str | None = None):
        if kind not in _REDUCERS:
            raise ValueError(f"unknown reduction {kind!r}; expected one of {sorted(_REDUCERS)}")
        self.kind = kind
        self.axis = tuple(int(a) for a in axis)
        self.dtype = dtype
        self.acc_dtype = acc_dtype

    def __str__(self) -> str:
        return f"{_REDUCERS[self.kind][1].capitalize()}{{axis={list(self.axis)}}}"

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if list(self.axis) != sorted(set(self.axis)) or builtins.any(not 0 <= a < x.ndim for a in self.axis):
            raise ValueError(f"{self}: axis must be sorted, distinct and in range 0..{x.ndim - 1} "
                             f"for a {x.ndim}-d input, got {self.axis}")
        if self.kind in ("maximum", "minimum") and x.dtype.startswith("complex"):
            raise TypeError(f"{self}: complex input is not ordered")
        _check_acc_dtype(x.dtype, self.acc_dtype, str(self))
        dtype = self.dtype or _default_dtype(self.kind, x.dtype)
        shape = tuple(s for i, s in enumerate(x.type.shape) if i not in self.axis)
        return Apply(self, [x], [TensorType(dtype, shape=shape)()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        (x,) = inputs
        fn = _REDUCERS[self.kind][0]
        out_dtype = node.outputs[0].dtype
        if self.kind in ("maximum", "minimum"):
            if builtins.any(x.shape[a] == 0 for a in self.axis):
                raise ValueError(f"{self}: cannot take the {_REDUCERS[self.kind][1]} over a zero-size "
                                 f"axis (input shape {x.shape}); there is no identity")
            res = fn(x, axis=self.axis)
        elif self.kind in ("and", "or"):
            res = fn(x, axis=self.axis)
        else:
            res = fn(x, axis=self.axis, dtype=self.acc_dtype or out_dtype)
        output_storage[0][0] = np.asarray(res, dtype=out_dtype)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [tuple(s for i, s in enumerate(input_shapes[0]) if i not in self.axis)]

    def _expand(self, v: Variable, ndim: int) -> Variable:
        """Re-insert the reduced axes as broadcastable ones."""
        return _keep(v, self.axis, ndim)

    def _prod_partials(self, x: Variable, z: Variable) -> Variable:
        """d prod / d x_i = product of the other entries; exact also when x holds zeros."""
        from . import api as A
        z_e = self._expand(cast(z, x.dtype), x.ndim)
        is_zero = A.eq(x, 0)
        safe_x = A.switch(is_zero, 1, x)
        n_zeros = self._expand(CAReduce("add", self.axis, "int64")(is_zero), x.ndim)
        prod_nonzero = self._expand(CAReduce("mul", self.axis)(safe_x), x.ndim)
        return A.switch(A.eq(n_zeros, 0), z_e / safe_x,
                        A.switch(A.and_(A.eq(n_zeros, 1), is_zero), prod_nonzero, 0))

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        from . import api as A
        (x,), (z,), (gz,) = inputs, outputs, output_grads
        if x.dtype[0] not in "fc" or self.kind in ("and", "or"):
            return [A.zeros_like(x, dtype=x.dtype if x.dtype[0] in "fc" else config.floatX)]
        gz_e = self._expand(cast(gz, x.dtype), x.ndim)
        if self.kind == "add":
            return [A.second(x, gz_e)]
        if self.kind in ("maximum", "minimum"):
            # every entry equal to the extremum receives the gradient (Theano's rule)
            return [gz_e * A.eq(x, self._expand(cast(z, x.dtype), x.ndim))]
        return [gz_e * self._prod_partials(x, z)]

    def R_op(self, inputs: list, eval_points: list) -> list:
        from . import api as A
        (x,), (ev,) = inputs, eval_points
        if ev is None or self.kind in ("and", "or"):
            return [None]
        if self.kind == "add":
            return [CAReduce("add", self.axis, self.dtype, self.acc_dtype)(ev)]
        z = self(x)
        if self.kind in ("maximum", "minimum"):
            # the tangent of the extremum: averaged over tied positions
            mask = A.eq(x, self._expand(z, x.ndim))
            return [CAReduce("add", self.axis)(ev * mask) / CAReduce("add", self.axis)(cast(mask, ev.dtype))]
        return [CAReduce("add", self.axis)(ev * self._prod_partials(x, z))]

    def vectorize_node(self, node: Apply, x: Variable) -> list:
        if x.ndim == node.inputs[0].ndim:
            return [self(x)]
        return [CAReduce(self.kind, tuple(a + 1 for a in self.axis), self.dtype, self.acc_dtype)(x)]


def _reduce(kind: str, x: Any, axis: Any, keepdims: bool, dtype: Any = None, acc_dtype: Any = None,
            name: str = "") -> Variable:
    """Build the reduction; an empty axis tuple still converts the dtype as numpy does."""
    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.ndim)
    dtype = _dtype_name(dtype, f"{name}: dtype")
    acc_dtype = _dtype_name(acc_dtype, f"{name}: acc_dtype")
    _check_acc_dtype(x.dtype, acc_dtype, name)
    out_dtype = dtype or _default_dtype(kind, x.dtype)
    if axes or out_dtype != x.dtype or acc_dtype:
        out = CAReduce(kind, axes, dtype, acc_dtype)(x)
    else:
        out = x
    if keepdims:
        out = _keep(out, axes, x.ndim)
    return out


def _keep(v: Variable, axes: tuple, ndim: int) -> Variable:
    """Re-insert ``axes`` of an ``ndim``-d tensor as broadcastable (length-1) axes of ``v``."""
    order, it = [], iter(range(v.ndim))
    for i in range(ndim):
        order.append("x" if i in axes else next(it))
    return dimshuffle(v, order)


def sum(x: Any, axis: Any = None, dtype: str | None = None, keepdims: bool = False,
        acc_dtype: str | None = None) -> Variable:
    """Sum over ``axis`` (int, tuple or None for all); ints accumulate as numpy does (int64).
    ``dtype`` is the output dtype, ``acc_dtype`` the accumulator's (Theano's meaning)."""
    return _reduce("add", x, axis, keepdims, dtype, acc_dtype, "sum")


def prod(x: Any, axis: Any = None, dtype: str | None = None, keepdims: bool = False,
         acc_dtype: str | None = None, no_zeros_in_input: bool = False) -> Variable:
    """Product over ``axis``; its gradient is exact when the input holds zeros."""
    return _reduce("mul", x, axis, keepdims, dtype, acc_dtype, "prod")


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    """Largest value over ``axis``; NaN propagates as in numpy; raises on a zero-size axis."""
    return _reduce("maximum", x, axis, keepdims, name="max")


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    """Smallest value over ``axis``; NaN propagates as in numpy; raises on a zero-size axis."""
    return _reduce("minimum", x, axis, keepdims, name="min")


def all(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    """Whether every value over ``axis`` is non-zero (bool output, as numpy)."""
    return _reduce("and", x, axis, keepdims, name="all")


def any(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    """Whether some value over ``axis`` is non-zero (bool output, as numpy)."""
    return _reduce("or", x, axis, keepdims, name="any")


class Argmax(Op):
    """Index of the largest (``kind='max'``) or smallest value over ``axis``; flattened index
    over several axes, as numpy gives over an array with those axes moved last and merged.
    NaN counts as the extremum (the first NaN wins), as in numpy."""

    __props__ = ("kind", "axis")

    def __init__(self, kind: str, axis: Sequence[int]):
        if kind not in ("max", "min"):
            raise ValueError(f"Argmax: kind must be 'max' or 'min', got {kind!r}")
        self.kind = kind
        self.axis = tuple(int(a) for a in axis)

    def __str__(self) -> str:
        return f"Arg{self.kind}{{axis={list(self.axis)}}}"

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if list(self.axis) != sorted(set(self.axis)) or builtins.any(not 0 <= a < x.ndim for a in self.axis):
            raise ValueError(f"{self}: axis must be sorted, distinct and in range 0..{x.ndim - 1} "
                             f"for a {x.ndim}-d input, got {self.axis}")
        shape = tuple(s for i, s in enumerate(x.type.shape) if i not in self.axis)
        return Apply(self, [x], [TensorType("int64", shape=shape)()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        (x,) = inputs
        keep = [i for i in range(x.ndim) if i not in self.axis]
        if builtins.any(x.shape[a] == 0 for a in self.axis):
            raise ValueError(f"arg{self.kind}: cannot take it over a zero-size axis "
                             f"(input shape {x.shape}, axis {self.axis})")
        moved = np.transpose(x, keep + list(self.axis))
        merged = int(np.prod([x.shape[a] for a in self.axis]))  # explicit: -1 fails on empty arrays
        flat = moved.reshape(moved.shape[:len(keep)] + (merged,))
        fn = np.argmax if self.kind == "max" else np.argmin
        output_storage[0][0] = np.asarray(fn(flat, axis=-1), dtype="int64")

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [tuple(s for i, s in enumerate(input_shapes[0]) if i not in self.axis)]

    def connection_pattern(self, node: Apply) -> list:
        return [[False]]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        return [disconnected_type()]

    def R_op(self, inputs: list, eval_points: list) -> list:
        return [None]

    def vectorize_node(self, node: Apply, x: Variable) -> list:
        if x.ndim == node.inputs[0].ndim:
            return [self(x)]
        return [Argmax(self.kind, tuple(a + 1 for a in self.axis))(x)]


def _arg(kind: str, x: Any, axis: Any, keepdims: bool) -> Variable:
    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.ndim)
    out = Argmax(kind, axes)(x)
    return _keep(out, axes, x.ndim) if keepdims else out


def argmax(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    """Index (int64) of the largest value over ``axis``; over several axes, a flat index."""
    return _arg("max", x, axis, keepdims)


def argmin(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    """Index (int64) of the smallest value over ``axis``; over several axes, a flat index."""
    return _arg("min", x, axis, keepdims)


def max_and_argmax(x: Any, axis: Any = None, keepdims: bool = False) -> list:
    """``[max(x, axis), argmax(x, axis)]``, as Theano's ``max_and_argmax``."""
    return [max(x, axis, keepdims), argmax(x, axis, keepdims)]


def _count(x: Variable, axes: tuple, dtype: str) -> Variable:
    """Number of elements reduced over ``axes``, as a ``dtype`` scalar (static when known)."""
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
    """Arithmetic mean; integer and bool inputs give float64 as in numpy; float16 accumulates
    in float32 (numpy and Theano both do). The mean of an empty slice is NaN, as numpy."""
    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.ndim)
    dtype = _dtype_name(dtype, "mean: dtype")
    acc_dtype = _dtype_name(acc_dtype, "mean: acc_dtype")
    _check_acc_dtype(x.dtype, acc_dtype, "mean")
    out_dtype = dtype or (x.dtype if x.dtype[0] in "fc" else "float64")
    acc = acc_dtype or ("float32" if out_dtype == "float16" else out_dtype)
    s = _reduce("add", x, axes, keepdims, acc)
    return cast(s / _count(x, axes, s.dtype), out_dtype)


def var(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False, corrected: bool = False) -> Variable:
    """Variance (``ddof`` as numpy; ``corrected=True`` means ddof=1, Theano's name).
    With ``ddof`` at least the count, the divisor is 0 (inf or NaN), as numpy."""
    from . import api as A
    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.ndim)
    if corrected:
        ddof = 1
    if isinstance(ddof, bool) or not isinstance(ddof, (int, np.integer)) or ddof < 0:
        raise ValueError(f"var: ddof must be a non-negative int, got {ddof!r}")
    centered = x - mean(x, axis=axes, keepdims=True)
    sq = sum(centered * centered, axis=axes, keepdims=keepdims)
    n = _count(x, axes, sq.dtype)
    return sq / A.maximum(n - int(ddof), 0) if ddof else sq / n


def std(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False, corrected: bool = False) -> Variable:
    """Standard deviation: the square root of ``var`` with the same arguments."""
    from . import api as A
    return A.sqrt(var(x, axis=axis, ddof=ddof, keepdims=keepdims, corrected=corrected))


def norm(x: Any, L: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    """L-p norm over ``axis`` (L=1, 2, inf or any positive number)."""
    from . import api as A
    x = as_tensor_variable(x)
    if isinstance(L, bool) or not (isinstance(L, (int, float, np.integer, np.floating)) or L == "inf"):
        raise ValueError(f"norm: L must be a positive number or inf, got {L!r}")
    if L == 1:
        return sum(A.abs_(x), axis=axis, keepdims=keepdims)
    if L == 2:
        return A.sqrt(sum(A.sqr(x), axis=axis, keepdims=keepdims))
    if L in (np.inf, "inf"):
        return max(A.abs_(x), axis=axis, keepdims=keepdims)
    if L > 0:
        return sum(A.abs_(x) ** L, axis=axis, keepdims=keepdims) ** (1.0 / L)
    raise ValueError(f"norm: L must be a positive number or inf, got {L!r}")
