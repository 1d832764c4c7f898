"""Calling a row-picking kernel (codegen/c/row_pick.py) on numpy arrays.

``x`` and ``g`` are read in place with any strides (a copy only for another dtype, a
misaligned array or strides that are not whole elements); ``y`` becomes int64. The number of
picked entries follows numpy (``ops/row_pick.py``): lengths that do not go together, zero
entries, and columns out of range (the kernel returns -1) run the op's numpy ``perform``,
which returns the empty result or raises numpy's error. The thunk also offers the executor's
direct protocol (``for_node``): every output is a new array.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ...codegen.c.row_pick import RowPickKernel
from .operands import strided_operand

_INT64 = np.dtype(np.int64)


def _length(from_y: bool, nrows: int, ny: int) -> int:
    """How many entries are picked, or -1 when numpy raises (perform reports it)."""
    if from_y:
        return ny if ny <= nrows else -1
    if nrows == ny or ny == 1:
        return nrows
    return ny if nrows == 1 else -1


def row_pick_thunk(kernel: RowPickKernel, fn, ffi) -> Callable:
    """A perform-compatible callable computing a RowPick or RowPickInc node through the kernel."""
    dtype = np.dtype(kernel.dtype)
    size = dtype.itemsize
    from_buffer, cast, empty = ffi.from_buffer, ffi.cast, np.empty

    def pointer(a: np.ndarray):
        if a.flags.c_contiguous:
            return from_buffer(a)
        return cast("void *", a.__array_interface__["data"][0])

    def operand(value, dt: np.dtype) -> np.ndarray:
        a = strided_operand(value, dt)
        if not a.flags.c_contiguous and any(s % dt.itemsize for s in a.strides):
            a = np.ascontiguousarray(a)
        return a

    def fallback(node, inputs) -> np.ndarray:
        cell = [None]
        node.op.perform(node, list(inputs), [cell])
        return cell[0]

    def pick_for(node) -> Callable:
        from_y = node.op.rows_from == "y"

        def pick(x, y) -> np.ndarray:
            xa, ya = operand(x, dtype), operand(y, _INT64)
            (nrows, ncols), ny = xa.shape, ya.shape[0]
            n = _length(from_y, nrows, ny)
            if n > 0:
                out = empty(n, dtype)
                rs = 0 if nrows == 1 else xa.strides[0] // size
                ys = 0 if ny == 1 else ya.strides[0] // 8
                if fn(pointer(xa), rs, xa.strides[1] // size, pointer(ya), ys, from_buffer(out), n, ncols) == 0:
                    return out
            return fallback(node, (x, y))
        return pick

    def inc_for(node) -> Callable:
        from_y = node.op.rows_from == "y"
        g_broadcasts = node.inputs[1].type.shape[:1] == (1,)

        def inc(x, g, y) -> np.ndarray:
            xa, ga, ya = operand(x, dtype), operand(g, dtype), operand(y, _INT64)
            (nrows, ncols), ny = xa.shape, ya.shape[0]
            n = _length(from_y, nrows, ny)
            if ga.ndim == 0:
                gs = 0
            elif ga.shape[0] == n:
                gs = ga.strides[0] // size
            else:
                gs = 0 if g_broadcasts and ga.shape[0] == 1 else None
            if n > 0 and gs is not None:
                out = xa.copy()
                rs = 0 if nrows == 1 else ncols
                ys = 0 if ny == 1 else ya.strides[0] // 8
                if fn(from_buffer(out), rs, 1, pointer(ga), gs, pointer(ya), ys, n, ncols) == 0:
                    return out
            return fallback(node, (x, g, y))
        return inc

    make = inc_for if kernel.op == "inc" else pick_for
    bound: dict = {}

    def direct(node) -> Callable:
        fn_ = bound.get(node)
        if fn_ is None:
            fn_ = bound[node] = make(node)
        return fn_

    def for_node(node) -> Callable:
        run = direct(node)
        return lambda *inputs: (run(*inputs),)

    def thunk(node, inputs: list, output_storage: list) -> None:
        output_storage[0][0] = direct(node)(*inputs)

    thunk.for_node = for_node
    return thunk


__all__ = ["row_pick_thunk"]
