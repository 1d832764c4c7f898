"""Calling a cross-entropy kernel (codegen/c/xent.py) on numpy arrays.

Float operands become C-contiguous arrays of the kernel's dtype and targets C-contiguous int64
(a copy only for other layouts or dtypes); a gradient ``gz`` of broadcast shape is expanded
to the targets' shape. Zero-size inputs, mismatched shapes and out-of-range targets (the
kernel returns -1) run the op's numpy ``perform``, which returns the empty result or raises
its error.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ...codegen.c.xent import XentKernel
from .operands import contiguous_operand as _operand

_INT64 = np.dtype(np.int64)




def xent_thunk(kernel: XentKernel, fn, ffi) -> Callable:
    """A perform-compatible callable computing a cross-entropy node through the kernel."""
    dtype = np.dtype(kernel.dtype)
    grad = kernel.op == "xent1hotgrad"
    from_buffer = ffi.from_buffer

    def thunk(node, inputs: list, output_storage: list) -> None:
        def fallback() -> None:
            node.op.perform(node, list(inputs), output_storage)

        *floats, t = inputs
        x = _operand(floats[-1], dtype)
        t = _operand(t, _INT64)
        if x.ndim < 1 or x.size == 0 or x.shape[:-1] != t.shape:
            return fallback()
        n = x.shape[-1]
        rows = t.size
        args = [x, t]
        if grad:
            g = np.asarray(floats[0])
            if g.shape != t.shape:
                try:
                    g = np.broadcast_to(g, t.shape)
                except ValueError:
                    return fallback()
            args.insert(0, _operand(g, dtype))
            out = np.empty(x.shape, dtype)
        else:
            out = np.empty(t.shape, dtype)
        if fn(*[from_buffer(a) for a in args], from_buffer(out), rows, n) != 0:
            return fallback()
        output_storage[0][0] = out

    return thunk


__all__ = ["xent_thunk"]
