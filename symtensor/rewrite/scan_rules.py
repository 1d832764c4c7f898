"""Rewrites of ``Scan`` nodes.

``scan_drop_unused_outputs``: a recurrent or mapped output of a scan that nothing uses is
removed from the node and from its body, and the body nodes only it needed go with it. The
gradient of a scan computes the gradient of every differentiable input (e.g. of the input
sequence of an RNN) whether or not it is asked for; this is what removes the unasked ones.
A recurrent output whose state a kept output reads is kept, and so is every shared update."""
from __future__ import annotations

from ..graph.basic import Apply, ancestors
from ..graph.fg import FunctionGraph
from ..ops.scan_op import Scan
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
                  constant=op.constant)
    n_steps, seqs, inits, shared, nonseqs = op.split_outer_inputs(node.inputs)
    new_outs = new_op(n_steps, *(seqs + [inits[k] for k in recs] + shared + nonseqs))
    new_outs = new_outs if isinstance(new_outs, list) else [new_outs]
    old_rec, old_nit, old_shared = op.split_outer_outputs(node.outputs)
    old = [old_rec[k] for k in recs] + [old_nit[i] for i in nits] + old_shared
    if any(o.type != n.type for o, n in zip(old, new_outs)):
        return None
    return dict(zip(old, new_outs))


SCAN_CANONICALIZE = [NodePass("scan_canonicalize", [scan_drop_unused_outputs])]
