"""2-d pooling over the last two axes of an N-d tensor (N >= 2): the ``Pool`` op and Theano
1.0's ``signal.pool.pool_2d`` (modes 'max', 'sum', 'average_inc_pad', 'average_exc_pad'; window
``ws``, ``stride``, zero ``pad``, ``ignore_border``), plus the old ``signal.downsample``
names. The gradient ops (MaxPoolGrad, AveragePoolGrad, DownsampleFactorMaxGradGrad) are in
pool_grad.py.

Semantics (Theano's): window ``r`` along an axis starts at ``r * stride`` in the padded input.
With ``ignore_border=True`` only whole windows count: ``out = (n + 2 * pad - ws) // stride + 1``.
With ``ignore_border=False`` (no padding allowed) a last partial window is kept when rows
remain: ``out = (n - 1) // stride + 1`` if ``stride >= ws``, else
``max(0, (n - 1 - ws + stride) // stride) + 1``. 'max' and 'sum' never see the padding;
'average_inc_pad' divides by the number of window cells inside the padded input,
'average_exc_pad' by the number inside the unpadded input. The numpy reference reduces a
strided window view of the padded input (no loop over pixels).
"""
from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..config import config
from ..graph.basic import Apply, Op, Variable, traced
from ..graph.type import TensorType
from .basic import as_tensor_variable
from .conv import int_pair

POOL_MODES = ("max", "sum", "average_inc_pad", "average_exc_pad")


