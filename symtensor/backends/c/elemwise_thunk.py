"""Calling an elementwise kernel on numpy arrays: operand checks, output shape and
allocation, and the choice between the kernel's contiguous and strided loops."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ...codegen.c.elemwise import ElemwiseKernel


def elemwise_thunk(kernel: ElemwiseKernel, fn, ffi):
    """A perform-compatible callable running ``kernel`` on numpy arrays."""
    in_dtypes = [np.dtype(d) for d in kernel.in_dtypes]
    out_dtypes = [np.dtype(d) for d in kernel.out_dtypes]
    scalar_inputs = kernel.scalar_inputs
    n_in = len(kernel.in_dtypes)
    sizes = [np.dtype(d).itemsize for d in kernel.in_dtypes + kernel.out_dtypes]
    null = ffi.NULL

    def thunk(node, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        inputs = [_kernel_operand(a, dt) for a, dt in zip(inputs, in_dtypes)]
        shape = _output_shape(node, inputs)
        outs = [np.empty(shape, dtype=dt) for dt in out_dtypes]
        n = outs[0].size
        arrays = inputs + outs
        data = np.array([a.__array_interface__["data"][0] for a in arrays], dtype=np.intp)
        ptrs = ffi.cast("intptr_t *", data.ctypes.data)
        contiguous = all(scalar_inputs[k] or (a.shape == shape and a.flags.c_contiguous)
                         for k, a in enumerate(inputs))
        if contiguous:
            fn(n, len(shape), null, null, ptrs, 1)
        else:
            strides = np.zeros((len(arrays), max(len(shape), 1)), dtype=np.int64)
            for k, a in enumerate(arrays):
                for d in range(len(shape)):
                    if a.shape[d] != 1 or shape[d] == 1:
                        strides[k, d] = a.strides[d] // sizes[k]
            shp = np.asarray(shape if shape else (1,), dtype=np.int64)
            fn(n, len(shape), ffi.cast("int64_t *", shp.ctypes.data),
               ffi.cast("int64_t *", strides.ctypes.data), ptrs, 0)
        for cell, out in zip(output_storage, outs):
            cell[0] = out
        del data, arrays

    return thunk


def _kernel_operand(value, dtype: np.dtype) -> np.ndarray:
    """``value`` as an array the kernel can read in place: of the node's input dtype, in native
    byte order and aligned (anything else is converted into a new array, never modified)."""
    if (type(value) is np.ndarray and value.dtype == dtype and value.flags.aligned
            and value.dtype.isnative):
        return value
    return np.array(value, dtype=dtype, order="C")   # a copy, also of a 0-d value


def _output_shape(node, inputs: Sequence[np.ndarray]) -> tuple:
    """The broadcast output shape; non-broadcastable dimensions must agree (as in perform).

    The kernel indexes every operand by the output's shape, so a value whose rank differs from
    its variable's, or whose broadcastable dimension is not 1, is refused here rather than read
    out of bounds."""
    ndim = node.outputs[0].ndim
    for k, (v, a) in enumerate(zip(node.inputs, inputs)):
        if a.ndim != ndim or any(b and s != 1 for b, s in zip(v.broadcastable, a.shape)):
            raise ValueError(f"{node.op}: input {k} has shape {a.shape}, which does not fit its type "
                             f"{v.type} (rank {ndim}, size 1 in broadcastable dimensions)")
    shape = []
    for axis in range(ndim):
        size = None
        for k, (v, a) in enumerate(zip(node.inputs, inputs)):
            if v.broadcastable[axis]:
                continue
            if size is None:
                size, first = a.shape[axis], k
            elif a.shape[axis] != size:
                raise ValueError(f"{node.op}: input {first} has size {size} and input {k} has size "
                                 f"{a.shape[axis]} in dimension {axis}; shapes {[x.shape for x in inputs]} "
                                 f"(a size-1 dimension that is not marked broadcastable does not broadcast)")
        shape.append(1 if size is None else size)
    return tuple(shape)

