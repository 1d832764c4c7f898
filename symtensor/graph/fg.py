"""FunctionGraph: a graph between fixed inputs and outputs, with client lists,
validated replacement, toposort and cloning. Rewrites and backends work on it."""
from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

from .basic import Apply, Constant, Variable, ancestors, clone_graph, toposort
from .type import TensorType

OUTPUT = "output"  # the client marker for a graph output: (OUTPUT, output_index)


class InconsistencyError(Exception):
    """A replacement would make the graph invalid."""


class MissingInputError(ValueError):
    """The outputs need a free variable that is not among the graph's inputs."""


class FunctionGraph:
    """Holds the subgraph from ``inputs`` to ``outputs``.

    ``clients[var]`` lists ``(node, input_index)`` pairs, where node may be ``OUTPUT``.
    With ``clone=True`` the inner nodes are copied, so rewriting never touches the
    user's graph; input variables are kept as they are (they identify the inputs).
    """

    def __init__(self, inputs: Sequence[Variable], outputs: Sequence[Variable], clone: bool = True,
                 features: Iterable = ()):
        inputs, outputs = list(inputs), list(outputs)
        if clone:
            inputs, outputs, self.memo = clone_graph(inputs, outputs, copy_inputs=False)
        else:
            self.memo = {}
        for v in inputs:
            if v.owner is not None:
                raise ValueError(f"graph input {v} is computed by {v.owner.op}; inputs must be free variables")
        self.inputs = inputs
        self.outputs: list = []
        self.apply_nodes: set = set()
        self.variables: set = set()
        self.clients: dict = {}
        self.features: list = []
        self._order: list | None = None   # the cached toposort; None after any edit
        for v in inputs:
            self._add_variable(v)
        for i, out in enumerate(outputs):
            self._import_var(out)
            self.outputs.append(out)
            self.clients[out].append((OUTPUT, i))
        for f in features:
            self.attach_feature(f)

    # --- bookkeeping -------------------------------------------------------------------
    def _add_variable(self, v: Variable) -> None:
        if v not in self.clients:
            self.clients[v] = []
            self.variables.add(v)

    def _check_importable(self, var: Variable) -> list:
        """The nodes ``var`` would bring in, after checking that none needs a missing input
        (so a failed import leaves the graph unchanged)."""
        new_nodes = self._new_nodes(var)
        for node in new_nodes:
            for inp in node.inputs:
                if inp.owner is None and not isinstance(inp, Constant) and inp not in self.clients:
                    raise MissingInputError(f"variable {inp} is needed by {node.op} but is not an input of "
                                            f"the graph; add it to the inputs (or use givens)")
        if var.owner is None and not isinstance(var, Constant) and var not in self.clients:
            raise MissingInputError(f"output {var} is a free variable that is not an input of the graph")
        return new_nodes

    def _new_nodes(self, var: Variable) -> list:
        """The nodes computing ``var`` that are not in the graph yet, in topological order.
        The walk stops at nodes already in the graph, so a replacement costs only its new part."""
        order: list = []
        seen: set = set()
        stack = [(var.owner, False)] if var.owner is not None else []
        inputs = set(self.inputs)
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if node in seen or node in self.apply_nodes:
                continue
            seen.add(node)
            stack.append((node, True))
            for inp in reversed(node.inputs):
                if inp.owner is not None and inp not in inputs and inp.owner not in seen \
                        and inp.owner not in self.apply_nodes:
                    stack.append((inp.owner, False))
        return order

    def _import_var(self, var: Variable) -> None:
        for node in self._check_importable(var):
            self._order = None
            self.apply_nodes.add(node)
            for i, inp in enumerate(node.inputs):
                self._add_variable(inp)
                self.clients[inp].append((node, i))
            for out in node.outputs:
                self._add_variable(out)
            self._notify("on_import", node)
        self._add_variable(var)

    def _prune(self, var: Variable) -> None:
        """Drop var's producer (recursively) when nothing uses it any more."""
        stack = [var]
        while stack:
            v = stack.pop()
            node = v.owner
            if node is None or node not in self.apply_nodes:
                continue
            if any(self.clients.get(o) for o in node.outputs):
                continue
            self._order = None
            self.apply_nodes.discard(node)
            for o in node.outputs:
                self.clients.pop(o, None)
                self.variables.discard(o)
            self._notify("on_prune", node)
            for i, inp in enumerate(node.inputs):
                lst = self.clients.get(inp)
                if lst is not None and (node, i) in lst:
                    lst.remove((node, i))
                if inp.owner is not None:
                    stack.append(inp)
                elif not self.clients.get(inp) and inp not in self.inputs:
                    self.clients.pop(inp, None)
                    self.variables.discard(inp)

    # --- editing -------------------------------------------------------------------------
    def change_node_input(self, node: Any, i: int, new: Variable) -> None:
        """Make input ``i`` of ``node`` (or output ``i`` when node is OUTPUT) be ``new``."""
        self._import_var(new)  # first: a MissingInputError must leave the graph as it was
        self._order = None
        if node == OUTPUT:
            old = self.outputs[i]
            self.outputs[i] = new
        else:
            old = node.inputs[i]
            node.inputs[i] = new
        self.clients[new].append((node, i))
        self.clients[old].remove((node, i))
        self._notify("on_change_input", node, i, old, new)
        if not self.clients[old]:
            self._prune(old)

    def replace(self, var: Variable, new: Variable, reason: str | None = None, validate: bool = True) -> None:
        """Make every client of ``var`` use ``new`` instead."""
        if var is new:
            return
        if var not in self.clients:
            raise ValueError(f"cannot replace {var}: it is not in this graph")
        if validate and not _compatible(var.type, new.type):
            raise TypeError(f"cannot replace {var} (type {var.type}) with {new} (type {new.type}) "
                            f"({reason or 'no reason given'})")
        for node, i in list(self.clients[var]):
            self.change_node_input(node, i, new)

    def replace_all(self, pairs: Iterable, reason: str | None = None) -> None:
        for var, new in pairs:
            self.replace(var, new, reason=reason)

    def attach_feature(self, feature: Any) -> None:
        self.features.append(feature)
        if hasattr(feature, "on_attach"):
            feature.on_attach(self)

    def _notify(self, event: str, *args: Any) -> None:
        for f in self.features:
            cb = getattr(f, event, None)
            if cb is not None:
                cb(self, *args)

    # --- queries --------------------------------------------------------------------------
    def toposort(self) -> list:
        """The nodes in dependency order (a new list; computed once per state of the graph)."""
        order = getattr(self, "_order", None)     # absent from graphs pickled by older versions
        if order is None:
            order = self._order = toposort(self.outputs, blockers=self.inputs)
        return list(order)

    def clone(self) -> "FunctionGraph":
        return FunctionGraph(self.inputs, self.outputs, clone=True)

    def check_integrity(self) -> None:
        """Raise InconsistencyError unless the node set and client lists match the graph."""
        nodes = set(self.toposort())
        if nodes != self.apply_nodes:
            raise InconsistencyError("apply_nodes is out of date with the graph")
        for node in nodes:
            for i, inp in enumerate(node.inputs):
                if (node, i) not in self.clients.get(inp, []):
                    raise InconsistencyError(f"missing client entry for {node}, input {i}")
        for i, out in enumerate(self.outputs):
            if (OUTPUT, i) not in self.clients.get(out, []):
                raise InconsistencyError(f"missing client entry for output {i} ({out})")
        for var, clients in self.clients.items():
            for node, i in clients:
                used = self.outputs[i] if node == OUTPUT else (node.inputs[i] if node in nodes else None)
                if used is not var:
                    raise InconsistencyError(f"stale client entry ({node}, {i}) for {var}")

    def __str__(self) -> str:
        return f"FunctionGraph({', '.join(map(str, self.outputs))})"


def _compatible(old, new) -> bool:
    if old == new:
        return True
    if isinstance(old, TensorType) and isinstance(new, TensorType):
        return old.dtype == new.dtype and old.ndim == new.ndim and all(
            a is None or b is None or a == b for a, b in zip(old.shape, new.shape))
    return False


def used_inputs(inputs: Sequence[Variable], outputs: Sequence[Variable]) -> set:
    """The members of ``inputs`` that the outputs actually depend on."""
    reached = {id(v) for v in ancestors(outputs, blockers=inputs)}
    return {v for v in inputs if id(v) in reached}


def iter_inner_graphs(fgraph: FunctionGraph, visit: Callable) -> None:
    """Call ``visit`` on every inner FunctionGraph held by ops of ``fgraph``, recursively."""
    for node in fgraph.apply_nodes:
        for inner in node.op.inner_graphs():
            visit(inner)
            iter_inner_graphs(inner, visit)


