"""Rewrites of ``Scan`` nodes.

``scan_drop_unused_outputs``: a recurrent or mapped output of a scan that nothing uses is
removed from the node and from its body, and the body nodes only it needed go with it. The
gradient of a scan computes the gradient of every differentiable input (e.g. of the input
sequence of an RNN) whether or not it is asked for; this is what removes the unasked ones.
A recurrent output whose state a kept output reads is kept, and so is every shared update.

``scan_hoist_invariants``: body nodes whose inputs are all non-sequences, constants or
outputs of such nodes (so they compute the same value at every step) are computed once
outside the loop, and their values passed in as new non-sequences. Only tensor nodes that
depend on at least one non-sequence and destroy nothing move (nodes reading a random state,
or computing from constants only, stay); a node producing an inner output stays in the body.

``scan_keep_last_states``: a recurrent output whose every client is a basic index reading only
its last ``L`` entries (``out[-1]``, ``out[-k]`` with ``k <= L``, ``out[-L:]``, ``out[-L:-1]``, ...)
gets ``store_last = L``: the loop keeps a ring of states instead of the whole trajectory, and
the clients, which read ``out[-L:]`` = the new output, are unchanged. The gradient of a scan
reads the whole trajectory (as a sequence of the backward scan), so it never fires there.

``last_entries_of_join``: ``join(0, x1, ..., xn)[-k]`` (any basic index reading only the last
``k`` entries along axis 0) -> the same index of ``join(0, x1[-k:], ..., xn[-k:])``. The
gradient of a scan returns ``join(initial, trajectory)[-1]`` for the accumulated gradient of a
non-sequence; after this rule only one step is copied, and the backward scan keeps only the
last state of its accumulators."""
from __future__ import annotations

from ..graph.basic import Apply, Constant, ancestors, clone_replace
from ..graph.fg import OUTPUT, FunctionGraph
from ..graph.type import TensorType
from ..ops.join import Join
from ..ops.scan_op import Scan
from ..ops.subtensor import Subtensor
from .engine import NodePass, node_rewriter


def _kept_outputs(op: Scan, used: list) -> list:
    """Indices (recurrent, then mapped) of the outputs to keep: the used ones, and every
    recurrent output whose taps a kept output (or a shared update) reads, to a fixed point."""
    n_out = op.n_rec + op.n_nit
    inner_outs = list(op.fgraph.outputs)
    tap_owner = {v: k for k, taps in enumerate(op.inner_taps) for v in taps}
    keep = {i for i in range(n_out) if used[i]}
    roots = [inner_outs[i] for i in keep] + list(op.inner_shared_outs)
    seen_roots: set = set()
    while roots:
        fresh = [r for r in roots if r not in seen_roots]
        seen_roots.update(fresh)
        roots = []
        for v in ancestors(fresh, blockers=list(op.fgraph.inputs)) if fresh else ():
            k = tap_owner.get(v)
            if k is not None and k not in keep:
                keep.add(k)
                roots.append(inner_outs[k])
    return sorted(keep)


@node_rewriter([Scan], name="scan_drop_unused_outputs")
def scan_drop_unused_outputs(fgraph: FunctionGraph, node: Apply):
    """Scan(..) with outputs nobody uses -> a Scan without them (and without the body nodes
    only they needed). Declines when every output is used or needed by a kept one."""
    op = node.op
    n_out = op.n_rec + op.n_nit
    used = [bool(fgraph.clients.get(o)) for o in node.outputs[:n_out]]
    if all(used):
        return None
    keep = _kept_outputs(op, used)
    if len(keep) == n_out:
        return None
    recs = [k for k in keep if k < op.n_rec]
    nits = [i - op.n_rec for i in keep if i >= op.n_rec]
    if not recs and not nits and not op.n_shared:
        return None   # nothing left to compute (the node would have been pruned anyway)
    ins = op.fgraph.inputs
    n_seq_in = sum(len(o) for o in op.seq_offsets)
    inner_ins = list(ins[:n_seq_in]) + [v for k in recs for v in op.inner_taps[k]]
    inner_ins += list(op.inner_shared) + list(op.inner_nonseqs)
    inner_outs = ([op.inner_rec_outs[k] for k in recs] + [op.inner_nit_outs[i] for i in nits]
                  + list(op.inner_shared_outs))
    new_op = Scan(inner_ins, inner_outs, op.seq_offsets, op.seq_spans, [op.rec_taps[k] for k in recs],
                  len(nits), op.n_shared, truncate_gradient=op.truncate_gradient, name=op.name,
                  seq_labels=op.seq_labels, out_labels=[op.out_labels[i] for i in keep], mode=op.mode,
                  constant=op.constant, store_last=[op.store_last[k] for k in recs])
    n_steps, seqs, inits, shared, nonseqs = op.split_outer_inputs(node.inputs)
    new_outs = new_op(n_steps, *(seqs + [inits[k] for k in recs] + shared + nonseqs))
    new_outs = new_outs if isinstance(new_outs, list) else [new_outs]
    old_rec, old_nit, old_shared = op.split_outer_outputs(node.outputs)
    old = [old_rec[k] for k in recs] + [old_nit[i] for i in nits] + old_shared
    if any(o.type != n.type for o, n in zip(old, new_outs)):
        return None
    return dict(zip(old, new_outs))


