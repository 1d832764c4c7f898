"""Run a rewritten FunctionGraph with compiled C kernels where the op has a C rendering and
numpy ``perform`` elsewhere. All kernels of one function are compiled into one module
(cached on disk by content), so a function costs one compiler run at most."""
from __future__ import annotations

import os

import warnings
from typing import Sequence

import numpy as np

from ...codegen.c import SCALAR_PRELUDE, ElemwiseKernel, renderer_for
from ...graph.fg import FunctionGraph
from ...graph.interpreter import Interpreter
from . import toolchain
from .build import build

# Idle OpenMP threads sleep instead of spinning: on a machine with few cores a spinning
# thread steals the core that BLAS (or the next kernel) needs. Read when libgomp loads,
# i.e. at the first compiled module; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _module_flags() -> tuple:
    """Flags every generated module needs: signed integer overflow wraps, as in numpy; on
    AVX-512 CPUs, 512-bit vectors (gcc prefers 256 by default; libmvec has 16-lane variants)."""
    flags = ["-fwrapv"]
    try:
        with open("/proc/cpuinfo", "rb") as fh:
            if b" avx512f" in fh.read():
                flags.append("-mprefer-vector-width=512")
    except OSError:
        pass
    return tuple(flags)


MODULE_FLAGS = _module_flags()


class CExecutor(Interpreter):
    """The interpreter's schedule, with C thunks substituted for rendered nodes.

    ``fallbacks`` lists the nodes that run through ``perform`` (no C rendering)."""

    def __init__(self, fgraph: FunctionGraph):
        super().__init__(fgraph)
        kernels = {}
        for node in self.nodes:
            render = renderer_for(node)
            kernel = render(node) if render is not None else None
            if kernel is not None:
                kernels[node] = kernel
        self.fallbacks = [n for n in self.nodes if n not in kernels]
        self.n_kernels = len(kernels)
        if not kernels:
            return
        unique = {k.name: k for k in kernels.values()}
        source = SCALAR_PRELUDE + "\n".join(k.source for k in unique.values())
        cdef = "\n".join(k.cdef for k in unique.values())
        module = build(source, cdef, name="elemwise", flags=MODULE_FLAGS)
        thunks = {node: _elemwise_thunk(kernel, getattr(module.lib, kernel.name), module.ffi)
                  for node, kernel in kernels.items()}
        self.steps = [(node, thunks.get(node, perform), ins, outs) for node, perform, ins, outs in self.steps]


def make_executor(fgraph: FunctionGraph):
    """A C executor, or the numpy interpreter (with one warning) when no compiler works."""
    try:
        return CExecutor(fgraph)
    except toolchain.CompilerUnavailable:
        return Interpreter(fgraph)


def _elemwise_thunk(kernel: ElemwiseKernel, fn, ffi):
    """A perform-compatible callable running ``kernel`` on numpy arrays."""
    in_dtypes = [np.dtype(d) for d in kernel.in_dtypes]
    out_dtypes = [np.dtype(d) for d in kernel.out_dtypes]
    scalar_inputs = kernel.scalar_inputs
    n_in = len(kernel.in_dtypes)
    sizes = [np.dtype(d).itemsize for d in kernel.in_dtypes + kernel.out_dtypes]
    null = ffi.NULL

    def thunk(node, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        inputs = [_kernel_operand(a, dt) for a, dt in zip(inputs, in_dtypes)]
        shape = _output_shape(node, inputs)
        outs = [np.empty(shape, dtype=dt) for dt in out_dtypes]
        n = outs[0].size
        arrays = inputs + outs
        data = np.array([a.__array_interface__["data"][0] for a in arrays], dtype=np.intp)
        ptrs = ffi.cast("intptr_t *", data.ctypes.data)
        contiguous = all(scalar_inputs[k] or (a.shape == shape and a.flags.c_contiguous)
                         for k, a in enumerate(inputs))
        if contiguous:
            fn(n, len(shape), null, null, ptrs, 1)
        else:
            strides = np.zeros((len(arrays), max(len(shape), 1)), dtype=np.int64)
            for k, a in enumerate(arrays):
                for d in range(len(shape)):
                    if a.shape[d] != 1 or shape[d] == 1:
                        strides[k, d] = a.strides[d] // sizes[k]
            shp = np.asarray(shape if shape else (1,), dtype=np.int64)
            fn(n, len(shape), ffi.cast("int64_t *", shp.ctypes.data),
               ffi.cast("int64_t *", strides.ctypes.data), ptrs, 0)
        for cell, out in zip(output_storage, outs):
            cell[0] = out
        del data, arrays

    return thunk


def _kernel_operand(value, dtype: np.dtype) -> np.ndarray:
    """``value`` as an array the kernel can read in place: of the node's input dtype, in native
    byte order and aligned (anything else is converted into a new array, never modified)."""
    if (type(value) is np.ndarray and value.dtype == dtype and value.flags.aligned
            and value.dtype.isnative):
        return value
    return np.array(value, dtype=dtype, order="C")   # a copy, also of a 0-d value


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


warnings  # noqa: B018 - warnings are issued by the toolchain module
