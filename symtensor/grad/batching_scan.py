"""The batching rule of ``Scan``: one loop over time whose body works on the whole batch.

Outer sequences and initial states are time-major (``(T, ...)``); a batched one arrives as
``(B, T, ...)`` and enters the new loop as ``(T, B, ...)``, so that each step reads a batched
slice ``(B, ...)``. Batched non-sequences keep their batch axis in front. The body is
vectorized with those inner inputs batched; a recurrent output that comes out batched makes
its state batched too (its initial value is then repeated over the batch), until that is
stable. The trajectories come back as ``(T, B, ...)`` and are returned batch-first.
Bodies with random states or with batched shared variables, and batched step counts, have
no batched loop here (the rule declines).
"""
from __future__ import annotations

from ..graph.basic import Apply, Variable
from ..graph.type import TensorType
from ..ops import api as A
from ..ops.scan_op import Scan
from .batching_rules import is_batched
from .vectorize import batch_size, register_vectorize, vectorize_graph


def _swap01(v: Variable) -> Variable:
    return A.dimshuffle(v, [1, 0] + list(range(2, v.ndim)))


def _batched_type(v: Variable) -> TensorType:
    return TensorType(v.dtype, shape=(None,) + v.type.shape)


def _vectorize_body(op: Scan, batched_inner: set) -> tuple:
    """(new inner inputs, their vectorized outputs) with the inner inputs in ``batched_inner``
    given a leading batch axis."""
    inputs = list(op.fgraph.inputs)
    new_inputs = [_batched_type(v)(v.name) if v in batched_inner else v for v in inputs]
    replace = {old: new for old, new in zip(inputs, new_inputs) if old is not new}
    outs = vectorize_graph(list(op.fgraph.outputs), replace) if replace else list(op.fgraph.outputs)
    return new_inputs, outs


@register_vectorize(Scan)
def _vectorize_scan(op: Scan, node: Apply, *inputs: Variable) -> list:
    """The same loop over time on batched steps (see the module docstring)."""
    if any(not isinstance(v.type, TensorType) for v in op.fgraph.inputs):
        raise NotImplementedError(f"{op}: a body with random states (one draw per sample would change the "
                                  f"random stream)")
    n_steps, seqs, inits, shared, nonseqs = op.split_outer_inputs(inputs)
    _, seqs0, inits0, shared0, nonseqs0 = op.split_outer_inputs(node.inputs)
    if n_steps.ndim:
        raise NotImplementedError(f"{op}: the number of steps differs per sample")
    if any(is_batched(s, s0) for s, s0 in zip(shared, shared0)):
        raise NotImplementedError(f"{op}: a batched shared variable updated by the loop")
    size = batch_size(inputs, node.inputs)

    batched = set()
    for s, s0, inner in zip(seqs, seqs0, op.inner_seqs):
        if is_batched(s, s0):
            batched.update(inner)
    for p, p0, inner in zip(nonseqs, nonseqs0, op.inner_nonseqs):
        if is_batched(p, p0):
            batched.add(inner)
    rec_batched = [is_batched(i, i0) for i, i0 in zip(inits, inits0)]
    while True:   # a state whose update is batched must be batched: repeat until stable
        for k, taps in enumerate(op.inner_taps):
            if rec_batched[k]:
                batched.update(taps)
        new_inputs, outs = _vectorize_body(op, batched)
        grown = [b or o.ndim == o0.ndim + 1 for b, o, o0 in zip(rec_batched, outs, op.inner_rec_outs)]
        if grown == rec_batched:
            break
        rec_batched = grown
    shared_outs = outs[op.n_rec + op.n_nit:]
    if any(o.ndim != o0.ndim for o, o0 in zip(shared_outs, op.inner_shared_outs)):
        raise NotImplementedError(f"{op}: a shared variable's update depends on the batch")

    new_outs = list(outs)
    for k, (o, o0) in enumerate(zip(outs[:op.n_rec], op.inner_rec_outs)):
        if rec_batched[k] and o.ndim == o0.ndim:    # an unbatched update of a batched state
            new_outs[k] = A.alloc(o, size, *[A.shape(o)[i] for i in range(o.ndim)])

    outer_seqs = [_swap01(s) if is_batched(s, s0) else s for s, s0 in zip(seqs, seqs0)]
    outer_inits = []
    for init, init0, b in zip(inits, inits0, rec_batched):
        if is_batched(init, init0):
            init = _swap01(init)                     # (B, m, ...) -> (m, B, ...)
        elif b:                                      # repeated over the batch: (m, B, ...)
            dims = [A.shape(init)[i] for i in range(init.ndim)]
            init = A.alloc(A.dimshuffle(init, [0, "x"] + list(range(1, init.ndim))), dims[0], size, *dims[1:])
        outer_inits.append(init)

    extra = {"store_last": op.store_last} if hasattr(op, "store_last") else {}
    loop = Scan(new_inputs, new_outs, op.seq_offsets, op.seq_spans, op.rec_taps, op.n_nit, op.n_shared,
                truncate_gradient=op.truncate_gradient, name=op.name, seq_labels=op.seq_labels,
                out_labels=op.out_labels, mode=op.mode, constant=op.constant, **extra)
    results = loop(n_steps, *outer_seqs, *outer_inits, *shared, *nonseqs)
    results = results if isinstance(results, list) else [results]
    trajectories = op.n_rec + op.n_nit
    return [_swap01(r) if k < trajectories and r.ndim == o.ndim + 1 else r
            for k, (r, o) in enumerate(zip(results, node.outputs))]
