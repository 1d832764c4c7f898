"""Derivatives of ``Scan``: backpropagation through time (reverse) and forward mode.

Both rules build a new scan with ``scan`` itself, so their results are ordinary graphs that
can be compiled, printed and differentiated again.

Reverse (``scan_l_op``): a scan walks the steps backwards. At forward step ``t`` it
takes the body's vector-Jacobian product with the cotangent of each output, reading the
outputs the forward scan stored rather than recomputing them (only intermediate values a
derivative needs are recomputed): the output's own gradient plus what later steps sent back. A
recurrent output with ``m`` taps carries the ``m`` pending cotangents of its ``m`` previous
values as a state; non-sequences accumulate their gradient in a state; sequence slices get
their gradient per step. With ``truncate_gradient = k`` only the last ``k`` steps are walked
(Theano's truncated BPTT): earlier sequence entries and the initial states get zero.

Forward (``scan_r_op``): a scan runs the body and its Jacobian-vector product side by side,
the tangents of the recurrent outputs being extra recurrent states.

A scan keeping only the last states of an output (``store_last``, set by a rewrite) is
differentiated through the same loop keeping whole trajectories: the reverse rule needs every
state, and the last ``L`` states' cotangents are placed at the end of the trajectory's.
"""
from __future__ import annotations

import functools
from collections import OrderedDict

from ..graph.basic import clone_replace
from ..graph.null import disconnected_type, grad_not_implemented
from ..ops import api as A
from ..ops.scan import scan
from ..ops.scan_op import Scan


def _is_float(v) -> bool:
    return v.dtype[0] in "fc"


def _rev(x):
    return x[::-1]


def _last(trajectory, initial):
    """The final state of a trajectory, or ``initial`` when there were no steps."""
    return A.concatenate([A.shape_padleft(initial), trajectory], axis=0)[-1]


def _embed(g, init, m: int):
    """The gradient of a whole initial buffer whose first ``m`` entries got gradient ``g``."""
    if init.type.shape[0] == m:
        return g
    return A.set_subtensor(A.zeros_like(init)[:m], g)


def _positions(op: Scan) -> tuple:
    """Outer input positions of the sequences, initial states and non-sequences."""
    seqs = list(range(1, 1 + op.n_seqs))
    inits = list(range(1 + op.n_seqs, 1 + op.n_seqs + op.n_rec))
    first_p = 1 + op.n_seqs + op.n_rec + op.n_shared
    return seqs, inits, list(range(first_p, first_p + op.n_nonseqs))


def scan_l_op(op: Scan, inputs: list, outputs: list, output_grads: list) -> list:
    """Gradients of the outer inputs of a Scan node (backpropagation through time)."""
    if any(op.store_last):
        return _l_op_of_full_trajectories(op, inputs, output_grads)
    n, seqs, inits, _, nonseqs = op.split_outer_inputs(inputs)
    rec_outs, nit_outs, _ = op.split_outer_outputs(outputs)
    g_rec, g_nit, _ = op.split_outer_outputs(output_grads)
    results = [disconnected_type() for _ in inputs]
    diff_outs = [i for i, o in enumerate(rec_outs + nit_outs) if _is_float(o)]
    connected = set().union(*(op.connections[i] for i in diff_outs)) if diff_outs else set()
    wanted = sorted(pos for pos in connected if _is_float(inputs[pos]))
    if not wanted:
        return results
    if set(op.outputs_using_shared_states()) & set(diff_outs):
        for pos in wanted:
            results[pos] = grad_not_implemented(op, pos, inputs[pos], "The outputs depend on a shared variable "
                                                "that the loop updates; its value at each step is not kept.")
        return results
    seq_pos, init_pos, p_pos = _positions(op)
    plan = _Plan(op, [j for j, pos in enumerate(seq_pos) if pos in wanted],
                 [k for k, o in enumerate(rec_outs) if _is_float(o)],
                 [i for i, o in enumerate(nit_outs) if _is_float(o)],
                 [p for p, pos in enumerate(p_pos) if pos in wanted])
    steps = n if op.truncate_gradient == -1 else A.minimum(n, op.truncate_gradient)
    sequences = plan.backward_sequences(n, seqs, inits, rec_outs, nit_outs, g_rec, g_nit)
    carry0 = {k: A.zeros_like(inits[k][:op.mintaps[k]]) for k in plan.recs}
    acc0 = {p: A.zeros_like(nonseqs[p]) for p in plan.params}
    infos = [carry0[k] for k in plan.recs] + [acc0[p] for p in plan.params] + [None] * plan.n_seq_grads
    outs, _ = scan(plan.step, sequences=sequences, outputs_info=infos, non_sequences=nonseqs, n_steps=steps,
                   name=f"grad_of_{op.name}", strict=True, return_list=True)
    it = iter(outs)
    for k in plan.recs:
        g = _rev(_last(next(it), carry0[k]))
        if init_pos[k] in wanted:
            if op.truncate_gradient != -1:
                g = A.switch(A.eq(steps, n), g, A.zeros_like(g))
            results[init_pos[k]] = _embed(g, inits[k], op.mintaps[k])
    for p in plan.params:
        results[p_pos[p]] = _last(next(it), acc0[p])
    for j in plan.seqs:
        g = A.zeros_like(seqs[j])
        for off in op.seq_offsets[j]:
            g = A.inc_subtensor(g[n - steps + off:n + off], _rev(next(it)))
        results[seq_pos[j]] = g
    return results