def _hoistable_nodes(op: Scan) -> tuple:
    """(invariant nodes to hoist, in topological order; the set of every invariant variable)."""
    nonseqs = set(op.inner_nonseqs)
    inner_outs = set(op.fgraph.outputs)
    invariant: set = set(nonseqs)      # variables with the same value at every step
    dep: set = set(nonseqs)            # invariant variables that depend on a non-sequence
    hoist = []
    for node in op.fgraph.toposort():
        if not node.inputs or getattr(node.op, "destroy_map", None):
            continue
        if any(not isinstance(v.type, TensorType) for v in list(node.inputs) + list(node.outputs)):
            continue
        if not all(isinstance(i, Constant) or i in invariant for i in node.inputs):
            continue
        invariant.update(node.outputs)
        if any(i in dep for i in node.inputs):
            dep.update(node.outputs)
            if not any(o in inner_outs for o in node.outputs):
                hoist.append(node)
    return hoist, invariant


@node_rewriter([Scan], name="scan_hoist_invariants")
def scan_hoist_invariants(fgraph: FunctionGraph, node: Apply):
    """Scan whose body computes f(non-sequences) -> f computed outside, its value passed in as
    a non-sequence. Declines when the body has no such node (after dropping nodes that read a
    random state, destroy an input, compute only from constants or produce an inner output)."""
    op = node.op
    hoist, _ = _hoistable_nodes(op)
    if not hoist:
        return None
    hoisted = set(hoist)
    # the frontier: outputs of hoisted nodes read by a node that stays in the body
    frontier = []
    for h in hoist:
        for o in h.outputs:
            if any(not isinstance(c, Apply) or c not in hoisted
                   for c, _ in op.fgraph.clients.get(o, [])):
                frontier.append(o)
    if not frontier:
        return None
    n_steps, seqs, inits, shared, nonseqs = op.split_outer_inputs(node.inputs)
    # the hoisted graph, cloned outside with the outer non-sequences (every node cloned, so
    # no Apply of the body is shared with the outer graph)
    memo = dict(zip(op.inner_nonseqs, nonseqs))
    for inner in op.fgraph.toposort():
        if inner in hoisted or (all(isinstance(i, Constant) or i in memo for i in inner.inputs)
                                and _feeds(inner, hoisted, op.fgraph)):
            new = inner.clone_with_new_inputs([memo.get(i, i) for i in inner.inputs], strict=False)
            memo.update(zip(inner.outputs, new.outputs))
    outer_new = [memo[v] for v in frontier]
    # the new body: the frontier variables become inner inputs (new non-sequences)
    fresh = [v.type() for v in frontier]
    inner_outs = clone_replace(list(op.fgraph.outputs), dict(zip(frontier, fresh)), strict=False)
    n_fixed = len(op.fgraph.inputs) - len(op.inner_nonseqs)
    used = set(ancestors(inner_outs, blockers=list(op.fgraph.inputs) + fresh))
    keep_ns = [k for k, v in enumerate(op.inner_nonseqs) if v in used]
    inner_ins = list(op.fgraph.inputs[:n_fixed]) + [op.inner_nonseqs[k] for k in keep_ns] + fresh
    try:
        new_op = Scan(inner_ins, inner_outs, op.seq_offsets, op.seq_spans, op.rec_taps, op.n_nit, op.n_shared,
                      truncate_gradient=op.truncate_gradient, name=op.name, seq_labels=op.seq_labels,
                      out_labels=op.out_labels, mode=op.mode, constant=op.constant, store_last=op.store_last)
        new_outs = new_op(n_steps, *(seqs + inits + shared + [nonseqs[k] for k in keep_ns] + outer_new))
    except (TypeError, ValueError):
        return None
    new_outs = new_outs if isinstance(new_outs, list) else [new_outs]
    if len(new_outs) != len(node.outputs) or any(o.type != n.type for o, n in zip(node.outputs, new_outs)):
        return None
    return dict(zip(node.outputs, new_outs))


