"""A scan's whole loop as one C function whose shapes are read at run time (BLAS bodies).

The fixed-shape C loop of ``scan.py`` takes only elementwise bodies on static shapes. This
loop takes bodies made of elementwise and reduction kernels, BLAS products (``Dot``,
``Gemm``), views (``DimShuffle``, basic ``Subtensor`` with constant indices), ``Join`` and
basic ``IncSubtensor``, on values of any shape. Every step of a call has the same shapes
(sequences, initial states and non-sequences fix them), so the caller computes, once per call,
each body value's shape, strides and place (a byte offset from its root: a sequence entry,
a state entry, a non-sequence, a constant or the scratch space) and every kernel's arguments,
and passes them as one ``int64_t`` table ``g``. The generated C only adds each step's base
addresses (``t`` times a sequence's or state's stride) and calls the kernels: views cost
nothing, and one compiled loop serves any batch size and length.

This module decides the table's layout (which entries each value and each call reads) and
writes the C; the C backend fills the table per call (``backends/c/scan_dyn_thunk.py``).

A recurrent output keeping only its last ``L`` states (``op.store_last``) lives in a ring:
state position ``p`` (``m + t + tap``) is at ``p % length`` of its buffer, the length being
passed per call (``m + n`` for a whole trajectory, where the modulo never wraps).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ...graph.basic import Constant
from ...graph.fg import FunctionGraph
from ...ops.blas import Dot
from ...ops.elemwise import DimShuffle
from ...ops.gemm import Gemm
from ...ops.join import Join
from ...ops.subtensor import IncSubtensor, Subtensor
from .blas import BlasKernel
from .elemwise import ElemwiseKernel
from .reduce import ReduceKernel
from .scalar import C_TYPES

#: Stands for the loop's hash in the names of the kernel copies it includes.
LOOP_ID = "ST_DLOOP_ID"


@dataclass(frozen=True, eq=False)
class Step:
    """One node of the body: its kind (``elemwise``, ``reduce``, ``dot``, ``gemm``, ``view``,
    ``join``, ``inc``), the node, its kernel (None for views and copies) and the first entry
    of its block of ``g`` (its arguments)."""
    kind: str
    node: object
    kernel: object
    block: int


@dataclass(frozen=True, eq=False)
class DynLayout:
    """What the caller fills and passes: the entry of ``g`` holding each value's byte offset
    from its root (``offset``), each value's root, the steps, the output copies' blocks, the
    entries of the sequences' and states' strides, the size of ``g`` and the constants."""
    offset: dict          # inner variable -> index in g of its byte offset
    root: dict            # inner variable -> ("seq", j, off) | ("tap", k, m + tap) | ("nonseq", i) |
    #                       ("const", c) | ("tmp",) | ("out", k): the new entry of state k
    steps: tuple          # Step per body node, in order
    out_blocks: tuple     # copy block per recurrent then mapped output
    seq_stride: tuple     # index in g of each sequence's byte stride along axis 0
    rec_row: tuple        # index in g of each state buffer's row size in bytes
    rec_ring: tuple       # index in g of each state buffer's length (states live at position % length)
    nit_row: tuple        # index in g of each mapped trajectory's row size in bytes
    size: int             # entries of g
    constants: tuple      # C-contiguous arrays
    direct: dict          # computed value -> the state it is written into in place (no copy)

    def __repr__(self) -> str:
        return f"DynLayout({len(self.steps)} steps, {self.size} table entries)"


def copy_block_size(ndim: int) -> int:
    """Entries of a strided copy's block: ndim used, shape, destination and source strides."""
    return 1 + 3 * max(ndim, 1)


class _Table:
    """Hands out consecutive entries of ``g``."""

    def __init__(self):
        self.size = 0

    def take(self, count: int) -> int:
        start, self.size = self.size, self.size + count
        return start


def _ok_dtype(var) -> bool:
    return getattr(var, "dtype", None) in C_TYPES


