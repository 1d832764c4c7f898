"""Theano's ``tensor.extra_ops``: cumsum, cumprod, diff, bincount, fill_diagonal, to_one_hot,
and ``softmax_with_bias`` (Theano's ``nnet`` helper, kept here with the other small extras).

Where Theano 1.0 and numpy differ, the choice is stated on the function:
- ``cumsum``/``cumprod`` give numpy's dtype (small integers and bools accumulate in int64, as
  ``sum`` does here); Theano kept the input dtype.
- ``bincount`` counts in int64 (numpy); weighted counts keep a float weights dtype (Theano:
  a float32 model stays float32; numpy would give float64).
- ``to_one_hot`` refuses labels outside ``[0, nb_class)`` with a clear error.
``diff`` is built from slices and subtraction, so it has every rule those have.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..config import config
from ..graph.basic import Apply, Constant, Op, Variable
from ..graph.null import disconnected_type
from ..graph.type import TensorType
from .basic import as_tensor_variable, constant, is_python_scalar
from .reduce import normalize_axis
from .shape import as_int_scalar


def _api():
    from . import api
    return api


def _reverse(v: Variable, axis: int) -> Variable:
    """``v`` reversed along ``axis``."""
    return v[(slice(None),) * axis + (slice(None, None, -1),)]


# --- cumsum / cumprod ---------------------------------------------------------------------------
class CumOp(Op):
    """``numpy.cumsum`` (mode 'add') or ``numpy.cumprod`` (mode 'mul') along ``axis``; axis None
    accumulates the flattened input (a vector out)."""

    __props__ = ("axis", "mode")

    def __init__(self, axis: int | None = None, mode: str = "add"):
        if mode not in ("add", "mul"):
            raise ValueError(f"CumOp: mode must be 'add' or 'mul', got {mode!r}")
        self.axis = None if axis is None else int(axis)
        self.mode = mode

    def __str__(self) -> str:
        return f"Cum{'sum' if self.mode == 'add' else 'prod'}{{axis={self.axis}}}"

    def _fn(self):
        return np.cumsum if self.mode == "add" else np.cumprod

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        dtype = str(self._fn()(np.zeros(1, dtype=x.dtype)).dtype)
        if self.axis is None:
            known = None not in x.type.shape
            shape = (int(np.prod(x.type.shape)) if known else None,)
        else:
            if not 0 <= self.axis < x.ndim:
                raise ValueError(f"{self}: axis {self.axis} is out of range for a {x.ndim}-d input")
            shape = x.type.shape
        return Apply(self, [x], [TensorType(dtype, shape=shape)()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        dtype = node.outputs[0].dtype
        output_storage[0][0] = np.asarray(self._fn()(inputs[0], axis=self.axis, dtype=dtype), dtype=dtype)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        if self.axis is not None:
            return [input_shapes[0]]
        A = _api()
        dims = input_shapes[0]
        if not dims:
            return [(constant(1, dtype="int64"),)]
        return [(A.cast(A.mul(*dims), "int64") if len(dims) > 1 else dims[0],)]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        A = _api()
        (x,), (z,), (g,) = inputs, outputs, output_grads
        if x.dtype[0] not in "fc":
            return [A.zeros_like(x, dtype=config.floatX)]
        g = A.cast(g, x.dtype)
        axis = 0 if self.axis is None else self.axis
        if self.mode == "mul":
            # Theano's rule: exact where x has no zeros (it divides by x)
            g = g * A.cast(z, x.dtype)
        back = _reverse(CumOp(axis, "add")(_reverse(g, axis)), axis)
        if self.mode == "mul":
            back = back / (A.flatten(x, 1) if self.axis is None else x)
        return [A.reshape(back, A.shape(x), ndim=x.ndim) if self.axis is None else back]

    def R_op(self, inputs: list, eval_points: list) -> list:
        A = _api()
        (x,), (ev,) = inputs, eval_points
        if ev is None or x.dtype[0] not in "fc":
            return [None]
        ev = A.cast(ev, x.dtype)
        if self.mode == "add":
            return [self(ev)]
        return [self(x) * CumOp(self.axis, "add")(ev / x)]

    def vectorize_node(self, node: Apply, x: Variable) -> list:
        if x.ndim == node.inputs[0].ndim:
            return [self(x)]
        if self.axis is None:
            return [CumOp(1, self.mode)(_api().flatten(x, 2))]
        return [CumOp(self.axis + 1, self.mode)(x)]


def _cum(mode: str, x: Any, axis: Any) -> Variable:
    x = as_tensor_variable(x)
    if axis is not None:
        if isinstance(axis, (tuple, list)):
            raise TypeError(f"cum{'sum' if mode == 'add' else 'prod'}: axis must be an int or None, "
                            f"got {axis!r}")
        (axis,) = normalize_axis(axis, x.ndim)
    return CumOp(axis, mode)(x)


def cumsum(x: Any, axis: int | None = None) -> Variable:
    """Cumulative sum along ``axis`` (None: of the flattened ``x``), as ``numpy.cumsum``."""
    return _cum("add", x, axis)


def cumprod(x: Any, axis: int | None = None) -> Variable:
    """Cumulative product along ``axis`` (None: of the flattened ``x``), as ``numpy.cumprod``.
    Its gradient is Theano's (it divides by ``x``, so it is not finite where ``x`` is 0)."""
    return _cum("mul", x, axis)


