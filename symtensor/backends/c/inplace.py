"""Shared-variable updates computed in place: the new value written into the old array.

A training step's updates (``W - lr * g``, rendered as a Gemm or a fused elementwise kernel)
would otherwise allocate a new array per parameter per call (and touch fresh pages), then drop
the old one. When a node computes the update of shared variable ``S`` from ``S`` itself and
nothing else in the function needs ``S`` afterwards, its kernel can write into ``S``'s array.

Planning (once, at compile time): such nodes are moved to the end of the schedule and run by
one :class:`InplaceTail` step. A node qualifies when its single output is only the update, ``S``
is not itself an output of the function, and every other output computed from ``S`` is a
freshly allocated array (never a view of ``S``).

Per call, the tail keeps the promise that a failed call leaves shared variables unchanged:

1. for each node it decides whether the target array can take the result (a writeable,
   aligned, C-contiguous ndarray of the output's dtype and exact shape, sharing no memory with
   the call's other arguments, the node's other operands or any other tail node's operands) and
   runs every check the kernel would make (shapes, broadcasting);
2. it computes the nodes that stay out of place (they write nothing shared);
3. only then does it run the in-place kernels, which can no longer fail (short of running out
   of memory while BLAS packs an operand).

Theano's rule applies to arrays the user handed over with ``borrow=True``
(``shared(v, borrow=True)``, ``set_value(v, borrow=True)``) or took with
``get_value(borrow=True)``: a later call may change them in place.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ...graph.basic import Variable, ancestors
from ...graph.fg import OUTPUT, FunctionGraph
from ...graph.interpreter import annotate_error


class InplaceTail:
    """A perform-compatible step running the in-place update nodes, last in the schedule.

    Its inputs are the graph's inputs (to check the targets against the call's arguments) then
    each node's inputs in turn; its outputs are each node's output in turn."""

    def __init__(self, entries: Sequence[tuple], n_graph_inputs: int):
        # entries: (node, thunk, position of the target among the node's inputs)
        self.entries = list(entries)
        self.n_graph_inputs = n_graph_inputs

    def __call__(self, _node, inputs: list, output_storage: list) -> None:
        graph_values = inputs[:self.n_graph_inputs]
        per_node, start = [], self.n_graph_inputs
        for node, _, _ in self.entries:
            per_node.append(inputs[start:start + len(node.inputs)])
            start += len(node.inputs)
        # every array the tail reads, once each, and how often each is read (graph inputs included)
        arrays: dict = {}
        reads: dict = {}
        for value in graph_values + [v for values in per_node for v in values]:
            if isinstance(value, np.ndarray):
                arrays[id(value)] = value
                reads[id(value)] = reads.get(id(value), 0) + 1
        prepared = []
        for k, (node, thunk, pos) in enumerate(self.entries):
            target = per_node[k][pos]
            run = None
            if self._writable(target, node, per_node[k], arrays, reads):
                try:
                    run = thunk.prepare_into(node, per_node[k], target)
                except Exception as err:
                    raise annotate_error(err, node) from err
            prepared.append(run)
        for k, (node, thunk, _) in enumerate(self.entries):
            if prepared[k] is None:
                try:
                    thunk(node, per_node[k], [output_storage[k]])
                except Exception as err:
                    raise annotate_error(err, node) from err
        for k, run in enumerate(prepared):
            if run is not None:
                output_storage[k][0] = run()

    @staticmethod
    def _writable(target, node, operands: list, arrays: dict, reads: dict) -> bool:
        """Whether ``target`` may receive the node's result (see the module docstring): read
        only as its own graph input and as this node's operand, overlapping no other array."""
        if not (type(target) is np.ndarray and target.dtype == node.outputs[0].type.numpy_dtype):
            return False
        flags = target.flags
        if not (flags.c_contiguous and flags.aligned and flags.writeable):
            return False
        if reads[id(target)] != 1 + sum(v is target for v in operands):
            return False        # another graph input or another tail node reads this very array
        return not any(a is not target and np.may_share_memory(a, target) for a in arrays.values())


def plan_inplace_updates(fgraph: FunctionGraph, steps: list, input_cells: list, updates: Sequence[tuple]) -> list:
    """``steps`` with the qualifying update nodes moved into one final :class:`InplaceTail`.

    ``input_cells``: the storage cells of the graph's inputs (as the steps refer to them);
    ``updates``: (shared input variable of ``fgraph``, index of its update among the graph's
    outputs) pairs. Nodes whose thunk has no ``prepare_into`` (no in-place form) stay put."""
    by_node = {step[0]: step for step in steps}
    outputs = list(fgraph.outputs)
    chosen = []
    for shared, index in updates:
        picked = _qualifies(fgraph, outputs, shared, index, by_node)
        if picked is not None and all(picked[0] is not c[0] for c in chosen):
            chosen.append(picked)
    if not chosen:
        return steps
    fresh = {id(cell) for node, fn, _, cells in steps if getattr(fn, "for_node", None) is not None for cell in cells}
    tail_nodes = {node for node, _ in chosen}
    kept = []
    for node, shared in chosen:
        # another output computed from the shared value must be a new array, not a view of it
        safe = True
        for k, out in enumerate(outputs):
            if out.owner in tail_nodes or out.owner is None:
                continue
            cells = by_node[out.owner][3]
            if id(cells[out.owner.outputs.index(out)]) not in fresh and shared in ancestors([out]):
                safe = False
                break
        if safe:
            kept.append((node, shared))
    if not kept:
        return steps
    moved = {node for node, _ in kept}
    graph_cells = list(input_cells)
    entries, in_refs, out_cells = [], list(graph_cells), []
    for node, shared in kept:
        _, fn, refs, cells = by_node[node]
        entries.append((node, fn, node.inputs.index(shared)))
        in_refs += refs
        out_cells += cells
    tail = InplaceTail(entries, len(graph_cells))
    return [s for s in steps if s[0] not in moved] + [(kept[0][0], tail, in_refs, out_cells)]


def _qualifies(fgraph: FunctionGraph, outputs: list, shared: Variable, index: int, by_node: dict):
    """(node, shared) when the update at ``outputs[index]`` can be computed into ``shared``."""
    out = outputs[index]
    node = out.owner
    if node is None or node not in by_node or len(node.outputs) != 1 or shared not in node.inputs:
        return None
    if getattr(by_node[node][1], "prepare_into", None) is None:
        return None
    if shared in outputs or outputs.count(out) != 1:
        return None
    if any(client != OUTPUT for client, _ in fgraph.clients.get(out, [])):
        return None
    if out.type.dtype != shared.type.dtype or out.ndim != shared.ndim:
        return None
    return node, shared


__all__: Sequence[str] = ["InplaceTail", "plan_inplace_updates"]
