"""Render ``PhiloxDraw`` (ops/philox.py) as a C loop over Philox4x32-10 blocks.

Each block (or, for truncated normals, each element) is computed independently from
(key, call counter, index), so the loop is a ``#pragma omp parallel for`` above
``ST_OMP_THRESHOLD`` elements and its result does not depend on the thread count. The
floating-point steps are those of the numpy ``perform``, operation for operation (the log and
the cos/sin of 2 pi u are the module's own series, with the very same coefficients written
as hexadecimal literals; no libm transcendental is called), and the build adds
``-ffp-contract=off`` so no multiply-add is fused: the samples equal numpy's bit for bit.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Optional

from ...ops import philox as P

FLOAT_TYPES = {"float32": "float", "float64": "double"}
#: Kernel family of each op class.
OPS = {P.PhiloxDraw: "philox"}


@dataclass(frozen=True)
class PhiloxKernel:
    """C source of one Philox sampler: ``distribution`` and ``dtype`` as in ``PhiloxDraw``.
    The function is ``void name(const void *state, void *out, int64_t n)``."""
    name: str
    source: str
    cdef: str
    distribution: str
    dtype: str
    flags: tuple = ("-ffp-contract=off",)


def render_philox(node) -> Optional[PhiloxKernel]:
    """The kernel of a ``PhiloxDraw`` node, else None."""
    op = node.op
    if not isinstance(op, P.PhiloxDraw) or op.dtype not in FLOAT_TYPES:
        return None
    body = _common() + _BODIES[op.distribution]
    key = repr((op.distribution, op.dtype, body)).encode()
    name = f"st_philox_{op.distribution}_{op.dtype}_" + hashlib.sha256(key).hexdigest()[:16]
    source = (body.replace("NAME", name).replace("SCALAR", FLOAT_TYPES[op.dtype])
              .replace("PER_BLOCK", "4" if (op.distribution, op.dtype) == ("uniform", "float32") else "2"))
    cdef = f"void {name}(const void *state, void *out, int64_t n);"
    return PhiloxKernel(name, source, cdef, op.distribution, op.dtype)


def _array(name: str, values: list) -> str:
    return f"static const double {name}[{len(values)}] = {{{', '.join(float(v).hex() for v in values)}}};"


def _common() -> str:
    consts = "\n".join([
        _array("NAME_LOGC", P._LOG_COEFS), _array("NAME_SINC", P._SIN_COEFS), _array("NAME_COSC", P._COS_COEFS),
        f"#define NAME_LN2 {P.LN2.hex()}", f"#define NAME_HALF_PI {P.HALF_PI.hex()}",
        f"#define NAME_SQRT_HALF {P.SQRT_HALF.hex()}", f"#define NAME_EPS53 {P.EPS53.hex()}",
        f"#define NAME_TRUNCATED_BLOCKS {P.TRUNCATED_BLOCKS}", f"#define NAME_ROUNDS {P.ROUNDS}",
    ])
    return consts + _COMMON


_COMMON = r"""
/* Philox4x32-10 of the counter (j_lo, j_hi, call_lo, call_hi) under the state's key. */
static inline void NAME_block(uint64_t j, const uint32_t *st, uint32_t w[4])
{
    uint32_t c0 = (uint32_t)j, c1 = (uint32_t)(j >> 32), c2 = st[2], c3 = st[3];
    uint32_t k0 = st[0], k1 = st[1];
    for (int r = 0; r < NAME_ROUNDS; ++r) {
        const uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
        const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        const uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1; c3 = (uint32_t)p0; c0 = n0; c2 = n2;
        k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
    }
    w[0] = c0; w[1] = c1; w[2] = c2; w[3] = c3;
}

static inline double NAME_u53(uint32_t a, uint32_t b)
{
    return (double)(a >> 5) * 67108864.0 + (double)(b >> 6);
}

static inline double NAME_horner(const double *c, int n, double x)
{
    double acc = c[n - 1];
    for (int k = n - 2; k >= 0; --k) acc = acc * x + c[k];
    return acc;
}

