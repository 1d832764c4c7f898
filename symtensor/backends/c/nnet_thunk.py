"""Calling a softmax-family kernel (codegen/c/nnet.py) on numpy arrays.

The operands become C-contiguous arrays of the kernel's dtype (a copy only for other layouts
or dtypes), viewed as rows of the last axis; the kernel writes a new C-contiguous output.
Zero-size inputs and mismatched ``SoftmaxGrad`` shapes run the op's numpy ``perform`` (which
returns the empty result, or raises its error).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ...codegen.c.nnet import NnetKernel
from .operands import contiguous_operand as _operand




def nnet_thunk(kernel: NnetKernel, fn, ffi) -> Callable:
    """A perform-compatible callable computing a softmax-family node through the kernel."""
    dtype = np.dtype(kernel.dtype)
    from_buffer = ffi.from_buffer
    empty = np.empty

    def thunk(node, inputs: list, output_storage: list) -> None:
        arrays = [_operand(a, dtype) for a in inputs]
        shape = arrays[-1].shape
        if (arrays[-1].ndim != node.outputs[0].ndim or arrays[-1].size == 0
                or any(a.shape != shape for a in arrays)):
            node.op.perform(node, list(inputs), output_storage)
            return
        n = shape[-1]
        out = empty(shape, dtype)
        fn(*[from_buffer(a) for a in arrays], from_buffer(out), out.size // n, n)
        output_storage[0][0] = out

    return thunk


__all__ = ["nnet_thunk"]
