"""Render ``Conv2d``, ``Conv2dGradInputs`` and ``Conv2dGradWeights`` on float32/float64 as
im2col + BLAS gemm in C.

The batch is processed in chunks of ``nb`` images. For a chunk, im2col writes the "columns"
matrix ``col`` (channels * k_rows * k_cols rows, one per filter tap; nb * out_rows * out_cols
columns, one per output position) with OpenMP threads over (image, channel); then one gemm per
group (BLAS threads) does the arithmetic:

- forward: ``out (filters x positions) = W (filters x taps) @ col``, then scattered to the
  (batch, filters, rows, cols) output (written directly when a chunk is one image);
- input gradient: ``col = W^T @ gout`` then col2im adds every tap back onto the input cells it
  came from (threads over (image, channel), so no two threads write the same cell);
- filter gradient: ``dW += gout @ col^T``, accumulated over the chunks.

Padding, stride, dilation and groups are handled by im2col/col2im (padded cells are zeros in
``col``, as in numpy's padded input, so ``0 * inf`` is NaN in both); ``filter_flip`` reverses
the taps there instead of copying the filters. All geometry is passed at run time (one C
function per op and dtype serves every shape). The BLAS and its flags come from
``blas_link()``; without a BLAS these ops are not rendered and run their numpy ``perform``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Optional

from ...ops.conv import Conv2d
from ...ops.conv_grad import Conv2dGradInputs, Conv2dGradWeights
from .blas import BLAS_TYPES, blas_link

#: Status codes returned by the kernels.
STATUS_OK, STATUS_NO_MEMORY, STATUS_TOO_LARGE = 0, 1, 2
#: Entries of the int64 geometry array every kernel reads (see ``_GEOMETRY``).
GEOMETRY = ("b", "c", "h", "w", "f", "kh", "kw", "oh", "ow", "pt", "pl", "sh", "sw", "dh", "dw", "g", "flip",
            "chunk", "parallel")
#: Kernel function suffix of each op class.
OPS = {Conv2d: "fwd", Conv2dGradInputs: "gi", Conv2dGradWeights: "gw"}


@dataclass(frozen=True)
class ConvKernel:
    """C source of one convolution function: ``op`` is "fwd", "gi" or "gw" (which op's inputs
    the caller unpacks); ``dtype`` is the dtype of every operand and of the output."""
    name: str
    source: str
    cdef: str
    flags: tuple
    op: str
    dtype: str


def render_conv(node) -> Optional[ConvKernel]:
    """The kernel of a Conv2d / Conv2dGradInputs / Conv2dGradWeights node with a float32 or
    float64 output (inputs of another dtype are converted by the caller), else None."""
    dtype = node.outputs[0].dtype
    op = OPS.get(type(node.op))
    link = blas_link()
    if op is None or dtype not in BLAS_TYPES or link is None:
        return None
    if any(v.dtype not in BLAS_TYPES for v in node.inputs[:2]):
        return None
    ctype, letter = BLAS_TYPES[dtype]
    key = repr((dtype, op, link.prefix, link.header, _COMMON, _TEMPLATE, _ENTRY[op])).encode()
    name = f"st_conv_{op}_{letter}_" + hashlib.sha256(key).hexdigest()[:16]
    source = (_COMMON.replace("HEADER", link.header).replace("OPENBLAS", link.prefix.replace("cblas_", "openblas_"))
              + _TEMPLATE.replace("NAME", name).replace("SCALAR", ctype).replace("GEMM", link.prefix + letter + "gemm")
              + _ENTRY[op].replace("NAME", name).replace("SCALAR", ctype).replace("GEMM", link.prefix + letter + "gemm"))
    cdef = f"int {name}(const void *a, const void *b, void *out, const int64_t *geom);"
    return ConvKernel(name, source, cdef, tuple(link.flags), op, dtype)


_COMMON = r"""
#ifndef ST_CONV_COMMON
#define ST_CONV_COMMON
#include <HEADER>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* OpenBLAS's thread count, set to 1 while our own threads call it (its pthreads build would
   otherwise start its pool from every one of them). Weak: another CBLAS lacks them. */
#pragma weak OPENBLASset_num_threads
#pragma weak OPENBLASget_num_threads
static int st_conv_blas_threads(int n)
{
    if (OPENBLASset_num_threads == NULL || OPENBLASget_num_threads == NULL) return 0;
    int old = OPENBLASget_num_threads();
    if (n > 0 && n != old) OPENBLASset_num_threads(n);
    return old;
}

