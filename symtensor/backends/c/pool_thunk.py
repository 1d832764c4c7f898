"""Calling a pooling kernel (codegen/c/pool.py) on numpy arrays.

The thunk runs the op's own run-time checks (so errors read as in ``perform``), converts the
tensor operands to C-contiguous arrays of the kernel's dtype (a copy only when needed; a
float32 operand of a float64 node converts exactly), allocates the output, fills the
geometry array and calls the kernel. Empty outputs run the op's numpy ``perform``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ...codegen.c.pool import GEOMETRY, PoolKernel
from .operands import contiguous_operand as _operand

#: Output cells above which threads split the planes.
PARALLEL_CELLS = 1 << 15




def _checked(op, kind: str, inputs: list) -> tuple:
    """(tensor operands, input shape, pooled shape, output shape) after the op's checks."""
    if kind == "pool":
        (x,) = inputs
        op.check_fits(x.shape, "pool_2d", static=False)
        pooled = op.pooled_shape(x.shape)
        return [x], x.shape, pooled, pooled
    if kind == "maxgrad":
        x, maxout, gz = inputs
        op._check_values("MaxPoolGrad", x, {"maxout": maxout, "gz": gz})
        return [x, maxout, gz], x.shape, maxout.shape, x.shape
    x, gz = inputs
    op._check_values("AveragePoolGrad", x, {"gz": gz})
    return [gz], x.shape, gz.shape, x.shape


def pool_thunk(kernel: PoolKernel, fn, ffi) -> Callable:
    """A perform-compatible callable computing a pooling node through the kernel."""
    dtype = np.dtype(kernel.dtype)
    kind = kernel.op
    from_buffer, cast = ffi.from_buffer, ffi.cast

    def thunk(node, inputs: list, output_storage: list) -> None:
        op = node.op
        operands, shape, pooled, out_shape = _checked(op, kind, inputs)
        if 0 in shape or 0 in pooled:
            op.perform(node, inputs, output_storage)
            return
        planes = int(np.prod(shape[:-2], dtype=np.int64))
        values = dict(planes=planes, h=shape[-2], w=shape[-1], oh=pooled[-2], ow=pooled[-1],
                      parallel=int(planes > 1 and planes * max(pooled[-2] * pooled[-1], shape[-2] * shape[-1])
                                   >= PARALLEL_CELLS))
        geom = np.array([values[k] for k in GEOMETRY], dtype=np.int64)
        arrays = [_operand(a, dtype) for a in operands]
        out = np.empty(out_shape, dtype=dtype)
        fn(*[from_buffer(a) for a in arrays], from_buffer(out), cast("int64_t *", geom.ctypes.data))
        output_storage[0][0] = out

    return thunk


__all__ = ["pool_thunk"]