def render_dyn_loop(op, inner: FunctionGraph, renderer_for) -> Optional[tuple]:
    """(name, source, cdef signature, flags, layout) of the run-time-shape loop of ``op``'s
    rewritten body ``inner``, or None when a node (or the op) is not supported."""
    if op.n_shared:
        return None
    if any(not _ok_dtype(v) for v in inner.inputs + inner.outputs):
        return None
    table = _Table()
    root: dict = {}
    pos = 0
    seq_stride = []
    for j, offs in enumerate(op.seq_offsets):
        seq_stride.append(table.take(1))
        for off in offs:
            root[inner.inputs[pos]] = ("seq", j, off)
            pos += 1
    rec_row, rec_ring = [], []
    for k, (taps, m) in enumerate(zip(op.rec_taps, op.mintaps)):
        rec_row.append(table.take(1))
        rec_ring.append(table.take(1))
        for tap in taps:
            root[inner.inputs[pos]] = ("tap", k, m + tap)
            pos += 1
    for i, v in enumerate(inner.inputs[pos:]):
        root[v] = ("nonseq", i)
    nit_row = tuple(table.take(1) for _ in range(op.n_nit))
    constants: list = []
    steps, sources, flags = [], {}, []
    for node in inner.toposort():
        if any(not _ok_dtype(v) for v in node.inputs + node.outputs):
            return None
        for v in node.inputs:
            if v not in root:
                if not isinstance(v, Constant):
                    return None
                root[v] = ("const", len(constants))
                constants.append(np.array(v.data, dtype=v.dtype, order="C"))
        step = _step(node, table, renderer_for)
        if step is None:
            return None
        steps.append(step)
        for v in node.outputs:
            root[v] = root[node.inputs[0]] if step.kind == "view" else ("tmp",)
        if step.kernel is not None:
            cname = step.kernel.name + "_in_" + LOOP_ID
            sources[cname] = step.kernel.source.replace(step.kernel.name, cname) + "\n"
            flags.extend(f for f in getattr(step.kernel, "flags", ()) if f not in flags)
    for v in inner.outputs:
        if v not in root:          # a constant output
            root[v] = ("const", len(constants))
            constants.append(np.array(v.data, dtype=v.dtype, order="C"))
    out_vars = list(inner.outputs[:op.n_rec + op.n_nit])
    direct = _direct_outputs(op, inner, out_vars, root, steps)
    for v, k in direct.items():
        root[v] = ("out", k)
    for step in steps:              # views of a directly written value follow it
        if step.kind == "view" and root[step.node.inputs[0]][0] == "out":
            root[step.node.outputs[0]] = root[step.node.inputs[0]]
    offset = {v: table.take(1) for v in root}
    out_blocks = tuple(table.take(copy_block_size(v.ndim)) for v in out_vars)
    layout = DynLayout(offset, root, tuple(steps), out_blocks, tuple(seq_stride), tuple(rec_row),
                       tuple(rec_ring), nit_row, table.size, tuple(constants), direct)
    body = _body(op, layout, out_vars)
    key = (body + "".join(sources)).encode()
    digest = hashlib.sha256(key).hexdigest()[:16]
    name = "st_scan_dloop_" + digest
    signature = (f"int64_t {name}(int64_t n, intptr_t *seqp, intptr_t *bufp, intptr_t *nitp, "
                 f"intptr_t *nonseqp, intptr_t *constp, intptr_t tmpp, const int64_t *g)")
    source = "\n".join(sources.values()) + _HELPERS + _adders(steps) + f"""
/* Every step of the scan: returns n, -1 when BLAS ran out of memory, -2 when a size exceeds
   its 32-bit integers. */
{signature}
{{
    char **seqs = (char **)seqp, **bufs = (char **)bufp, **nits = (char **)nitp;
    char **nonseqs = (char **)nonseqp, **consts = (char **)constp, *tmp = (char *)tmpp;
    (void)seqs; (void)bufs; (void)nits; (void)nonseqs; (void)consts; (void)tmp;
    for (int64_t t = 0; t < n; ++t) {{
        {body}
    }}
    return n;
}}
"""
    return name, source.replace(LOOP_ID, digest), signature + ";", tuple(flags), layout


# --- the steps --------------------------------------------------------------------------------
def elemwise_block_size(node) -> int:
    """n, contiguous flag, shape, then per operand its strides in elements."""
    nd = max(node.outputs[0].ndim, 1)
    return 2 + nd + (len(node.inputs) + len(node.outputs)) * nd


