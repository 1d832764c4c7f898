"""Elementwise fusion: each maximal connected group of Elemwise nodes of one rank whose
intermediate results are used only inside the group becomes one FusedElemwise node, so the
backend computes it in one loop with no intermediate arrays.

A reduction whose input is such a group (or a single Elemwise) used by nothing else then
absorbs it: ``CAReduce(program(x, ...))`` becomes one FusedReduce node, which computes each
element and accumulates it in the same loop (``(x ** 2).sum(axis=1)`` reads x once and
writes only the sums)."""
from __future__ import annotations

import numpy as np

from ..graph.basic import Apply, Constant, Variable
from ..graph.fg import OUTPUT, FunctionGraph
from ..ops.elemwise import DimShuffle, Elemwise
from ..ops.fused import FusedElemwise
from ..ops.fused_reduce import FusedReduce
from ..ops.reduce import CAReduce
from .engine import GraphPass, RewriteLog

MAX_INPUTS = 32   # clusters with more operands than this are not fused whole


def _fusable(node: Apply | None, ndim: int) -> bool:
    return (node is not None and isinstance(node.op, Elemwise) and len(node.outputs) == 1
            and node.outputs[0].ndim == ndim)


def _constant_source(v: Variable) -> Constant | None:
    """The constant behind ``v`` (through dimshuffles) when ``v`` holds one value broadcast
    everywhere, else None. Such a value becomes a literal in the loop instead of an operand."""
    if not all(v.broadcastable):
        return None
    while v.owner is not None and isinstance(v.owner.op, DimShuffle):
        v = v.owner.inputs[0]
    return v if isinstance(v, Constant) and np.size(v.data) == 1 else None


def grow_cluster(fgraph: FunctionGraph, root: Apply) -> set:
    """The nodes fusable into ``root``: producers whose every client is already in the group.

    A worklist: each node is examined again only when one of its clients joins the group,
    so growing a cluster costs time proportional to its size and its edges."""
    ndim = root.outputs[0].ndim
    cluster = {root}
    work = [root]
    while work:
        node = work.pop()
        for v in node.inputs:
            p = v.owner
            if p in cluster or not _fusable(p, ndim):
                continue
            clients = fgraph.clients.get(v, [])
            if all(c is not OUTPUT and c in cluster for c, _ in clients):
                cluster.add(p)
                work.append(p)
    return cluster


def build_program(fgraph: FunctionGraph, cluster: set, root: Apply, position: dict | None = None) -> tuple:
    """(program, outer inputs) of a cluster, its steps in topological order.

    ``position`` maps nodes to their index in a topological order of the graph (computed once
    by the caller when it builds many programs)."""
    if position is None:
        position = {n: k for k, n in enumerate(fgraph.toposort())}
    order = sorted(cluster, key=position.__getitem__)
    step_of: dict = {}
    outer: list = []
    index_of: dict = {}
    steps = []
    for node in order:
        args = []
        for v in node.inputs:
            if v.owner in cluster:
                args.append(("s", step_of[v]))
            elif _constant_source(v) is not None:
                args.append(("c", v.dtype, np.asarray(_constant_source(v).data).reshape(()).item()))
            else:
                if id(v) not in index_of:
                    index_of[id(v)] = len(outer)
                    outer.append(v)
                args.append(("i", index_of[id(v)]))
        step_of[node.outputs[0]] = len(steps)
        steps.append((node.op.scalar_op, tuple(args), node.outputs[0].dtype))
    return (len(outer), tuple(steps), (step_of[root.outputs[0]],)), outer


def fuse_pass(fgraph: FunctionGraph, log: RewriteLog) -> bool:
    """Fuse, from the outputs backwards, each maximal cluster of two or more Elemwise nodes.

    A cluster with more than MAX_INPUTS operands or none at all (all constants) is left as it
    is; its nodes may still become the roots of smaller clusters."""
    changed = False
    order = fgraph.toposort()
    position = {n: k for k, n in enumerate(order)}
    for root in reversed(order):
        if root not in fgraph.apply_nodes or not isinstance(root.op, Elemwise):
            continue
        cluster = grow_cluster(fgraph, root)
        if len(cluster) < 2:
            continue
        program, outer = build_program(fgraph, cluster, root, position)
        if len(outer) > MAX_INPUTS or not outer:
            continue
        out = root.outputs[0]
        op = FusedElemwise(program, (out.type,), tuple(v.type for v in outer))
        new = op.make_node(*outer).outputs[0]
        new.owner.tag.trace = getattr(root.tag, "trace", None)
        fgraph.replace(out, new, reason="fuse_elemwise")
        log.applied.append(("fuse", "fuse_elemwise", f"{len(cluster)} nodes"))
        changed = True
    return changed


def _reduce_producer(fgraph: FunctionGraph, node: Apply, position: dict) -> tuple | None:
    """(program, outer inputs) of the elementwise producer of a CAReduce's input, when that
    producer can be fused into it: an Elemwise or single-output FusedElemwise of the same
    rank whose result nothing else uses (not even as a graph output)."""
    x = node.inputs[0]
    p = x.owner
    if p is None or len(p.outputs) != 1 or not isinstance(p.op, (Elemwise, FusedElemwise)):
        return None
    if any(c is not node for c, _ in fgraph.clients.get(x, [])):
        return None
    if isinstance(p.op, FusedElemwise):
        program, outer = p.op.program, list(p.inputs)
    else:
        program, outer = build_program(fgraph, {p}, p, position)   # inlines scalar constants
    if (len(program[2]) != 1 or not outer or len(outer) > MAX_INPUTS
            or any(v.ndim != x.ndim for v in outer)):
        return None
    return program, outer


def fuse_reduce_pass(fgraph: FunctionGraph, log: RewriteLog) -> bool:
    """Fuse into each CAReduce the elementwise node (plain or already fused) that computes
    its input, when the reduction is that result's only client."""
    changed = False
    order = fgraph.toposort()
    position = {n: k for k, n in enumerate(order)}
    for node in order:
        if node not in fgraph.apply_nodes or type(node.op) is not CAReduce:
            continue
        found = _reduce_producer(fgraph, node, position)
        if found is None:
            continue
        program, outer = found
        x, out = node.inputs[0], node.outputs[0]
        op = FusedReduce(program, tuple(v.type for v in outer), x.type, node.op)
        new = op.make_node(*outer).outputs[0]
        if new.type != out.type:
            continue
        new.owner.tag.trace = getattr(node.tag, "trace", None)
        fgraph.replace(out, new, reason="fuse_reduce")
        log.applied.append(("fuse", "fuse_reduce", f"{len(program[1])} steps into {node.op}"))
        changed = True
    return changed


FUSE = [GraphPass("fuse_elemwise", fuse_pass), GraphPass("fuse_reduce", fuse_reduce_pass)]
