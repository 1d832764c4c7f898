"""Runtime wrappers of compiled kernels, by kernel class.

A renderer in ``codegen/c`` returns a kernel description (name, C source, cdef); the matching
function here turns the loaded C function into a ``perform``-compatible callable
``thunk(node, inputs, output_storage)``. Each kernel family adds one entry."""
from __future__ import annotations

from typing import Callable

from ...codegen.c.blas import BlasKernel
from ...codegen.c.conv import ConvKernel
from ...codegen.c.pool import PoolKernel
from ...codegen.c.nnet import NnetKernel
from ...codegen.c.nnet_extra import NnetExtraKernel
from ...codegen.c.xent import XentKernel
from ...codegen.c.row_pick import RowPickKernel
from ...codegen.c.philox import PhiloxKernel
from ...codegen.c.elemwise import ElemwiseKernel
from ...codegen.c.reduce import ReduceKernel
from ...codegen.c.scan import ScanKernel
from .blas_thunk import blas_thunk
from .conv_thunk import conv_thunk
from .pool_thunk import pool_thunk
from .nnet_thunk import nnet_thunk
from .nnet_extra_thunk import nnet_extra_thunk
from .xent_thunk import xent_thunk
from .row_pick_thunk import row_pick_thunk
from .philox_thunk import philox_thunk
from .elemwise_thunk import elemwise_thunk
from .reduce_thunk import reduce_thunk
from .scan_thunk import scan_thunk

THUNK_MAKERS: dict[type, Callable] = {
    ElemwiseKernel: elemwise_thunk,
    BlasKernel: blas_thunk,
    ReduceKernel: reduce_thunk,
    ScanKernel: scan_thunk,
    ConvKernel: conv_thunk,
    PoolKernel: pool_thunk,
    NnetKernel: nnet_thunk,
    NnetExtraKernel: nnet_extra_thunk,
    XentKernel: xent_thunk,
    RowPickKernel: row_pick_thunk,
    PhiloxKernel: philox_thunk,
}


def make_thunk(kernel, fn, ffi) -> Callable:
    """The callable running ``kernel``'s loaded C function ``fn``."""
    try:
        maker = THUNK_MAKERS[type(kernel)]
    except KeyError:
        raise TypeError(f"no runtime wrapper for kernels of type {type(kernel).__name__}") from None
    return maker(kernel, fn, ffi)