def _l_op_of_full_trajectories(op: Scan, inputs: list, output_grads: list) -> list:
    """``scan_l_op`` of a scan keeping the last ``L`` states of some outputs: the loop is run
    again keeping every state, and the cotangent of the last ``min(L, n)`` states goes to the
    end of the cotangent of the whole trajectory (the earlier states get zero)."""
    full_op = op.with_store_last((0,) * op.n_rec)
    full = full_op(*inputs)
    full = full if isinstance(full, list) else [full]
    grads = list(output_grads)
    for k, keep in enumerate(op.store_last):
        if keep:
            traj, g = full[k], grads[k]
            grads[k] = A.set_subtensor(A.zeros_like(traj)[A.shape(traj)[0] - A.shape(g)[0]:], g)
    return scan_l_op(full_op, inputs, full, grads)


class _Plan:
    """Which gradients the backward scan computes, and its step function."""

    def __init__(self, op: Scan, seqs: list, recs: list, nits: list, params: list):
        self.op, self.seqs, self.recs, self.nits, self.params = op, seqs, recs, nits, params
        self.n_seq_grads = sum(len(op.seq_offsets[j]) for j in seqs)

    def backward_sequences(self, n, seqs: list, inits: list, rec_outs: list, nit_outs: list, g_rec: list,
                           g_nit: list) -> list:
        """Per step, walking backwards: the body's sequence slices and state taps, the
        gradients of the float outputs, then the stored values of those outputs (so the step
        reads them instead of recomputing the body)."""
        op = self.op
        out = [_rev(s[off:off + n]) for s, offs in zip(seqs, op.seq_offsets) for off in offs]
        for init, traj, m, taps in zip(inits, rec_outs, op.mintaps, op.rec_taps):
            full = A.concatenate([init[:m], traj], axis=0)
            out.extend(_rev(full[m + tap:m + tap + n]) for tap in taps)
        out += [_rev(g_rec[k]) for k in self.recs] + [_rev(g_nit[i]) for i in self.nits]
        return out + [_rev(rec_outs[k][:n]) for k in self.recs] + [_rev(nit_outs[i][:n]) for i in self.nits]

    def step(self, *args):
        """One backward step: cotangents in, new carries, accumulators and slice gradients out."""
        from .gradient import grad
        op = self.op
        it = iter(args)
        seq_vals = [[next(it) for _ in offs] for offs in op.seq_offsets]
        tap_vals = [[next(it) for _ in taps] for taps in op.rec_taps]
        g_rec = {k: next(it) for k in self.recs}
        g_nit = {i: next(it) for i in self.nits}
        stored = [next(it) for _ in self.recs] + [next(it) for _ in self.nits]
        carries = {k: next(it) for k in self.recs}
        accs = {p: next(it) for p in self.params}
        params = list(it)
        rep = {}
        for inner, vals in zip(op.inner_seqs + op.inner_taps, seq_vals + tap_vals):
            rep.update(zip(inner, vals))
        rep.update(zip(op.inner_nonseqs, params))
        body = clone_replace([op.inner_rec_outs[k] for k in self.recs] + [op.inner_nit_outs[i] for i in self.nits],
                             rep, strict=False)
        cotangents = [g_rec[k] + carries[k][0] for k in self.recs] + [g_nit[i] for i in self.nits]
        cost = functools.reduce(A.add, [A.sum(o * c) for o, c in zip(body, cotangents)])
        wrt = ([v for j in self.seqs for v in seq_vals[j]] + [v for k in self.recs for v in tap_vals[k]]
               + [params[p] for p in self.params])
        grads = iter(grad(cost, wrt, disconnected_inputs="ignore", return_disconnected="zero"))
        seq_grads = [next(grads) for j in self.seqs for _ in seq_vals[j]]
        new_carries = []
        for k in self.recs:
            c = carries[k]
            shifted = A.concatenate([c[1:], A.zeros_like(c[:1])], axis=0)
            for tap in op.rec_taps[k]:
                shifted = A.inc_subtensor(shifted[-1 - tap], next(grads))
            new_carries.append(shifted)
        new_accs = [accs[p] + next(grads) for p in self.params]
        return _read_stored(new_carries + new_accs + seq_grads, body, stored, set(rep.values()))


def _read_stored(results: list, body: list, stored: list, step_inputs: set) -> list:
    """``results`` with each computed body output replaced by its value stored by the forward
    scan, so the backward step does not recompute the forward body where the derivative rules
    only need its outputs (e.g. ``tanh``'s derivative reads ``1 - z * z``). Values that are
    step inputs or constants are left alone; intermediate values the rules still need are
    recomputed."""
    rep = {}
    for b, s in zip(body, stored):
        if b.owner is None or b in step_inputs or b in rep:
            continue
        if b.type != s.type:
            s = A.cast(s, b.dtype) if s.dtype != b.dtype else s
            if getattr(s.type, "shape", None) != getattr(b.type, "shape", None):
                s = A.specify_shape(s, b.type.shape) if hasattr(A, "specify_shape") else s
        rep[b] = s
    return clone_replace(results, rep, strict=False) if rep else results


