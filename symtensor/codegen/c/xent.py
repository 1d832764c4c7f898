"""Render the integer-target cross-entropies of ``ops/nnet_xent.py`` on float32/float64 as C
row loops:

- ``xent1hot`` (``CrossentropyCategorical1Hot``): ``out[r] = -log(p[r, t[r]])``;
- ``xent1hotgrad`` (``CrossentropyCategorical1HotGrad``): a zero row with
  ``-g[r] / p[r, t[r]]`` at the target entry;
- ``xentsm1hot`` (``CrossentropySoftmax1Hot``): ``shift + log(sum(exp(x - shift))) - x[t]``
  with the shift of the numpy perform (the row maximum, 0 when not finite or NaN).

The caller passes C-contiguous operands viewed as ``rows`` rows of ``n`` classes, targets as
int64 (``INDEX_TYPES`` convert exactly; other target dtypes render None). Every function first
checks all targets and returns -1 (writing nothing) when one is outside ``0..n-1``: the caller
then runs ``perform``, which raises its error. Sums accumulate in double (as the softmax
kernels). OpenMP threads take whole rows above ``ST_OMP_THRESHOLD`` elements.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Optional

from ...ops.nnet_xent import (CrossentropyCategorical1Hot, CrossentropyCategorical1HotGrad,
                              CrossentropySoftmax1Hot)

FLOAT_TYPES = {"float32": "float", "float64": "double"}
#: integer target dtypes that convert to int64 exactly
INDEX_TYPES = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"}
#: kernel function suffix of each op class
OPS = {CrossentropyCategorical1Hot: "xent1hot", CrossentropyCategorical1HotGrad: "xent1hotgrad",
       CrossentropySoftmax1Hot: "xentsm1hot"}


@dataclass(frozen=True)
class XentKernel:
    """C source of one cross-entropy row function: ``op`` is a value of ``OPS``; ``dtype`` is the
    dtype of the float operands and of the output."""
    name: str
    source: str
    cdef: str
    op: str
    dtype: str


def render_xent(node) -> Optional[XentKernel]:
    """The kernel of a cross-entropy node on float32/float64 with integer targets, else None."""
    op = OPS.get(type(node.op))
    dtype = node.outputs[0].dtype
    if op is None or dtype not in FLOAT_TYPES:
        return None
    *floats, targets = node.inputs
    if any(v.dtype != dtype for v in floats) or targets.dtype not in INDEX_TYPES:
        return None
    body = _CHECK + _BODIES[op]
    key = repr((dtype, op, body)).encode()
    name = f"st_xent_{op}_{dtype}_" + hashlib.sha256(key).hexdigest()[:16]
    suffix = "f" if dtype == "float32" else ""
    source = (body.replace("NAME", name).replace("SCALAR", FLOAT_TYPES[dtype])
              .replace("EXP", "exp" + suffix).replace("LOG", "log" + suffix))
    args = ", ".join(["const void *"] * len(node.inputs))
    cdef = f"int {name}({args}, void *out, int64_t rows, int64_t n);"
    return XentKernel(name, source, cdef, op, dtype)


_CHECK = r"""
/* 0 when every target lies in 0..n-1, else -1. */
static int NAME_check(const int64_t *restrict t, int64_t rows, int64_t n)
{
    int bad = 0;
    #pragma omp simd reduction(|:bad)
    for (int64_t r = 0; r < rows; ++r) bad |= (t[r] < 0) | (t[r] >= n);
    return bad ? -1 : 0;
}
"""

_BODIES = {
    "xent1hot": r"""
int NAME(const void *pp, const void *tp, void *outp, int64_t rows, int64_t n)
{
    const SCALAR *p = (const SCALAR *)pp;
    const int64_t *t = (const int64_t *)tp;
    SCALAR *out = (SCALAR *)outp;
    if (NAME_check(t, rows, n)) return -1;
    for (int64_t r = 0; r < rows; ++r) out[r] = -LOG(p[r * n + t[r]]);
    return 0;
}
""",
    "xent1hotgrad": r"""
int NAME(const void *gp, const void *pp, const void *tp, void *outp, int64_t rows, int64_t n)
{
    const SCALAR *g = (const SCALAR *)gp, *p = (const SCALAR *)pp;
    const int64_t *t = (const int64_t *)tp;
    SCALAR *out = (SCALAR *)outp;
    if (NAME_check(t, rows, n)) return -1;
    #pragma omp parallel for schedule(static) if(rows > 1 && rows * n > ST_OMP_THRESHOLD)
    for (int64_t r = 0; r < rows; ++r) {
        SCALAR *o = out + r * n;
        #pragma omp simd
        for (int64_t j = 0; j < n; ++j) o[j] = (SCALAR)0;
        o[t[r]] = -g[r] / p[r * n + t[r]];
    }
    return 0;
}
""",
    "xentsm1hot": r"""
static SCALAR NAME_row(const SCALAR *restrict x, int64_t t, int64_t n)
{
    SCALAR m = -INFINITY;
    int nan = 0;
    #pragma omp simd reduction(max:m) reduction(|:nan)
    for (int64_t j = 0; j < n; ++j) {
        const SCALAR v = x[j];
        m = v > m ? v : m;
        nan |= (v != v);
    }
    const SCALAR sh = (nan || !isfinite(m)) ? (SCALAR)0 : m;
    double s = 0;
    #pragma omp simd reduction(+:s)
    for (int64_t j = 0; j < n; ++j) s += (double)EXP(x[j] - sh);
    const SCALAR lse = sh + LOG((SCALAR)s);
    return lse - x[t];
}

int NAME(const void *xp, const void *tp, void *outp, int64_t rows, int64_t n)
{
    const SCALAR *x = (const SCALAR *)xp;
    const int64_t *t = (const int64_t *)tp;
    SCALAR *out = (SCALAR *)outp;
    if (NAME_check(t, rows, n)) return -1;
    #pragma omp parallel for schedule(static) if(rows > 1 && rows * n > ST_OMP_THRESHOLD)
    for (int64_t r = 0; r < rows; ++r) out[r] = NAME_row(x + r * n, t[r], n);
    return 0;
}
""",
}

__all__ = ["XentKernel", "render_xent", "OPS", "FLOAT_TYPES", "INDEX_TYPES"]
