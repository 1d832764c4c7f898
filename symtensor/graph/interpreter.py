"""Run a FunctionGraph through each op's ``perform``: the numpy reference executor.

The schedule (node order and storage cells) is built once; a call only fills the input
cells, runs the thunks and reads the output cells.
"""
from __future__ import annotations

from typing import Sequence

from .basic import Constant, format_trace
from .fg import FunctionGraph


def annotate_error(err: BaseException, node) -> BaseException:
    """Return an exception of the same class whose message names the node and the
    user's source line that created it."""
    if getattr(err, "_symtensor_node", False):
        return err
    trace = format_trace(getattr(node.tag, "trace", None))
    inputs = ", ".join(f"{v} ({v.type})" for v in node.inputs)
    msg = f"{err}\n  while computing {node.op} on inputs [{inputs}]"
    if trace:
        msg += f"\n  node created at {trace}"
    try:
        new = type(err)(msg)
    except Exception:  # exception classes with unusual constructors
        new = RuntimeError(msg)
    new._symtensor_node = True
    return new


class Interpreter:
    """Executes ``fgraph`` with numpy. ``__call__(values)`` takes one value per input and
    returns one value per output."""

    def __init__(self, fgraph: FunctionGraph, check_outputs: bool = False):
        self.fgraph = fgraph
        self.nodes = fgraph.toposort()
        storage: dict = {}
        for v in fgraph.variables:
            storage[v] = [v.data if isinstance(v, Constant) else None]
        for v in fgraph.inputs:
            storage.setdefault(v, [None])
        for node in self.nodes:
            for v in node.inputs + node.outputs:
                storage.setdefault(v, [v.data if isinstance(v, Constant) else None])
        for v in fgraph.outputs:
            storage.setdefault(v, [v.data if isinstance(v, Constant) else None])
        self.storage = storage
        self.input_cells = [storage[v] for v in fgraph.inputs]
        self.output_cells = [storage[v] for v in fgraph.outputs]
        self.check_outputs = check_outputs
        self.steps = [(node, node.op.perform, [storage[v][0] if isinstance(v, Constant) else storage[v]
                                               for v in node.inputs],
                       [storage[v] for v in node.outputs]) for node in self.nodes]
        # a shared variable's cell is filled from its container by the caller
        self.intermediate_cells = [storage[v] for n in self.nodes for v in n.outputs]

    def __call__(self, values: Sequence) -> list:
        for cell, value in zip(self.input_cells, values):
            cell[0] = value
        try:
            for node, perform, in_refs, out_cells in self.steps:
                args = [r[0] if type(r) is list else r for r in in_refs]
                try:
                    perform(node, args, out_cells)
                except Exception as err:
                    raise annotate_error(err, node) from err
                if self.check_outputs:
                    _check_outputs(node, out_cells)
            return [cell[0] for cell in self.output_cells]
        finally:
            for cell in self.intermediate_cells:
                cell[0] = None
            for cell in self.input_cells:
                cell[0] = None


def _check_outputs(node, out_cells) -> None:
    for out, cell in zip(node.outputs, out_cells):
        try:
            out.type.filter(cell[0], strict=True)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{node.op}.perform returned a value that does not match its output type "
                            f"{out.type}: {err}") from None
