"""Render a reduction (CAReduce, or FusedReduce: elementwise steps feeding one) as a C kernel.

numpy's semantics: sums and products accumulate in the reduction's accumulator dtype, max/min
propagate NaN, all/any test against zero, and the result is converted to the output dtype.
The caller (the C backend) reorders and merges the dimensions of each call into kept dims
(the output's) and reduced dims, and picks one of three loops:

- rows (``path`` 1): the reduced dims merge into one dimension along which every operand is
  contiguous or constant (the last axis of a C-contiguous array, or all axes). Each output
  element is one ``#pragma omp simd reduction`` loop; float sums add blocks of ``BLOCK``
  elements and combine the block sums pairwise (accuracy close to numpy's pairwise sum).
  Threads share the output elements, or split the reduced range when there are fewer
  outputs than threads (a full reduction);
- columns (``path`` 2): the kept dims merge into one contiguous dimension (leading axes of a
  C-contiguous array): a vector loop over a block of output columns per reduced index,
  accumulating in a small stack array; threads take blocks of columns;
- general (``path`` 0): any strides, one output element at a time.
Zero-size reductions leave the identity (max/min have none: the caller raises first).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ...ops.fused_reduce import FusedReduce
from .elemwise import _body
from .scalar import C_TYPES

BLOCK = 256        # elements per block of a float sum (block sums are combined pairwise)
COL_BLOCK = 1024    # output columns per block of the columns loop

_INT_LIMITS = {
    "bool": ("0", "1"), "int8": ("INT8_MIN", "INT8_MAX"), "int16": ("INT16_MIN", "INT16_MAX"),
    "int32": ("INT32_MIN", "INT32_MAX"), "int64": ("INT64_MIN", "INT64_MAX"),
    "uint8": ("0", "UINT8_MAX"), "uint16": ("0", "UINT16_MAX"), "uint32": ("0", "UINT32_MAX"),
    "uint64": ("0", "UINT64_MAX"),
}


@dataclass(frozen=True)
class ReduceKernel:
    """C source of one reduction kernel and what its caller must know."""
    name: str
    source: str
    cdef: str
    in_dtypes: tuple
    out_dtype: str
    kind: str
    axis: tuple
    row_scalar: tuple    # inputs broadcastable along every reduced axis (one value per output)
    col_scalar: tuple    # inputs broadcastable along every kept axis (one value per reduced index)


@dataclass(frozen=True)
class _Acc:
    """How one reduction accumulates: C types and the C text of each operation."""
    kind: str        # add, mul, maximum, minimum, and, or
    elem_dtype: str  # dtype of the reduced values
    vt: str          # C type of the reduced values
    at: str          # C type of the accumulator
    float_ext: bool  # a float max/min: NaN is tracked apart so the loop vectorizes
    logical: str     # '|' or '&' when the accumulator is boolean, else ''

    def init(self) -> str:
        if self.kind in ("add", "or") or self.logical == "|":
            return "0"
        if self.kind in ("mul", "and") or self.logical == "&":
            return "1"
        if self.float_ext:
            return "(-INFINITY)" if self.kind == "maximum" else "INFINITY"
        lo, hi = _INT_LIMITS[self.elem_dtype]
        return lo if self.kind == "maximum" else hi

    def clause(self, a: str) -> str:
        """The omp reduction clause(s) of a vector loop accumulating into ``a``."""
        if self.logical:
            return f"reduction({self.logical}:{a})"
        op = {"add": "+", "mul": "*", "maximum": "max", "minimum": "min"}[self.kind]
        return f"reduction({op}:{a})" + (" reduction(|:nan)" if self.float_ext else "")

    def update(self, a: str, v: str, track_nan: bool) -> str:
        """The statement adding value ``v`` to ``a``. With ``track_nan`` a float max/min
        records NaN in ``nan``; without, NaN propagates through ``a`` itself."""
        if self.logical:
            return f"{a} = {a} {self.logical} ({v} != 0);"
        if self.kind in ("add", "mul"):
            return f"{a} = {a} {'+' if self.kind == 'add' else '*'} ({self.at})({v});"
        cmp = ">" if self.kind == "maximum" else "<"
        if not self.float_ext:
            return f"{a} = {v} {cmp} {a} ? {v} : {a};"
        if track_nan:
            return f"{a} = {v} {cmp} {a} ? {v} : {a}; nan |= ({v} != {v});"
        return f"{a} = ({v} {cmp} {a} || {v} != {v}) ? {v} : {a};"

    def merge(self, a: str, b: str) -> str:
        """The expression combining partial results ``a`` and ``b`` (a before b)."""
        if self.logical:
            return f"({a} {self.logical} {b})"
        if self.kind in ("add", "mul"):
            return f"({a} {'+' if self.kind == 'add' else '*'} {b})"
        cmp = ">" if self.kind == "maximum" else "<"
        return f"({b} {cmp} {a} ? {b} : {a})"


def _accumulator(kind: str, elem_dtype: str, out_dtype: str, acc_dtype: str | None) -> _Acc | None:
    """numpy's accumulation for the reduction (None: no C form, e.g. float16 or complex)."""
    if kind in ("add", "mul"):
        acc = acc_dtype or out_dtype
    elif kind in ("and", "or"):
        acc = "bool"
    else:
        acc = elem_dtype
    if any(d not in C_TYPES for d in (acc, elem_dtype, out_dtype)):
        return None
    logical = ""
    if kind in ("and", "or") or acc == "bool":
        logical = "|" if kind in ("add", "or") else "&" if kind in ("mul", "and") else ""
    float_ext = kind in ("maximum", "minimum") and elem_dtype in ("float32", "float64")
    return _Acc(kind, elem_dtype, C_TYPES[elem_dtype], C_TYPES[acc], float_ext, logical)


