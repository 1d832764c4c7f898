"""Render ``StableMax`` (last axis), and ``AdvancedSubtensor`` / ``AdvancedIncSubtensor`` (an
increment) indexed by exactly two integer vectors (``x[rows, cols]`` of a matrix), on
float32/float64, as C loops. Other cases render None (numpy ``perform``).

- stablemax: the row maximum, replaced by 0 when it is not finite or the row holds a NaN
  (numpy's ``max`` propagates NaN; ``perform`` maps non-finite maxima to 0); an empty row
  gives 0 as ``initial=-inf`` does.
- take2: ``out[k] = x[i[k], j[k]]``; negative indices wrap once; any index out of range makes
  the function return -1 before writing anything (the caller then runs ``perform``, which
  raises numpy's error).
- inc2: ``out[i[k], j[k]] += y[k]`` in order of ``k`` (as ``numpy.add.at``: repeats
  accumulate, sequentially), all indices checked first. ``y`` has stride ``ys`` (0: a
  scalar broadcast). ``out`` already holds ``x``.

Indices arrive as int64 with a stride (0 for a length-1 vector broadcast against the other).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ...ops.advanced_subtensor import AdvancedIncSubtensor, AdvancedSubtensor
from ...ops.nnet import StableMax
from ...ops.subtensor import ARRAY

FLOAT_TYPES = {"float32": "float", "float64": "double"}
#: integer index dtypes that convert to int64 exactly
INDEX_TYPES = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"}
OPS = (StableMax, AdvancedSubtensor, AdvancedIncSubtensor)


@dataclass(frozen=True)
class NnetExtraKernel:
    """C source of one of ``stablemax``, ``take2`` or ``inc2`` (``op``) for ``dtype``."""
    name: str
    source: str
    cdef: str
    op: str
    dtype: str


def _two_vectors(op, idx) -> bool:
    return (tuple(op.idx_list) == (ARRAY, ARRAY) and len(idx) == 2
            and all(v.ndim == 1 and v.dtype in INDEX_TYPES for v in idx))


def render_nnet_extra(node) -> Optional[NnetExtraKernel]:
    op = node.op
    dtype = node.outputs[0].dtype
    if dtype not in FLOAT_TYPES or node.inputs[0].dtype != dtype:
        return None
    if type(op) is StableMax:
        x = node.inputs[0]
        if x.ndim < 1 or tuple(op.axis) != (x.ndim - 1,):
            return None
        kind = "stablemax"
    elif type(op) is AdvancedSubtensor:
        if node.inputs[0].ndim != 2 or not _two_vectors(op, node.inputs[1:]):
            return None
        kind = "take2"
    elif type(op) is AdvancedIncSubtensor:
        y = node.inputs[1]
        if (op.set_instead_of_inc or node.inputs[0].ndim != 2 or y.ndim > 1
                or not np.can_cast(y.dtype, dtype, "same_kind") or not _two_vectors(op, node.inputs[2:])):
            return None
        kind = "inc2"
    else:
        return None
    body = _BODIES[kind]
    name = f"st_nnetx_{kind}_{dtype}_" + hashlib.sha256(repr((dtype, kind, body)).encode()).hexdigest()[:16]
    source = body.replace("NAME", name).replace("SCALAR", FLOAT_TYPES[dtype])
    return NnetExtraKernel(name, source, _CDEFS[kind].replace("NAME", name), kind, dtype)


_CDEFS = {
    "stablemax": "void NAME(const void *x, void *out, int64_t rows, int64_t n);",
    "take2": ("int NAME(const void *x, int64_t r, int64_t c, const int64_t *i, int64_t is, "
              "const int64_t *j, int64_t js, void *out, int64_t n);"),
    "inc2": ("int NAME(void *out, int64_t r, int64_t c, const void *y, int64_t ys, const int64_t *i, "
             "int64_t is, const int64_t *j, int64_t js, int64_t n);"),
}

_CHECK = r"""
static int NAME_check(int64_t r, int64_t c, const int64_t *i, int64_t is, const int64_t *j,
                      int64_t js, int64_t n)
{
    int bad = 0;
    for (int64_t k = 0; k < n; ++k) {
        const int64_t a = i[k * is], b = j[k * js];
        bad |= (a < -r) | (a >= r) | (b < -c) | (b >= c);
    }
    return bad ? -1 : 0;
}
"""

_BODIES = {
    "stablemax": r"""
void NAME(const void *xp, void *outp, int64_t rows, int64_t n)
{
    const SCALAR *x = (const SCALAR *)xp;
    SCALAR *out = (SCALAR *)outp;
    #pragma omp parallel for schedule(static) if(rows > 1 && rows * n > ST_OMP_THRESHOLD)
    for (int64_t q = 0; q < rows; ++q) {
        const SCALAR *restrict row = x + q * n;
        SCALAR m = -INFINITY;
        int nan = 0;
        #pragma omp simd reduction(max:m) reduction(|:nan)
        for (int64_t k = 0; k < n; ++k) {
            const SCALAR v = row[k];
            m = v > m ? v : m;
            nan |= (v != v);
        }
        out[q] = (nan || !isfinite(m)) ? (SCALAR)0 : m;
    }
}
""",
    "take2": _CHECK + r"""
int NAME(const void *xp, int64_t r, int64_t c, const int64_t *i, int64_t is,
         const int64_t *j, int64_t js, void *outp, int64_t n)
{
    if (NAME_check(r, c, i, is, j, js, n)) return -1;
    const SCALAR *x = (const SCALAR *)xp;
    SCALAR *out = (SCALAR *)outp;
    for (int64_t k = 0; k < n; ++k) {
        int64_t a = i[k * is], b = j[k * js];
        a += a < 0 ? r : 0;
        b += b < 0 ? c : 0;
        out[k] = x[a * c + b];
    }
    return 0;
}
""",
    "inc2": _CHECK + r"""
int NAME(void *outp, int64_t r, int64_t c, const void *yp, int64_t ys, const int64_t *i,
         int64_t is, const int64_t *j, int64_t js, int64_t n)
{
    if (NAME_check(r, c, i, is, j, js, n)) return -1;
    SCALAR *out = (SCALAR *)outp;
    const SCALAR *y = (const SCALAR *)yp;
    for (int64_t k = 0; k < n; ++k) {
        int64_t a = i[k * is], b = j[k * js];
        a += a < 0 ? r : 0;
        b += b < 0 ? c : 0;
        out[a * c + b] = out[a * c + b] + y[k * ys];
    }
    return 0;
}
""",
}

__all__ = ["NnetExtraKernel", "render_nnet_extra", "OPS", "FLOAT_TYPES"]
