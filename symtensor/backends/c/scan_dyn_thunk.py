"""Running a scan's run-time-shape C loop (``codegen/c/scan_dyn.py``).

Once per call (and cached per layout of the operands) the thunk computes the shape, strides
and byte offset of every body value, and every kernel's arguments, into the loop's ``int64``
table; then one C call runs every step. Views are computed by running the view op's
``perform`` on a stand-in array with the value's shape and strides (nothing is read), so their
layout is numpy's own. Operands the loop cannot take (shapes that do not fit the body's
types, a mismatch a kernel would reject, sizes beyond BLAS's integers) run the Python loop
instead, so errors and results are those of ``perform``.
"""
from __future__ import annotations

from collections import Counter
from typing import Callable

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ...codegen.c.scan import ScanKernel
from ...codegen.c.scan_dyn import BLAS_BLOCK, DynLayout, copy_block_size, reduce_block_size
from ...ops.gemm import check_shapes
from ...ops.scan_op import _trajectory
from .elemwise_thunk import _output_shape
from .operands import strided_operand
from .reduce_thunk import _make_plan

ALIGN = 64
_CACHE_SIZE = 32

#: How many calls ran the C loop and how many the Python loop instead (for tests and profiling).
RUNS: Counter = Counter()


class _Fallback(Exception):
    """The loop cannot take these operands: run the Python loop."""


def dyn_loop_thunk(kernel: ScanKernel, fn, ffi, python_loop: Callable) -> Callable:
    """The perform-compatible callable of a run-time-shape C loop kernel."""
    layout: DynLayout = kernel.loop
    inner = kernel.inner
    consts = list(layout.constants)
    const_table = np.array([a.__array_interface__["data"][0] for a in consts] or [0], dtype=np.intp)
    const_ptr = ffi.cast("intptr_t *", const_table.ctypes.data)
    seq_dtypes: dict = {}
    nonseq_dtypes: dict = {}
    for v, r in layout.root.items():
        if r[0] == "seq":
            seq_dtypes[r[1]] = np.dtype(v.dtype)
        elif r[0] == "nonseq":
            nonseq_dtypes[r[1]] = np.dtype(v.dtype)
    plans: dict = {}
    spare: list = []      # scratch buffers of earlier calls (reused: fresh memory costs page faults)

    def thunk(node, inputs: list, output_storage: list) -> None:
        op = node.op
        n_val, seqs, inits, _, nonseqs = op.split_outer_inputs(inputs)
        n = int(n_val)
        if n <= 0:
            RUNS["python_loop"] += 1
            python_loop(node, inputs, output_storage)
            return
        seqs = [_operand(s, seq_dtypes.get(j)) for j, s in enumerate(seqs)]
        nonseqs = [_operand(v, nonseq_dtypes.get(i)) for i, v in enumerate(nonseqs)]
        inits = [np.asarray(i) for i in inits]
        op._check_lengths(n, seqs, inits)
        key = (tuple((s.shape[1:], s.strides) for s in seqs), tuple(i.shape[1:] for i in inits),
               tuple((v.shape, v.strides) for v in nonseqs))
        plan = plans.get(key)
        if plan is None:
            if len(plans) >= _CACHE_SIZE:
                plans.clear()
            try:
                plan = _plan(layout, inner, op, seqs, inits, nonseqs, consts, ffi)
            except (_Fallback, ValueError, IndexError):
                plan = None
            plans[key] = plan = plan or "fallback"
        if plan == "fallback":
            RUNS["python_loop"] += 1
            python_loop(node, inputs, output_storage)
            return
        g, scratch, rec_shapes, nit_shapes = plan
        keeps = getattr(op, "store_last", None) or (0,) * op.n_rec
        g = g.copy()
        bufs = []
        for k, (init, m, keep, out, shape) in enumerate(zip(inits, op.mintaps, keeps, node.outputs, rec_shapes)):
            length = max(m, min(keep, n)) if keep else m + n     # a ring when only the last are kept
            buf = np.empty((length,) + shape, dtype=out.dtype)
            buf[:m] = init[:m]
            bufs.append(buf)
            g[layout.rec_ring[k]] = length
        nits = [np.empty((n,) + shape, dtype=out.dtype)
                for shape, out in zip(nit_shapes, node.outputs[op.n_rec:])]
        tmp = _scratch(spare, scratch)
        tmp_addr = tmp.__array_interface__["data"][0]
        tmp_addr += -tmp_addr % ALIGN
        tables = [_table(group) for group in (seqs, bufs, nits, nonseqs)]
        status = fn(n, *(ffi.cast("intptr_t *", t.ctypes.data) for t in tables), const_ptr, tmp_addr,
                    ffi.cast("int64_t *", g.ctypes.data))
        del tables
        spare.append(tmp)
        if status == -1:
            raise MemoryError(f"{op}: out of memory packing an operand for BLAS")
        if status != n:       # a size beyond BLAS's 32-bit integers
            RUNS["python_loop"] += 1
            python_loop(node, inputs, output_storage)
            return
        RUNS["c_loop"] += 1
        results = [_trajectory(buf, m, n, keep) for buf, m, keep in zip(bufs, op.mintaps, keeps)] + nits
        for cell, value in zip(output_storage, results):
            cell[0] = value

    thunk.constants = (consts, const_table)   # kept alive with the thunk
    thunk.plans = plans
    return thunk


