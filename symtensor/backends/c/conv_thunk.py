"""Calling a convolution kernel (codegen/c/conv.py) on numpy arrays.

The thunk runs the op's own run-time checks (so errors read as in ``perform``), converts the
two tensor operands to C-contiguous arrays of the kernel's dtype (a copy only when they are
not already; the caller's arrays are never written), allocates the output, fills the
geometry array and calls the kernel. Zero-size problems and sizes beyond BLAS's 32-bit ints
run the op's numpy ``perform``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ...codegen.c.conv import GEOMETRY, STATUS_NO_MEMORY, STATUS_TOO_LARGE, ConvKernel
from ...ops.conv import check_runtime
from . import blaslib  # noqa: F401  (registers the library the kernels link with)
from .operands import contiguous_operand as _operand

#: Bytes of the im2col buffer a chunk of images may fill: the batch is processed in chunks
#: whose columns stay within it (at least one image per chunk).
COL_BYTES = 1 << 20
#: Multiply-adds above which threads split the batch (below, one thread; BLAS may thread).
PARALLEL_WORK = 1 << 20


def chunk_size(batch: int, taps: int, positions: int, itemsize: int) -> int:
    """Images per chunk: as many as keep ``taps x (images * positions)`` within COL_BYTES."""
    per_image = max(1, taps * positions * itemsize)
    return int(max(1, min(batch, COL_BYTES // per_image)))


def _shapes(op, kind: str, inputs: list) -> tuple:
    """(image shape, filter shape, the two tensor operands) after the op's run-time checks."""
    if kind == "fwd":
        img, kern = inputs
        check_runtime(op, "conv2d", img.shape, kern.shape)
        return img.shape, kern.shape, img, kern
    a, top, rows, cols = inputs
    if kind == "gi":
        img_shape = (top.shape[0], a.shape[1] * op.num_groups, int(rows), int(cols))
        check_runtime(op, "conv2d_grad_inputs", img_shape, a.shape)
        op._check_top(top.shape, img_shape, a.shape, "conv2d_grad_inputs", static=False)
        return img_shape, a.shape, a, top
    kern_shape = (top.shape[1], a.shape[1] // op.num_groups, int(rows), int(cols))
    check_runtime(op, "conv2d_grad_weights", a.shape, kern_shape)
    op._check_top(top.shape, a.shape, kern_shape, "conv2d_grad_weights", static=False)
    return a.shape, kern_shape, a, top




def conv_thunk(kernel: ConvKernel, fn, ffi) -> Callable:
    """A perform-compatible callable computing a convolution node through the kernel."""
    dtype = np.dtype(kernel.dtype)
    kind = kernel.op
    from_buffer, cast = ffi.from_buffer, ffi.cast

    def thunk(node, inputs: list, output_storage: list) -> None:
        op = node.op
        img_shape, kern_shape, a, b = _shapes(op, kind, inputs)
        (kh, kw), (dh, dw), (sh, sw) = kern_shape[2:], op.filter_dilation, op.subsample
        (pt, _), (pl, _) = op.pads((kh, kw))
        oh, ow = op.out_size(img_shape[2:], (kh, kw))
        out_shape = {"fwd": (img_shape[0], kern_shape[0], oh, ow), "gi": img_shape, "gw": kern_shape}[kind]
        if 0 in img_shape or 0 in kern_shape or oh * ow == 0:
            node.op.perform(node, inputs, output_storage)
            return
        values = dict(zip(("b", "c", "h", "w"), img_shape), f=kern_shape[0], kh=kh, kw=kw, oh=oh, ow=ow,
                      pt=pt, pl=pl, sh=sh, sw=sw, dh=dh, dw=dw, g=op.num_groups, flip=int(op.filter_flip))
        taps = img_shape[1] * kh * kw
        values["chunk"] = chunk_size(img_shape[0], taps, oh * ow, dtype.itemsize)
        values["parallel"] = int(img_shape[0] * taps * oh * ow * kern_shape[0] // op.num_groups >= PARALLEL_WORK)
        geom = np.array([values[k] for k in GEOMETRY], dtype=np.int64)
        a, b = _operand(a, dtype), _operand(b, dtype)
        out = np.empty(out_shape, dtype=dtype)
        status = fn(from_buffer(a), from_buffer(b), from_buffer(out), cast("int64_t *", geom.ctypes.data))
        if status == STATUS_NO_MEMORY:
            raise MemoryError(f"{op}: out of memory for the im2col buffer of a convolution")
        if status == STATUS_TOO_LARGE:
            node.op.perform(node, inputs, output_storage)
            return
        output_storage[0][0] = out

    return thunk


__all__ = ["conv_thunk", "chunk_size", "COL_BYTES"]
