"""C renderings of ops, registered by op class.

``renderer_for(node)`` returns the function that renders a node's kernel (or None: the node
runs through its numpy ``perform``). Each op family's rendering lives in its own module here.
"""
from __future__ import annotations

from typing import Callable

from ...ops.blas import Dot
from ...ops.elemwise import Elemwise
from ...ops.fused import FusedElemwise
from ...ops.fused_reduce import FusedReduce
from ...ops.gemm import Gemm
from ...ops.reduce import CAReduce
from ...ops.scan_op import Scan
from .blas import render_dot, render_gemm
from .conv import OPS as CONV_OPS, render_conv
from .pool import OPS as POOL_OPS, render_pool
from .nnet import OPS as NNET_OPS, render_nnet
from .nnet_extra import OPS as NNET_EXTRA_OPS, render_nnet_extra
from .xent import OPS as XENT_OPS, render_xent
from .row_pick import OPS as ROW_PICK_OPS, render_row_pick
from .philox import OPS as PHILOX_OPS, render_philox
from .elemwise import ElemwiseKernel, render_elemwise
from .reduce import render_reduce
from .scan import render_scan
from .scalar import PRELUDE as SCALAR_PRELUDE

RENDERERS: dict[type, Callable] = {
    Elemwise: render_elemwise,
    FusedElemwise: render_elemwise,
    Dot: render_dot,
    Gemm: render_gemm,
    CAReduce: render_reduce, FusedReduce: render_reduce,
    Scan: render_scan,
    **dict.fromkeys(CONV_OPS, render_conv),
    **dict.fromkeys(POOL_OPS, render_pool),
    **dict.fromkeys(NNET_OPS, render_nnet),
    **dict.fromkeys(NNET_EXTRA_OPS, render_nnet_extra),
    **dict.fromkeys(XENT_OPS, render_xent),
    **dict.fromkeys(ROW_PICK_OPS, render_row_pick),
    **dict.fromkeys(PHILOX_OPS, render_philox),
}


def renderer_for(node) -> Callable | None:
    """The C renderer registered for the node's op class (or one of its bases)."""
    for cls in type(node.op).__mro__:
        fn = RENDERERS.get(cls)
        if fn is not None:
            return fn
    return None


__all__ = ["RENDERERS", "renderer_for", "ElemwiseKernel", "render_elemwise", "SCALAR_PRELUDE"]
