"""Render ``Pool``, ``MaxPoolGrad`` and ``AveragePoolGrad`` on float32/float64 as C loops.

The leading axes are merged into "planes" (the caller passes C-contiguous operands); OpenMP
threads take whole planes, so no two threads write the same cell. Each window is clipped to
the real (unpadded) cells, which is what numpy's padded-window reference computes:

- max: the first real cell, then ``m = (v > m || v != v) ? v : m`` (NaN propagates, as
  numpy's max); padding (-inf in the reference) never wins;
- sum / averages: the window sum in the dtype, divided in double by the number of cells
  (``average_inc_pad``: inside the padded input; ``average_exc_pad``: inside the input),
  rounded to the dtype (numpy divides by a float64 count array, then casts);
- max gradient: each window's gradient added to its cells equal to the window maximum;
- sum/average gradient: each window's gradient (divided by its count) added to its cells.

The window, stride, padding and mode are the op's own constants, written into the C source
(the compiler unrolls the window loops; rows whose windows are whole take one vector loop over
the output columns); the sizes are run-time arguments, so one function serves every shape.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Optional

from ...ops.pool import POOL_MODES, Pool
from ...ops.pool_grad import AveragePoolGrad, MaxPoolGrad

FLOAT_TYPES = {"float32": "float", "float64": "double"}
#: Entries of the int64 geometry array the kernels read.
GEOMETRY = ("planes", "h", "w", "oh", "ow", "parallel")
#: The mode code written into the kernels.
MODE_CODES = {m: i for i, m in enumerate(POOL_MODES)}
#: Kernel function suffix of each op class.
OPS = {Pool: "pool", MaxPoolGrad: "maxgrad", AveragePoolGrad: "avggrad"}
_N_IN = {"pool": 1, "maxgrad": 3, "avggrad": 1}


@dataclass(frozen=True)
class PoolKernel:
    """C source of one pooling function: ``op`` is "pool", "maxgrad" or "avggrad" (which
    op's inputs the caller unpacks); ``dtype`` is the dtype of every operand and the output."""
    name: str
    source: str
    cdef: str
    op: str
    dtype: str


def render_pool(node) -> Optional[PoolKernel]:
    """The kernel of a pooling node whose tensor inputs and output are float32/float64 (a
    float32 input of a float64 node is converted, exactly, by the caller), else None."""
    op = OPS.get(type(node.op))
    dtype = node.outputs[0].dtype
    if op is None or dtype not in FLOAT_TYPES or any(v.dtype not in FLOAT_TYPES for v in node.inputs):
        return None
    p = node.op
    consts = {"P_WSH": p.ws[0], "P_WSW": p.ws[1], "P_SH": p.stride[0], "P_SW": p.stride[1],
              "P_PH": p.pad[0], "P_PW": p.pad[1], "P_MODE": MODE_CODES[p.mode]}
    body = _BODIES[op]
    key = repr((dtype, op, sorted(consts.items()), _COMMON, body)).encode()
    name = f"st_pool_{op}_{dtype}_" + hashlib.sha256(key).hexdigest()[:16]
    body = re.sub(r"\bP_[A-Z]+\b", lambda m: f"((int64_t){consts[m.group(0)]})", body)
    source = _COMMON + body.replace("NAME", name).replace("SCALAR", FLOAT_TYPES[dtype])
    args = ", ".join(["const void *"] * _N_IN[op])
    cdef = f"void {name}({args}, void *out, const int64_t *geom);"
    return PoolKernel(name, source, cdef, op, dtype)


_COMMON = r"""
#ifndef ST_POOL_COMMON
#define ST_POOL_COMMON
typedef struct { int64_t planes, h, w, oh, ow, parallel; } st_pool_geom;

static st_pool_geom st_pool_read(const int64_t *a)
{
    st_pool_geom q = {a[0], a[1], a[2], a[3], a[4], a[5]};
    return q;
}

/* Window r along an axis of n cells (padding p, window ws, stride st): its real cells
   [lo, hi) and the number of cells an average divides by (mode 2: inside the padded input,
   3: inside the input). */
static inline void st_pool_window(int64_t r, int64_t n, int64_t p, int64_t ws, int64_t st, int64_t mode,
                                  int64_t *lo, int64_t *hi, int64_t *count)
{
    int64_t start = r * st, end = start + ws;          /* in padded coordinates */
    int64_t a = start - p, b = end - p;
    *lo = a > 0 ? a : 0;
    *hi = b < n ? b : n;
    if (mode == 2) {
        int64_t top = n + 2 * p;
        *count = (end < top ? end : top) - start;
    } else {
        *count = *hi - *lo;
    }
}

/* The output columns [ca, cb) whose windows lie wholly inside the input (no clipping). */
static inline void st_pool_interior(int64_t w, int64_t ow, int64_t p, int64_t ws, int64_t st,
                                    int64_t *ca, int64_t *cb)
{
    int64_t a = (p + st - 1) / st;                      /* c * st - p >= 0 */
    int64_t b = w + p - ws < 0 ? 0 : (w + p - ws) / st + 1;
    if (b > ow) b = ow;
    if (a > b) a = b;
    *ca = a;
    *cb = b;
}
#endif
"""

_POOL = r"""
/* Output column c of a row (input rows [r0, r1), rn of them counted) through its clipped window. */
static SCALAR NAME_edge(const SCALAR *xs, int64_t w, int64_t r0, int64_t r1, int64_t rn, int64_t c)
{
    int64_t c0, c1, cn;
    st_pool_window(c, w, P_PW, P_WSW, P_SW, P_MODE, &c0, &c1, &cn);
    if (P_MODE == 0) {
        SCALAR m = (r0 < r1 && c0 < c1) ? xs[r0 * w + c0] : -INFINITY;
        for (int64_t i = r0; i < r1; ++i)
            for (int64_t j = c0; j < c1; ++j) {
                SCALAR v = xs[i * w + j];
                m = (v > m || v != v) ? v : m;
            }
        return m;
    }
    SCALAR s = 0;
    for (int64_t i = r0; i < r1; ++i)
        for (int64_t j = c0; j < c1; ++j) s += xs[i * w + j];
    return P_MODE == 1 ? s : (SCALAR)((double)s / (double)(rn * cn));
}

/* Output row r of a plane: clipped windows one by one; when the row's windows are whole
   vertically, the interior columns [ca, cb) in one vector loop. */
static void NAME_row(const SCALAR *xs, SCALAR *o, const st_pool_geom *q, int64_t r, int64_t ca, int64_t cb)
{
    const int64_t w = q->w;
    int64_t r0, r1, rn;
    st_pool_window(r, q->h, P_PH, P_WSH, P_SH, P_MODE, &r0, &r1, &rn);
    if (r1 - r0 != P_WSH) ca = cb = 0;
    for (int64_t c = 0; c < ca; ++c) o[c] = NAME_edge(xs, w, r0, r1, rn, c);
    for (int64_t c = cb; c < q->ow; ++c) o[c] = NAME_edge(xs, w, r0, r1, rn, c);
    const SCALAR *base = xs + r0 * w - P_PW;
    #pragma omp simd
    for (int64_t c = ca; c < cb; ++c) {
        const SCALAR *p = base + c * P_SW;
        SCALAR m = P_MODE == 0 ? p[0] : 0;
        for (int64_t i = 0; i < P_WSH; ++i)
            for (int64_t j = 0; j < P_WSW; ++j) {
                SCALAR v = p[i * w + j];
                if (P_MODE == 0) m = (v > m || v != v) ? v : m;
                else m += v;
            }
        o[c] = P_MODE >= 2 ? (SCALAR)((double)m / (double)(rn * P_WSW)) : m;
    }
}

/* out (planes, oh, ow) = pooled x (planes, h, w). */
void NAME(const void *xp, void *outp, const int64_t *geom)
{
    const SCALAR *x = (const SCALAR *)xp;
    SCALAR *out = (SCALAR *)outp;
    const st_pool_geom q = st_pool_read(geom);
    int64_t ca, cb;
    st_pool_interior(q.w, q.ow, P_PW, P_WSW, P_SW, &ca, &cb);
    #pragma omp parallel for schedule(static) if(q.parallel)
    for (int64_t pl = 0; pl < q.planes; ++pl)
        for (int64_t r = 0; r < q.oh; ++r)
            NAME_row(x + pl * q.h * q.w, out + (pl * q.oh + r) * q.ow, &q, r, ca, cb);
}
"""

_MAXGRAD = r"""
/* Output column c of a row (input rows [r0, r1)): its gradient v added where x equals its max m. */
static void NAME_edge(const SCALAR *xs, SCALAR *g, int64_t w, int64_t r0, int64_t r1, SCALAR m, SCALAR v,
                      int64_t c)
{
    int64_t c0, c1, cn;
    st_pool_window(c, w, P_PW, P_WSW, P_SW, 0, &c0, &c1, &cn);
    for (int64_t i = r0; i < r1; ++i)
        for (int64_t j = c0; j < c1; ++j)
            if (xs[i * w + j] == m) g[i * w + j] += v;
}

/* Row r of the windows of a plane: clipped windows one by one, whole ones [ca, cb) by
   vector loops (over the columns; over each tap's columns when windows overlap). */
static void NAME_row(const SCALAR *xs, const SCALAR *zs, const SCALAR *gs, SCALAR *g, const st_pool_geom *q,
                     int64_t r, int64_t ca, int64_t cb)
{
    const int64_t w = q->w;
    int64_t r0, r1, rn;
    st_pool_window(r, q->h, P_PH, P_WSH, P_SH, 0, &r0, &r1, &rn);
    if (r1 - r0 != P_WSH) ca = cb = 0;
    for (int64_t c = 0; c < ca; ++c) NAME_edge(xs, g, w, r0, r1, zs[c], gs[c], c);
    for (int64_t c = cb; c < q->ow; ++c) NAME_edge(xs, g, w, r0, r1, zs[c], gs[c], c);
    const SCALAR *xb = xs + r0 * w - P_PW;
    SCALAR *gb = g + r0 * w - P_PW;
    if (P_SW >= P_WSW) {                 /* the windows of a row do not overlap */
        #pragma omp simd
        for (int64_t c = ca; c < cb; ++c) {
            const SCALAR m = zs[c], v = gs[c];
            for (int64_t i = 0; i < P_WSH; ++i)
                for (int64_t j = 0; j < P_WSW; ++j) {
                    int64_t k = i * w + c * P_SW + j;
                    gb[k] += xb[k] == m ? v : 0;
                }
        }
    } else {
        for (int64_t i = 0; i < P_WSH; ++i)
            for (int64_t j = 0; j < P_WSW; ++j) {
                #pragma omp simd
                for (int64_t c = ca; c < cb; ++c) {
                    int64_t k = i * w + c * P_SW + j;
                    gb[k] += xb[k] == zs[c] ? gs[c] : 0;
                }
            }
    }
}

/* gx (planes, h, w) = each window's gz added to the cells of x equal to its maximum z. */
void NAME(const void *xp, const void *zp, const void *gzp, void *gxp, const int64_t *geom)
{
    const SCALAR *x = (const SCALAR *)xp, *z = (const SCALAR *)zp, *gz = (const SCALAR *)gzp;
    SCALAR *gx = (SCALAR *)gxp;
    const st_pool_geom q = st_pool_read(geom);
    int64_t ca, cb;
    st_pool_interior(q.w, q.ow, P_PW, P_WSW, P_SW, &ca, &cb);
    #pragma omp parallel for schedule(static) if(q.parallel)
    for (int64_t pl = 0; pl < q.planes; ++pl) {
        SCALAR *g = gx + pl * q.h * q.w;
        memset(g, 0, (size_t)(q.h * q.w) * sizeof(SCALAR));
        for (int64_t r = 0; r < q.oh; ++r)
            NAME_row(x + pl * q.h * q.w, z + (pl * q.oh + r) * q.ow, gz + (pl * q.oh + r) * q.ow, g, &q, r,
                     ca, cb);
    }
}
"""

_AVGGRAD = r"""
/* gx (planes, h, w) = each window's gz (divided by its count for the averages) added to its cells. */
void NAME(const void *gzp, void *gxp, const int64_t *geom)
{
    const SCALAR *gz = (const SCALAR *)gzp;
    SCALAR *gx = (SCALAR *)gxp;
    const st_pool_geom q = st_pool_read(geom);
    #pragma omp parallel for schedule(static) if(q.parallel)
    for (int64_t pl = 0; pl < q.planes; ++pl) {
        const SCALAR *gs = gz + pl * q.oh * q.ow;
        SCALAR *g = gx + pl * q.h * q.w;
        memset(g, 0, (size_t)(q.h * q.w) * sizeof(SCALAR));
        for (int64_t r = 0; r < q.oh; ++r) {
            int64_t r0, r1, rn;
            st_pool_window(r, q.h, P_PH, P_WSH, P_SH, P_MODE, &r0, &r1, &rn);
            for (int64_t c = 0; c < q.ow; ++c) {
                int64_t c0, c1, cn;
                st_pool_window(c, q.w, P_PW, P_WSW, P_SW, P_MODE, &c0, &c1, &cn);
                SCALAR v = gs[r * q.ow + c];
                if (P_MODE != 1) v = (SCALAR)((double)v / (double)(rn * cn));
                for (int64_t i = r0; i < r1; ++i)
                    for (int64_t j = c0; j < c1; ++j) g[i * q.w + j] += v;
            }
        }
    }
}
"""

_BODIES = {"pool": _POOL, "maxgrad": _MAXGRAD, "avggrad": _AVGGRAD}