def reduce_block_size(node, kernel: ReduceKernel) -> tuple:
    """(size, kept dims at most, reduced dims at most): action, path, kd, rd, one byte offset
    per input, kept shape, kept strides (inputs and output), reduced shape, reduced strides."""
    n_in = len(node.inputs)
    rd = max(len(kernel.axis), 1)
    kd = max(node.inputs[0].ndim - len(kernel.axis), 1)
    return 4 + n_in + kd + (n_in + 1) * kd + rd + n_in * rd, kd, rd


#: m, n, k, x strides, y strides (elements), then (gemm) the copy of z into the output.
BLAS_BLOCK = 7


def _step(node, table: _Table, renderer_for) -> Optional[Step]:
    op = node.op
    if isinstance(op, DimShuffle) or (type(op) is Subtensor and len(node.inputs) == 1):
        return Step("view", node, None, table.take(0))
    if type(op) is Join:
        if any(v.dtype != node.outputs[0].dtype for v in node.inputs):
            return None
        return Step("join", node, None, table.take(sum(1 + copy_block_size(v.ndim) for v in node.inputs)))
    if type(op) is IncSubtensor:
        x, y = node.inputs[:2]
        if len(node.inputs) != 2 or y.dtype != x.dtype or y.ndim > x.ndim:
            return None
        return Step("inc", node, None, table.take(2 * copy_block_size(x.ndim) + 1))
    render = renderer_for(node)
    kernel = render(node) if render is not None else None
    if isinstance(kernel, ElemwiseKernel):
        return Step("elemwise", node, kernel, table.take(elemwise_block_size(node)))
    if isinstance(kernel, ReduceKernel):
        return Step("reduce", node, kernel, table.take(reduce_block_size(node, kernel)[0]))
    if isinstance(kernel, BlasKernel):
        if isinstance(op, Dot) and all(v.ndim in (1, 2) for v in node.inputs):
            return Step("dot", node, kernel, table.take(BLAS_BLOCK))
        if isinstance(op, Gemm) and _gemm_scalars(node) is not None:
            return Step("gemm", node, kernel, table.take(BLAS_BLOCK + copy_block_size(2)))
    return None


def _gemm_scalars(node) -> Optional[tuple]:
    """(alpha, beta) of a Gemm whose scalars are nonzero constants (a zero one must give
    numpy's ``0 * nan``, which BLAS skips: such nodes are not taken)."""
    alpha, beta = node.inputs[1], node.inputs[4]
    if not (isinstance(alpha, Constant) and isinstance(beta, Constant)):
        return None
    a, b = float(alpha.data), float(beta.data)
    if a == 0 or b == 0 or not (np.isfinite(a) and np.isfinite(b)):
        return None
    return a, b


def _direct_outputs(op, inner: FunctionGraph, out_vars: list, root: dict, steps: list) -> dict:
    """{value: k} for the recurrent outputs computed into their state buffer's new entry
    instead of scratch space (saving a copy per step): a value computed by a node (not a
    view, input or constant) whose new entry no other read of the step can see. With the
    whole trajectory kept, no tap reads the new entry. In a ring (``store_last``) the new
    entry may be the oldest tap's (``length == m``): then only a ``Gemm`` accumulating into
    that tap (its ``z``, read by nothing else) is computed in place, as copying ``z`` onto
    itself and accumulating the product is what it does anyway."""
    keeps = getattr(op, "store_last", None) or (0,) * op.n_rec
    kinds = {step.node: step.kind for step in steps}
    direct: dict = {}
    for k, v in enumerate(out_vars[:op.n_rec]):
        if root.get(v) != ("tmp",) or v in direct:
            continue
        if keeps[k] == 0 or _accumulates(inner, v, k, op, kinds):
            direct[v] = k
    return direct


def _accumulates(inner: FunctionGraph, v, k: int, op, kinds: dict) -> bool:
    """Whether ``v`` is a Gemm whose z is state k's oldest tap, read by that Gemm only (once)."""
    node = v.owner
    if kinds.get(node) != "gemm":
        return False
    z = node.inputs[0]
    oldest = ("tap", k, 0)          # position m + tap with tap = -m
    clients = inner.clients.get(z, [])
    return getattr(z, "owner", 1) is None and _root_of(op, inner, z) == oldest and \
        len(clients) == 1 and clients[0] == (node, 0)


