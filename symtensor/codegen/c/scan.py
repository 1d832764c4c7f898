"""Render a ``Scan`` node: its body rewritten like the outer graph, and, where the body is
made of C kernels, the whole loop as one C function.

Three kinds of kernel come out of :func:`render_scan`:

- a *C loop* (``ScanKernel.loop`` set): one C function runs every step, calling the body's
  elementwise kernels (their sources are included, renamed for this loop) on pointers into the
  sequences, the state buffers and fixed scratch space, then copying each step's outputs into
  the trajectories. No Python runs between steps, so a step costs nanoseconds.
- a *run-time-shape C loop* (``ScanKernel.loop`` a ``DynLayout``, see ``scan_dyn.py``): for
  bodies with BLAS products, reductions, views, joins and increments, on shapes known only
  when the loop starts; the caller computes every value's layout once per call.
- a *compiled body* (``ScanKernel.loop`` None): the loop stays in Python (``Scan.run_steps``),
  but each step runs the rewritten body with the C backend's executor instead of the numpy
  interpreter. The C backend's executor names one C function per kernel; this kernel's own
  function only reports how many steps a C loop would take (``-1``: none), its body being
  compiled by the executor the backend builds for it.

A scan whose loop threads a non-tensor state (a random state drawn from inside the body) gets
no kernel and runs through ``Scan.perform``.

The body is rewritten once per op (cached), with the FAST_RUN pipeline.
"""
from __future__ import annotations

import hashlib
import weakref
from dataclasses import dataclass
from typing import Optional, Union

import numpy as np

from ...graph.basic import Constant
from ...graph.fg import FunctionGraph
from ...graph.type import TensorType
from ...rewrite import optimize
from .elemwise import ElemwiseKernel
from .scalar import C_TYPES
from .scan_dyn import DynLayout, render_dyn_loop

#: Scratch values are placed at multiples of this many bytes (vector-load friendly).
ALIGN = 64
#: Stands for a C loop's hash in the names of the kernel copies it includes.
_LOOP_ID = "ST_LOOP_ID"

_REWRITTEN: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class LoopLayout:
    """What the C loop's caller must pass and check: per sequence, recurrent output and mapped
    output, the dtype and fixed step shape; per non-sequence its dtype and shape; and the
    constant arrays whose addresses the loop reads."""
    seq_steps: tuple       # (dtype, step shape) per sequence (None: no inner input reads it)
    rec_steps: tuple       # (dtype, step shape) per recurrent output
    nit_steps: tuple       # (dtype, step shape) per mapped output
    nonseq_types: tuple    # (dtype, shape) per non-sequence
    constants: tuple       # C-contiguous arrays


@dataclass(frozen=True, eq=False)
class ScanKernel:
    """The kernel of a Scan node: C source and cdef of its function, compiler flags, the
    rewritten body and, for a C loop, its layout."""
    name: str
    source: str
    cdef: str
    flags: tuple
    inner: FunctionGraph
    loop: Optional[Union[LoopLayout, DynLayout]]


def rewritten_body(op) -> FunctionGraph:
    """A copy of ``op``'s body rewritten with the FAST_RUN pipeline (once per op)."""
    fg = _REWRITTEN.get(op)
    if fg is None:
        fg = FunctionGraph(op.fgraph.inputs, op.fgraph.outputs, clone=True)
        optimize(fg, "fast_run")
        _REWRITTEN[op] = fg
    return fg


def render_scan(node) -> Optional[ScanKernel]:
    """The C loop of ``node`` where possible, else its compiled-body kernel; None (the node
    runs through ``perform``, the Python loop) when the loop threads a state that is not a
    tensor, such as a random state: compiled kernels exchange and compare arrays only."""
    op = node.op
    if any(not isinstance(v.type, TensorType) for v in op.fgraph.inputs + op.fgraph.outputs):
        return None
    inner = rewritten_body(op)
    loop = _render_loop(op, inner)
    if loop is not None:
        return loop
    dyn = _render_dyn(op, inner)
    if dyn is not None:
        return dyn
    return ScanKernel(BODY_NAME, _BODY_SOURCE, f"int64_t {BODY_NAME}(void);", (), inner, None)


#: The function of every compiled-body kernel (one per module: kernels are deduplicated by name).
BODY_NAME = "st_scan_compiled_body"
_BODY_SOURCE = f"int64_t {BODY_NAME}(void) {{ return -1; }}\n"


def _render_dyn(op, inner: FunctionGraph) -> Optional[ScanKernel]:
    """The run-time-shape C loop (``scan_dyn.py``: BLAS products, reductions, views), or None."""
    from . import renderer_for       # the registry imports this module
    rendered = render_dyn_loop(op, inner, renderer_for)
    if rendered is None:
        return None
    name, source, cdef, flags, layout = rendered
    return ScanKernel(name, source, cdef, flags, inner, layout)


# --- the C loop ---------------------------------------------------------------------------------
def _static(var) -> Optional[tuple]:
    """The fixed shape of a C-typed tensor variable, else None."""
    shape = getattr(var.type, "shape", None)
    if shape is None or any(s is None for s in shape) or var.dtype not in C_TYPES:
        return None
    return tuple(int(s) for s in shape)


def _nbytes(var) -> int:
    return int(np.prod(_static(var), dtype=np.int64)) * np.dtype(var.dtype).itemsize


