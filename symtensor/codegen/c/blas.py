"""Render ``Dot`` and ``Gemm`` on float32/float64 operands as calls into a CBLAS.

One C function per dtype serves every product, ``out = alpha * X @ Y + beta * out`` with X
``m x k`` and Y ``k x n`` given by data pointers and element strides (a vector operand is a
``1 x k`` or ``k x 1`` matrix). At run time it picks the BLAS routine by shape (``?dot`` for
a scalar result, ``?gemv`` when m or n is 1, else ``?gemm``) and, per operand, the way BLAS
can read it in place: row-major (C-contiguous, or rows with a gap), column-major
(F-contiguous, e.g. a transposed view) as the transposed operand, and anything else (negative,
zero or interleaved strides) through a packed copy. There is no hand-written product loop.

Threads. An OpenBLAS is told once to run single-threaded, and a large ``?gemm`` is split
here instead: the output's rows (or columns) in blocks, taken by the OpenMP threads the
elementwise kernels use, dynamically (``schedule(dynamic)``). OpenBLAS's own threads split a
product statically and spin while waiting for each other; on a machine with few cores that
other processes (or our own OpenMP threads) also use, one descheduled thread then stalls the
whole product (measured: a 20x784x500 sgemm taking 40 ms instead of 0.15 ms on 2 busy
cores). With dynamic blocks an idle thread takes the blocks of a stalled one, and one thread
pool serves both BLAS and the elementwise loops.

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
    source = (_COMMON.replace("HEADER", link.header).replace("SET_THREADS", _thread_setter(link.prefix))
              + _product_source(name, ctype, link.prefix + letter))
    return BlasKernel(name, source, _cdef(name), tuple(link.flags), op, dtype)


def _thread_setter(prefix: str) -> str:
    """OpenBLAS's ``set_num_threads`` under the library's symbol prefix (``scipy_cblas_`` ->
    ``scipy_openblas_set_num_threads``); only used when the header is OpenBLAS's."""
    return prefix.replace("cblas_", "openblas_") + "set_num_threads"


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
#ifdef _OPENMP
#include <omp.h>
#endif

/* Products below this many multiply-adds run on one thread (entering a parallel region
   costs more than it saves); larger ones are split into blocks of at least ST_BLAS_MIN_ROWS
   rows or columns, up to ST_BLAS_BLOCKS_PER_THREAD blocks per thread. */
#define ST_BLAS_PAR_WORK 2000000.0
#define ST_BLAS_MIN_ROWS 16
#define ST_BLAS_BLOCKS_PER_THREAD 4

/* OpenBLAS runs single-threaded: the parallelism is ours (see the module docstring). Its
   cblas.h defines OPENBLAS_VERSION; other CBLAS libraries are left as they are. */
static void st_blas_single_thread(void)
{
#ifdef OPENBLAS_VERSION
    static volatile int done = 0;
    if (!done) { SET_THREADS(1); done = 1; }
#endif
}

/* How many threads a product of m*n*k multiply-adds should use (1: call BLAS directly). */
static int st_blas_threads(int64_t m, int64_t n, int64_t k)
{
#ifdef _OPENMP
    if ((double)m * (double)n * (double)k < ST_BLAS_PAR_WORK || omp_in_parallel()) return 1;
    int64_t longest = m > n ? m : n;
    int nt = omp_get_max_threads();
    if (longest < 2 * ST_BLAS_MIN_ROWS) return 1;
    return nt;
#else
    (void)m; (void)n; (void)k;
    return 1;
#endif
}

/* Number of blocks (and their size) splitting `len` rows among nt threads. */
static int64_t st_blas_block(int64_t len, int nt)
{
    int64_t blocks = (int64_t)nt * ST_BLAS_BLOCKS_PER_THREAD;
    int64_t size = (len + blocks - 1) / blocks;
    if (size < ST_BLAS_MIN_ROWS) size = ST_BLAS_MIN_ROWS;
    return (size + 15) / 16 * 16;                       /* whole vectors of columns */
}

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

/* out (C-contiguous m x n) = a * X @ Y + b * out through ?gemm, X and Y with layouts lx, ly
   (1 row-major, 2 column-major) and leading dimensions ldx, ldy. A large product is split
   along its longer side into blocks that the OpenMP threads take dynamically. */
static void {name}_gemm(int lx, int ly, int64_t m, int64_t n, int64_t k, {t} a,
                        const {t} *x, int64_t ldx, const {t} *y, int64_t ldy, {t} b, {t} *out)
{{
    const enum CBLAS_TRANSPOSE tx = lx == 1 ? CblasNoTrans : CblasTrans, ty = ly == 1 ? CblasNoTrans : CblasTrans;
    int nt = st_blas_threads(m, n, k);
    if (nt <= 1) {{
        {fn}gemm(CblasRowMajor, tx, ty, (int)m, (int)n, (int)k, a, x, (int)ldx, y, (int)ldy, b, out, (int)n);
        return;
    }}
    const int rows = m >= n;                          /* split out's rows (X's) or columns (Y's) */
    const int64_t len = rows ? m : n, size = st_blas_block(len, nt);
    const int64_t nblocks = (len + size - 1) / size;
    #pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int64_t blk = 0; blk < nblocks; ++blk) {{
        int64_t s = blk * size, e = s + size < len ? s + size : len;
        if (rows)
            {fn}gemm(CblasRowMajor, tx, ty, (int)(e - s), (int)n, (int)k, a, x + (lx == 1 ? s * ldx : s),
                     (int)ldx, y, (int)ldy, b, out + s * n, (int)n);
        else
            {fn}gemm(CblasRowMajor, tx, ty, (int)m, (int)(e - s), (int)k, a, x, (int)ldx,
                     y + (ly == 1 ? s : s * ldy), (int)ldy, b, out + s, (int)n);
    }}
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
    st_blas_single_thread();
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
        {name}_gemm(lx, ly, m, n, k, a, x, ldx, y, ldy, b, out);
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