/* The geometry of one call, read from the int64 array the caller fills. */
typedef struct {
    int64_t b, c, h, w, f, kh, kw, oh, ow, pt, pl, sh, sw, dh, dw, g, flip, chunk, parallel;
    int64_t cg, fg, taps, ohw;     /* channels and filters per group, taps per group, positions */
    int threads;                   /* threads splitting the batch */
} st_conv_geom;

static st_conv_geom st_conv_read(const int64_t *a)
{
    st_conv_geom q = {a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11],
                      a[12], a[13], a[14], a[15], a[16], a[17], a[18], 0, 0, 0, 0, 1};
    q.cg = q.c / q.g;
    q.fg = q.f / q.g;
    q.taps = q.cg * q.kh * q.kw;
    q.ohw = q.oh * q.ow;
#ifdef _OPENMP
    if (q.parallel) {
        int64_t most = omp_get_max_threads();
        q.threads = (int)(most < q.b ? most : q.b);
    }
#endif
    return q;
}

/* Whether every gemm dimension and leading dimension fits BLAS's 32-bit ints. */
static int st_conv_fits(const st_conv_geom *q)
{
    int64_t n = q->chunk * q->ohw;
    return n <= INT_MAX && q->taps <= INT_MAX && q->fg <= INT_MAX && q->c * q->kh * q->kw <= INT_MAX;
}

/* The range [lo, hi) of output indices o whose input index o * s + off lies in [0, n). */
static void st_conv_range(int64_t n, int64_t s, int64_t off, int64_t count, int64_t *lo, int64_t *hi)
{
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t b = n - off <= 0 ? 0 : (n - off + s - 1) / s;
    if (b > count) b = count;
    if (a > b) a = b;
    *lo = a;
    *hi = b;
}
#endif
"""

_TEMPLATE = r"""
/* col (taps of every channel x nb * ohw) from images b0 .. b0 + nb - 1 of x. */
static void NAME_im2col(const SCALAR *x, SCALAR *col, const st_conv_geom *q, int64_t b0, int64_t nb)
{
    const int64_t ld = nb * q->ohw, kk = q->kh * q->kw;
    for (int64_t c = 0; c < q->c; ++c)
        for (int64_t bb = 0; bb < nb; ++bb) {
            const SCALAR *xc = x + ((b0 + bb) * q->c + c) * q->h * q->w;
            for (int64_t t = 0; t < kk; ++t) {
                int64_t i = t / q->kw, j = t % q->kw;
                int64_t ii = q->flip ? q->kh - 1 - i : i, jj = q->flip ? q->kw - 1 - j : j;
                int64_t roff = ii * q->dh - q->pt, coff = jj * q->dw - q->pl, ylo, yhi, xlo, xhi;
                SCALAR *dst = col + (c * kk + t) * ld + bb * q->ohw;
                st_conv_range(q->h, q->sh, roff, q->oh, &ylo, &yhi);
                st_conv_range(q->w, q->sw, coff, q->ow, &xlo, &xhi);
                memset(dst, 0, (size_t)(ylo * q->ow) * sizeof(SCALAR));
                for (int64_t y = ylo; y < yhi; ++y) {
                    const SCALAR *src = xc + (y * q->sh + roff) * q->w + coff;
                    SCALAR *d = dst + y * q->ow;
                    for (int64_t o = 0; o < xlo; ++o) d[o] = 0;
                    if (q->sw == 1)
                        memcpy(d + xlo, src + xlo, (size_t)(xhi - xlo) * sizeof(SCALAR));
                    else
                        for (int64_t o = xlo; o < xhi; ++o) d[o] = src[o * q->sw];
                    for (int64_t o = xhi; o < q->ow; ++o) d[o] = 0;
                }
                memset(dst + yhi * q->ow, 0, (size_t)((q->oh - yhi) * q->ow) * sizeof(SCALAR));
            }
        }
}

