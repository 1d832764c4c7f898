"""Render ``Dot`` and ``Gemm`` on float32/float64 operands as calls into a CBLAS.

One C function per dtype serves every product, ``out = alpha * X @ Y + beta * out`` with X
``m x k`` and Y ``k x n`` given by data pointers and element strides (a vector operand is a
``1 x k`` or ``k x 1`` matrix). At run time it picks the BLAS routine by shape (``?dot`` for
a scalar result, ``?gemv`` when m or n is 1, else ``?gemm``) and, per operand, the way BLAS
can read it in place: row-major (C-contiguous, or rows with a gap), column-major
(F-contiguous, e.g. a transposed view) as the transposed operand, and anything else (negative,
zero or interleaved strides) through a packed copy. There is no hand-written product loop.

Which BLAS library is linked, and with which compiler and linker flags, is the C backend's
business: it registers a locator with :func:`register_blas`. Without one (or when the
locator finds no library) these ops are not rendered and run their numpy ``perform``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable, Optional

#: C element type and BLAS routine prefix of each dtype rendered.
BLAS_TYPES = {"float32": ("float", "s"), "float64": ("double", "d")}

#: Returned by a kernel when a size or leading dimension exceeds the BLAS's 32-bit integers.
STATUS_OK, STATUS_NO_MEMORY, STATUS_TOO_LARGE = 0, 1, 2


@dataclass(frozen=True)
class BlasLink:
    """How generated C reaches a CBLAS: its function-name prefix (``cblas_`` or a vendor's
    mangled one), the header to include, and the compiler/linker flags of the build."""
    prefix: str
    header: str
    flags: tuple


@dataclass(frozen=True)
class BlasKernel:
    """C source of one BLAS product function and what its caller must know.

    ``op`` is ``"dot"`` or ``"gemm"`` (which op's inputs the caller unpacks); ``dtype`` is
    the common dtype of the operands and the output."""
    name: str
    source: str
    cdef: str
    flags: tuple
    op: str
    dtype: str


_LOCATORS: list = []


def register_blas(locator: Callable[[], Optional[BlasLink]]) -> None:
    """Make ``locator`` the source of :class:`BlasLink` (called at each rendering, so a
    library found missing is not rendered for)."""
    _LOCATORS[:] = [locator]


def blas_link() -> Optional[BlasLink]:
    """The registered library, or None when none is registered or found."""
    return _LOCATORS[0]() if _LOCATORS else None


def render_dot(node) -> Optional[BlasKernel]:
    """The kernel for a ``Dot`` of two float32 or two float64 vectors/matrices, else None."""
    x, y = node.inputs
    return _render(node.outputs[0].dtype, [x.dtype, y.dtype], "dot")


def render_gemm(node) -> Optional[BlasKernel]:
    """The kernel for a ``Gemm`` node (all operands share one float dtype), else None."""
    return _render(node.outputs[0].dtype, [i.dtype for i in node.inputs], "gemm")


def _render(dtype: str, in_dtypes: list, op: str) -> Optional[BlasKernel]:
    if dtype not in BLAS_TYPES or any(d != dtype for d in in_dtypes):
        return None
    link = blas_link()
    if link is None:
        return None
    ctype, letter = BLAS_TYPES[dtype]
    key = repr((dtype, link.prefix, link.header)).encode()
    name = f"st_blas_{letter}_" + hashlib.sha256(key).hexdigest()[:16]
    source = _COMMON.replace("HEADER", link.header) + _product_source(name, ctype, link.prefix + letter)
    return BlasKernel(name, source, _cdef(name), tuple(link.flags), op, dtype)


def _cdef(name: str) -> str:
    return (f"int {name}(int64_t m, int64_t n, int64_t k, const void *xp, int64_t xs0, int64_t xs1, "
            f"const void *yp, int64_t ys0, int64_t ys1, void *outp, double alpha, double beta);")


# Helpers shared by every product function of a module (guarded: one module may hold both
# dtypes). Strides are in elements; the strides of a size-1 dimension are never used.
_COMMON = r"""
#ifndef ST_BLAS_COMMON
#define ST_BLAS_COMMON
#include <HEADER>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* How BLAS can read a rows x cols operand with element strides (rs, cs) in place:
   1 = row-major with leading dimension *ld, 2 = column-major (*ld between columns),
   0 = not at all (strides negative, zero, overlapping or too large): copy it first. */
static int st_blas_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs, int64_t *ld)
{
    int64_t min_r = cols > 1 ? cols : 1, min_c = rows > 1 ? rows : 1;
    if ((cols == 1 || cs == 1) && (rows == 1 || (rs >= min_r && rs <= INT_MAX))) {
        *ld = rows == 1 ? min_r : rs;
        return 1;
    }
    if ((rows == 1 || rs == 1) && (cols == 1 || (cs >= min_c && cs <= INT_MAX))) {
        *ld = cols == 1 ? min_c : cs;
        return 2;
    }
    return 0;
}

/* Whether a vector of n elements with element stride inc can be passed as it is. */
static int st_blas_inc_ok(int64_t n, int64_t inc)
{
    return n == 1 || (inc > 0 && inc <= INT_MAX);
}
#endif
"""


def _product_source(name: str, ctype: str, fn: str) -> str:
    """The product function for one element type; ``fn`` is the routine prefix (e.g.
    ``cblas_s``) to which ``dot``/``gemv``/``gemm`` are appended."""
    t = ctype
    return f"""