def render_reduce(node) -> ReduceKernel | None:
    """The kernel of a CAReduce or FusedReduce node, or None (the node runs its perform)."""
    op = node.op
    if isinstance(op, FusedReduce):
        program, reducer, elem_dtype = op.program, op.reducer, op.elem_type.dtype
    else:
        program, reducer, elem_dtype = None, op, node.inputs[0].dtype
    in_dtypes = tuple(i.dtype for i in node.inputs)
    out_dtype = node.outputs[0].dtype
    if any(d not in C_TYPES for d in in_dtypes):
        return None
    acc = _accumulator(reducer.kind, elem_dtype, out_dtype, reducer.acc_dtype)
    if acc is None:
        return None
    axis = tuple(reducer.axis)
    ndim = node.inputs[0].ndim
    kept = [d for d in range(ndim) if d not in axis]
    row_scalar = tuple(all(i.broadcastable[a] for a in axis) for i in node.inputs)
    col_scalar = tuple(all(i.broadcastable[a] for a in kept) for i in node.inputs)
    n = len(in_dtypes)
    bodies = {}
    for path, loads in (("rows", [f"s{k}" if row_scalar[k] else f"q{k}[j]" for k in range(n)]),
                        ("cols", [f"s{k}" if col_scalar[k] else f"q{k}[c]" for k in range(n)]),
                        ("gen", [f"p{k}[o{k} + j * i{k}]" for k in range(n)])):
        if program is None:
            bodies[path] = ([], loads[0])
        else:
            body = _body(program, in_dtypes, loads)
            if body is None:
                return None
            bodies[path] = (body[0], body[1][0])
    # the axes are a run-time argument: reductions that differ only in them share one kernel
    key = repr((program, reducer.kind, reducer.acc_dtype, in_dtypes, out_dtype, row_scalar, col_scalar,
                BLOCK, COL_BLOCK)).encode()
    name = "st_red_" + hashlib.sha256(key).hexdigest()[:16]
    source = _Source(name, acc, in_dtypes, out_dtype, row_scalar, col_scalar, bodies).render()
    cdef = (f"void {name}(intptr_t *data, int64_t path, int64_t kd, const int64_t *kshape, "
            f"const int64_t *kstr, int64_t rd, const int64_t *rshape, const int64_t *rstr);")
    return ReduceKernel(name, source, cdef, in_dtypes, out_dtype, reducer.kind, axis, row_scalar, col_scalar)