/* Images b0 .. b0 + nb - 1 of dx = the sum over taps of col scattered back (zeroed first). */
static void NAME_col2im(const SCALAR *col, SCALAR *dx, const st_conv_geom *q, int64_t b0, int64_t nb)
{
    const int64_t ld = nb * q->ohw, kk = q->kh * q->kw;
    for (int64_t bb = 0; bb < nb; ++bb)
        for (int64_t c = 0; c < q->c; ++c) {
            SCALAR *xc = dx + ((b0 + bb) * q->c + c) * q->h * q->w;
            memset(xc, 0, (size_t)(q->h * q->w) * sizeof(SCALAR));
            for (int64_t t = 0; t < kk; ++t) {
                int64_t i = t / q->kw, j = t % q->kw;
                int64_t ii = q->flip ? q->kh - 1 - i : i, jj = q->flip ? q->kw - 1 - j : j;
                int64_t roff = ii * q->dh - q->pt, coff = jj * q->dw - q->pl, ylo, yhi, xlo, xhi;
                const SCALAR *src = col + (c * kk + t) * ld + bb * q->ohw;
                st_conv_range(q->h, q->sh, roff, q->oh, &ylo, &yhi);
                st_conv_range(q->w, q->sw, coff, q->ow, &xlo, &xhi);
                for (int64_t y = ylo; y < yhi; ++y) {
                    SCALAR *d = xc + (y * q->sh + roff) * q->w + coff;
                    const SCALAR *s = src + y * q->ow;
                    if (q->sw == 1) {
                        #pragma omp simd
                        for (int64_t o = xlo; o < xhi; ++o) d[o] += s[o];
                    } else {
                        for (int64_t o = xlo; o < xhi; ++o) d[o * q->sw] += s[o];
                    }
                }
            }
        }
}

/* g2 (filters x nb * ohw) from the (nb, filters, ohw) block of gout starting at image b0. */
static void NAME_gather(const SCALAR *gout, SCALAR *g2, const st_conv_geom *q, int64_t b0, int64_t nb)
{
    for (int64_t f = 0; f < q->f; ++f)
        for (int64_t bb = 0; bb < nb; ++bb)
            memcpy(g2 + (f * nb + bb) * q->ohw, gout + ((b0 + bb) * q->f + f) * q->ohw,
                   (size_t)q->ohw * sizeof(SCALAR));
}

/* The (nb, filters, ohw) block of out starting at image b0 from tmp (filters x nb * ohw). */
static void NAME_scatter(const SCALAR *tmp, SCALAR *out, const st_conv_geom *q, int64_t b0, int64_t nb)
{
    for (int64_t bb = 0; bb < nb; ++bb)
        for (int64_t f = 0; f < q->f; ++f)
            memcpy(out + ((b0 + bb) * q->f + f) * q->ohw, tmp + (f * nb + bb) * q->ohw,
                   (size_t)q->ohw * sizeof(SCALAR));
}

/* This thread's share [lo, hi) of the batch, and the buffers of one chunk (NULL: no memory). */
static int NAME_share(const st_conv_geom *q, int64_t *lo, int64_t *hi, SCALAR **col, SCALAR **aux)
{
#ifdef _OPENMP
    int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
#else
    int64_t t = 0, nt = 1;
#endif
    *lo = q->b * t / nt;
    *hi = q->b * (t + 1) / nt;
    *col = (SCALAR *)malloc((size_t)(q->c * q->kh * q->kw * q->chunk * q->ohw) * sizeof(SCALAR));
    *aux = (SCALAR *)malloc((size_t)(q->f * q->chunk * q->ohw) * sizeof(SCALAR));
    return *col != NULL && *aux != NULL;
}
"""

_FWD = r"""
/* out (b, f, oh, ow) = conv(x (b, c, h, w), w (f, c / g, kh, kw)): threads split the batch. */
int NAME(const void *xp, const void *wp, void *outp, const int64_t *geom)
{
    const SCALAR *x = (const SCALAR *)xp, *w = (const SCALAR *)wp;
    SCALAR *out = (SCALAR *)outp;
    st_conv_geom q = st_conv_read(geom);
    int failed = 0;
    if (!st_conv_fits(&q)) return 2;
    int blas_threads = q.threads > 1 ? st_conv_blas_threads(1) : 0;
    #pragma omp parallel if(q.threads > 1) num_threads(q.threads) reduction(|:failed)
    {
        int64_t lo, hi;
        SCALAR *col, *tmp;
        if (!NAME_share(&q, &lo, &hi, &col, &tmp)) failed = 1;
        else for (int64_t b0 = lo; b0 < hi; b0 += q.chunk) {
            int64_t nb = hi - b0 < q.chunk ? hi - b0 : q.chunk, n = nb * q.ohw;
            SCALAR *dst = nb == 1 ? out + b0 * q.f * q.ohw : tmp;
            NAME_im2col(x, col, &q, b0, nb);
            for (int64_t g = 0; g < q.g; ++g)
                GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)q.fg, (int)n, (int)q.taps, 1,
                     w + g * q.fg * q.taps, (int)q.taps, col + g * q.taps * n, (int)n, 0,
                     dst + g * q.fg * n, (int)n);
            if (nb > 1) NAME_scatter(tmp, out, &q, b0, nb);
        }
        free(col);
        free(tmp);
    }
    st_conv_blas_threads(blas_threads);
    return failed;
}
"""

_GI = r"""
/* dx (b, c, h, w) = the gradient of conv(x, w) with respect to x for output gradient gout:
   threads split the batch. */
