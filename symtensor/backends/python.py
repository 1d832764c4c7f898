"""The numpy reference backend: runs each node's ``perform`` in order.

``DebugExecutor`` additionally checks every op's contract on every call: outputs match
their declared types, and no op wrote into an input (unless it declared so)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..graph.basic import Constant
from ..graph.fg import FunctionGraph
from ..graph.interpreter import Interpreter, annotate_error


def make_executor(fgraph: FunctionGraph):
    """A callable taking one value per fgraph input and returning one per output."""
    return Interpreter(fgraph)


class DebugExecutor:
    """Runs the reference interpreter with per-node contract checks.

    Each ``perform`` works on copies of its inputs, so an op that writes into an input is
    reported without having damaged the caller's arrays or shared storage."""

    def __init__(self, fgraph: FunctionGraph):
        self.fgraph = fgraph
        self.nodes = fgraph.toposort()

    def __call__(self, values: Sequence) -> list:
        env = {v: val for v, val in zip(self.fgraph.inputs, values)}
        for node in self.nodes:
            args = [i.data if isinstance(i, Constant) else env[i] for i in node.inputs]
            work = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
            cells = [[None] for _ in node.outputs]
            try:
                node.op.perform(node, work, cells)
            except Exception as err:
                raise annotate_error(err, node) from err
            _check_inputs_kept(node, args, work)
            for out, cell in zip(node.outputs, cells):
                try:
                    out.type.filter(cell[0], strict=True)
                except (TypeError, ValueError) as err:
                    raise annotate_error(TypeError(f"DebugMode: {node.op}.perform returned a value that does "
                                                   f"not match its output type {out.type}: {err}"), node)
            _check_views(node, work, [cell[0] for cell in cells])
            for out, cell in zip(node.outputs, cells):
                env[out] = cell[0]
        return [v.data if isinstance(v, Constant) else env[v] for v in self.fgraph.outputs]


def _check_inputs_kept(node, args: list, work: list) -> None:
    """No input changed, unless the op declares that it destroys it."""
    for k, (a, w) in enumerate(zip(args, work)):
        destroyed = any(k in ins for ins in node.op.destroy_map.values())
        if isinstance(a, np.ndarray) and not destroyed and not _same(w, a):
            raise annotate_error(AssertionError(f"DebugMode: {node.op}.perform wrote into its input {k} without "
                                                f"declaring destroy_map"), node)


def _check_views(node, work: list, results: list) -> None:
    """No output is a view of an input, unless view_map or destroy_map says so."""
    for k, res in enumerate(results):
        viewed = node.op.view_map.get(k, []) + node.op.destroy_map.get(k, [])
        for j, a in enumerate(work):
            if isinstance(a, np.ndarray) and j not in viewed and isinstance(res, np.ndarray) \
                    and a.size and np.shares_memory(res, a):
                raise annotate_error(AssertionError(f"DebugMode: output {k} of {node.op} is a view of input {j} "
                                                    f"but the op has no view_map for it"), node)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