# --- diff ---------------------------------------------------------------------------------------
def diff(x: Any, n: int = 1, axis: int = -1) -> Variable:
    """The ``n``-th discrete difference along ``axis``, as ``numpy.diff`` (booleans: not-equal)."""
    A = _api()
    x = as_tensor_variable(x)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"diff: order n must be a non-negative int, got {n!r}")
    if x.ndim == 0:
        raise ValueError("diff: the input must be at least one-dimensional, got a 0-d tensor")
    (ax,) = normalize_axis(axis, x.ndim)
    lead = (slice(None),) * ax
    for _ in range(int(n)):
        hi, lo = x[lead + (slice(1, None),)], x[lead + (slice(None, -1),)]
        x = A.neq(hi, lo) if x.dtype == "bool" else hi - lo
    return x


# --- bincount -----------------------------------------------------------------------------------
class BinCount(Op):
    """``numpy.bincount(x, weights, minlength)``: inputs ``x`` (non-negative int vector), the
    weights (when ``weighted``) and ``minlength`` (int64 scalar)."""

    __props__ = ("weighted",)

    def __init__(self, weighted: bool = False):
        self.weighted = bool(weighted)

    def make_node(self, x: Any, *rest: Any) -> Apply:
        x = as_tensor_variable(x)
        if x.ndim != 1 or x.dtype[0] not in "iu":
            raise TypeError(f"bincount: x must be an integer vector, got {x.type}")
        if len(rest) != (2 if self.weighted else 1):
            raise ValueError(f"{self}: expected x, {'weights, ' if self.weighted else ''}minlength")
        inputs = [x]
        dtype = "int64"
        if self.weighted:
            w = as_tensor_variable(rest[0])
            if w.ndim != 1 or w.dtype.startswith("complex"):
                raise TypeError(f"bincount: weights must be a real vector like x, got {w.type}")
            if None not in (x.type.shape[0], w.type.shape[0]) and x.type.shape[0] != w.type.shape[0]:
                raise ValueError(f"bincount: weights has length {w.type.shape[0]} but x has length "
                                 f"{x.type.shape[0]}")
            inputs.append(w)
            dtype = w.dtype if w.dtype[0] == "f" else "float64"
        inputs.append(as_int_scalar(rest[-1], "bincount: minlength"))
        return Apply(self, inputs, [TensorType(dtype, shape=(None,))()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        x, minlength = inputs[0], int(inputs[-1])
        w = inputs[1] if self.weighted else None
        if x.size and x.min() < 0:
            raise ValueError(f"bincount: x must be non-negative, got the value {x.min()}")
        if minlength < 0:
            raise ValueError(f"bincount: minlength must be non-negative, got {minlength}")
        if w is not None and w.shape != x.shape:
            raise ValueError(f"bincount: weights has shape {w.shape} but x has shape {x.shape}")
        res = np.bincount(x.astype(np.int64), weights=w, minlength=minlength)
        output_storage[0][0] = np.asarray(res, dtype=node.outputs[0].dtype)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        A = _api()
        x, minlength = node.inputs[0], node.inputs[-1]
        # max(x) + 1, with a -1 appended so that an empty x gives 0 instead of failing
        top = A.max(A.concatenate([A.cast(x, "int64"), constant(np.array([-1], dtype="int64"))])) + 1
        return [(A.maximum(top, minlength),)]

    def connection_pattern(self, node: Apply) -> list:
        return [[False], [True], [False]] if self.weighted else [[False], [False]]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        A = _api()
        if not self.weighted:
            return [disconnected_type(), disconnected_type()]
        x, w, _ = inputs
        gw = A.advanced_subtensor1(output_grads[0], x) if w.dtype[0] == "f" else \
            A.zeros_like(w, dtype=config.floatX)
        return [disconnected_type(), gw, disconnected_type()]

    def R_op(self, inputs: list, eval_points: list) -> list:
        if not self.weighted or eval_points[1] is None:
            return [None]
        A = _api()
        ev = A.cast(eval_points[1], inputs[1].dtype)
        return [self(inputs[0], ev, inputs[2])]


def bincount(x: Any, weights: Any = None, minlength: Any = None, assert_nonneg: bool = False) -> Variable:
    """Count of each value in the non-negative integer vector ``x`` (summed ``weights`` when
    given), of length ``max(max(x) + 1, minlength)``, as ``numpy.bincount``. Negative values
    raise a ValueError at run time (``assert_nonneg`` is accepted for Theano; the check is
    always made). Differentiable with respect to ``weights`` only."""
    minlength = 0 if minlength is None else minlength
    if weights is None:
        return BinCount(False)(x, minlength)
    return BinCount(True)(x, weights, minlength)


# --- fill_diagonal ------------------------------------------------------------------------------
class FillDiagonal(Op):
    """A copy of ``a`` (ndim >= 2) with its main diagonal set to the scalar ``val``, as
    ``numpy.fill_diagonal`` without wrapping (a tall matrix keeps its lower rows)."""

    def make_node(self, a: Any, val: Any) -> Apply:
        a = as_tensor_variable(a)
        if a.ndim < 2:
            raise TypeError(f"fill_diagonal: a must have at least two dimensions, got {a.type}")
        if is_python_scalar(val) and np.asarray(val).astype(a.dtype) == val:
            val = constant(val, dtype=a.dtype)
        val = as_tensor_variable(val)
        if val.ndim != 0:
            raise TypeError(f"fill_diagonal: val must be a scalar, got {val.type}")
        if str(np.promote_types(a.dtype, val.dtype)) != a.dtype:
            raise TypeError(f"fill_diagonal: val of dtype {val.dtype} does not fit a's dtype {a.dtype} "
                            f"without losing precision; cast it first")
        if val.dtype != a.dtype:
            val = _api().cast(val, a.dtype)
        return Apply(self, [a, val], [a.type()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        a, val = inputs
        if a.ndim > 2 and len(set(a.shape)) > 1:
            raise ValueError(f"fill_diagonal: all dimensions of a tensor with more than 2 must be of "
                             f"equal length, got shape {a.shape}")
        out = np.array(a, copy=True)
        np.fill_diagonal(out, val)
        output_storage[0][0] = out

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [input_shapes[0]]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        A = _api()
        a, val = inputs
        if a.dtype[0] not in "fc":
            return [A.zeros_like(a, dtype=config.floatX), A.zeros_like(val, dtype=config.floatX)]
        g = A.cast(output_grads[0], a.dtype)
        on_diagonal = fill_diagonal(A.zeros_like(g), 1)
        return [fill_diagonal(g, 0), A.sum(g * on_diagonal)]

    def R_op(self, inputs: list, eval_points: list) -> list:
        A = _api()
        (a, val), (ea, ev) = inputs, eval_points
        if (ea is None and ev is None) or a.dtype[0] not in "fc":
            return [None]
        ea = A.zeros_like(a) if ea is None else A.cast(ea, a.dtype)
        ev = A.zeros_like(val) if ev is None else A.cast(ev, a.dtype)
        return [self(ea, ev)]


_fill_diagonal = FillDiagonal()


def fill_diagonal(a: Any, val: Any) -> Variable:
    """A copy of ``a`` with the main diagonal set to the scalar ``val`` (Theano's
    ``fill_diagonal``; ``a`` has at least 2 dimensions, all equal beyond 2-d)."""
    return _fill_diagonal(a, val)


# --- to_one_hot ---------------------------------------------------------------------------------
class OneHot(Op):
    """Row ``i`` of the ``(len(y), nb_class)`` output is the one-hot encoding of ``y[i]``."""

    __props__ = ("dtype",)

    def __init__(self, dtype: str):
        self.dtype = str(np.dtype(config.floatX if dtype in (None, "floatX") else dtype))

    def make_node(self, y: Any, nb_class: Any) -> Apply:
        y = as_tensor_variable(y)
        if y.ndim != 1 or y.dtype[0] not in "iu":
            raise TypeError(f"to_one_hot: y must be an integer vector of class labels, got {y.type}")
        nb = as_int_scalar(nb_class, "to_one_hot: nb_class")
        static = int(nb.data) if isinstance(nb, Constant) else None
        if static is not None and static < 0:
            raise ValueError(f"to_one_hot: nb_class must be non-negative, got {static}")
        return Apply(self, [y, nb], [TensorType(self.dtype, shape=(y.type.shape[0], static))()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        y, nb = inputs[0], int(inputs[1])
        if nb < 0:
            raise ValueError(f"to_one_hot: nb_class must be non-negative, got {nb}")
        bad = (y < 0) | (y >= nb)
        if bad.any():
            raise ValueError(f"to_one_hot: label {y[bad][0]} at position {int(np.argmax(bad))} is "
                             f"outside [0, {nb}) (nb_class={nb})")
        out = np.zeros((y.shape[0], nb), dtype=self.dtype)
        out[np.arange(y.shape[0]), y] = 1
        output_storage[0][0] = out

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [(input_shapes[0][0], node.inputs[1])]

    def connection_pattern(self, node: Apply) -> list:
        return [[False], [False]]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        return [disconnected_type(), disconnected_type()]

    def R_op(self, inputs: list, eval_points: list) -> list:
        return [None]


def to_one_hot(y: Any, nb_class: Any, dtype: str | None = None) -> Variable:
    """A ``(len(y), nb_class)`` matrix whose row i is 1 at column ``y[i]`` and 0 elsewhere
    (Theano's ``to_one_hot``; ``dtype`` defaults to floatX). Labels must lie in [0, nb_class)."""
    return OneHot(dtype)(y, nb_class)


# --- softmax_with_bias --------------------------------------------------------------------------
def softmax_with_bias(x: Any, b: Any) -> Variable:
    """``softmax(x + b)`` for a float matrix ``x`` and a float bias vector ``b`` (one per column),
    Theano's ``nnet.softmax_with_bias``; stable and differentiable as ``softmax``."""
    from .nnet import softmax
    x, b = as_tensor_variable(x), as_tensor_variable(b)
    if x.ndim != 2 or x.dtype[0] != "f":
        raise ValueError(f"softmax_with_bias: x must be a 2-d tensor of floats, got {x.type}")
    if b.ndim != 1 or b.dtype[0] != "f":
        raise ValueError(f"softmax_with_bias: b must be a 1-d tensor of floats, got {b.type}")
    if None not in (x.type.shape[1], b.type.shape[0]) and x.type.shape[1] != b.type.shape[0]:
        raise ValueError(f"softmax_with_bias: x has {x.type.shape[1]} columns but b has "
                         f"{b.type.shape[0]} entries")
    return softmax(x + b)
