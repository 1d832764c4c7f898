"""Pickling graphs without recursion: a computed variable travels as a flat graph bundle.

Pickle's default walk follows ``Variable.owner -> Apply.inputs -> Variable.owner ...`` one
level of Python recursion per op, so a graph a few hundred ops deep raised RecursionError.
Instead, a variable with an owner (and an Apply node) reduces to "output ``i`` of node ``k``
of bundle ``B``", where ``B`` (a ``GraphBundle``) lists the nodes of its ancestor graph in
topological order, each as a flat record (op, input references, output class, type, name).
Unpickling rebuilds the nodes of a bundle in one loop. Leaves (inputs, constants, shared
variables) are pickled as ordinary objects, so pickle's memo keeps their identity among
everything pickled together.

Sharing: every node remembers (weakly) the bundle that lists it. While one ``dumps`` runs,
its memo keeps the bundles it wrote alive, so a second variable of the same graph reuses them:
it reduces to a node of an existing bundle, or to a new bundle holding only the nodes not yet
listed, referring to the older bundles for the rest. Variables pickled together thus still
share their subgraphs after loading. A bundle is reused only while the nodes it lists still
have the inputs they had when it was made (graphs can be rewritten in place).

What a bundle's records cannot hold safely (tags, and extra attributes such as a random
variable's ``rng``, which may refer back to variables of the same graph) travels in a
``BundleExtras`` object pickled after the bundle, as the state of the pickled variable or
node, and is attached once the nodes exist.
"""
from __future__ import annotations

import weakref
from typing import Any

from .basic import Apply, Scratchpad, Variable

_VAR_FIELDS = ("type", "owner", "index", "name", "tag", "_eval_cache")
_NODE_FIELDS = ("op", "inputs", "outputs", "tag", "_pickle_bundle")


def _live_bundle(node: Apply) -> tuple | None:
    """(bundle, position) of a bundle listing ``node`` that is still alive, else None."""
    ref = node.__dict__.get("_pickle_bundle")
    if ref is None:
        return None
    bundle = ref[0]()
    return None if bundle is None else (bundle, ref[1])


def _reusable(node: Apply) -> tuple | None:
    """``_live_bundle(node)`` if the bundle lists the node with the inputs it has now."""
    found = _live_bundle(node)
    if found is None:
        return None
    snap = found[0].snapshot[found[1]]
    if len(snap) != len(node.inputs) or any(a is not b for a, b in zip(snap, node.inputs)):
        return None
    return found


