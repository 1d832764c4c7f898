"""Render ``Softmax``, ``LogSoftmax`` and ``SoftmaxGrad`` on float32/float64 as C row loops.

The caller passes C-contiguous operands viewed as ``rows`` rows of ``n`` elements (the last
axis). Each row is computed as the numpy ``perform`` does:

- the shift is the row maximum (NaN propagates), replaced by 0 when not finite (a row of
  -inf, +inf or NaN), so ``x - shift`` never makes NaN out of infinities;
- softmax: ``e = exp(x - shift)``, ``e / sum(e)`` (a division, as numpy);
- log-softmax: ``xd = x - shift``, ``xd - log(sum(exp(xd)))``;
- softmax gradient: ``sm * (dy - sum(dy * sm))``.

Every inner loop is a ``#pragma omp simd`` loop (``exp`` through glibc's vector math, which
the prelude declares); sums accumulate in double (float32 rows too: at least as accurate as
numpy's pairwise float32 sum). OpenMP threads take whole rows, only above
``ST_OMP_THRESHOLD`` elements.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Optional

from ...ops.nnet import LogSoftmax, Softmax, SoftmaxGrad

FLOAT_TYPES = {"float32": "float", "float64": "double"}
#: Kernel function suffix of each op class.
OPS = {Softmax: "softmax", LogSoftmax: "logsoftmax", SoftmaxGrad: "softmaxgrad"}
_N_IN = {"softmax": 1, "logsoftmax": 1, "softmaxgrad": 2}


@dataclass(frozen=True)
class NnetKernel:
    """C source of one row-wise softmax-family function: ``op`` is "softmax", "logsoftmax"
    or "softmaxgrad"; ``dtype`` is the dtype of every operand and of the output."""
    name: str
    source: str
    cdef: str
    op: str
    dtype: str


def render_nnet(node) -> Optional[NnetKernel]:
    """The kernel of a softmax-family node on float32/float64 with at least one axis, else None."""
    op = OPS.get(type(node.op))
    dtype = node.outputs[0].dtype
    if op is None or dtype not in FLOAT_TYPES or node.outputs[0].ndim == 0:
        return None
    if any(v.dtype != dtype for v in node.inputs):
        return None
    body = _COMMON + _BODIES[op]
    key = repr((dtype, op, body)).encode()
    name = f"st_nnet_{op}_{dtype}_" + hashlib.sha256(key).hexdigest()[:16]
    suffix = "f" if dtype == "float32" else ""
    source = (body.replace("NAME", name).replace("SCALAR", FLOAT_TYPES[dtype])
              .replace("EXP", "exp" + suffix).replace("LOG", "log" + suffix))
    args = ", ".join(["const void *"] * _N_IN[op])
    cdef = f"void {name}({args}, void *out, int64_t rows, int64_t n);"
    return NnetKernel(name, source, cdef, op, dtype)


_COMMON = r"""
/* The shift of a row: its maximum, or 0 when that is not finite (NaN, +-inf, empty). */
static inline SCALAR NAME_shift(const SCALAR *restrict x, int64_t n)
{
    SCALAR m = -INFINITY;
    int nan = 0;
    #pragma omp simd reduction(max:m) reduction(|:nan)
    for (int64_t j = 0; j < n; ++j) {
        const SCALAR v = x[j];
        m = v > m ? v : m;
        nan |= (v != v);
    }
    return (nan || !isfinite(m)) ? (SCALAR)0 : m;
}
"""

_BODIES = {
    "softmax": r"""
static void NAME_row(const SCALAR *restrict x, SCALAR *restrict o, int64_t n)
{
    const SCALAR sh = NAME_shift(x, n);
    double s = 0;
    #pragma omp simd reduction(+:s)
    for (int64_t j = 0; j < n; ++j) {
        const SCALAR e = EXP(x[j] - sh);
        o[j] = e;
        s += (double)e;
    }
    const SCALAR t = (SCALAR)s;
    #pragma omp simd
    for (int64_t j = 0; j < n; ++j) o[j] = o[j] / t;
}

void NAME(const void *xp, void *outp, int64_t rows, int64_t n)
{
    const SCALAR *x = (const SCALAR *)xp;
    SCALAR *out = (SCALAR *)outp;
    #pragma omp parallel for schedule(static) if(rows > 1 && rows * n > ST_OMP_THRESHOLD)
    for (int64_t r = 0; r < rows; ++r) NAME_row(x + r * n, out + r * n, n);
}
""",
    "logsoftmax": r"""
static void NAME_row(const SCALAR *restrict x, SCALAR *restrict o, int64_t n)
{
    const SCALAR sh = NAME_shift(x, n);
    double s = 0;
    #pragma omp simd reduction(+:s)
    for (int64_t j = 0; j < n; ++j) {
        const SCALAR d = x[j] - sh;
        o[j] = d;
        s += (double)EXP(d);
    }
    const SCALAR l = LOG((SCALAR)s);
    #pragma omp simd
    for (int64_t j = 0; j < n; ++j) o[j] = o[j] - l;
}

void NAME(const void *xp, void *outp, int64_t rows, int64_t n)
{
    const SCALAR *x = (const SCALAR *)xp;
    SCALAR *out = (SCALAR *)outp;
    #pragma omp parallel for schedule(static) if(rows > 1 && rows * n > ST_OMP_THRESHOLD)
    for (int64_t r = 0; r < rows; ++r) NAME_row(x + r * n, out + r * n, n);
}
""",
    "softmaxgrad": r"""
static void NAME_row(const SCALAR *restrict dy, const SCALAR *restrict sm, SCALAR *restrict o, int64_t n)
{
    double s = 0;
    #pragma omp simd reduction(+:s)
    for (int64_t j = 0; j < n; ++j) s += (double)dy[j] * (double)sm[j];
    const SCALAR t = (SCALAR)s;
    #pragma omp simd
    for (int64_t j = 0; j < n; ++j) o[j] = sm[j] * (dy[j] - t);
}

void NAME(const void *dyp, const void *smp, void *outp, int64_t rows, int64_t n)
{
    const SCALAR *dy = (const SCALAR *)dyp, *sm = (const SCALAR *)smp;
    SCALAR *out = (SCALAR *)outp;
    #pragma omp parallel for schedule(static) if(rows > 1 && rows * n > ST_OMP_THRESHOLD)
    for (int64_t r = 0; r < rows; ++r) NAME_row(dy + r * n, sm + r * n, out + r * n, n);
}
""",
}

__all__ = ["NnetKernel", "render_nnet", "OPS", "FLOAT_TYPES"]