def _root_of(op, inner: FunctionGraph, var) -> Optional[tuple]:
    """("tap", k, m + tap) when ``var`` is one of state k's tap inputs."""
    pos = sum(len(offs) for offs in op.seq_offsets)
    for k, (taps, m) in enumerate(zip(op.rec_taps, op.mintaps)):
        for tap in taps:
            if inner.inputs[pos] is var:
                return ("tap", k, m + tap)
            pos += 1
    return None


# --- the C text ---------------------------------------------------------------------------------
def _addr(layout: DynLayout, op, v) -> str:
    """C expression of ``v``'s address (char *) at step t."""
    r = layout.root[v]
    if r[0] == "seq":
        base = f"seqs[{r[1]}] + (t + {r[2]}) * g[{layout.seq_stride[r[1]]}]"
    elif r[0] == "tap":
        base = f"bufs[{r[1]}] + ((t + {r[2]}) % g[{layout.rec_ring[r[1]]}]) * g[{layout.rec_row[r[1]]}]"
    elif r[0] == "nonseq":
        base = f"nonseqs[{r[1]}]"
    elif r[0] == "const":
        base = f"consts[{r[1]}]"
    elif r[0] == "out":
        k = r[1]
        base = f"bufs[{k}] + ((t + {op.mintaps[k]}) % g[{layout.rec_ring[k]}]) * g[{layout.rec_row[k]}]"
    else:
        base = "tmp"
    return f"({base} + g[{layout.offset[v]}])"


def _copy(block: int, nd: int, dst: str, src: str, itemsize: int) -> str:
    n1 = max(nd, 1)
    return (f"st_dl_copy(g[{block}], g + {block + 1}, {dst}, g + {block + 1 + n1}, {src}, "
            f"g + {block + 1 + 2 * n1}, {itemsize});")


def _body(op, layout: DynLayout, out_vars: list) -> str:
    calls = []
    for step in layout.steps:
        node, b = step.node, step.block
        a = [_addr(layout, op, v) for v in node.inputs]
        out = _addr(layout, op, node.outputs[0]) if step.kind != "view" else None
        if step.kind == "elemwise":
            nd = max(node.outputs[0].ndim, 1)
            ptrs = ", ".join(f"(intptr_t){p}" for p in a + [_addr(layout, op, o) for o in node.outputs])
            cname = step.kernel.name + "_in_" + LOOP_ID
            calls.append(f"{{ intptr_t d[] = {{{ptrs}}}; {cname}(g[{b}], {node.outputs[0].ndim}, g + {b + 2}, "
                         f"g + {b + 2 + nd}, d, g[{b + 1}]); }}")
        elif step.kind == "reduce":
            n_in = len(node.inputs)
            _, kd, rd = reduce_block_size(node, step.kernel)
            ks = b + 4 + n_in
            kst, rs = ks + kd, ks + kd + (n_in + 1) * kd
            rst = rs + rd
            ptrs = ", ".join([f"(intptr_t)({p} + g[{b + 4 + k}])" for k, p in enumerate(a)] + [f"(intptr_t){out}"])
            cname = step.kernel.name + "_in_" + LOOP_ID
            calls.append(f"if (g[{b}]) {{ intptr_t d[] = {{{ptrs}}}; {cname}(d, g[{b + 1}], g[{b + 2}], g + {ks}, "
                         f"g + {kst}, g[{b + 3}], g + {rs}, g + {rst}); }}")
        elif step.kind in ("dot", "gemm"):
            cname = step.kernel.name + "_in_" + LOOP_ID
            x, y = (a[0], a[1]) if step.kind == "dot" else (a[2], a[3])
            alpha, beta = (1.0, 0.0) if step.kind == "dot" else _gemm_scalars(node)
            pre = ""
            if step.kind == "gemm":
                pre = _copy(b + BLAS_BLOCK, 2, out, a[0], np.dtype(node.outputs[0].dtype).itemsize) + " "
            calls.append(f"{{ {pre}int s = {cname}(g[{b}], g[{b + 1}], g[{b + 2}], {x}, g[{b + 3}], g[{b + 4}], "
                         f"{y}, g[{b + 5}], g[{b + 6}], {out}, {alpha!r}, {beta!r}); "
                         f"if (s) return s == 1 ? -1 : -2; }}")
        elif step.kind == "join":
            size = np.dtype(node.outputs[0].dtype).itemsize
            pos = b
            for v, p in zip(node.inputs, a):
                calls.append(_copy(pos + 1, v.ndim, f"{out} + g[{pos}]", p, size))
                pos += 1 + copy_block_size(v.ndim)
        elif step.kind == "inc":
            x = node.inputs[0]
            size = np.dtype(x.dtype).itemsize
            cb = copy_block_size(x.ndim)
            calls.append(_copy(b, x.ndim, out, a[0], size))
            target = f"{out} + g[{b + 2 * cb}]"
            if node.op.set_instead_of_inc:
                calls.append(_copy(b + cb, x.ndim, target, a[1], size))
            else:
                n1 = max(x.ndim, 1)
                calls.append(f"st_dl_add_{x.dtype}(g[{b + cb}], g + {b + cb + 1}, {target}, g + {b + cb + 1 + n1}, "
                             f"{a[1]}, g + {b + cb + 1 + 2 * n1});")
    for idx, (v, blk) in enumerate(zip(out_vars, layout.out_blocks)):
        size = np.dtype(v.dtype).itemsize
        if layout.direct.get(v) == idx:
            continue                # computed in place
        if idx < op.n_rec:
            dst = f"bufs[{idx}] + ((t + {op.mintaps[idx]}) % g[{layout.rec_ring[idx]}]) * g[{layout.rec_row[idx]}]"
        else:
            i = idx - op.n_rec
            dst = f"nits[{i}] + t * g[{layout.nit_row[i]}]"
        calls.append(_copy(blk, v.ndim, dst, _addr(layout, op, v), size))
    return "\n        ".join(calls)