def _kernels(inner: FunctionGraph) -> Optional[list]:
    """(node, elementwise kernel) for every node of the body, when each has one and reads its
    operands as the kernel's contiguous loop does (same shape as the output, or one value)."""
    from . import renderer_for       # the registry imports this module
    out = []
    for node in inner.toposort():
        render = renderer_for(node)
        kernel = render(node) if render is not None else None
        if not isinstance(kernel, ElemwiseKernel):
            return None
        shapes = [_static(v) for v in node.inputs + node.outputs]
        if any(s is None for s in shapes):
            return None
        oshape = shapes[len(node.inputs)]
        if any(s != oshape for s in shapes[len(node.inputs):]):
            return None
        if any(not scalar and s != oshape for scalar, s in zip(kernel.scalar_inputs, shapes)):
            return None
        out.append((node, kernel))
    return out


def _render_loop(op, inner: FunctionGraph) -> Optional[ScanKernel]:
    """The C loop kernel, or None when the body does not qualify."""
    if getattr(op, "store_last", None) and any(op.store_last):
        return None
    if op.n_shared or any(_static(v) is None for v in inner.inputs + inner.outputs):
        return None
    kernels = _kernels(inner)
    if kernels is None:
        return None
    where: dict = {}                 # inner variable -> C expression of its (char *) address
    pos = 0
    for j, offs in enumerate(op.seq_offsets):
        for off in offs:
            where[inner.inputs[pos]] = f"(seqs[{j}] + (t + {off}) * {_nbytes(inner.inputs[pos])})"
            pos += 1
    for k, (taps, m) in enumerate(zip(op.rec_taps, op.mintaps)):
        for tap in taps:
            where[inner.inputs[pos]] = f"(bufs[{k}] + (t + {m + tap}) * {_nbytes(inner.inputs[pos])})"
            pos += 1
    for i, v in enumerate(inner.inputs[pos:]):
        where[v] = f"nonseqs[{i}]"
    constants: list = []
    scratch = 0
    calls, sources = [], {}
    for node, kernel in kernels:
        for v in node.inputs:
            if v not in where and isinstance(v, Constant):
                where[v] = f"consts[{len(constants)}]"
                constants.append(np.ascontiguousarray(np.asarray(v.data, dtype=v.dtype)))
        for v in node.outputs:
            where[v] = f"(tmp + {scratch})"
            scratch += -(-_nbytes(v) // ALIGN) * ALIGN
        # each loop includes its own renamed copy (the loop's hash replaces the placeholder), so
        # loops placed in different parts of a module never define the same symbol twice
        cname = kernel.name + "_in_" + _LOOP_ID
        sources[cname] = kernel.source.replace(kernel.name, cname) + "\n"
        ptrs = ", ".join(f"(intptr_t){where[v]}" for v in node.inputs + node.outputs)
        size = int(np.prod(_static(node.outputs[0]), dtype=np.int64))
        calls.append(f"{{ intptr_t d[] = {{{ptrs}}}; {cname}({size}, {node.outputs[0].ndim}, NULL, NULL, d, 1); }}")
    for v in inner.outputs:
        if v not in where:          # a constant output
            where[v] = f"consts[{len(constants)}]"
            constants.append(np.ascontiguousarray(np.asarray(v.data, dtype=v.dtype)))
    copies = []
    for k, (v, m) in enumerate(zip(op.inner_rec_outs, op.mintaps)):
        v = inner.outputs[k]
        copies.append(f"memcpy(bufs[{k}] + (t + {m}) * {_nbytes(v)}, {where[v]}, {_nbytes(v)});")
    for i in range(op.n_nit):
        v = inner.outputs[op.n_rec + i]
        copies.append(f"memcpy(nits[{i}] + t * {_nbytes(v)}, {where[v]}, {_nbytes(v)});")
    layout = LoopLayout(
        seq_steps=tuple((ins[0].dtype, _static(ins[0])) if ins else None
                        for ins in _split(inner.inputs, op.seq_offsets)),
        rec_steps=tuple((v.dtype, _static(v)) for v in inner.outputs[:op.n_rec]),
        nit_steps=tuple((v.dtype, _static(v)) for v in inner.outputs[op.n_rec:op.n_rec + op.n_nit]),
        nonseq_types=tuple((v.dtype, _static(v)) for v in inner.inputs[pos:]),
        constants=tuple(constants))
    body = "\n        ".join(calls + copies)
    key = (body + "".join(sources)).encode()
    digest = hashlib.sha256(key).hexdigest()[:16]
    name = "st_scan_loop_" + digest
    signature = (f"int64_t {name}(int64_t n, intptr_t *seqp, intptr_t *bufp, intptr_t *nitp, "
                 f"intptr_t *nonseqp, intptr_t *constp)")
    source = "\n".join(sources.values()) + f"""
#include <stdlib.h>
#include <string.h>
/* Every step of the scan: returns n, or -1 when the scratch space cannot be allocated. */
{signature}
{{
    char **seqs = (char **)seqp, **bufs = (char **)bufp, **nits = (char **)nitp;
    char **nonseqs = (char **)nonseqp, **consts = (char **)constp;
    char *tmp = (char *)aligned_alloc({ALIGN}, {max(scratch, ALIGN)});
    (void)seqs; (void)bufs; (void)nits; (void)nonseqs; (void)consts;
    if (tmp == NULL) return -1;
    for (int64_t t = 0; t < n; ++t) {{
        {body}
    }}
    free(tmp);
    return n;
}}
"""
    return ScanKernel(name, source.replace(_LOOP_ID, digest), signature + ";", (), inner, layout)


def _split(inputs: list, seq_offsets: tuple) -> list:
    """The inner inputs of each sequence (one per offset)."""
    out, pos = [], 0
    for offs in seq_offsets:
        out.append(inputs[pos:pos + len(offs)])
        pos += len(offs)
    return out
