"""Render an elementwise program (one Elemwise or a FusedElemwise) as a C loop kernel.

The kernel takes the element count, the rank, the output shape, one data pointer per operand
(inputs then outputs), each operand's strides in elements and the values of its constants. Three loops are generated, each
in a function of its own, so each is compiled once whether threads run it or not:
- a contiguous loop (every operand either C-contiguous with the output's shape or a
  single broadcast value), written with ``restrict`` pointers and ``#pragma omp simd`` so
  that gcc vectorizes it, calling glibc's vector math for exp/log/tanh/...;
- a row loop, vectorized along the last axis, for operands that are unit-stride there or
  constant along it (a row or column broadcast over a matrix);
- a scalar strided loop over any rank, broadcasting by zero strides.
The caller (the C backend) says whether the operands are contiguous; the kernel picks the loop.

Scalar constants of the program are not baked into the source: each becomes a slot, read at
run time from ``const double *consts`` (the last argument) into a typed local before the loops,
so the loops still see a loop-invariant scalar and vectorize as before. The kernel's name hashes
the program with the slots in place of the values, so layers that differ only in their constants
(``tanh(y) * 1.0001 + 0.001 * i``) share one kernel, compiled once. A double holds every float32
and float64 value exactly (NaN, infinities and -0.0 included) and every integer up to 2**53 in
magnitude; larger integer constants stay inlined as literals (and in the name).
The strided loop is compiled without gcc's loop vectorizer: vectorizing it (versioned for
every stride pattern) took about half of a kernel's compile time, for a rare layout.
(A global ``-fno-tree-loop-vectorize`` would not do: it also turns ``omp simd`` off.)
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ...ops.fused import program_of
from .scalar import C_TYPES, compute_dtype, render


@dataclass(frozen=True)
class SharedKernel:
    """The compiled function of a program with its constants as slots: ``name(n, ndim, shape,
    strides, data, contiguous, consts)``, shared by every node computing that program."""
    name: str
    source: str
    cdef: str


@dataclass(frozen=True)
class ElemwiseKernel:
    """The kernel of one node: the shared function, this node's constant values (passed with
    each call) and what its caller must know about the operands.

    ``name``/``source``/``cdef`` give a self-contained function for C callers that embed the
    kernel in their own code (a scan's C loop): ``name(n, ndim, shape, strides, data,
    contiguous)``, with this node's constants bound in a static array. The C backend compiles
    ``shared`` instead, once per program, and passes ``consts`` at run time."""
    shared: SharedKernel
    consts: tuple            # the value of each constant slot, as an exact Python float
    in_dtypes: tuple
    out_dtypes: tuple
    scalar_inputs: tuple     # inputs that are one broadcast value (all dimensions broadcastable)

    @cached_property
    def name(self) -> str:
        key = repr((self.shared.name, self.consts)).encode()
        return "st_ewb_" + hashlib.sha256(key).hexdigest()[:16]

    @cached_property
    def source(self) -> str:
        inner = self.name + "_k"
        values = ", ".join(_double(v) for v in self.consts)
        table = f"static const double consts[] = {{{values}}};" if self.consts else "const double *consts = 0;"
        return (self.shared.source.replace(self.shared.name, inner) + f"""
