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
from .operands import strided_operand as _kernel_operand


def elemwise_thunk(kernel: ElemwiseKernel, fn, ffi) -> Callable:
    """A perform-compatible callable running ``kernel`` on numpy arrays.

    It carries ``for_node(node)``: a callable taking the node's input values positionally
    and returning a tuple of newly allocated outputs (the executor's direct protocol)."""
    in_dtypes = [np.dtype(d) for d in kernel.in_dtypes]
    out_dtypes = [np.dtype(d) for d in kernel.out_dtypes]
    sizes = [d.itemsize for d in in_dtypes + out_dtypes]
    # the node's constants, kept alive by this closure (NULL: the kernel reads none)
    consts = ffi.new("double[]", list(kernel.consts)) if kernel.consts else ffi.NULL

    def general(node, inputs: Sequence) -> tuple:
        """Any call: converts operands, broadcasts, picks the contiguous or strided loop."""
        inputs = [_kernel_operand(a, dt) for a, dt in zip(inputs, in_dtypes)]
        shape = _output_shape(node, inputs)
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

    thunk.for_node = for_node
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
    """Straight-line Python for the fast path of ``node``, falling back to ``general``.

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
             f"    return general(node, ({''.join(a + ', ' for a in args)}))"]
    namespace = {"ndarray": np.ndarray, "empty": np.empty, "ONES": (1,) * ndim, "pool": [],
                 "new_buffer": new_buffer, "fb": ffi.from_buffer, "fn": fn, "NULL": ffi.NULL,
                 "general": general, "node": node, "C": consts}
    namespace.update({f"D{k}": dt for k, dt in enumerate(in_dtypes)})
    namespace.update({f"E{j}": dt for j, dt in enumerate(out_dtypes)})
    namespace.update({f"P{k}": node.inputs[k].data for k in pinned})
    exec(compile("\n".join(lines), f"<elemwise fast path of {node.op}>", "exec"), namespace)
    return namespace["direct"]




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
