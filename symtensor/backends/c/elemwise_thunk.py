"""Calling an elementwise kernel on numpy arrays: operand checks, output shape and
allocation, and the choice between the kernel's contiguous and strided loops.

Two paths share one kernel. The fast path, specialised per node as straight-line Python,
covers the common call: exact-dtype, aligned, C-contiguous ndarrays that all have the
output's shape (or are one broadcast value). It allocates the outputs, fills a cached
pointer array through ``ffi.from_buffer`` and calls the contiguous loop. Anything else
(conversion, broadcasting, strides, wrong shapes and their errors) takes the general path.

The kernel is shared by every node computing the same program up to its scalar constants; the
node's constant values are put in a C array once, when the thunk is made, and that array is
passed with each call (one more pointer argument, no per-call conversion).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ...codegen.c.elemwise import ElemwiseKernel
from ...graph.basic import Constant
from ...graph.interpreter import compile_source
from .dispatch import elemwise_call
from .operands import strided_operand as _kernel_operand


#: An intermediate array at least this large is reused for an elementwise result (below it,
#: allocating is cheaper than checking).
REUSE_MIN_BYTES = 1 << 18


def elemwise_thunk(kernel: ElemwiseKernel, fn, ffi) -> Callable:
    """A perform-compatible callable running ``kernel`` on numpy arrays.

    It carries ``for_node(node)``: a callable taking the node's input values positionally
    and returning a tuple of newly allocated outputs (the executor's direct protocol)."""
    in_dtypes = [np.dtype(d) for d in kernel.in_dtypes]
    out_dtypes = [np.dtype(d) for d in kernel.out_dtypes]
    sizes = [d.itemsize for d in in_dtypes + out_dtypes]
    # the node's constants, kept alive by this closure (NULL: the kernel reads none)
    consts = ffi.new("double[]", list(kernel.consts)) if kernel.consts else ffi.NULL

    def general(node, inputs: Sequence, outs: tuple | None = None) -> tuple:
        """Any call: converts operands, broadcasts, picks the contiguous or strided loop.
        ``outs``: C-contiguous arrays of the output's shape to write into (default: new ones)."""
        inputs = [_kernel_operand(a, dt) for a, dt in zip(inputs, in_dtypes)]
        shape = _output_shape(node, inputs)
        if outs is None:
            outs = tuple(np.empty(shape, dtype=dt) for dt in out_dtypes)
        n = outs[0].size
        arrays = inputs + list(outs)
        data = np.array([a.__array_interface__["data"][0] for a in arrays], dtype=np.intp)
        ptrs = ffi.cast("intptr_t *", data.ctypes.data)
        contiguous = all(kernel.scalar_inputs[k] or (a.shape == shape and a.flags.c_contiguous)
                         for k, a in enumerate(inputs))
        if contiguous:
            fn(n, len(shape), ffi.NULL, ffi.NULL, ptrs, 1, consts)
        else:
            strides = np.zeros((len(arrays), max(len(shape), 1)), dtype=np.int64)
            for k, a in enumerate(arrays):
                for d in range(len(shape)):
                    if a.shape[d] != 1 or shape[d] == 1:
                        strides[k, d] = a.strides[d] // sizes[k]
            shp = np.asarray(shape if shape else (1,), dtype=np.int64)
            fn(n, len(shape), ffi.cast("int64_t *", shp.ctypes.data),
               ffi.cast("int64_t *", strides.ctypes.data), ptrs, 0, consts)
        del data, arrays
        return outs

    bound: dict = {}

    def for_node(node) -> Callable:
        """The direct callable for ``node`` (built once per node)."""
        direct = bound.get(node)
        if direct is None:
            direct = bound[node] = _specialise(node, kernel, fn, ffi, in_dtypes, out_dtypes, general, consts)
        return direct

    def thunk(node, inputs: Sequence, output_storage: list) -> None:
        for cell, out in zip(output_storage, for_node(node)(*inputs)):
            cell[0] = out

    def prepare_into(node, inputs: Sequence, target: np.ndarray) -> Callable | None:
        """Check the call (raising as ``general`` would), then return ``run()`` computing the
        single output into ``target`` (a C-contiguous array of its dtype), or None when the
        output's shape is not the target's or an operand other than the target itself
        overlaps it. Elementwise code reads each element before writing it, so the target may
        be an operand."""
        operands = [_kernel_operand(a, dt) for a, dt in zip(inputs, in_dtypes)]
        shape = _output_shape(node, operands)
        if len(out_dtypes) != 1 or shape != target.shape or target.dtype != out_dtypes[0]:
            return None
        if any(a is not target and np.may_share_memory(a, target) for a in operands):
            return None
        if all(a.flags.c_contiguous and (kernel.scalar_inputs[k] or a.shape == shape)
               for k, a in enumerate(operands)):
            return lambda: _contiguous_into(operands, target)
        return lambda: general(node, operands, (target,))[0]

    def _contiguous_into(operands: list, target: np.ndarray) -> np.ndarray:
        """The contiguous loop straight into ``target`` (every operand C-contiguous with the
        output's shape, or one broadcast value)."""
        ptrs = ffi.new("void *[]", len(operands) + 1)
        keep = [ffi.from_buffer(a) for a in operands] + [ffi.from_buffer(target)]
        for k, p in enumerate(keep):
            ptrs[k] = p
        fn(target.size, target.ndim, ffi.NULL, ffi.NULL, ffi.cast("intptr_t *", ptrs), 1, consts)
        del keep
        return target

    def reuse_for_node(node, k: int) -> Callable:
        """Like ``for_node(node)``, but the single output may be written into input ``k``'s
        array, which the schedule guarantees nothing reads afterwards (its last use, no view
        of it alive). Done only for large arrays, where a new allocation (and touching its
        fresh pages) costs more than the checks; anything unsuitable takes the normal path."""
        direct = for_node(node)
        out_dtype = out_dtypes[0]

        def reuse(*inputs):
            t = inputs[k]
            if (type(t) is np.ndarray and t.nbytes >= REUSE_MIN_BYTES and t.dtype == out_dtype
                    and t.flags.c_contiguous and t.flags.writeable and t.flags.aligned):
                run = prepare_into(node, inputs, t)
                if run is not None:
                    return (run(),)
            return direct(*inputs)
        return reuse

    thunk.for_node = for_node
    thunk.prepare_into = prepare_into
    if len(out_dtypes) == 1:
        thunk.reuse_for_node = reuse_for_node
    return thunk


def _pinned(node, k: int, dtype: np.dtype) -> bool:
    """Whether input ``k`` is a constant one broadcast value the fast path can read in place
    (its pointer is then taken once, not per call)."""
    var = node.inputs[k]
    data = getattr(var, "data", None)
    return (isinstance(var, Constant) and type(data) is np.ndarray and data.dtype == dtype
            and data.shape == (1,) * node.outputs[0].ndim and data.flags.aligned)


def _specialise(node, kernel: ElemwiseKernel, fn, ffi, in_dtypes: list, out_dtypes: list,
                general: Callable, consts) -> Callable:
    """The fast path of ``node``: straight-line Python falling back to ``general``, behind
    the compiled dispatcher's first tier when the dispatch extension is available (it hands
    every call it does not take to the Python code, unchanged).

    The conditions are exactly those under which ``general`` would take the contiguous loop
    without converting anything, so both paths give the same results and errors. Pointer
    arrays are pooled (one per concurrent call: the kernel runs without the GIL)."""
    n_in, n_out = len(in_dtypes), len(out_dtypes)
    ndim = node.outputs[0].ndim
    pinned = {k: ffi.from_buffer(node.inputs[k].data) for k in range(n_in)
              if kernel.scalar_inputs[k] and _pinned(node, k, in_dtypes[k])}

    def new_buffer() -> tuple:
        buf = ffi.new("void *[]", n_in + n_out)
        for k, ptr in pinned.items():   # kept alive by ``pinned``, held by this closure
            buf[k] = ptr
        return buf, ffi.cast("intptr_t *", buf)

    args = [f"a{k}" for k in range(n_in)]
    free = [k for k in range(n_in) if k not in pinned]
    full = [k for k in range(n_in) if not kernel.scalar_inputs[k]]
    conds = [f"a{k} is P{k}" for k in pinned]
    conds += [f"type(a{k}) is ndarray and a{k}.dtype == D{k}" for k in free]
    shape_conds = []
    if full:
        shape_expr = f"a{full[0]}.shape"
        shape_conds.append(f"len(s) == {ndim}")
        shape_conds += [f"a{k}.shape == s" for k in full[1:]]
        fixed = sorted({d for k in full for d, b in enumerate(node.inputs[k].broadcastable) if b})
        shape_conds += [f"s[{d}] == 1" for d in fixed]
    else:
        shape_expr = "ONES"
    shape_conds += [f"a{k}.shape == ONES" for k in free if kernel.scalar_inputs[k]]
    flags = [f"f{k}.c_contiguous and f{k}.aligned" for k in free]
    lines = [f"def direct({', '.join(args)}):",
             f"    if {' and '.join(conds) or 'True'}:",
             f"        s = {shape_expr}",
             *[f"        f{k} = a{k}.flags" for k in free],
             f"        if {' and '.join(shape_conds + flags) or 'True'}:",
             *[f"            o{j} = empty(s, E{j})" for j in range(n_out)],
             "            b = pool.pop() if pool else new_buffer()",
             "            buf = b[0]",
             *[f"            buf[{k}] = fb(a{k})" for k in free],
             *[f"            buf[{n_in + j}] = fb(o{j})" for j in range(n_out)],
             f"            fn(o0.size, {ndim}, NULL, NULL, b[1], 1, C)",
             "            pool.append(b)",
             f"            return ({''.join(f'o{j}, ' for j in range(n_out))})",
             *_broadcast_tier(node, kernel, free, n_in, n_out, ndim),
             f"    return general(node, ({''.join(a + ', ' for a in args)}))"]
    namespace = {"ndarray": np.ndarray, "empty": np.empty, "ONES": (1,) * ndim, "pool": [], "bpool": [],
                 "new_broadcast_buffer": lambda: _new_broadcast_buffer(ffi, pinned, n_in, n_out, ndim),
                 "new_buffer": new_buffer, "fb": ffi.from_buffer, "fn": fn, "NULL": ffi.NULL,
                 "general": general, "node": node, "C": consts}
    namespace.update({f"D{k}": dt for k, dt in enumerate(in_dtypes)})
    namespace.update({f"E{j}": dt for j, dt in enumerate(out_dtypes)})
    namespace.update({f"P{k}": node.inputs[k].data for k in pinned})
    exec(compile_source("\n".join(lines), "<elemwise fast path>"), namespace)
    fixed = sorted({d for k in full for d, b in enumerate(node.inputs[k].broadcastable) if b})
    compiled = elemwise_call(fn, ffi, consts, in_dtypes, out_dtypes, ndim, kernel.scalar_inputs,
                             {k: node.inputs[k].data for k in pinned}, fixed, namespace["direct"])
    return namespace["direct"] if compiled is None else compiled


def _broadcast_tier(node, kernel: ElemwiseKernel, free: list, n_in: int, n_out: int, ndim: int) -> list:
    """Lines of the second fast-path tier: C-contiguous operands of the right dtype that
    broadcast as their types say (size 1 exactly in their broadcastable dimensions, the
    output's size elsewhere), e.g. a matrix minus its row maxima. The output shape and every
    operand's element strides follow from the static broadcast patterns, so the code computes
    them without inspecting strides, fills pooled C arrays and calls the strided entry (which
    picks its row loop for such operands). Empty when no operand broadcasts against the output."""
    full = [k for k in range(n_in) if not kernel.scalar_inputs[k]]
    patterns = {k: node.inputs[k].broadcastable for k in full}
    out_b = node.outputs[0].broadcastable
    if ndim == 0 or not any(patterns[k][d] and not out_b[d] for k in full for d in range(ndim)):
        return []
    source = [next((k for k in full if not patterns[k][d]), None) for d in range(ndim)]
    sizes = [f"a{k}.shape[{d}]" if k is not None else "1" for d, k in enumerate(source)]
    conds = [f"a{k}.ndim == {ndim}" for k in full]
    conds += [f"a{k}.shape[{d}] == {'1' if patterns[k][d] else f's[{d}]'}"
              for k in full for d in range(ndim) if source[d] != k]
    conds += [f"a{k}.shape == ONES" for k in free if kernel.scalar_inputs[k]]
    conds += [f"a{k}.flags.c_contiguous and a{k}.flags.aligned" for k in free]
    lines = [f"        if {' and '.join(f'a{k}.ndim == {ndim}' for k in full)}:",
             f"            s = ({''.join(x + ', ' for x in sizes)})",
             f"            if {' and '.join(conds[len(full):]) or 'True'}:",
             *[f"                o{j} = empty(s, E{j})" for j in range(n_out)],
             "                b = bpool.pop() if bpool else new_broadcast_buffer()",
             "                buf, shp, st = b[0], b[2], b[3]",
             *[f"                buf[{k}] = fb(a{k})" for k in free],
             *[f"                buf[{n_in + j}] = fb(o{j})" for j in range(n_out)],
             *[f"                shp[{d}] = s[{d}]" for d in range(ndim)]]
    for op in range(n_in + n_out):
        pattern = patterns.get(op, (True,) * ndim) if op < n_in else (False,) * ndim
        for d in range(ndim):
            factors = [f"s[{e}]" for e in range(d + 1, ndim) if not pattern[e]]
            if not pattern[d]:
                lines.append(f"                st[{op * ndim + d}] = {' * '.join(factors) or '1'}")
    lines += [f"                fn(o0.size, {ndim}, shp, st, b[1], 0, C)",
              "                bpool.append(b)",
              f"                return ({''.join(f'o{j}, ' for j in range(n_out))})"]
    return lines


def _new_broadcast_buffer(ffi, pinned: dict, n_in: int, n_out: int, ndim: int) -> tuple:
    """(pointer array, its intptr_t view, shape array, stride array) for one concurrent call of
    the broadcast tier. Strides stay zero where an operand broadcasts; the tier writes the
    others per call."""
    buf = ffi.new("void *[]", n_in + n_out)
    for k, ptr in pinned.items():
        buf[k] = ptr
    strides = ffi.new("int64_t[]", (n_in + n_out) * ndim)   # zero-filled
    return buf, ffi.cast("intptr_t *", buf), ffi.new("int64_t[]", ndim), strides




def _output_shape(node, inputs: Sequence[np.ndarray]) -> tuple:
    """The broadcast output shape; non-broadcastable dimensions must agree (as in perform).

    The kernel indexes every operand by the output's shape, so a value whose rank differs from
    its variable's, or whose broadcastable dimension is not 1, is refused here rather than read
    out of bounds."""
    ndim = node.outputs[0].ndim
    for k, (v, a) in enumerate(zip(node.inputs, inputs)):
        if a.ndim != ndim or any(b and s != 1 for b, s in zip(v.broadcastable, a.shape)):
            raise ValueError(f"{node.op}: input {k} has shape {a.shape}, which does not fit its type "
                             f"{v.type} (rank {ndim}, size 1 in broadcastable dimensions)")
    shape = []
    for axis in range(ndim):
        size = None
        for k, (v, a) in enumerate(zip(node.inputs, inputs)):
            if v.broadcastable[axis]:
                continue
            if size is None:
                size, first = a.shape[axis], k
            elif a.shape[axis] != size:
                raise ValueError(f"{node.op}: input {first} has size {size} and input {k} has size "
                                 f"{a.shape[axis]} in dimension {axis}; shapes {[x.shape for x in inputs]} "
                                 f"(a size-1 dimension that is not marked broadcastable does not broadcast)")
        shape.append(1 if size is None else size)
    return tuple(shape)
