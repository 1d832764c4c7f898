"""Running a ``Scan`` node with compiled code (the kernels of ``codegen/c/scan.py``).

A compiled-body kernel keeps the loop in Python (``Scan.run_steps``) and runs each step with
a C executor of the rewritten body, built once per kernel. A C-loop kernel is called once per
node: the thunk checks the operands against the loop's fixed layout, allocates the state
buffers and trajectories, and passes their addresses; operands the loop cannot take as they
are (another step shape, which the op reports as an error) run the loop in Python instead,
so errors and results are those of ``perform``. A run-time-shape loop is called through
``scan_dyn_thunk.py``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ...codegen.c.scan import ScanKernel
from ...codegen.c.scan_dyn import DynLayout
from .scan_dyn_thunk import dyn_loop_thunk


def scan_thunk(kernel: ScanKernel, fn, ffi) -> Callable:
    """The perform-compatible callable of a Scan kernel."""
    from .executor import make_executor    # the executor module imports the thunk registry
    runner = make_executor(kernel.inner)

    def python_loop(node, inputs: list, output_storage: list) -> None:
        node.op.run_steps(runner, node, inputs, output_storage)

    if kernel.loop is None:
        return python_loop
    if isinstance(kernel.loop, DynLayout):
        return dyn_loop_thunk(kernel, fn, ffi, python_loop)
    return _c_loop(kernel, fn, ffi, python_loop)


def _addresses(ffi, arrays: list):
    """An ``intptr_t *`` to the data addresses of ``arrays`` (and the array holding them)."""
    table = np.array([a.__array_interface__["data"][0] for a in arrays] or [0], dtype=np.intp)
    return ffi.cast("intptr_t *", table.ctypes.data), table


def _contiguous(value) -> np.ndarray:
    """``value`` as a C-contiguous array (0-d values stay 0-d), copied only when needed."""
    if isinstance(value, np.ndarray) and value.flags.c_contiguous:
        return value
    return np.array(value, order="C")


def _fits(value, dtype: str, shape: tuple) -> bool:
    return isinstance(value, np.ndarray) and value.dtype == dtype and value.shape == shape


def _c_loop(kernel: ScanKernel, fn, ffi, python_loop: Callable) -> Callable:
    layout = kernel.loop
    consts, const_table = _addresses(ffi, list(layout.constants))

    def thunk(node, inputs: list, output_storage: list) -> None:
        op = node.op
        n_val, seqs, inits, _, nonseqs = op.split_outer_inputs(inputs)
        n = int(n_val)
        seqs = [_contiguous(s) for s in seqs]
        nonseqs = [_contiguous(v) for v in nonseqs]
        ok = all(step is None or (s.dtype == step[0] and s.shape[1:] == step[1])
                 for s, step in zip(seqs, layout.seq_steps))
        ok = ok and all(_fits(v, *t) for v, t in zip(nonseqs, layout.nonseq_types))
        ok = ok and all(np.shape(i)[1:] == step[1] for i, step in zip(inits, layout.rec_steps))
        if not ok:
            python_loop(node, inputs, output_storage)
            return
        op._check_lengths(n, seqs, inits)
        bufs = []
        for init, m, (dtype, shape) in zip(inits, op.mintaps, layout.rec_steps):
            buf = np.empty((m + n,) + shape, dtype=dtype)
            buf[:m] = init[:m]
            bufs.append(buf)
        nits = [np.empty((n,) + shape, dtype=dtype) for dtype, shape in layout.nit_steps]
        tables = [_addresses(ffi, group) for group in (seqs, bufs, nits, nonseqs)]
        if fn(n, *(t[0] for t in tables), consts) != n:
            raise MemoryError(f"{op}: out of memory allocating the loop's scratch space")
        results = [buf[m:] for buf, m in zip(bufs, op.mintaps)] + nits
        for cell, value in zip(output_storage, results):
            cell[0] = value

    thunk.constants = (layout.constants, const_table)   # kept alive with the thunk
    return thunk