# Strided copies (element size in bytes; strides in bytes, zero to broadcast); the caller
# merges contiguous dimensions, so a contiguous copy is one memcpy.
_HELPERS = r"""
#ifndef ST_DLOOP_HELPERS
#define ST_DLOOP_HELPERS
#include <string.h>
#include <stdint.h>
static void st_dl_copy(int64_t nd, const int64_t *shape, char *dst, const int64_t *ds, const char *src,
                       const int64_t *ss, int64_t size)
{
    if (dst == src) {                   /* onto itself (a Gemm accumulating in place) */
        int same = 1;
        for (int64_t d = 0; d < nd; ++d) same &= ds[d] == ss[d];
        if (same) return;
    }
    if (nd == 0) { memcpy(dst, src, (size_t)size); return; }
    if (nd == 1) {
        if (ds[0] == size && ss[0] == size) { memcpy(dst, src, (size_t)(shape[0] * size)); return; }
        for (int64_t i = 0; i < shape[0]; ++i) memcpy(dst + i * ds[0], src + i * ss[0], (size_t)size);
        return;
    }
    for (int64_t i = 0; i < shape[0]; ++i)
        st_dl_copy(nd - 1, shape + 1, dst + i * ds[0], ds + 1, src + i * ss[0], ss + 1, size);
}
#endif
"""


def _adders(steps: list) -> str:
    """``st_dl_add_<dtype>``: dst += src over strided operands, for each dtype incremented."""
    out = []
    for dtype in sorted({s.node.inputs[0].dtype for s in steps
                         if s.kind == "inc" and not s.node.op.set_instead_of_inc}):
        t = C_TYPES[dtype]
        out.append(f"""
#ifndef ST_DLOOP_ADD_{dtype}
#define ST_DLOOP_ADD_{dtype}
static void st_dl_add_{dtype}(int64_t nd, const int64_t *shape, char *dst, const int64_t *ds, const char *src,
                              const int64_t *ss)
{{
    if (nd == 0) {{ *({t} *)dst += *(const {t} *)src; return; }}
    if (nd == 1) {{
        for (int64_t i = 0; i < shape[0]; ++i) *({t} *)(dst + i * ds[0]) += *(const {t} *)(src + i * ss[0]);
        return;
    }}
    for (int64_t i = 0; i < shape[0]; ++i)
        st_dl_add_{dtype}(nd - 1, shape + 1, dst + i * ds[0], ds + 1, src + i * ss[0], ss + 1);
}}
#endif
""")
    return "".join(out)