def _operand(value, dtype) -> np.ndarray:
    """An array the loop reads in place (native, aligned, strides of whole elements)."""
    a = strided_operand(value, dtype) if dtype is not None else np.asarray(value)
    if any(s % a.itemsize for s in a.strides):
        a = np.array(a, order="C")
    return a


def _scratch(spare: list, size: int) -> np.ndarray:
    """A scratch buffer of at least ``size`` bytes plus alignment, reused from ``spare`` when one
    is there (a call running at the same time takes another)."""
    try:
        tmp = spare.pop()
    except IndexError:
        tmp = None
    if tmp is None or tmp.size < size + ALIGN:
        tmp = np.empty(size + ALIGN, dtype=np.uint8)
    return tmp


def _table(arrays: list) -> np.ndarray:
    return np.array([a.__array_interface__["data"][0] for a in arrays] or [0], dtype=np.intp)


def _contiguous_strides(shape: tuple, itemsize: int) -> tuple:
    out, acc = [], itemsize
    for s in reversed(shape):
        out.append(acc)
        acc *= max(s, 1)
    return tuple(reversed(out))


_BASES: dict = {}


def _fake(dtype, shape: tuple, strides: tuple) -> np.ndarray:
    """A stand-in array of this shape and strides (never read) at a fixed base address."""
    dtype = np.dtype(dtype)
    base = _BASES.get(dtype)
    if base is None:
        base = _BASES[dtype] = np.zeros(1, dtype)
    return as_strided(base, shape=shape, strides=strides, writeable=False)


def _fits(var, shape: tuple) -> bool:
    """Whether a value of ``shape`` fits the variable's type (rank, static sizes)."""
    return len(shape) == var.ndim and all(s is None or s == d for s, d in zip(var.type.shape, shape))


