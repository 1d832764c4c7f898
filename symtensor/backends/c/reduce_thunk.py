"""Calling a reduction kernel on numpy arrays: operand checks, the output, and the loop plan.

For each call the dimensions of the (broadcast) elementwise shape are split into kept and
reduced ones; size-1 dimensions are dropped, each group is ordered by the first operand's
strides (largest first, so a transposed array is read in memory order) and adjacent
dimensions that are contiguous for every operand are merged. The kernel then runs its rows
loop (reduced dims merged into one contiguous dimension), its columns loop (kept dims merged
into one contiguous dimension) or its general strided loop. Plans are cached per layout.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ...codegen.c.reduce import ReduceKernel
from ...ops.fused_reduce import FusedReduce, elem_shape
from .dispatch_reduce import reduce_call
from .operands import strided_operand as _kernel_operand

_PLAN_CACHE_SIZE = 64
ROWS, COLS, GENERAL = 1, 2, 0


@dataclass
class _Plan:
    """What one layout of the inputs needs: the output shape, whether the kernel runs
    (not for an empty output, nor for a max/min over a zero-size axis, which raises through
    perform), and the kernel's arguments, kept alive with their C pointers."""
    out_shape: tuple
    action: str       # "call", "empty" or "perform"
    path: int = GENERAL
    kd: int = 0
    rd: int = 0
    arrays: tuple = ()     # kshape, kstr, rshape, rstr (int64 arrays)
    pointers: tuple = ()   # the same as ``int64_t *``
    offsets: tuple | None = None   # bytes added to each input's data pointer


def reduce_thunk(kernel: ReduceKernel, fn, ffi) -> Callable:
    """A perform-compatible callable running ``kernel`` on numpy arrays.

    It carries ``for_node(node)``: a callable taking the node's input values positionally and
    returning a 1-tuple holding the newly allocated output (the executor's direct protocol).
    Plans are cached per node by the inputs' shapes and strides, so a repeated call only
    checks the operands' dtypes and alignment, allocates the output and calls the kernel;
    with the dispatch extension that common call runs in C (see :mod:`.dispatch_reduce`)."""
    in_dtypes = [np.dtype(d) for d in kernel.in_dtypes]
    out_dtype = np.dtype(kernel.out_dtype)
    n = len(in_dtypes)
    ndarray, empty = np.ndarray, np.empty
    new, cast, from_buffer = ffi.new, ffi.cast, ffi.from_buffer
    bound: dict = {}

    def for_node(node) -> Callable:
        direct = bound.get(node)
        if direct is not None:
            return direct
        plans: dict = {}

        def direct(*inputs) -> tuple:
            if len(inputs) != n:
                raise TypeError(f"{node.op}: the kernel takes {n} inputs, got {len(inputs)}")
            for a, dt in zip(inputs, in_dtypes):
                if type(a) is not ndarray or a.dtype != dt or not a.flags.aligned:
                    inputs = [_operand(v, t) for v, t in zip(inputs, in_dtypes)]
                    break
            key = (tuple(a.shape for a in inputs), tuple(a.strides for a in inputs))
            plan = plans.get(key)
            if plan is None:    # checks the shapes (a mismatch raises) and plans the loops
                if len(plans) >= _PLAN_CACHE_SIZE:
                    plans.clear()
                plan = plans[key] = _make_plan(kernel, node, inputs, out_dtype, ffi)
            if plan.action == "perform":   # raises perform's error (max/min of nothing)
                cell: list = [None]
                node.op.perform(node, list(inputs), [cell])
                return (np.array(cell[0], copy=True),)
            out = empty(plan.out_shape, out_dtype)
            if plan.action == "call":
                data = new("void *[]", n + 1)
                keep = [from_buffer(a) if a.flags.c_contiguous else None for a in inputs]
                for k, a in enumerate(inputs):
                    data[k] = keep[k] if keep[k] is not None else cast("void *", a.__array_interface__["data"][0])
                if plan.offsets is not None:
                    for k, off in enumerate(plan.offsets):
                        data[k] = cast("char *", data[k]) + off
                data[n] = out_buf = from_buffer(out)
                kshape, kstr, rshape, rstr = plan.pointers
                fn(cast("intptr_t *", data), plan.path, plan.kd, kshape, kstr, plan.rd, rshape, rstr)
                del keep, out_buf
            return (out,)

        def plan(*inputs):
            """The C caller's plan of a new layout (see ``reduce_call``): None where the
            Python path decides (nothing to compute, perform's error, a shape error)."""
            try:
                p = _make_plan(kernel, node, list(inputs), out_dtype, ffi)
            except Exception:   # the Python path raises it again, itself
                return None
            if p.action != "call":
                return None
            return (p.out_shape, p.path, p.kd, p.rd, *(tuple(a.tolist()) for a in p.arrays), p.offsets)

        bound[node] = compiled = reduce_call(fn, ffi, in_dtypes, out_dtype, plan, direct) or direct
        return compiled

    def thunk(node, inputs: Sequence, output_storage: list) -> None:
        output_storage[0][0] = for_node(node)(*inputs)[0]

    thunk.for_node = for_node
    return thunk


