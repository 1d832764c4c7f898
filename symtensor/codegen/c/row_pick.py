"""Render the per-row picking ops of ``ops/row_pick.py`` as C loops:

- ``pick`` (``RowPick``): ``out[i] = x[i * rs + c(i) * cs]``, a gather that only moves
  bytes, so one kernel per element size (1, 2, 4 or 8 bytes) serves every dtype of that size;
- ``inc`` (``RowPickInc``, float32/float64): ``out[i * rs + c(i) * cs] += g[i * gs]`` on a
  fresh copy of ``x``, in order (positions picked twice accumulate, as ``numpy.add.at``).

``c(i) = y[i * ys]``, counted from the end when negative. Strides are in elements: a row
stride 0 repeats the single row of ``x`` and an index or ``g`` stride 0 repeats its single
entry (numpy's broadcasting of length-1 operands). The caller passes ``y`` as int64 and the
number of picked entries; a column out of range makes the function return -1 (the caller
then runs ``perform``, which raises numpy's error).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ...ops.row_pick import RowPick, RowPickInc

#: C element type of the pick kernel, by item size in bytes
MOVE_TYPES = {1: "uint8_t", 2: "uint16_t", 4: "uint32_t", 8: "uint64_t"}
#: float dtypes of the increment kernel
FLOAT_TYPES = {"float32": "float", "float64": "double"}
#: integer index dtypes that convert to int64 exactly
INDEX_TYPES = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"}
#: kernel function suffix of each op class
OPS = {RowPick: "pick", RowPickInc: "inc"}


@dataclass(frozen=True)
class RowPickKernel:
    """C source of one row-picking function: ``op`` is a value of ``OPS``; ``dtype`` is the
    node's dtype (x's and the output's)."""
    name: str
    source: str
    cdef: str
    op: str
    dtype: str


def render_row_pick(node) -> Optional[RowPickKernel]:
    """The kernel of a RowPick (any dtype of 1, 2, 4 or 8 bytes) or RowPickInc (float32/float64)
    node with indices of a dtype in ``INDEX_TYPES``, else None."""
    op = OPS.get(type(node.op))
    dtype = node.outputs[0].dtype
    if op is None or node.inputs[-1].dtype not in INDEX_TYPES:
        return None
    if op == "pick":
        ctype = MOVE_TYPES.get(np.dtype(dtype).itemsize) if np.dtype(dtype).kind in "biufc" else None
    else:
        ctype = FLOAT_TYPES.get(dtype)
    if ctype is None:
        return None
    body = _BODIES[op]
    key = repr((ctype, op, body)).encode()
    name = f"st_rowpick_{op}_{ctype}_" + hashlib.sha256(key).hexdigest()[:16]
    source = body.replace("NAME", name).replace("SCALAR", ctype)
    return RowPickKernel(name, source, _CDEFS[op].replace("NAME", name), op, dtype)


_CDEFS = {
    "pick": "int NAME(const void *, int64_t, int64_t, const void *, int64_t, void *, int64_t, int64_t);",
    "inc": "int NAME(void *, int64_t, int64_t, const void *, int64_t, const void *, int64_t, int64_t, "
           "int64_t);",
}

_BODIES = {
    "pick": r"""
int NAME(const void *xp, int64_t rs, int64_t cs, const void *yp, int64_t ys, void *outp,
         int64_t len, int64_t ncols)
{
    const SCALAR *x = (const SCALAR *)xp;
    const int64_t *y = (const int64_t *)yp;
    SCALAR *out = (SCALAR *)outp;
    for (int64_t i = 0; i < len; ++i) {
        int64_t c = y[i * ys];
        if (c < 0) c += ncols;
        if (c < 0 || c >= ncols) return -1;
        out[i] = x[i * rs + c * cs];
    }
    return 0;
}
""",
    "inc": r"""
int NAME(void *outp, int64_t rs, int64_t cs, const void *gp, int64_t gs, const void *yp,
         int64_t ys, int64_t len, int64_t ncols)
{
    SCALAR *out = (SCALAR *)outp;
    const SCALAR *g = (const SCALAR *)gp;
    const int64_t *y = (const int64_t *)yp;
    for (int64_t i = 0; i < len; ++i) {
        int64_t c = y[i * ys];
        if (c < 0) c += ncols;
        if (c < 0 || c >= ncols) return -1;
        out[i * rs + c * cs] += g[i * gs];
    }
    return 0;
}
""",
}

__all__ = ["RowPickKernel", "render_row_pick", "OPS", "MOVE_TYPES", "FLOAT_TYPES", "INDEX_TYPES"]