class PoolParams(Op):
    """The options every pooling op shares, their checks and their shape arithmetic."""

    __props__ = ("ws", "ignore_border", "stride", "pad", "mode")

    def __init__(self, ws: Any, ignore_border: bool = True, stride: Any = None, pad: Any = (0, 0),
                 mode: str = "max"):
        self.ws = int_pair(ws, "pool_2d: ws", 1)
        self.stride = self.ws if stride is None else int_pair(stride, "pool_2d: stride", 1)
        self.pad = (0, 0) if pad is None else int_pair(pad, "pool_2d: pad", 0)
        if not isinstance(ignore_border, (bool, np.bool_)):
            raise TypeError(f"pool_2d: ignore_border must be True or False, got {ignore_border!r}")
        self.ignore_border = bool(ignore_border)
        if mode not in POOL_MODES:
            raise ValueError(f"pool_2d: mode must be one of {POOL_MODES}, got {mode!r}")
        self.mode = mode
        if self.pad != (0, 0) and not self.ignore_border:
            raise ValueError(f"pool_2d: pad={self.pad} needs ignore_border=True (padding works only when "
                             f"partial windows are ignored, as in Theano)")
        if any(p >= w for p, w in zip(self.pad, self.ws)):
            raise ValueError(f"pool_2d: pad={self.pad} must be smaller than the window ws={self.ws} on each "
                             f"axis")

    def params(self) -> dict:
        """The constructor arguments, to build the related ops."""
        return {p: getattr(self, p) for p in self.__props__}

    # --- shape arithmetic: ints or int64 scalar variables -----------------------------------
    def out_axis(self, axis: int, n: Any) -> Any:
        """Number of windows along pooled ``axis`` (0: rows, 1: columns) of input size ``n``."""
        ws, st, pad = self.ws[axis], self.stride[axis], self.pad[axis]
        if self.ignore_border:
            return (n + 2 * pad - ws) // st + 1
        if st >= ws:
            return (n - 1) // st + 1
        if isinstance(n, Variable):
            from . import api as A
            return A.minimum(n, A.maximum(0, (n - 1 - ws + st) // st) + 1)
        return min(n, max(0, (n - 1 - ws + st) // st) + 1)   # no window of an empty axis

    def pooled_shape(self, shape: Sequence) -> tuple:
        """The output shape for an input of ``shape`` (leading axes unchanged)."""
        return tuple(shape[:-2]) + (self.out_axis(0, shape[-2]), self.out_axis(1, shape[-1]))

    def static_out_shape(self, shape: Sequence) -> tuple:
        return tuple(shape[:-2]) + tuple(None if shape[-2 + a] is None else self.out_axis(a, shape[-2 + a])
                                         for a in range(2))

    def check_fits(self, shape: Sequence, where: str, static: bool) -> None:
        """With ignore_border=True the window must fit in the padded input."""
        if not self.ignore_border:
            return
        for axis, name in enumerate(("rows", "columns")):
            n = shape[-2 + axis]
            if n is not None and n + 2 * self.pad[axis] < self.ws[axis]:
                when = "" if static else " at run time"
                raise ValueError(f"{where}: the window ws={self.ws} is larger than the input ({n} {name}, "
                                 f"{n + 2 * self.pad[axis]} with pad={self.pad}) with ignore_border=True"
                                 f"{when}; input shape {tuple(shape)}")

    def check_input(self, x: Variable, where: str, what: str = "input") -> None:
        if x.ndim < 2:
            raise TypeError(f"{where}: {what} must have at least 2 dimensions (pooling is over the last two), "
                            f"got a {x.ndim}-d tensor of type {x.type}")
        if x.dtype == "bool" or x.dtype[0] == "c":
            raise TypeError(f"{where}: {what} must have a real numeric dtype, got {x.dtype}")

    # --- numpy helpers ----------------------------------------------------------------------
    def windows(self, a: np.ndarray, fill: Any, out: Sequence) -> np.ndarray:
        """(..., out_rows, out_cols, ws_rows, ws_cols) view of ``a`` padded with ``fill`` (the
        border padding, and for ignore_border=False the cells a last partial window lacks)."""
        widths = []
        for axis in range(2):
            n, p = a.shape[-2 + axis], self.pad[axis]
            needed = (out[axis] - 1) * self.stride[axis] + self.ws[axis]
            widths.append((p, max(p, needed - n - p)))
        if any(w for pair in widths for w in pair):
            a = np.pad(a, [(0, 0)] * (a.ndim - 2) + widths, constant_values=fill)
        win = sliding_window_view(a, self.ws, axis=(-2, -1))
        return win[..., ::self.stride[0], ::self.stride[1], :, :][..., :out[0], :out[1], :, :]

    def counts(self, shape: Sequence) -> np.ndarray:
        """(out_rows, out_cols) number of cells each window averages over."""
        per_axis = []
        for axis in range(2):
            n, p, st, ws = shape[-2 + axis], self.pad[axis], self.stride[axis], self.ws[axis]
            start = np.arange(self.out_axis(axis, n)) * st
            lo, hi = (0, n + 2 * p) if self.mode == "average_inc_pad" else (p, n + p)
            per_axis.append(np.minimum(start + ws, hi) - np.maximum(start, lo))
        return np.multiply.outer(per_axis[0], per_axis[1]).astype("float64")

    def scatter(self, contrib: np.ndarray, shape: Sequence, dtype: str) -> np.ndarray:
        """Sum per-window contributions (..., out_rows, out_cols, ws_rows, ws_cols) back onto
        the input cells they came from (col2im, one strided add per window tap), unpadded."""
        oh, ow = contrib.shape[-4:-2]
        (p0, p1), (s0, s1) = self.pad, self.stride
        rows = max(shape[-2] + 2 * p0, (oh - 1) * s0 + self.ws[0])
        cols = max(shape[-1] + 2 * p1, (ow - 1) * s1 + self.ws[1])
        acc = np.zeros(tuple(shape[:-2]) + (rows, cols), dtype=dtype)
        if oh and ow:
            for i in range(self.ws[0]):
                for j in range(self.ws[1]):
                    acc[..., i:i + (oh - 1) * s0 + 1:s0, j:j + (ow - 1) * s1 + 1:s1] += contrib[..., i, j]
        return np.ascontiguousarray(acc[..., p0:p0 + shape[-2], p1:p1 + shape[-1]])


def lowest(dtype: Any) -> Any:
    """The fill value that never wins a max: -inf, or the smallest integer of ``dtype``."""
    dtype = np.dtype(dtype)
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


class Pool(PoolParams):
    """Pool the last two axes of ``x`` with windows ``ws`` (see the module docstring)."""

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        self.check_input(x, "pool_2d")
        self.check_fits(x.type.shape, "pool_2d", static=True)
        return Apply(self, [x], [TensorType(x.dtype, shape=self.static_out_shape(x.type.shape))()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        (x,) = inputs
        self.check_fits(x.shape, "pool_2d", static=False)
        out_shape = self.pooled_shape(x.shape)
        dtype = node.outputs[0].dtype
        if 0 in out_shape:
            output_storage[0][0] = np.zeros(out_shape, dtype=dtype)
            return
        fill = lowest(x.dtype) if self.mode == "max" else 0
        win = self.windows(x, fill, out_shape[-2:])
        if self.mode == "max":
            res = win.max(axis=(-2, -1))
        else:
            res = win.sum(axis=(-2, -1), dtype=x.dtype)
            if self.mode != "sum":
                res = res / self.counts(x.shape)
        output_storage[0][0] = np.ascontiguousarray(res, dtype=dtype)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [self.pooled_shape(input_shapes[0])]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        from .pool_grad import AveragePoolGrad, MaxPoolGrad
        (x,), (z,), (gz,) = inputs, outputs, output_grads
        if x.dtype[0] != "f":
            from .alloc import zeros_like
            return [zeros_like(x, dtype=config.floatX)]
        if self.mode == "max":
            return [MaxPoolGrad(**self.params())(x, z, gz)]
        return [AveragePoolGrad(**self.params())(x, gz)]

    def R_op(self, inputs: list, eval_points: list) -> list:
        from .pool_grad import DownsampleFactorMaxGradGrad
        (x,), (ev,) = inputs, eval_points
        if ev is None:
            return [None]
        if self.mode == "max":
            return [DownsampleFactorMaxGradGrad(**self.params())(x, self(x), ev)]
        return [self(ev)]

    def vectorize_node(self, node: Apply, x: Variable) -> list:
        return [self(x)]     # pooling is over the last two axes: a leading batch axis is free


# ---------------------------------------------------------------------------------------------
# public functions
# ---------------------------------------------------------------------------------------------
def _deprecated_alias(new: Any, old: Any, new_name: str, old_name: str, unset: tuple = (None,)) -> Any:
    """Theano 1.0's handling of ds/st/padding: the old name with a warning, never both."""
    if old is None:
        return new
    if new not in unset:
        raise ValueError(f"pool_2d: give {new_name} or its deprecated alias {old_name}, not both")
    warnings.warn(f"pool_2d: the {old_name!r} parameter is deprecated; use {new_name!r}", DeprecationWarning,
                  stacklevel=4)
    return old


@traced
def pool_2d(input: Any, ws: Any = None, ignore_border: bool | None = None, stride: Any = None,
            pad: Any = (0, 0), mode: str = "max", ds: Any = None, st: Any = None,
            padding: Any = None) -> Variable:
    """Theano 1.0's ``signal.pool.pool_2d``: pool the last two axes of an N-d tensor (N >= 2).

    ``ws``: window (rows, cols); ``stride``: step between windows (default ``ws``); ``pad``:
    zero padding (rows, cols) on both sides, smaller than ``ws`` and only with
    ``ignore_border=True``; ``mode``: 'max', 'sum', 'average_inc_pad' (the padding counts in
    the divisor) or 'average_exc_pad' (it does not). ``ignore_border=None`` warns and uses True
    (the documented default; Theano 1.0 itself used False there). ``ds``, ``st`` and
    ``padding`` are the deprecated names of ``ws``, ``stride`` and ``pad``.
    """
    ws = _deprecated_alias(ws, ds, "ws", "ds")
    stride = _deprecated_alias(stride, st, "stride", "st")
    pad = _deprecated_alias(pad, padding, "pad", "padding", unset=(None, (0, 0)))
    if ws is None:
        raise ValueError("pool_2d: the window size ws is required")
    input = as_tensor_variable(input)
    if input.ndim < 2:
        raise TypeError(f"pool_2d: input must have at least 2 dimensions, got a {input.ndim}-d tensor")
    if ignore_border is None:
        warnings.warn("pool_2d: ignore_border was not given; using ignore_border=True. Pass it explicitly "
                      "(Theano 1.0 used False when it was left out)", UserWarning, stacklevel=3)
        ignore_border = True
    for name, value in (("ws", ws), ("stride", stride), ("pad", pad)):
        if isinstance(value, Variable) and not hasattr(value, "data"):
            raise TypeError(f"pool_2d: {name} must be constant ints, got the symbolic {value}")
    return Pool(ws, ignore_border, stride, pad, mode)(input)


@traced
def max_pool_2d_same_size(input: Any, patch_size: Any) -> Variable:
    """Theano's ``max_pool_2d_same_size``: keep the maximum of each non-overlapping
    ``patch_size`` window of the last two axes in place, set the other cells to zero."""
    from .pool_grad import MaxPoolGrad
    op = Pool(patch_size, True)
    out = op(input)
    return MaxPoolGrad(**op.params())(input, out, out)


def pool_out_shape(imgshape: Sequence, ws: Any, ignore_border: bool = False, stride: Any = None,
                   pad: Any = None) -> list:
    """Theano's ``Pool.out_shape``: the output shape (ints or int scalars) for an input shape."""
    return list(Pool(ws, ignore_border, stride, pad).pooled_shape(tuple(imgshape)))


Pool.out_shape = staticmethod(pool_out_shape)
max_pool_2d = pool_2d          # the old tensor.signal.downsample name (ds=, st=, padding= accepted)