def _operand(value, dtype: np.dtype) -> np.ndarray:
    """An array the kernel reads in place (native, aligned, strides of whole elements), else
    a converted copy; the caller's array is never modified."""
    a = _kernel_operand(value, dtype)
    if any(s % a.itemsize for s in a.strides):
        a = np.array(a, order="C")
    return a


def _shape(node, inputs: list) -> tuple:
    """The shape reduced: the broadcast shape of a FusedReduce's inputs, the CAReduce's input's."""
    if isinstance(node.op, FusedReduce):
        return elem_shape(node, inputs)
    (x,) = inputs
    if x.ndim != node.inputs[0].ndim:
        raise ValueError(f"{node.op}: the input has shape {x.shape}, expected rank {node.inputs[0].ndim}")
    return x.shape


def _make_plan(kernel: ReduceKernel, node, inputs: list, out_dtype: np.dtype, ffi) -> _Plan:
    """Kept and reduced dimensions, ordered and merged, and the loop that suits them."""
    shape = _shape(node, inputs)
    axis = kernel.axis
    out_shape = tuple(s for d, s in enumerate(shape) if d not in axis)
    if kernel.kind in ("maximum", "minimum") and any(shape[a] == 0 for a in axis):
        return _Plan(out_shape, "perform")
    if 0 in out_shape:
        return _Plan(out_shape, "empty")
    n = len(inputs)
    strides = []     # per operand (inputs, then the output), per dimension of ``shape``
    for k, a in enumerate(inputs):
        bcast = node.inputs[k].broadcastable
        strides.append([0 if bcast[d] or a.shape[d] == 1 else a.strides[d] // a.itemsize
                        for d in range(len(shape))])
    out_strides = np.empty(out_shape, out_dtype).strides   # the output is C-contiguous
    it = iter(s // out_dtype.itemsize for s in out_strides)
    strides.append([0 if d in axis else next(it) for d in range(len(shape))])
    primary = next((k for k in range(n) if any(strides[k])), 0)
    offsets = [0] * n    # bytes: a reduced dim the primary operand walks backwards is flipped
    for d in axis:
        if strides[primary][d] < 0:
            for k in range(n):
                offsets[k] += (shape[d] - 1) * strides[k][d] * inputs[k].itemsize
                strides[k][d] = -strides[k][d]
    kept = _merge([d for d in range(len(shape)) if d not in axis], shape, strides, primary)
    red = _merge(list(axis), shape, strides[:n], primary)
    path = GENERAL
    if len(red[0]) <= 1 and all(kernel.row_scalar[k] or not red[0] or red[1][k][0] == 1 for k in range(n)):
        path = ROWS
    elif len(kept[0]) == 1 and all(kernel.col_scalar[k] or kept[1][k][0] == 1 for k in range(n)):
        path = COLS
    arrays = (np.array(kept[0] or [1], np.int64), np.array([s for op in kept[1] for s in op] or [0], np.int64),
              np.array(red[0] or [1], np.int64), np.array([s for op in red[1] for s in op] or [0], np.int64))
    pointers = tuple(ffi.cast("int64_t *", a.ctypes.data) for a in arrays)
    return _Plan(out_shape, "call", path, len(kept[0]), len(red[0]), arrays, pointers,
                 tuple(offsets) if any(offsets) else None)


def _merge(dims: list, shape: tuple, strides: list, primary: int) -> tuple:
    """(sizes, per-operand strides) of ``dims``: size-1 dims dropped, ordered by the primary
    operand's stride (largest first), adjacent dims merged where every operand allows."""
    dims = [d for d in dims if shape[d] != 1]
    dims.sort(key=lambda d: -abs(strides[primary][d]))
    sizes: list = []
    groups: list = [[] for _ in strides]
    for d in dims:
        if sizes and all(g[-1] == st[d] * shape[d] for g, st in zip(groups, strides)):
            sizes[-1] *= shape[d]
            for g, st in zip(groups, strides):
                g[-1] = st[d]
            continue
        sizes.append(shape[d])
        for g, st in zip(groups, strides):
            g.append(st[d])
    return sizes, groups


__all__ = ["reduce_thunk"]