static inline double NAME_log(double x)
{
    int e;
    double m = frexp(x, &e);
    if (m < NAME_SQRT_HALF) { m = m * 2.0; e -= 1; }
    const double f = m - 1.0;
    const double s = f / (f + 2.0);
    const double s2 = s * s;
    return (double)e * NAME_LN2 + 2.0 * (s * NAME_horner(NAME_LOGC, 12, s2));
}

/* The two normals of a block (Box-Muller in double). */
static inline void NAME_normals(const uint32_t w[4], double *z0, double *z1)
{
    const double u1 = (NAME_u53(w[0], w[1]) + 1.0) * NAME_EPS53;
    const double u2 = NAME_u53(w[2], w[3]) * NAME_EPS53;
    const double r = sqrt(-2.0 * NAME_log(u1));
    const double t = u2 * 4.0;
    const double q = floor(t);
    const double a = (t - q) * NAME_HALF_PI;
    const double a2 = a * a;
    const double s = a * NAME_horner(NAME_SINC, 13, a2);
    const double c = NAME_horner(NAME_COSC, 13, a2);
    double cs, sn;
    switch ((int)q) {
    case 0: cs = c; sn = s; break;
    case 1: cs = -s; sn = c; break;
    case 2: cs = -c; sn = -s; break;
    default: cs = s; sn = -c; break;
    }
    *z0 = r * cs;
    *z1 = r * sn;
}
"""

_BODIES = {
    "uniform": r"""
void NAME(const void *statep, void *outp, int64_t n)
{
    const uint32_t *st = (const uint32_t *)statep;
    SCALAR *out = (SCALAR *)outp;
    const int64_t blocks = (n + PER_BLOCK - 1) / PER_BLOCK;
    #pragma omp parallel for schedule(static) if(n > ST_OMP_THRESHOLD)
    for (int64_t j = 0; j < blocks; ++j) {
        uint32_t w[4];
        NAME_block((uint64_t)j, st, w);
        for (int t = 0; t < PER_BLOCK; ++t) {
            const int64_t i = j * PER_BLOCK + t;
            if (i >= n) break;
#if PER_BLOCK == 4
            out[i] = (float)(w[t] >> 8) * 0x1p-24f;
#else
            out[i] = (SCALAR)(NAME_u53(w[2 * t], w[2 * t + 1]) * NAME_EPS53);
#endif
        }
    }
}
""",
    "normal": r"""
void NAME(const void *statep, void *outp, int64_t n)
{
    const uint32_t *st = (const uint32_t *)statep;
    SCALAR *out = (SCALAR *)outp;
    const int64_t blocks = (n + 1) / 2;
    #pragma omp parallel for schedule(static) if(n > ST_OMP_THRESHOLD)
    for (int64_t j = 0; j < blocks; ++j) {
        uint32_t w[4];
        double z0, z1;
        NAME_block((uint64_t)j, st, w);
        NAME_normals(w, &z0, &z1);
        out[2 * j] = (SCALAR)z0;
        if (2 * j + 1 < n) out[2 * j + 1] = (SCALAR)z1;
    }
}
""",
    "truncated_normal": r"""
void NAME(const void *statep, void *outp, int64_t n)
{
    const uint32_t *st = (const uint32_t *)statep;
    SCALAR *out = (SCALAR *)outp;
    #pragma omp parallel for schedule(static) if(n > ST_OMP_THRESHOLD / 4)
    for (int64_t i = 0; i < n; ++i) {
        uint32_t w[4];
        double z0, z1, z = 0.0;
        int found = 0;
        for (int a = 0; a < NAME_TRUNCATED_BLOCKS && !found; ++a) {
            NAME_block((uint64_t)i * NAME_TRUNCATED_BLOCKS + (uint64_t)a, st, w);
            NAME_normals(w, &z0, &z1);
            if (fabs(z0) <= 2.0) { z = z0; found = 1; }
            else if (fabs(z1) <= 2.0) { z = z1; found = 1; }
        }
        if (!found) {   /* about 2e-11 of the elements: a uniform value in [-2, 2) */
            NAME_block((uint64_t)i * NAME_TRUNCATED_BLOCKS, st, w);
            z = NAME_u53(w[0], w[1]) * NAME_EPS53 * 4.0 - 2.0;
        }
        out[i] = (SCALAR)z;
    }
}
""",
}

__all__ = ["PhiloxKernel", "render_philox", "OPS", "FLOAT_TYPES"]
