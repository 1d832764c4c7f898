"""Calling the kernels of codegen/c/nnet_extra.py on numpy arrays.

Operands become C-contiguous, aligned arrays of the kernel's dtype (index vectors int64), a
copy only when needed. Anything outside the kernel's case runs the op's numpy ``perform``:
zero-size operands, index vectors that do not have equal lengths (or one of length 1), a
``y`` that is neither a scalar nor of the indexed length, and out-of-range indices (the
kernel reports them before writing; ``perform`` raises numpy's error).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ...codegen.c.nnet_extra import NnetExtraKernel
from .operands import contiguous_operand as _operand

_I64 = np.dtype("int64")




def _indices(a, b):
    """Both index vectors as int64 with their strides in elements and the broadcast length,
    or None when they are not 1-d or do not broadcast."""
    i, j = _operand(a, _I64), _operand(b, _I64)
    if i.ndim != 1 or j.ndim != 1:
        return None
    ni, nj = i.shape[0], j.shape[0]
    if ni == nj:
        return i, 1, j, 1, ni
    if ni == 1:
        return i, 0, j, 1, nj
    if nj == 1:
        return i, 1, j, 0, ni
    return None


def nnet_extra_thunk(kernel: NnetExtraKernel, fn, ffi) -> Callable:
    dtype = np.dtype(kernel.dtype)
    from_buffer, cast = ffi.from_buffer, ffi.cast
    empty = np.empty

    if kernel.op == "stablemax":
        def thunk(node, inputs: list, output_storage: list) -> None:
            x = _operand(inputs[0], dtype)
            if x.ndim != node.inputs[0].ndim or x.size == 0:
                node.op.perform(node, list(inputs), output_storage)
                return
            n = x.shape[-1]
            out = empty(x.shape[:-1] + (1,), dtype)
            fn(from_buffer(x), from_buffer(out), x.size // n, n)
            output_storage[0][0] = out
        return thunk

    if kernel.op == "take2":
        def thunk(node, inputs: list, output_storage: list) -> None:
            x = _operand(inputs[0], dtype)
            idx = _indices(inputs[1], inputs[2]) if x.ndim == 2 and x.size else None
            if idx is None or idx[4] == 0:
                node.op.perform(node, list(inputs), output_storage)
                return
            i, si, j, sj, n = idx
            out = empty((n,), dtype)
            if fn(from_buffer(x), x.shape[0], x.shape[1], cast("int64_t *", i.ctypes.data), si,
                  cast("int64_t *", j.ctypes.data), sj, from_buffer(out), n):
                node.op.perform(node, list(inputs), output_storage)
                return
            output_storage[0][0] = out
        return thunk

    def thunk(node, inputs: list, output_storage: list) -> None:   # inc2
        x = inputs[0]
        idx = _indices(inputs[2], inputs[3]) if x.ndim == 2 and x.size else None
        y = np.asarray(inputs[1], dtype=dtype)
        if idx is None or idx[4] == 0 or not (y.ndim == 0 or y.shape == (idx[4],)):
            node.op.perform(node, list(inputs), output_storage)
            return
        i, si, j, sj, n = idx
        out = np.array(x, dtype=dtype, order="C")   # a new array, also for an inplace op
        ys = 0 if y.ndim == 0 else 1
        y = np.ascontiguousarray(y)          # (a 0-d y becomes shape (1,))
        if fn(from_buffer(out), out.shape[0], out.shape[1], from_buffer(y), ys,
              cast("int64_t *", i.ctypes.data), si, cast("int64_t *", j.ctypes.data), sj, n):
            node.op.perform(node, list(inputs), output_storage)
            return
        output_storage[0][0] = out
    return thunk


__all__ = ["nnet_extra_thunk"]
