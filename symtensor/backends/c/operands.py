"""Turning the values a compiled kernel receives into arrays it can read in place.

A kernel reads raw memory, so an operand must have the node's dtype, native byte order and
alignment; some kernels also need C-contiguous rows. Anything else is converted into a new
array: the caller's array is never modified."""
from __future__ import annotations

from typing import Any

import numpy as np


def strided_operand(value: Any, dtype: np.dtype) -> np.ndarray:
    """``value`` as an aligned, native array of ``dtype`` (any strides), converted if needed.
    A 0-d value stays 0-d."""
    if type(value) is np.ndarray and value.dtype == dtype and value.flags.aligned:
        return value      # dtype equality also means native byte order
    return np.array(value, dtype=dtype, order="C")


def contiguous_operand(value: Any, dtype: np.dtype) -> np.ndarray:
    """``value`` as a C-contiguous, aligned, native array of ``dtype``, converted if needed."""
    if type(value) is np.ndarray and value.dtype == dtype and value.flags.c_contiguous and value.flags.aligned:
        return value
    return np.ascontiguousarray(value, dtype=dtype)