def _plan(layout: DynLayout, inner, op, seqs, inits, nonseqs, consts, ffi) -> tuple:
    """(g, scratch bytes, state step shapes, mapped step shapes) for these operands."""
    g = np.zeros(layout.size, dtype=np.int64)
    geo: dict = {}       # var -> (shape, strides, byte offset)
    for v, r in layout.root.items():
        if v.owner is not None:     # computed, or a view: placed by its step
            continue
        if r[0] == "seq":
            s = seqs[r[1]]
            geo[v] = (s.shape[1:], s.strides[1:], 0)
            g[layout.seq_stride[r[1]]] = s.strides[0]
        elif r[0] == "tap":
            shape = inits[r[1]].shape[1:]
            geo[v] = (shape, _contiguous_strides(shape, np.dtype(v.dtype).itemsize), 0)
        elif r[0] == "nonseq":
            a = nonseqs[r[1]]
            geo[v] = (a.shape, a.strides, 0)
        elif r[0] == "const":
            a = consts[r[1]]
            geo[v] = (a.shape, a.strides, 0)
    for v, (shape, _, _) in list(geo.items()):
        if not _fits(v, shape):
            raise _Fallback
    for k, (init, out) in enumerate(zip(inits, inner.outputs)):
        g[layout.rec_row[k]] = int(np.prod(init.shape[1:], dtype=np.int64)) * np.dtype(out.dtype).itemsize
    scratch = [0]

    def place(var, shape: tuple) -> None:
        size = np.dtype(var.dtype).itemsize
        if var in layout.direct:    # the state's new entry (its shape is checked below)
            geo[var] = (tuple(shape), _contiguous_strides(tuple(shape), size), 0)
            return
        geo[var] = (tuple(shape), _contiguous_strides(tuple(shape), size), scratch[0])
        scratch[0] += -(-int(np.prod(shape, dtype=np.int64)) * size // ALIGN) * ALIGN

    for step in layout.steps:
        _STEPS[step.kind](step, g, geo, place, ffi)
    for v in layout.offset:
        if v in geo:
            g[layout.offset[v]] = geo[v][2]
    out_vars = inner.outputs[:op.n_rec + op.n_nit]
    rec_shapes = []
    for k, init in enumerate(inits):
        shape = geo[out_vars[k]][0]
        if shape != init.shape[1:]:
            raise _Fallback          # perform raises the state-shape error
        rec_shapes.append(shape)
    nit_shapes = [geo[v][0] for v in out_vars[op.n_rec:]]
    for i, (shape, v) in enumerate(zip(nit_shapes, out_vars[op.n_rec:])):
        g[layout.nit_row[i]] = int(np.prod(shape, dtype=np.int64)) * np.dtype(v.dtype).itemsize
    for v, block in zip(out_vars, layout.out_blocks):
        shape, strides, _ = geo[v]
        _fill_copy(g, block, v.ndim, shape, _contiguous_strides(shape, np.dtype(v.dtype).itemsize), strides)
    return g, scratch[0], rec_shapes, nit_shapes


def _fill_copy(g, block: int, ndim: int, shape: tuple, dst: tuple, src: tuple) -> None:
    """A strided copy's block: size-1 dims dropped, adjacent dims merged where both allow."""
    n1 = max(ndim, 1)
    if 0 in shape:
        dims = [(0, 0, 0)]
    else:
        dims = []
        for s, d, r in zip(shape, dst, src):
            if s == 1:
                continue
            if dims and dims[-1][1] == d * s and dims[-1][2] == r * s:
                dims[-1] = (dims[-1][0] * s, d, r)
            else:
                dims.append((s, d, r))
    g[block] = len(dims)
    for i, (s, d, r) in enumerate(dims):
        g[block + 1 + i], g[block + 1 + n1 + i], g[block + 1 + 2 * n1 + i] = s, d, r


def _fakes(node, geo: dict) -> list:
    return [_fake(v.dtype, geo[v][0], geo[v][1]) for v in node.inputs]


def _elemwise(step, g, geo, place, ffi) -> None:
    node, b = step.node, step.block
    fakes = _fakes(node, geo)
    shape = _output_shape(node, fakes)
    for o in node.outputs:
        place(o, shape)
    arrays = fakes + [_fake(o.dtype, geo[o][0], geo[o][1]) for o in node.outputs]
    scalar = step.kernel.scalar_inputs
    contiguous = all(scalar[k] or (a.shape == shape and a.flags.c_contiguous) for k, a in enumerate(fakes))
    nd = max(len(shape), 1)
    g[b] = int(np.prod(shape, dtype=np.int64))
    g[b + 1] = int(contiguous)
    g[b + 2:b + 2 + len(shape)] = shape
    if not shape:
        g[b + 2] = 1
    for k, a in enumerate(arrays):
        for d in range(len(shape)):
            if a.shape[d] != 1 or shape[d] == 1:
                g[b + 2 + nd + k * nd + d] = a.strides[d] // a.itemsize


def _reduce(step, g, geo, place, ffi) -> None:
    node, b, kernel = step.node, step.block, step.kernel
    fakes = _fakes(node, geo)
    plan = _make_plan(kernel, node, fakes, np.dtype(kernel.out_dtype), ffi)
    place(node.outputs[0], plan.out_shape)
    if plan.action == "perform":
        raise _Fallback
    if plan.action != "call":
        g[b] = 0
        return
    n_in = len(node.inputs)
    _, kd, rd = reduce_block_size(node, kernel)
    g[b:b + 4] = (1, plan.path, plan.kd, plan.rd)
    if plan.offsets is not None:
        g[b + 4:b + 4 + n_in] = plan.offsets
    ks = b + 4 + n_in
    kshape, kstr, rshape, rstr = plan.arrays
    for start, arr, room in ((ks, kshape, kd), (ks + kd, kstr, (n_in + 1) * kd),
                             (ks + kd + (n_in + 1) * kd, rshape, rd),
                             (ks + kd + (n_in + 1) * kd + rd, rstr, n_in * rd)):
        if len(arr) > room:
            raise _Fallback
        g[start:start + len(arr)] = arr


def _blas_args(g, b: int, x, y) -> None:
    """m, n, k and the element strides of x (a vector: one row) and y (a vector: one column)."""
    size = x.itemsize
    if x.shape[-1] != y.shape[0]:
        raise _Fallback
    if x.ndim == 2:
        m, xs0, xs1 = x.shape[0], x.strides[0] // size, x.strides[1] // size
    else:
        m, xs0, xs1 = 1, 0, x.strides[0] // size
    if y.ndim == 2:
        n, ys0, ys1 = y.shape[1], y.strides[0] // size, y.strides[1] // size
    else:
        n, ys0, ys1 = 1, y.strides[0] // size, 0
    g[b:b + BLAS_BLOCK] = (m, n, y.shape[0], xs0, xs1, ys0, ys1)


def _dot(step, g, geo, place, ffi) -> None:
    x, y = _fakes(step.node, geo)
    _blas_args(g, step.block, x, y)
    place(step.node.outputs[0], x.shape[:-1] + y.shape[1:])


def _gemm(step, g, geo, place, ffi) -> None:
    node, b = step.node, step.block
    z, _, x, y, _ = _fakes(node, geo)
    shape = check_shapes(node.inputs[0], z, x, y)
    _blas_args(g, b, x, y)
    out = node.outputs[0]
    place(out, shape)
    src = tuple(0 if z.shape[d] == 1 and shape[d] != 1 else z.strides[d] for d in range(2))
    _fill_copy(g, b + BLAS_BLOCK, 2, shape, geo[out][1], src)


def _view(step, g, geo, place, ffi) -> None:
    node = step.node
    (x,) = node.inputs
    shape, strides, off = geo[x]
    fake = _fake(x.dtype, shape, strides)
    cell: list = [None]
    node.op.perform(node, [fake], [cell])
    res = cell[0]
    if not isinstance(res, np.ndarray) or (res.size and not np.may_share_memory(res, fake)):
        raise _Fallback
    delta = res.__array_interface__["data"][0] - fake.__array_interface__["data"][0]
    geo[node.outputs[0]] = (res.shape, res.strides, off + delta)


def _join(step, g, geo, place, ffi) -> None:
    node, b = step.node, step.block
    axis = node.op.axis
    fakes = _fakes(node, geo)
    ref = fakes[0].shape
    for a in fakes:
        if any(p != q for d, (p, q) in enumerate(zip(ref, a.shape)) if d != axis):
            raise _Fallback
    shape = list(ref)
    shape[axis] = sum(a.shape[axis] for a in fakes)
    out = node.outputs[0]
    place(out, tuple(shape))
    ostr = geo[out][1]
    pos, start = b, 0
    for v, a in zip(node.inputs, fakes):
        g[pos] = start * ostr[axis]
        _fill_copy(g, pos + 1, v.ndim, a.shape, ostr, a.strides)
        start += a.shape[axis]
        pos += 1 + copy_block_size(v.ndim)


def _inc(step, g, geo, place, ffi) -> None:
    node, b = step.node, step.block
    xv, yv = node.inputs
    x, y = _fakes(node, geo)
    out = node.outputs[0]
    place(out, x.shape)
    oshape, ostr, _ = geo[out]
    cb = copy_block_size(xv.ndim)
    _fill_copy(g, b, xv.ndim, x.shape, ostr, x.strides)
    target = _fake(out.dtype, oshape, ostr)[node.op._np_index([])]
    tshape = target.shape
    if y.ndim > len(tshape):
        raise _Fallback
    lead = len(tshape) - y.ndim
    src = [0] * lead
    for d in range(y.ndim):
        ts, ys = tshape[lead + d], y.shape[d]
        if ys == ts:
            src.append(y.strides[d] if ts != 1 else 0)
        elif ys == 1 and yv.broadcastable[d]:
            src.append(0)
        else:
            raise _Fallback          # perform raises the broadcasting error
    _fill_copy(g, b + cb, xv.ndim, tshape, target.strides, tuple(src))
    g[b + 2 * cb] = target.__array_interface__["data"][0] - _fake(out.dtype, (), ()).__array_interface__["data"][0]


_STEPS = {"elemwise": _elemwise, "reduce": _reduce, "dot": _dot, "gemm": _gemm, "view": _view,
          "join": _join, "inc": _inc}