class GraphBundle:
    """The nodes of a graph (those not listed by an older live bundle), in topological order.

    Pickled as flat records; rebuilt in one loop by ``__setstate__``."""

    def __init__(self, nodes: list):
        self.nodes = nodes
        self.snapshot = [tuple(n.inputs) for n in nodes]
        self._extras = None
        for k, node in enumerate(nodes):
            node.__dict__["_pickle_bundle"] = (weakref.ref(self), k)

    @classmethod
    def for_node(cls, node: Apply) -> tuple:
        """(bundle, position) for ``node``: a live bundle listing it unchanged, or a new bundle
        of it and its ancestors that no live bundle lists unchanged."""
        found = _reusable(node)
        if found is not None:
            return found
        order: list = []
        done: set = set()
        stack = [(node, False)]
        while stack:                      # iterative post-order, stopping at listed nodes
            n, expanded = stack.pop()
            if n in done:
                continue
            if expanded:
                done.add(n)
                order.append(n)
                continue
            stack.append((n, True))
            for v in reversed(n.inputs):
                if v.owner is not None and v.owner not in done and _reusable(v.owner) is None:
                    stack.append((v.owner, False))
        bundle = cls(order)
        return bundle, len(order) - 1

    def extras(self) -> "BundleExtras":
        """The extras object of this bundle (one per bundle while it is being pickled)."""
        extras = self._extras() if self._extras is not None else None
        if extras is None:
            extras = BundleExtras(self)
            self._extras = weakref.ref(extras)
        return extras

    # --- pickling ----------------------------------------------------------------------------
    def __reduce_ex__(self, protocol: int):
        # The leaves go first, as arguments: a leaf's own state may refer back to this graph
        # (a random state's default_update), and must be complete before the bundle is built.
        leaves: dict = {}
        for node in self.nodes:
            for v in node.inputs:
                if v.owner is None:
                    leaves.setdefault(id(v), v)
        return (_new_bundle, (list(leaves.values()),), self._records())

    def _records(self) -> list:
        local = {n: k for k, n in enumerate(self.nodes)}
        records = []
        for node in self.nodes:
            refs = []
            for v in node.inputs:
                if v.owner is None:
                    refs.append(v)
                elif v.owner in local:
                    refs.append((local[v.owner], v.index))
                else:
                    other, k = _reusable(v.owner)
                    refs.append((other, k, v.index))
            outs = [(type(o), o.type, o.name) for o in node.outputs]
            records.append((node.op, refs, outs))
        return records

    def __setstate__(self, records: list) -> None:
        if "nodes" in self.__dict__:     # built already (a leaf's state needed it first)
            return
        nodes: list = []
        for op, refs, outs in records:
            inputs = []
            for r in refs:
                if isinstance(r, Variable):
                    inputs.append(r)
                elif len(r) == 2:
                    inputs.append(nodes[r[0]].outputs[r[1]])
                else:
                    inputs.append(r[0].nodes[r[1]].outputs[r[2]])
            outputs = []
            for cls, type_, name in outs:
                v = cls.__new__(cls)
                v.__dict__.update(type=type_, owner=None, index=None, name=name, tag=Scratchpad())
                outputs.append(v)
            nodes.append(Apply(op, inputs, outputs))
        GraphBundle.__init__(self, nodes)


def _new_bundle(leaves: list) -> GraphBundle:
    """An empty bundle (``leaves`` only made pickle load the leaves first)."""
    return GraphBundle.__new__(GraphBundle)


class BundleExtras:
    """The tags and extra attributes of a bundle's nodes and their outputs, attached to the
    rebuilt nodes when unpickled (after the bundle, so they may refer to its variables)."""

    def __init__(self, bundle: GraphBundle | None = None):
        self.bundle = bundle

    def __reduce_ex__(self, protocol: int):
        nodes, outs = {}, {}
        for k, node in enumerate(self.bundle.nodes):
            extra = {a: v for a, v in node.__dict__.items() if a not in _NODE_FIELDS}
            if extra or node.tag.__dict__:
                nodes[k] = (node.tag, extra)
            for i, o in enumerate(node.outputs):
                extra = {a: v for a, v in o.__dict__.items() if a not in _VAR_FIELDS}
                if extra or o.tag.__dict__:
                    outs[(k, i)] = (o.tag, extra)
        return (BundleExtras, (), (self.bundle, nodes, outs))

    def __setstate__(self, state: tuple) -> None:
        self.bundle, nodes, outs = state
        for k, (tag, extra) in nodes.items():
            node = self.bundle.nodes[k]
            node.tag = tag
            node.__dict__.update(extra)
        for (k, i), (tag, extra) in outs.items():
            var = self.bundle.nodes[k].outputs[i]
            var.tag = tag
            var.__dict__.update(extra)


def reduce_variable(var: Variable) -> tuple:
    """The reduction of a computed variable: output ``var.index`` of a bundled node."""
    bundle, k = GraphBundle.for_node(var.owner)
    return (_bundled_output, (bundle, k, var.index), bundle.extras())


def reduce_node(node: Apply) -> tuple:
    """The reduction of an Apply node: a node of a bundle."""
    bundle, k = GraphBundle.for_node(node)
    return (_bundled_node, (bundle, k), bundle.extras())


def _bundled_output(bundle: GraphBundle, k: int, index: int) -> Variable:
    return bundle.nodes[k].outputs[index]


def _bundled_node(bundle: GraphBundle, k: int) -> Apply:
    return bundle.nodes[k]