int NAME(const void *wp, const void *gp, void *dxp, const int64_t *geom)
{
    const SCALAR *w = (const SCALAR *)wp, *gout = (const SCALAR *)gp;
    SCALAR *dx = (SCALAR *)dxp;
    st_conv_geom q = st_conv_read(geom);
    int failed = 0;
    if (!st_conv_fits(&q)) return 2;
    int blas_threads = q.threads > 1 ? st_conv_blas_threads(1) : 0;
    #pragma omp parallel if(q.threads > 1) num_threads(q.threads) reduction(|:failed)
    {
        int64_t lo, hi;
        SCALAR *col, *g2;
        if (!NAME_share(&q, &lo, &hi, &col, &g2)) failed = 1;
        else for (int64_t b0 = lo; b0 < hi; b0 += q.chunk) {
            int64_t nb = hi - b0 < q.chunk ? hi - b0 : q.chunk, n = nb * q.ohw;
            const SCALAR *src = gout + b0 * q.f * q.ohw;
            if (nb > 1) { NAME_gather(gout, g2, &q, b0, nb); src = g2; }
            for (int64_t g = 0; g < q.g; ++g)
                GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)q.taps, (int)n, (int)q.fg, 1,
                     w + g * q.fg * q.taps, (int)q.taps, src + g * q.fg * n, (int)n, 0,
                     col + g * q.taps * n, (int)n);
            NAME_col2im(col, dx, &q, b0, nb);
        }
        free(col);
        free(g2);
    }
    st_conv_blas_threads(blas_threads);
    return failed;
}
"""

_GW = r"""
/* dw (f, c / g, kh, kw) = the gradient of conv(x, w) with respect to w for output gradient
   gout: each thread sums its share of the batch into a partial result of its own (thread 0
   into dw), and the partials are then added to dw in thread order. */
int NAME(const void *xp, const void *gp, void *dwp, const int64_t *geom)
{
    const SCALAR *x = (const SCALAR *)xp, *gout = (const SCALAR *)gp;
    SCALAR *dw = (SCALAR *)dwp;
    st_conv_geom q = st_conv_read(geom);
    const int64_t size = q.f * q.taps;
    int failed = 0, used = 1;
    if (!st_conv_fits(&q)) return 2;
    SCALAR *part = q.threads > 1 ? (SCALAR *)malloc((size_t)((q.threads - 1) * size) * sizeof(SCALAR)) : NULL;
    if (q.threads > 1 && part == NULL) return 1;
    int blas_threads = q.threads > 1 ? st_conv_blas_threads(1) : 0;
    #pragma omp parallel if(q.threads > 1) num_threads(q.threads) reduction(|:failed)
    {
        int64_t lo, hi, t = 0;
        SCALAR *col, *g2;
#ifdef _OPENMP
        t = omp_get_thread_num();
        #pragma omp single
        used = omp_get_num_threads();
#endif
        SCALAR *acc = t == 0 ? dw : part + (t - 1) * size;
        if (!NAME_share(&q, &lo, &hi, &col, &g2)) failed = 1;
        else {
            if (lo == hi) memset(acc, 0, (size_t)size * sizeof(SCALAR));
            for (int64_t b0 = lo; b0 < hi; b0 += q.chunk) {
                int64_t nb = hi - b0 < q.chunk ? hi - b0 : q.chunk, n = nb * q.ohw;
                const SCALAR *src = gout + b0 * q.f * q.ohw;
                if (nb > 1) { NAME_gather(gout, g2, &q, b0, nb); src = g2; }
                NAME_im2col(x, col, &q, b0, nb);
                for (int64_t g = 0; g < q.g; ++g)
                    GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)q.fg, (int)q.taps, (int)n, 1,
                         src + g * q.fg * n, (int)n, col + g * q.taps * n, (int)n, b0 == lo ? 0 : 1,
                         acc + g * q.fg * q.taps, (int)q.taps);
            }
        }
        free(col);
        free(g2);
    }
    st_conv_blas_threads(blas_threads);
    if (!failed)
        for (int64_t t = 1; t < used; ++t) {
            const SCALAR *p = part + (t - 1) * size;
            #pragma omp simd
            for (int64_t i = 0; i < size; ++i) dw[i] += p[i];
        }
    free(part);
    return failed;
}
"""

_ENTRY = {"fwd": _FWD, "gi": _GI, "gw": _GW}
