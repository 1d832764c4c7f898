"""Calling a Philox sampler (codegen/c/philox.py) on numpy arrays.

The state is checked and the advanced state made in numpy (4 words); the kernel fills a new
C-contiguous sample. A zero-size sample needs no kernel call.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ...codegen.c.philox import PhiloxKernel
from ...ops.philox import advanced, check_state


def philox_thunk(kernel: PhiloxKernel, fn, ffi) -> Callable:
    """A perform-compatible callable computing a ``PhiloxDraw`` node through the kernel."""
    dtype = np.dtype(kernel.dtype)
    from_buffer = ffi.from_buffer

    def thunk(node, inputs: list, output_storage: list) -> None:
        op = node.op
        state = np.ascontiguousarray(check_state(inputs[0], str(op)))
        out = np.empty(op.shape_of(inputs), dtype)
        if out.size:
            fn(from_buffer(state), from_buffer(out), out.size)
        output_storage[0][0] = advanced(state)
        output_storage[1][0] = out

    return thunk


__all__ = ["philox_thunk"]