/* A packed row-major copy of a rows x cols operand (NULL when out of memory). */
static {t} *{name}_pack(const {t} *src, int64_t rows, int64_t cols, int64_t rs, int64_t cs)
{{
    {t} *buf = ({t} *)malloc((size_t)(rows * cols) * sizeof({t}));
    if (buf == NULL) return NULL;
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j)
            buf[i * cols + j] = src[i * rs + j * cs];
    return buf;
}}

/* out (C-contiguous m x n) = alpha * X @ Y + beta * out; out is not read when beta == 0. */
int {name}(int64_t m, int64_t n, int64_t k, const void *xp, int64_t xs0, int64_t xs1,
           const void *yp, int64_t ys0, int64_t ys1, void *outp, double alpha, double beta)
{{
    const {t} *x = (const {t} *)xp, *y = (const {t} *)yp;
    {t} *out = ({t} *)outp;
    const {t} a = ({t})alpha, b = ({t})beta;
    {t} *xbuf = NULL, *ybuf = NULL;
    int64_t ldx = 0, ldy = 0;
    if (m <= 0 || n <= 0) return {STATUS_OK};
    if (k <= 0) {{                                /* an empty sum: out = beta * out */
        for (int64_t i = 0; i < m * n; ++i) out[i] = b == 0 ? 0 : b * out[i];
        return {STATUS_OK};
    }}
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX) return {STATUS_TOO_LARGE};
    if (m == 1 && n == 1) {{                       /* dot: x along xs1, y along ys0 */
        if (!st_blas_inc_ok(k, xs1)) {{ xbuf = {name}_pack(x, 1, k, 0, xs1); x = xbuf; xs1 = 1; }}
        if (!st_blas_inc_ok(k, ys0)) {{ ybuf = {name}_pack(y, k, 1, ys0, 0); y = ybuf; ys0 = 1; }}
        if (x == NULL || y == NULL) goto no_memory;
        {t} d = {fn}dot((int)k, x, k == 1 ? 1 : (int)xs1, y, k == 1 ? 1 : (int)ys0);
        out[0] = b == 0 ? a * d : a * d + b * out[0];
    }} else if (n == 1) {{                         /* out (m) = alpha X (m x k) y (k) */
        int lay = st_blas_layout(m, k, xs0, xs1, &ldx);
        if (lay == 0) {{ xbuf = {name}_pack(x, m, k, xs0, xs1); x = xbuf; lay = 1; ldx = k; }}
        if (!st_blas_inc_ok(k, ys0)) {{ ybuf = {name}_pack(y, k, 1, ys0, 0); y = ybuf; ys0 = 1; }}
        if (x == NULL || y == NULL) goto no_memory;
        if (b == 0) memset(out, 0, (size_t)m * sizeof({t}));
        if (lay == 1)
            {fn}gemv(CblasRowMajor, CblasNoTrans, (int)m, (int)k, a, x, (int)ldx,
                     y, k == 1 ? 1 : (int)ys0, b, out, 1);
        else
            {fn}gemv(CblasRowMajor, CblasTrans, (int)k, (int)m, a, x, (int)ldx,
                     y, k == 1 ? 1 : (int)ys0, b, out, 1);
    }} else if (m == 1) {{                         /* out (n) = alpha Y^T (n x k) x (k) */
        int lay = st_blas_layout(k, n, ys0, ys1, &ldy);
        if (lay == 0) {{ ybuf = {name}_pack(y, k, n, ys0, ys1); y = ybuf; lay = 1; ldy = n; }}
        if (!st_blas_inc_ok(k, xs1)) {{ xbuf = {name}_pack(x, 1, k, 0, xs1); x = xbuf; xs1 = 1; }}
        if (x == NULL || y == NULL) goto no_memory;
        if (b == 0) memset(out, 0, (size_t)n * sizeof({t}));
        if (lay == 1)
            {fn}gemv(CblasRowMajor, CblasTrans, (int)k, (int)n, a, y, (int)ldy,
                     x, k == 1 ? 1 : (int)xs1, b, out, 1);
        else
            {fn}gemv(CblasRowMajor, CblasNoTrans, (int)n, (int)k, a, y, (int)ldy,
                     x, k == 1 ? 1 : (int)xs1, b, out, 1);
    }} else {{                                     /* gemm */
        int lx = st_blas_layout(m, k, xs0, xs1, &ldx);
        int ly = st_blas_layout(k, n, ys0, ys1, &ldy);
        if (lx == 0) {{ xbuf = {name}_pack(x, m, k, xs0, xs1); x = xbuf; lx = 1; ldx = k; }}
        if (ly == 0) {{ ybuf = {name}_pack(y, k, n, ys0, ys1); y = ybuf; ly = 1; ldy = n; }}
        if (x == NULL || y == NULL) goto no_memory;
        {fn}gemm(CblasRowMajor, lx == 1 ? CblasNoTrans : CblasTrans,
                 ly == 1 ? CblasNoTrans : CblasTrans, (int)m, (int)n, (int)k, a, x, (int)ldx,
                 y, (int)ldy, b, out, (int)n);
    }}
    free(xbuf);
    free(ybuf);
    return {STATUS_OK};
no_memory:
    free(xbuf);
    free(ybuf);
    return {STATUS_NO_MEMORY};
}}
"""