void {self.name}(int64_t n, {_SIGNATURE}, int64_t contiguous)
{{
    {table}
    {inner}(n, ndim, shape, strides, data, contiguous, consts);
}}
""")

    @property
    def cdef(self) -> str:
        return f"void {self.name}(int64_t n, {_SIGNATURE}, int64_t contiguous);"


def _body(program: tuple, in_dtypes: tuple, load: list) -> tuple | None:
    """C statements computing every step from the loaded inputs; None if a step has no C form."""
    n_inputs, steps, outputs = program
    lines = []
    step_dtypes: list = []
    for k, (sop, args, out_dtype) in enumerate(steps):
        if out_dtype not in C_TYPES:
            return None
        arg_exprs, arg_dtypes = [], []
        for a in args:
            if a[0] == "i":
                arg_exprs.append(load[a[1]])
                arg_dtypes.append(in_dtypes[a[1]])
            elif a[0] == "s":
                arg_exprs.append(f"t{a[1]}")
                arg_dtypes.append(step_dtypes[a[1]])
            elif a[0] == "k":        # constant slot a[2], loaded into the local k<slot>
                arg_exprs.append(f"k{a[2]}")
                arg_dtypes.append(a[1])
            else:
                if a[1] not in C_TYPES:
                    return None
                arg_exprs.append(_literal(a[2], a[1]))
                arg_dtypes.append(a[1])
        if any(d not in C_TYPES for d in arg_dtypes):
            return None
        if len(args) > sop.nin == 2:
            # a variadic step (add(a, b, c)) is folded pairwise as numpy does:
            # impl(impl(a, b), c), each partial result in its own dtype
            acc, acc_dtype = arg_exprs[0], arg_dtypes[0]
            for j in range(1, len(args)):
                part_dtype = out_dtype if j == len(args) - 1 else _pair_dtype(sop, acc_dtype, arg_dtypes[j])
                if part_dtype is None:
                    return None
                expr = _step(sop, [acc, arg_exprs[j]], [acc_dtype, arg_dtypes[j]], part_dtype)
                if expr is None:
                    return None
                name = f"t{k}" if j == len(args) - 1 else f"t{k}_{j}"
                lines.append(f"{C_TYPES[part_dtype]} {name} = {expr};")
                acc, acc_dtype = name, part_dtype
        else:
            expr = _step(sop, arg_exprs, arg_dtypes, out_dtype)
            if expr is None:
                return None
            lines.append(f"{C_TYPES[out_dtype]} t{k} = {expr};")
        step_dtypes.append(out_dtype)
    return lines, [f"t{k}" for k in outputs]


def _pair_dtype(sop, a: str, b: str) -> str | None:
    """The dtype numpy gives ``sop`` of two arrays of dtypes a and b (None: not C-typed)."""
    try:
        dt = sop.output_dtype(a, b)
    except TypeError:
        return None
    return dt if dt in C_TYPES else None


def _step(sop, arg_exprs: list, arg_dtypes: list, out_dtype: str) -> str | None:
    """The C expression of one step, converted to ``out_dtype`` (None: no exact C form)."""
    ct = compute_dtype(sop, arg_dtypes)
    if ct is None:
        return None
    if sop.name == "switch":
        converted = [arg_exprs[0]] + [f"({C_TYPES[ct]})({e})" for e in arg_exprs[1:]]
    elif sop.name == "second" or sop.name.startswith("cast_"):
        converted = arg_exprs
    else:
        converted = [f"({C_TYPES[ct]})({e})" for e in arg_exprs]
    expr = render(sop, converted, ct, out_dtype)
    if expr is None:
        return None
    ctype = C_TYPES[out_dtype]
    if out_dtype == "bool" and not sop.name.startswith("cast_"):
        expr = f"(({expr}) != 0)"
    return f"({ctype})({expr})"


def constant_slots(program: tuple) -> tuple:
    """``(program with slots, values, slot dtypes)``: every inlined constant that a double holds
    exactly becomes ``("k", dtype, slot)``; the values are Python floats, in slot order."""
    n_inputs, steps, outputs = program
    values, dtypes, new_steps = [], [], []
    for sop, args, out_dtype in steps:
        new_args = []
        for a in args:
            value = _slot_value(a[2], a[1]) if a[0] == "c" and a[1] in C_TYPES else None
            if value is None:
                new_args.append(a)
            else:
                new_args.append(("k", a[1], len(values)))
                values.append(value)
                dtypes.append(a[1])
        new_steps.append((sop, tuple(new_args), out_dtype))
    return (n_inputs, tuple(new_steps), outputs), tuple(values), tuple(dtypes)


def _slot_value(value, dtype: str) -> float | None:
    """The constant as the double the kernel reads (None: not exact in a double, stays inlined).
    Integers are first wrapped to their dtype, as the C cast of the literal used to."""
    if dtype in ("float32", "float64"):
        return float(value)
    if dtype == "bool":
        return 1.0 if value else 0.0
    info = np.iinfo(dtype)
    v = int(value) & ((1 << info.bits) - 1)
    if v > info.max:
        v -= 1 << info.bits
    return float(v) if abs(v) <= 2**53 else None


def _double(value: float) -> str:
    """A C double expression equal to ``value`` bit for bit (up to a NaN's payload)."""
    if value != value:
        return "NAN"
    if value in (float("inf"), float("-inf")):
        return "INFINITY" if value > 0 else "(-INFINITY)"
    return value.hex()


def _slot_locals(slot_dtypes: tuple) -> str:
    """Typed locals ``k0, k1, ...`` read from ``consts`` once, before a loop."""
    return "".join(f"    const {C_TYPES[dt]} k{j} = ({C_TYPES[dt]})consts[{j}];\n"
                   for j, dt in enumerate(slot_dtypes))


def _literal(value, dtype: str) -> str:
    if dtype in ("float32", "float64"):
        if value != value:
            return "NAN"
        if value in (float("inf"), float("-inf")):
            return "INFINITY" if value > 0 else "(-INFINITY)"
        return f"(({C_TYPES[dtype]}){float(value).hex()})"
    if dtype == "bool":
        return "1" if value else "0"
    value = int(value)
    if value == -2**63:
        return f"(({C_TYPES[dtype]})(-9223372036854775807LL - 1))"
    return f"(({C_TYPES[dtype]}){value}{'ULL' if value >= 2**63 else 'LL'})"


def render_elemwise(node) -> ElemwiseKernel | None:
    """The kernel for an Elemwise/FusedElemwise node, or None when a step has no C rendering."""
    program, consts, slot_dtypes = constant_slots(program_of(node))
    in_dtypes = tuple(i.dtype for i in node.inputs)
    out_dtypes = tuple(o.dtype for o in node.outputs)
    if any(d not in C_TYPES for d in in_dtypes + out_dtypes):
        return None
    scalar_inputs = tuple(all(i.broadcastable) for i in node.inputs)
    n_in = len(in_dtypes)
    fast_load = [f"s{k}" if scalar_inputs[k] else f"p{k}[i]" for k in range(n_in)]
    fast = _body(program, in_dtypes, fast_load)
    if fast is None:
        return None
    strided = _body(program, in_dtypes, [f"p{k}[o{k}]" for k in range(n_in)])
    # inputs constant along the last axis (broadcastable there): one value per row
    row_scalar = tuple(i.ndim == 0 or i.broadcastable[-1] for i in node.inputs)
    rows = _body(program, in_dtypes, [f"v{k}" if row_scalar[k] else f"r{k}[i]" for k in range(n_in)])
    key = repr((program, in_dtypes, out_dtypes, scalar_inputs, row_scalar)).encode()
    name = "st_ew_" + hashlib.sha256(key).hexdigest()[:16]
    source = _kernel_source(name, in_dtypes, out_dtypes, scalar_inputs, row_scalar, fast, rows, strided,
                            _slot_locals(slot_dtypes))
    shared = SharedKernel(name, source, f"void {name}(int64_t n, {_SIGNATURE}, int64_t contiguous, "
                                        f"const double *consts);")
    return ElemwiseKernel(shared, consts, in_dtypes, out_dtypes, scalar_inputs)


#: Elements per block of a parallel contiguous loop: one call per block costs nothing next to
#: 16384 elements, and any loop above ST_OMP_THRESHOLD still has blocks for every thread.
BLOCK = 16384

_SIGNATURE = "int64_t ndim, const int64_t *shape, const int64_t *strides, intptr_t *data"


def _pointers(in_dtypes: tuple, out_dtypes: tuple) -> str:
    """Declarations of the typed operand pointers ``p0, p1, ...`` (inputs read-only)."""
    n_in = len(in_dtypes)
    decl = []
    for k, dt in enumerate(list(in_dtypes) + list(out_dtypes)):
        const = "const " if k < n_in else ""
        decl.append(f"    {const}{C_TYPES[dt]} *restrict p{k} = ({const}{C_TYPES[dt]} *)data[{k}];")
    return "\n".join(decl)


def _kernel_source(name: str, in_dtypes: tuple, out_dtypes: tuple, scalar_inputs: tuple, row_scalar: tuple,
                   fast: tuple, rows: tuple, strided: tuple, slots: str) -> str:
    """The kernel: one function per loop (each compiled once, whether threads run it or not),
    and the exported entry point choosing among them. ``slots`` declares the constants' locals."""
    return "\n".join((_contiguous_loop(name, in_dtypes, out_dtypes, scalar_inputs, fast, slots),
                      _row_loop(name, in_dtypes, out_dtypes, row_scalar, rows, slots),
                      _strided_loop(name, in_dtypes, out_dtypes, strided, slots),
                      _entry(name, in_dtypes, out_dtypes, row_scalar)))


def _contiguous_loop(name: str, in_dtypes: tuple, out_dtypes: tuple, scalar_inputs: tuple,
                     fast: tuple, slots: str) -> str:
    """``name_c(i0, i1, data)``: elements [i0, i1) of C-contiguous operands, one SIMD loop
    (a broadcast input is one value ``s<k>``)."""
    n_in = len(in_dtypes)
    scalars = "".join(f"    const {C_TYPES[in_dtypes[k]]} s{k} = p{k}[0];\n"
                      for k in range(n_in) if scalar_inputs[k])
    lines, outs = fast
    stores = " ".join(f"p{n_in + j}[i] = {v};" for j, v in enumerate(outs))
    return f"""
static __attribute__((noinline)) void {name}_c(int64_t i0, int64_t i1, intptr_t *data, const double *consts)
{{
{_pointers(in_dtypes, out_dtypes)}
{scalars}{slots}    #pragma omp simd
    for (int64_t i = i0; i < i1; ++i) {{
        {" ".join(lines)}
        {stores}
    }}
}}"""


def _row_loop(name: str, in_dtypes: tuple, out_dtypes: tuple, row_scalar: tuple, rows: tuple, slots: str) -> str:
    """``name_r(j0, j1, ...)``: rows [j0, j1) whose inner loop is unit-stride (or one value per
    row) for every operand, so it vectorizes: broadcasting a column or a row over a matrix
    stays on the SIMD path."""
    n_in = len(in_dtypes)
    ops = list(in_dtypes) + list(out_dtypes)
    offsets = " ".join(f"int64_t o{k} = 0;" for k in range(len(ops)))
    advance = " ".join(f"o{k} += id * strides[{k} * ndim + d];" for k in range(len(ops)))
    pointers = []
    for k, dt in enumerate(ops):
        const = "const " if k < n_in else ""
        pointers.append(f"{const}{C_TYPES[dt]} *restrict r{k} = p{k} + o{k};")
    loads = [f"const {C_TYPES[in_dtypes[k]]} v{k} = r{k}[0];" for k in range(n_in) if row_scalar[k]]
    lines, outs = rows
    stores = " ".join(f"r{n_in + j}[i] = {v};" for j, v in enumerate(outs))
    return f"""
static __attribute__((noinline)) void {name}_r(int64_t j0, int64_t j1, {_SIGNATURE}, const double *consts)
{{
{_pointers(in_dtypes, out_dtypes)}
{slots}    const int64_t last = ndim - 1, inner = shape[last];
    for (int64_t j = j0; j < j1; ++j) {{
        int64_t rem = j; {offsets}
        for (int64_t d = last - 1; d >= 0; --d) {{
            int64_t id = rem % shape[d]; rem /= shape[d]; {advance}
        }}
        {" ".join(pointers)}
        {" ".join(loads)}
        #pragma omp simd
        for (int64_t i = 0; i < inner; ++i) {{
            {" ".join(lines)}
            {stores}
        }}
    }}
}}"""


def _strided_loop(name: str, in_dtypes: tuple, out_dtypes: tuple, strided: tuple, slots: str) -> str:
    """``name_s(n, ...)``: any rank and strides, broadcasting by zero strides (a scalar loop:
    the layouts that reach it are rare, so it is not worth vectorizing)."""
    n_in = len(in_dtypes)
    n_ops = n_in + len(out_dtypes)
    lines, outs = strided
    offsets = " ".join(f"int64_t o{k} = 0;" for k in range(n_ops))
    outer_off = " ".join(f"o{k} += idx[d] * strides[{k} * ndim + d];" for k in range(n_ops))
    advance = " ".join(f"o{k} += strides[{k} * ndim + last];" for k in range(n_ops))
    stores = " ".join(f"p{n_in + j}[o{n_in + j}] = {v};" for j, v in enumerate(outs))
    return f"""
static __attribute__((noinline, optimize("no-tree-loop-vectorize"))) void {name}_s(int64_t n, {_SIGNATURE}, const double *consts)
{{
{_pointers(in_dtypes, out_dtypes)}
{slots}    if (ndim == 0) {{
        {offsets}
        {" ".join(lines)}
        {stores}
        return;
    }}
    const int64_t last = ndim - 1, inner = shape[last], outer = n / inner;
    int64_t idx[64] = {{0}};
    for (int64_t j = 0; j < outer; ++j) {{
        int64_t rem = j;
        for (int64_t d = last - 1; d >= 0; --d) {{ idx[d] = rem % shape[d]; rem /= shape[d]; }}
        {offsets}
        for (int64_t d = 0; d < last; ++d) {{ {outer_off} }}
        for (int64_t i = 0; i < inner; ++i) {{
            {" ".join(lines)}
            {stores}
            {advance}
        }}
    }}
}}"""


def _entry(name: str, in_dtypes: tuple, out_dtypes: tuple, row_scalar: tuple) -> str:
    """The exported function: the contiguous loop when the caller says so, else the row loop
    when every operand varying along the last axis has stride 1 there, else the strided loop.
    Threads start only above ST_OMP_THRESHOLD elements (entering the runtime costs)."""
    n_in = len(in_dtypes)
    varying = [k for k in range(n_in + len(out_dtypes)) if k >= n_in or not row_scalar[k]]
    checks = " ".join(f"if (strides[{k} * ndim + last] != 1) unit = 0;" for k in varying)
    return f"""
void {name}(int64_t n, {_SIGNATURE}, int64_t contiguous, const double *consts)
{{
    if (n <= 0) return;
    if (contiguous) {{
        if (n > ST_OMP_THRESHOLD) {{
            const int64_t blocks = (n + {BLOCK} - 1) / {BLOCK};
            /* blocks are taken on demand: a thread delayed by another process does not hold up the rest */
            #pragma omp parallel for schedule(dynamic, 1)
            for (int64_t b = 0; b < blocks; ++b)
                {name}_c(b * {BLOCK}, b + 1 < blocks ? (b + 1) * {BLOCK} : n, data, consts);
            return;
        }}
        {name}_c(0, n, data, consts);
        return;
    }}
    if (ndim > 0) {{
        const int64_t last = ndim - 1, inner = shape[last], outer = n / inner;
        int unit = inner > 1;
        {checks}
        if (unit) {{
            if (n > ST_OMP_THRESHOLD) {{
                #pragma omp parallel for schedule(guided)
                for (int64_t j = 0; j < outer; ++j) {name}_r(j, j + 1, ndim, shape, strides, data, consts);
            }} else {{
                {name}_r(0, outer, ndim, shape, strides, data, consts);
            }}
            return;
        }}
    }}
    {name}_s(n, ndim, shape, strides, data, consts);
}}
"""
