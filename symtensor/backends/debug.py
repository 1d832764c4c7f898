"""DebugMode's executor: every compiled kernel is run beside the numpy reference.

The rewritten graph runs twice per call: through the reference interpreter with per-node
contract checks (output types, no undeclared writes or views), and through the compiled
backend where each compiled node is compared with its own ``perform`` on the same inputs.
The first disagreement raises, naming the node and the user's source line that built it."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..graph.fg import FunctionGraph
from ..graph.interpreter import annotate_error
from .c import toolchain
from .c.executor import CExecutor
from .python import DebugExecutor


class DebugModeError(AssertionError):
    """A compiled kernel disagreed with the numpy reference."""


class CompareExecutor:
    """Reference with contract checks, plus compiled kernels checked node by node."""

    def __init__(self, fgraph: FunctionGraph):
        self.reference = DebugExecutor(fgraph)
        try:
            self.compiled = CExecutor(fgraph)
        except toolchain.CompilerUnavailable:
            self.compiled = None
            return
        self.compiled.steps = [(node, fn if fn == node.op.perform else _compared(fn), ins, outs)
                               for node, fn, ins, outs in self.compiled.steps]

    def __call__(self, values: Sequence) -> list:
        results = self.reference(values)
        if self.compiled is not None:
            self.compiled(list(values))
        return results


def _compared(thunk):
    def run(node, inputs: list, output_storage: list) -> None:
        thunk(node, inputs, output_storage)
        reference = [[None] for _ in node.outputs]
        node.op.perform(node, [a.copy() if isinstance(a, np.ndarray) else a for a in inputs], reference)
        for k, (out, got, want) in enumerate(zip(node.outputs, output_storage, reference)):
            problem = _difference(np.asarray(got[0]), np.asarray(want[0]), out.dtype)
            if problem:
                raise annotate_error(DebugModeError(
                    f"DebugMode: the compiled kernel of {node.op} disagrees with its numpy perform on "
                    f"output {k}: {problem}"), node)
    return run


def _difference(got: np.ndarray, want: np.ndarray, dtype: str) -> str | None:
    if got.shape != want.shape:
        return f"shape {got.shape}, expected {want.shape}"
    if got.dtype != want.dtype:
        return f"dtype {got.dtype}, expected {want.dtype}"
    if got.dtype.kind in "fc":
        # kernels may sum in another order than numpy (BLAS, blocked reductions): allow rounding
        # relative to the size of the values involved, not only to each element
        finite = np.abs(want[np.isfinite(want)]) if want.size else np.zeros(0)
        scale = float(finite.max()) if finite.size else 1.0
        if got.dtype.itemsize <= 4:
            tol = dict(rtol=1e-4, atol=1e-5 * max(scale, 1.0))
        else:
            tol = dict(rtol=1e-10, atol=1e-12 * max(scale, 1.0))
        close = np.isclose(got, want, equal_nan=True, **tol)
    else:
        close = got == want
    if np.all(close):
        return None
    where = np.unravel_index(int(np.argmin(close)), got.shape) if got.ndim else ()
    return f"at index {where} got {got[where]!r}, expected {want[where]!r}"