class _Source:
    """The C text of one kernel: its struct, segment loops and entry point."""

    def __init__(self, name, acc: _Acc, in_dtypes, out_dtype, row_scalar, col_scalar, bodies):
        self.name, self.acc, self.in_dtypes, self.out_dtype = name, acc, in_dtypes, out_dtype
        self.row_scalar, self.col_scalar, self.bodies = row_scalar, col_scalar, bodies
        self.n = len(in_dtypes)
        self.ot = C_TYPES[out_dtype]

    # -- small pieces ---------------------------------------------------------------------
    def pointers(self, indent: str) -> str:
        return "\n".join(f"{indent}const {C_TYPES[d]} *restrict p{k} = (const {C_TYPES[d]} *)data[{k}];"
                         for k, d in enumerate(self.in_dtypes))

    def value(self, path: str, indent: str) -> str:
        """Statements computing ``v``, the value to reduce, from the path's loads."""
        lines, out = self.bodies[path]
        return "\n".join(f"{indent}{line}" for line in lines + [f"const {self.acc.vt} v = {out};"])

    def final(self, a: str, nan: str | None) -> str:
        """The output value from accumulator ``a`` (and NaN flag ``nan``), as the output type."""
        x = f"({nan} ? ({self.acc.vt})NAN : {a})" if nan and self.acc.float_ext else a
        if self.out_dtype == "bool" and not self.acc.logical:
            return f"(({x}) != 0)"
        return f"({self.ot})({x})"

    def cascade_sum(self, indent: str, j0: str, j1: str, body: str, target: str) -> str:
        """Add the float values of ``[j0, j1)`` to ``target``: vector-summed blocks of BLOCK
        elements, whose sums are combined pairwise (a binary counter over a stack)."""
        at = self.acc.at
        return f"""{indent}{at} stk[64]; int top = 0; uint64_t cnt = 0;
{indent}for (int64_t b0 = {j0}; b0 < {j1}; b0 += {BLOCK}) {{
{indent}    const int64_t b1 = b0 + {BLOCK} < {j1} ? b0 + {BLOCK} : {j1};
{indent}    {at} part = 0;
{indent}    #pragma omp simd reduction(+:part)
{indent}    for (int64_t j = b0; j < b1; ++j) {{
{body}
{indent}        part = part + ({at})(v);
{indent}    }}
{indent}    for (uint64_t c = cnt; c & 1; c >>= 1) part = stk[--top] + part;
{indent}    stk[top++] = part; ++cnt;
{indent}}}
{indent}while (top > 0) {target} = stk[--top] + {target};"""

    @property
    def pairwise(self) -> bool:
        return self.acc.kind == "add" and not self.acc.logical and self.acc.at in ("float", "double")

    # -- the three loops ------------------------------------------------------------------
    def rows(self) -> str:
        name, acc = self.name, self.acc
        loads = [f"    const {C_TYPES[d]} s{k} = p{k}[b[{k}]];" if self.row_scalar[k]
                 else f"    const {C_TYPES[d]} *restrict q{k} = p{k} + b[{k}];"
                 for k, d in enumerate(self.in_dtypes)]
        if self.pairwise:
            loop = self.cascade_sum("    ", "j0", "j1", self.value("rows", "            "), "a")
        else:
            loop = f"""    #pragma omp simd {acc.clause('a')}
    for (int64_t j = j0; j < j1; ++j) {{
{self.value('rows', '        ')}
        {acc.update('a', 'v', True)}
    }}"""
        return f"""
static __attribute__((noinline)) {name}_st {name}_rows(intptr_t *data, const int64_t *b, int64_t j0, int64_t j1)
{{
{self.pointers('    ')}
{chr(10).join(loads)}
    {acc.at} a = {acc.init()}; int nan = 0;
{loop}
    return ({name}_st){{a, nan}};
}}
"""

    def general(self) -> str:
        name, acc, n = self.name, self.acc, self.n
        offs = "\n".join(f"        int64_t o{k} = b[{k}];" for k in range(n))
        steps = "\n".join(f"            o{k} += i * rstr[{k} * rd + d];" for k in range(n))
        inner = "\n".join(f"    const int64_t i{k} = rd ? rstr[{k} * rd + rd - 1] : 0;" for k in range(n))
        if self.pairwise:   # each inner row summed pairwise, the row sums combined pairwise
            loop = f"""        {acc.at} row = 0;
        {{
{self.cascade_sum("            ", "0", "inner", self.value("gen", "                    "), "row")}
        }}
        for (uint64_t c = rcnt; c & 1; c >>= 1) row = rstk[--rtop] + row;
        rstk[rtop++] = row; ++rcnt;"""
            pre = f"    {acc.at} rstk[64]; int rtop = 0; uint64_t rcnt = 0;"
            post = "    while (rtop > 0) a = rstk[--rtop] + a;"
        else:
            loop = f"""        for (int64_t j = 0; j < inner; ++j) {{
{self.value('gen', '            ')}
            {acc.update('a', 'v', True)}
        }}"""
            pre, post = "", ""
        return f"""
static __attribute__((noinline)) {name}_st {name}_gen(intptr_t *data, const int64_t *b, int64_t rd,
                                                     const int64_t *rshape, const int64_t *rstr)
{{
{self.pointers('    ')}
    {acc.at} a = {acc.init()}; int nan = 0;
    const int64_t inner = rd ? rshape[rd - 1] : 1;
    int64_t outer = 1;
    for (int64_t d = 0; d + 1 < rd; ++d) outer *= rshape[d];
{inner}
{pre}
    for (int64_t r = 0; r < outer; ++r) {{
        int64_t rem = r;
{offs}
        for (int64_t d = rd - 2; d >= 0; --d) {{
            const int64_t i = rem % rshape[d]; rem /= rshape[d];
{steps}
        }}
{loop}
    }}
{post}
    return ({name}_st){{a, nan}};
}}
"""

    def cols(self) -> str:
        name, acc, n = self.name, self.acc, self.n
        offs = "\n".join(f"            int64_t o{k} = 0;" for k in range(n))
        steps = "\n".join(f"                o{k} += i * rstr[{k} * rd + d];" for k in range(n))
        loads = [f"            const {C_TYPES[d]} s{k} = p{k}[o{k}];" if self.col_scalar[k]
                 else f"            const {C_TYPES[d]} *restrict q{k} = p{k} + o{k} + c0;"
                 for k, d in enumerate(self.in_dtypes)]
        return f"""
static void {name}_cols(intptr_t *data, int64_t n_k, int64_t os, int64_t rd, const int64_t *rshape,
                        const int64_t *rstr, int64_t n_red, int par, int nt)
{{
    {self.ot} *po = ({self.ot} *)data[{n}];
    int64_t cb = {COL_BLOCK};
    if (par && nt > 1) {{
        cb = (n_k + nt - 1) / nt; cb = (cb + 15) / 16 * 16;
        if (cb > {COL_BLOCK}) cb = {COL_BLOCK};
    }}
    const int64_t nblocks = (n_k + cb - 1) / cb;
    #pragma omp parallel for schedule(static) if(par)
    for (int64_t blk = 0; blk < nblocks; ++blk) {{
{self.pointers('        ')}
        const int64_t c0 = blk * cb, w = (c0 + cb < n_k ? c0 + cb : n_k) - c0;
        {acc.at} acc[{COL_BLOCK}];
        for (int64_t c = 0; c < w; ++c) acc[c] = {acc.init()};
        for (int64_t r = 0; r < n_red; ++r) {{
            int64_t rem = r;
{offs}
            for (int64_t d = rd - 1; d >= 0; --d) {{
                const int64_t i = rem % rshape[d]; rem /= rshape[d];
{steps}
            }}
{chr(10).join(loads)}
            #pragma omp simd
            for (int64_t c = 0; c < w; ++c) {{
{self.value('cols', '                ')}
                {acc.update('acc[c]', 'v', False)}
            }}
        }}
        for (int64_t c = 0; c < w; ++c) po[(c0 + c) * os] = {self.final('acc[c]', None)};
    }}
}}
"""

    def entry(self) -> str:
        name, acc, n = self.name, self.acc, self.n
        unravel = "\n".join(f"            b[{k}] += i * kstr[{k} * kd + d];" for k in range(n + 1))
        zero = " ".join(f"b[{k}] = 0;" for k in range(n + 1))
        offsets = f"""        int64_t b[{n + 1}]; {zero}
        int64_t rem = o;
        for (int64_t d = kd - 1; d >= 0; --d) {{
            const int64_t i = rem % kshape[d]; rem /= kshape[d];
{unravel}
        }}"""
        return f"""
void {name}(intptr_t *data, int64_t path, int64_t kd, const int64_t *kshape, const int64_t *kstr,
            int64_t rd, const int64_t *rshape, const int64_t *rstr)
{{
    {self.ot} *po = ({self.ot} *)data[{n}];
    int64_t n_out = 1, n_red = 1;
    for (int64_t d = 0; d < kd; ++d) n_out *= kshape[d];
    for (int64_t d = 0; d < rd; ++d) n_red *= rshape[d];
    if (n_out <= 0) return;
#ifdef _OPENMP
    const int nt = omp_get_max_threads();
#else
    const int nt = 1;
#endif
    const int par = (double)n_out * (double)n_red > (double)ST_OMP_THRESHOLD;
    if (path == 2) {{
        {name}_cols(data, kshape[0], kstr[{n} * kd], rd, rshape, rstr, n_red, par, nt);
        return;
    }}
    if (path == 1 && par && n_out < nt) {{
        /* fewer outputs than threads: the threads split each output's range */
        const int np = nt < 64 ? nt : 64;
        int64_t chunk = (n_red + np - 1) / np;
        chunk = (chunk + {BLOCK} - 1) / {BLOCK} * {BLOCK};
        for (int64_t o = 0; o < n_out; ++o) {{
{offsets}
            {name}_st part[64];
            #pragma omp parallel for schedule(static) num_threads(np)
            for (int t = 0; t < np; ++t) {{
                const int64_t j0 = t * chunk, j1 = j0 + chunk < n_red ? j0 + chunk : n_red;
                if (j0 < j1) part[t] = {name}_rows(data, b, j0, j1);
                else {{ part[t].a = {acc.init()}; part[t].nan = 0; }}
            }}
            {name}_st st = part[0];
            for (int t = 1; t < np; ++t) {{
                st.a = {acc.merge('st.a', 'part[t].a')}; st.nan |= part[t].nan;
            }}
            po[b[{n}]] = {self.final('st.a', 'st.nan')};
        }}
        return;
    }}
    #pragma omp parallel for schedule(static) if(par && n_out > 1)
    for (int64_t o = 0; o < n_out; ++o) {{
{offsets}
        const {name}_st st = path == 1 ? {name}_rows(data, b, 0, n_red)
                                       : {name}_gen(data, b, rd, rshape, rstr);
        po[b[{n}]] = {self.final('st.a', 'st.nan')};
    }}
}}
"""

    def render(self) -> str:
        return f"""
#ifdef _OPENMP
#include <omp.h>
#endif
typedef struct {{ {self.acc.at} a; int nan; }} {self.name}_st;
{self.rows()}{self.general()}{self.cols()}{self.entry()}"""


__all__ = ["ReduceKernel", "render_reduce", "BLOCK", "COL_BLOCK"]