def _feeds(inner: Apply, hoisted: set, fgraph: FunctionGraph) -> bool:
    """Whether a constant-only body node is an ancestor of a hoisted node."""
    stack, seen = [inner], set()
    while stack:
        n = stack.pop()
        for o in n.outputs:
            for c, _ in fgraph.clients.get(o, []):
                if isinstance(c, Apply) and c not in seen:
                    if c in hoisted:
                        return True
                    seen.add(c)
                    stack.append(c)
    return False


def _last_entries_read(idx_list: tuple) -> int | None:
    """How many of the last entries along axis 0 the basic index ``idx_list`` reads, when it
    reads only such entries whatever the length: ``-k`` reads ``k``; a slice ``[-a:]``,
    ``[-a:-b]`` or ``[-a::s]`` (``s > 0``) reads ``a``; ``[-a:-b:-s]`` reads ``max(a, b - 1)``
    (it walks down from ``-a`` to just above ``-b``). None for anything else (symbolic bounds, ``[:]``,
    ``[0]``, a reversed slice running to the start)."""
    entries = [e for e in idx_list if e is not None]     # newaxis entries consume no axis
    if not entries:
        return None
    e = entries[0]
    if isinstance(e, int):
        return -e if e < 0 else None
    if not (isinstance(e, tuple) and e[0] == "slice"):
        return None
    _, start, stop, step = e
    if step is None or (isinstance(step, int) and step > 0):
        if isinstance(start, int) and start < 0 and (stop is None or (isinstance(stop, int) and stop < 0)):
            return -start
        return None
    if isinstance(step, int) and step < 0 and isinstance(start, int) and start < 0 \
            and isinstance(stop, int) and stop < 0:
        return max(-start, -stop - 1)
    return None


def _last_needed(fgraph: FunctionGraph, var) -> int | None:
    """The number of last entries of ``var`` its clients read, or None when one reads more (a
    graph output, a non-basic index, a shape, the gradient's backward scan...)."""
    needed = 0
    clients = fgraph.clients.get(var, [])
    for client, i in clients:
        if client is OUTPUT or not isinstance(client, Apply) or type(client.op) is not Subtensor or i != 0:
            return None
        k = _last_entries_read(client.op.idx_list)
        if k is None:
            return None
        needed = max(needed, k)
    return needed or None


@node_rewriter([Scan], name="scan_keep_last_states")
def scan_keep_last_states(fgraph: FunctionGraph, node: Apply):
    """Scan whose recurrent output is only read as ``out[-k]`` / ``out[-L:]`` -> the same Scan
    keeping only the last ``L`` states of that output (``store_last``). Declines when every
    such output already keeps no more than its clients read, or when one client reads more."""
    op = node.op
    new = list(op.store_last)
    for k, out in enumerate(node.outputs[:op.n_rec]):
        need = _last_needed(fgraph, out)
        if need is not None and (new[k] == 0 or need < new[k]):
            new[k] = need
    if tuple(new) == op.store_last:
        return None
    new_outs = op.with_store_last(new)(*node.inputs)
    new_outs = new_outs if isinstance(new_outs, list) else [new_outs]
    if any(o.type != n.type for o, n in zip(node.outputs, new_outs)):
        return None
    return dict(zip(node.outputs, new_outs))


def _reads_at_most_last(var, k: int) -> bool:
    """Whether ``var`` is a slice ``x[-m:]`` (``m <= k``) along axis 0."""
    node = var.owner
    if node is None or type(node.op) is not Subtensor or not node.op.idx_list:
        return False
    e = node.op.idx_list[0]
    return (isinstance(e, tuple) and e[0] == "slice" and isinstance(e[1], int) and -k <= e[1] < 0
            and e[2] is None and e[3] is None)


@node_rewriter([Subtensor], name="last_entries_of_join")
def last_entries_of_join(fgraph: FunctionGraph, node: Apply):
    """``join(0, *xs)[-k]`` -> ``join(0, *[x[-k:] for x in xs])[-k]`` (see the module docstring)."""
    k = _last_entries_read(node.op.idx_list)
    join = node.inputs[0].owner
    if k is None or join is None or type(join.op) is not Join or join.op.axis != 0:
        return None
    pieces = list(join.inputs)
    if all(_reads_at_most_last(p, k) for p in pieces):
        return None
    tails = [p if _reads_at_most_last(p, k) else p[-k:] for p in pieces]
    return [node.op(join.op(*tails), *node.inputs[1:])]


SCAN_CANONICALIZE = [NodePass("scan_canonicalize", [scan_drop_unused_outputs, scan_hoist_invariants,
                                                    last_entries_of_join, scan_keep_last_states])]