def scan_r_op(op: Scan, inputs: list, eval_points: list) -> list:
    """Tangents of a Scan node's outputs: a scan of the body and its Jacobian-vector product."""
    n, seqs, inits, shared, nonseqs = op.split_outer_inputs(inputs)
    _, ev_seqs, ev_inits, _, ev_params = op.split_outer_inputs(eval_points)
    n_out = op.n_rec + op.n_nit + op.n_shared
    if all(e is None for e in ev_seqs + ev_inits + ev_params):
        return [None] * n_out
    if any(not getattr(h, "is_shared", False) for h in shared):
        raise NotImplementedError(f"R_op of {op}: a state updated in the loop is not a shared variable")
    recs = [k for k, o in enumerate(op.inner_rec_outs) if _is_float(o)]
    nits = [i for i, o in enumerate(op.inner_nit_outs) if _is_float(o)]
    sequences = [s[off:] for s, offs in zip(seqs, op.seq_offsets) for off in offs]
    sequences += [e[off:] for e, offs in zip(ev_seqs, op.seq_offsets) if e is not None for off in offs]
    infos = [_state_info(op, k, inits[k]) for k in range(op.n_rec)]
    infos += [_state_info(op, k, A.cast(ev_inits[k], inits[k].dtype) if ev_inits[k] is not None
                          else A.zeros_like(inits[k])) for k in recs]
    infos += [None] * (op.n_nit + len(nits))
    step = _TangentStep(op, recs, nits, [e is not None for e in ev_seqs], [e is not None for e in ev_params],
                        shared)
    outs, _ = scan(step, sequences=sequences, outputs_info=infos,
                   non_sequences=nonseqs + [e for e in ev_params if e is not None], n_steps=n,
                   name=f"rop_of_{op.name}", strict=True, return_list=True)
    tangents = {k: t[-op.store_last[k]:] if op.store_last[k] else t
                for k, t in zip(recs, outs[op.n_rec:op.n_rec + len(recs)])}
    nit_tangents = dict(zip(nits, outs[op.n_rec + len(recs) + op.n_nit:]))
    return ([tangents.get(k) for k in range(op.n_rec)] + [nit_tangents.get(i) for i in range(op.n_nit)]
            + [None] * op.n_shared)


def _state_info(op: Scan, k: int, init):
    """``outputs_info`` entry giving recurrent output ``k`` the initial buffer ``init``."""
    if op.rec_taps[k] == (-1,):
        return init[0]
    return {"initial": init, "taps": list(op.rec_taps[k])}


class _TangentStep:
    """The step of the forward-mode scan: the body, its tangents, and the shared updates."""

    def __init__(self, op: Scan, recs: list, nits: list, seq_has_ev: list, param_has_ev: list, shared: list):
        self.op, self.recs, self.nits = op, recs, nits
        self.seq_has_ev, self.param_has_ev, self.shared = seq_has_ev, param_has_ev, shared

    def __call__(self, *args):
        from .gradient import Rop
        op = self.op
        it = iter(args)
        seq_vals = [[next(it) for _ in offs] for offs in op.seq_offsets]
        seq_evs = [[next(it) for _ in offs] if has else None for offs, has in zip(op.seq_offsets, self.seq_has_ev)]
        tap_vals = [[next(it) for _ in taps] for taps in op.rec_taps]
        tap_evs = {k: [next(it) for _ in op.rec_taps[k]] for k in self.recs}
        params = [next(it) for _ in op.inner_nonseqs]
        param_evs = [next(it) if has else None for has in self.param_has_ev]
        rep = dict(zip(op.inner_shared, self.shared))
        for inner, vals in zip(op.inner_seqs + op.inner_taps, seq_vals + tap_vals):
            rep.update(zip(inner, vals))
        rep.update(zip(op.inner_nonseqs, params))
        body = clone_replace(list(op.fgraph.outputs), rep, strict=False)
        rec_out, nit_out = body[:op.n_rec], body[op.n_rec:op.n_rec + op.n_nit]
        wrt, evs = [], []
        for vals, e in zip(seq_vals, seq_evs):
            if e is not None:
                wrt += vals
                evs += e
        for k in self.recs:
            wrt += tap_vals[k]
            evs += tap_evs[k]
        for v, e in zip(params, param_evs):
            if e is not None:
                wrt.append(v)
                evs.append(e)
        targets = [rec_out[k] for k in self.recs] + [nit_out[i] for i in self.nits]
        tangents = Rop(targets, wrt, evs) if targets else []
        tangents = [A.cast(t, o.dtype) if t.dtype != o.dtype else t for t, o in zip(tangents, targets)]
        updates = OrderedDict(zip(self.shared, body[op.n_rec + op.n_nit:]))
        return rec_out + tangents[:len(self.recs)] + nit_out + tangents[len(self.recs):], updates
