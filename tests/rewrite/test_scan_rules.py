"""scan_drop_unused_outputs: the Scan node and its body before and after (fewer outputs, fewer
inner nodes), unchanged results against FAST_COMPILE in every mode, the cases where it declines
(a recurrent state a kept output reads, shared updates, every output used), its exclusion by
name, and the gradient scan of an RNN, whose unused input-sequence gradient it removes. Then
scan_hoist_invariants, and scan_keep_last_states: the states kept for each set of clients reading
the last entries, where it declines, results in every mode (mit-sot, go_backwards, 0/1 steps),
and the gradient of a scan read at its last state, which must keep the whole trajectory."""
import numpy as np
import pytest

import symtensor as T
from symtensor.graph.fg import FunctionGraph
from symtensor.ops.scan import scan
from symtensor.ops.scan_op import Scan
from symtensor.rewrite import optimize
from symtensor.rewrite.pipeline import known_names
from symtensor.rewrite.scan_rules import SCAN_CANONICALIZE

from . import applied, rewrite_and_compare

RULE = "scan_drop_unused_outputs"


def scans(fg):
    return [n for n in fg.toposort() if isinstance(n.op, Scan)]


def two_outputs():
    """h_t = tanh(x_t + h_{t-1} w) (recurrent) and y_t = exp(h_t) * 2 (mapped)."""
    x, h0, w = T.matrix("x"), T.vector("h0"), T.matrix("w")
    (h, y), _ = scan(lambda xt, hp, w_: [T.tanh(xt + T.dot(hp, w_)), T.exp(T.tanh(xt + T.dot(hp, w_))) * 2],
                     sequences=x, outputs_info=[h0, None], non_sequences=w)
    return [x, h0, w], h, y


def values(rng, steps=5, n=3):
    return [rng.standard_normal((steps, n)), rng.standard_normal(n), 0.5 * rng.standard_normal((n, n))]


def test_unused_mapped_output_is_dropped(rng):
    inputs, h, y = two_outputs()
    before = FunctionGraph(inputs, [h])
    (node,) = scans(before)
    fg, log = rewrite_and_compare(inputs, [h], values=values(rng), passes=SCAN_CANONICALIZE)
    assert applied(log) == [RULE]
    (new,) = scans(fg)
    assert len(new.outputs) == len(node.outputs) - 1 and new.op.n_nit == 0 and new.op.n_rec == 1
    assert len(new.op.fgraph.apply_nodes) < len(node.op.fgraph.apply_nodes)


def test_unused_recurrent_output_is_dropped(rng):
    inputs, h, y = two_outputs()
    before = FunctionGraph(inputs, [y])
    (node,) = scans(before)
    # y reads h_t (computed in the step), not h's state: h_{t-1} is read by y's own expression
    # through the tap, so h must stay here
    fg, log = rewrite_and_compare(inputs, [y], values=values(rng), passes=SCAN_CANONICALIZE)
    assert applied(log) == []
    # an independent state is dropped: a counter nobody uses
    x, h0, c0 = T.matrix("x"), T.vector("h0"), T.scalar("c0")
    (h, c), _ = scan(lambda xt, hp, cp: [T.tanh(xt + hp), cp + 1], sequences=x, outputs_info=[h0, c0])
    fg, log = rewrite_and_compare([x, h0, c0], [h], values=[rng.standard_normal((4, 3)),
                                                            rng.standard_normal(3), np.array(0.0)],
                                  passes=SCAN_CANONICALIZE)
    assert applied(log) == [RULE]
    (new,) = scans(fg)
    assert new.op.n_rec == 1 and len(new.inputs) == 1 + 1 + 1   # n_steps, x, h0


def test_declines_for_state_a_kept_output_reads(rng):
    x, a0, b0 = T.matrix("x"), T.vector("a0"), T.vector("b0")
    (a, b), _ = scan(lambda xt, ap, bp: [T.tanh(xt + ap), bp + ap * 2], sequences=x, outputs_info=[a0, b0])
    vals = [rng.standard_normal((4, 3)), rng.standard_normal(3), rng.standard_normal(3)]
    fg, log = rewrite_and_compare([x, a0, b0], [b], values=vals, passes=SCAN_CANONICALIZE)
    assert applied(log) == []
    assert scans(fg)[0].op.n_rec == 2


def test_declines_when_every_output_is_used(rng):
    inputs, h, y = two_outputs()
    fg, log = rewrite_and_compare(inputs, [h, y], values=values(rng), passes=SCAN_CANONICALIZE)
    assert applied(log) == []


def test_shared_updates_are_kept(mode, rng):
    s = T.shared(np.zeros(3), name="s")
    x, h0, c0 = T.matrix("x"), T.vector("h0"), T.scalar("c0")
    (h, c), upd = scan(lambda xt, hp, cp: ([T.tanh(xt + hp), cp + 1], {s: s + xt}),
                       sequences=x, outputs_info=[h0, c0])
    f = T.function([x, h0, c0], h, updates=upd, mode=mode)
    xv, hv = rng.standard_normal((4, 3)), rng.standard_normal(3)
    got = f(xv, hv, np.array(0.0))
    np.testing.assert_allclose(s.get_value(), xv.sum(0))
    s.set_value(np.zeros(3))
    ref = T.function([x, h0, c0], h, mode="FAST_COMPILE")(xv, hv, np.array(0.0))
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    # the graph: the counter goes, the shared update stays
    fg = FunctionGraph([x, h0, c0, s], [h] + list(upd.values()))
    optimize(fg, "fast_run")
    (node,) = scans(fg)
    assert node.op.n_shared == 1 and node.op.n_rec == 1


def test_results_unchanged_in_every_mode(mode, rng):
    inputs, h, y = two_outputs()
    vals = values(rng)
    got = T.function(inputs, [h[-1] * 3], mode=mode)(*vals)
    ref = T.function(inputs, [h[-1] * 3], mode="FAST_COMPILE")(*vals)
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-10)


def rnn_grad():
    x, h0, wx, wh = T.matrix("x"), T.vector("h0"), T.matrix("wx"), T.matrix("wh")
    h, _ = scan(lambda xt, hp, wx_, wh_: T.tanh(T.dot(xt, wx_) + T.dot(hp, wh_)), sequences=x,
                outputs_info=h0, non_sequences=[wx, wh])
    cost = T.sum(h ** 2)
    return [x, h0, wx, wh], T.grad(cost, [wx, wh])


def rnn_values(rng):
    return [rng.standard_normal((6, 4)), rng.standard_normal(3), 0.5 * rng.standard_normal((4, 3)),
            0.5 * rng.standard_normal((3, 3))]


def test_bptt_drops_the_unused_sequence_gradient(rng):
    inputs, grads = rnn_grad()
    before = FunctionGraph(inputs, grads)
    grad_before = [n for n in scans(before) if n.op.name.startswith("grad_of")]
    assert len(grad_before) == 1 and grad_before[0].op.n_nit == 1   # the gradient of x, per step
    fg, log = rewrite_and_compare(inputs, grads, values=rnn_values(rng), passes=SCAN_CANONICALIZE)
    assert RULE in applied(log)
    (g,) = [n for n in scans(fg) if n.op.name.startswith("grad_of")]
    assert g.op.n_nit == 0 and len(g.outputs) < len(grad_before[0].outputs)
    assert len(g.op.fgraph.apply_nodes) < len(grad_before[0].op.fgraph.apply_nodes)


def test_bptt_results_unchanged_in_every_mode(mode, rng):
    inputs, grads = rnn_grad()
    vals = rnn_values(rng)
    got = T.function(inputs, grads, mode=mode)(*vals)
    ref = T.function(inputs, grads, mode="FAST_COMPILE")(*vals)
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_excludable_by_name(rng):
    assert RULE in known_names()
    inputs, h, y = two_outputs()
    fg = FunctionGraph(inputs, [h])
    log = optimize(fg, "fast_run", excluded=[RULE])
    assert RULE not in applied(log)
    assert scans(fg)[0].op.n_nit == 1
    fg = FunctionGraph(inputs, [h])
    assert RULE in applied(optimize(fg, "fast_run"))
    assert scans(fg)[0].op.n_nit == 0


# --- scan_hoist_invariants -----------------------------------------------------------------------

HOIST = "scan_hoist_invariants"


def inner_op_names(node):
    names = []
    for n in node.op.fgraph.toposort():
        op = n.op
        names.append(op.scalar_op.name if hasattr(op, "scalar_op") else type(op).__name__)
    return names


def invariant_rnn():
    """h_t = tanh(x_t + h_{t-1} (exp(w) * 2)): exp(w) * 2 is the same at every step."""
    x, h0, w = T.matrix("x"), T.vector("h0"), T.matrix("w")
    h, _ = scan(lambda xt, hp, w_: T.tanh(xt + T.dot(hp, T.exp(w_) * 2)), sequences=x, outputs_info=h0,
                non_sequences=w)
    return [x, h0, w], h


def test_invariant_nodes_are_hoisted(rng):
    inputs, h = invariant_rnn()
    (before,) = scans(FunctionGraph(inputs, [h]))
    assert "exp" in inner_op_names(before)
    fg, log = rewrite_and_compare(inputs, [h], values=values(rng), passes=SCAN_CANONICALIZE)
    assert applied(log) == [HOIST]
    (after,) = scans(fg)
    names = inner_op_names(after)
    assert "exp" not in names and "mul" not in names and "tanh" in names and "Dot" in names
    assert len(after.op.fgraph.apply_nodes) < len(before.op.fgraph.apply_nodes)
    # exp(w) * 2 is computed once, outside, and passed in as the one non-sequence (w itself is
    # no longer read by the body)
    assert after.op.n_nonseqs == 1
    (ns,) = after.op.split_outer_inputs(after.inputs)[4]
    assert ns.owner is not None and ns.owner.op.scalar_op.name == "mul"
    assert any(getattr(n.op, "scalar_op", None) is not None and n.op.scalar_op.name == "exp"
               for n in fg.toposort())
    # a second run finds nothing more to hoist
    log2 = optimize(fg, "fast_run")
    assert HOIST not in applied(log2)


def test_mapped_and_shared_and_taps_are_kept(rng):
    """A map with two sequences taps, a mapped output and a non-sequence that is partly hoisted;
    w itself still read by the body stays a non-sequence."""
    x, w = T.matrix("x"), T.vector("w")
    y, _ = scan(lambda a, b, w_: (a - b) * T.sqrt(w_ ** 2 + 1) + w_,
                sequences=dict(input=x, taps=[0, 1]), non_sequences=w)
    vals = [rng.standard_normal((6, 3)), rng.standard_normal(3)]
    fg, log = rewrite_and_compare([x, w], [y], values=vals, passes=SCAN_CANONICALIZE)
    assert applied(log) == [HOIST]
    (after,) = scans(fg)
    assert "sqrt" not in inner_op_names(after) and after.op.n_nonseqs == 2


def test_declines_without_invariant_nodes(rng):
    x, h0 = T.matrix("x"), T.vector("h0")
    h, _ = scan(lambda xt, hp: T.tanh(xt + hp), sequences=x, outputs_info=h0)
    fg, log = rewrite_and_compare([x, h0], [h], values=values(rng)[:2], passes=SCAN_CANONICALIZE)
    assert applied(log) == []
    # every node reads the sequence or the state, even with a non-sequence
    inputs, h, y = two_outputs()
    fg, log = rewrite_and_compare(inputs, [h, y], values=values(rng), passes=SCAN_CANONICALIZE)
    assert applied(log) == []


def test_declines_for_an_invariant_inner_output(rng):
    """A mapped output that is itself f(w) stays computed in the body."""
    x, w = T.matrix("x"), T.vector("w")
    (y, z), _ = scan(lambda xt, w_: [xt * 2, T.exp(w_)], sequences=x, non_sequences=w)
    fg, log = rewrite_and_compare([x, w], [y, z], values=[rng.standard_normal((4, 3)), rng.standard_normal(3)],
                                  passes=SCAN_CANONICALIZE)
    assert applied(log) == []
    assert "exp" in inner_op_names(scans(fg)[0])


def test_random_draws_stay_in_the_body():
    srng = T.RandomStreams(7)
    X, w = T.dmatrix("X"), T.dvector("w")
    r, upd = T.scan(lambda xt, w_: xt * srng.uniform((3,)) * T.exp(w_), sequences=X, non_sequences=w)
    fg = FunctionGraph([X, w] + list(upd.keys()), [r] + list(upd.values()))
    from symtensor.rewrite.engine import Phase, Pipeline
    Pipeline([Phase("test", list(SCAN_CANONICALIZE))]).run(fg, frozenset())
    draws = [n for node in scans(fg) for n in node.op.fgraph.toposort()
             if any(not isinstance(i.type, T.TensorType) for i in n.inputs)]
    assert draws   # the draw is still made at every step, in a body
    assert not any(not isinstance(i.type, T.TensorType) for n in fg.toposort() if not isinstance(n.op, Scan)
                   for i in n.inputs)
    # the numbers: the same stream gives the same draws with and without the rule
    f = T.function([X, w], r, updates=upd, mode="FAST_RUN")
    srng2 = T.RandomStreams(7)
    r2, upd2 = T.scan(lambda xt, w_: xt * srng2.uniform((3,)) * T.exp(w_), sequences=X, non_sequences=w)
    g = T.function([X, w], r2, updates=upd2, mode="FAST_COMPILE")
    xv, wv = np.arange(12.0).reshape(4, 3), np.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(f(xv, wv), g(xv, wv), rtol=1e-12)
    np.testing.assert_allclose(f(xv, wv), g(xv, wv), rtol=1e-12)


def test_hoisted_results_unchanged_in_every_mode(mode, rng):
    inputs, h = invariant_rnn()
    vals = values(rng)
    fg = FunctionGraph(inputs, [h])
    assert HOIST in applied(optimize(fg, "fast_run"))
    got = T.function(inputs, [h, h[-1] * 3], mode=mode)(*vals)
    ref = T.function(inputs, [h, h[-1] * 3], mode="FAST_COMPILE")(*vals)
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a, b, rtol=1e-10)
    # with zero steps too
    got = T.function(inputs, h, mode=mode)(vals[0][:0], vals[1], vals[2])
    assert got.shape == (0, 3)


def test_gradient_through_the_hoisted_scan(rng):
    from symtensor.grad import verify_grad
    from symtensor.rewrite.engine import Phase, Pipeline

    def fun(x, h0, w):
        h, _ = scan(lambda xt, hp, w_: T.tanh(xt + T.dot(hp, T.exp(w_) * 0.5)), sequences=x, outputs_info=h0,
                    non_sequences=w)
        fg = FunctionGraph([x, h0, w], [h])
        log = Pipeline([Phase("test", list(SCAN_CANONICALIZE))]).run(fg, frozenset())
        assert applied(log) == [HOIST]
        return fg.outputs[0]

    verify_grad(fun, [rng.standard_normal((4, 3)), rng.standard_normal(3), 0.3 * rng.standard_normal((3, 3))],
                rng=rng)


def test_gradient_scan_results_unchanged_in_every_mode(mode, rng):
    x, h0, w = T.matrix("x"), T.vector("h0"), T.matrix("w")
    h, _ = scan(lambda xt, hp, w_: T.tanh(xt + T.dot(hp, T.exp(w_) * 0.5)), sequences=x, outputs_info=h0,
                non_sequences=w)
    grads = T.grad(T.sum(h ** 2), [x, h0, w])
    vals = values(rng)
    got = T.function([x, h0, w], grads, mode=mode)(*vals)
    ref = T.function([x, h0, w], grads, mode="FAST_COMPILE")(*vals)
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_hoist_excludable_by_name(rng):
    assert HOIST in known_names()
    inputs, h = invariant_rnn()
    fg = FunctionGraph(inputs, [h])
    assert HOIST not in applied(optimize(fg, "fast_run", excluded=[HOIST]))
    assert "exp" in inner_op_names(scans(fg)[0])


# --- scan_keep_last_states -------------------------------------------------------------------------------

KEEP = "scan_keep_last_states"


def rnn():
    """h_t = tanh(x_t + h_{t-1} w), on vectors of unknown length."""
    x, h0, w = T.matrix("x"), T.vector("h0"), T.matrix("w")
    h, _ = scan(lambda xt, hp, w_: T.tanh(xt + T.dot(hp, w_)), sequences=x, outputs_info=h0, non_sequences=w)
    return [x, h0, w], h


def np_rnn(x, h0, w):
    out, h = [], h0
    for xt in x:
        h = np.tanh(xt + h @ w)
        out.append(h)
    return np.array(out).reshape((len(x),) + h0.shape)


def test_keep_last_for_reads_of_the_last_entries(rng):
    """Each client set -> the number of states kept: the most any client reads."""
    cases = [(lambda h: [h[-1]], 1), (lambda h: [h[-1], h[-3] * 2], 3), (lambda h: [h[-2:]], 2),
             (lambda h: [h[-4:-1], h[-1]], 4), (lambda h: [h[-5::2]], 5), (lambda h: [h[-1:-4:-1]], 3),
             (lambda h: [h[-2, 1:]], 2), (lambda h: [h[None, -1]], 1)]
    for clients, keep in cases:
        inputs, h = rnn()
        outs = clients(h)
        (before,) = scans(FunctionGraph(inputs, outs))
        assert before.op.store_last == (0,)
        fg, log = rewrite_and_compare(inputs, outs, values=values(rng, steps=6), passes=SCAN_CANONICALIZE)
        assert applied(log) == [KEEP], keep
        (after,) = scans(fg)
        assert after.op.store_last == (keep,) and str(after.op) == f"Scan{{scan_fn, store_last=({keep},)}}"
        assert after.op.fgraph is not before.op.fgraph


def test_keep_last_with_the_other_scan_rules(rng):
    """Dropping an unused output and hoisting an invariant keep the kept states, and the
    states are kept after them."""
    inputs, h, y = two_outputs()
    fg, log = rewrite_and_compare(inputs, [h[-1]], values=values(rng), passes=SCAN_CANONICALIZE)
    assert sorted(applied(log)) == sorted([RULE, KEEP])
    (node,) = scans(fg)
    assert node.op.n_nit == 0 and node.op.store_last == (1,)
    inputs, h = invariant_rnn()
    fg, log = rewrite_and_compare(inputs, [h[-2:]], values=values(rng), passes=SCAN_CANONICALIZE)
    assert sorted(applied(log)) == sorted([HOIST, KEEP])
    (node,) = scans(fg)
    assert node.op.store_last == (2,) and "exp" not in inner_op_names(node)
    # the rules rebuilding a scan that already keeps its last states keep them
    inputs, h, y = two_outputs()
    kept_h = h.owner.op.with_store_last((3,))(*h.owner.inputs)[0]
    fg, log = rewrite_and_compare(inputs, [kept_h], values=values(rng), passes=SCAN_CANONICALIZE)
    assert applied(log) == [RULE] and scans(fg)[0].op.store_last == (3,)
    inputs, h = invariant_rnn()
    kept_h = h.owner.op.with_store_last((3,))(*h.owner.inputs)
    fg, log = rewrite_and_compare(inputs, [kept_h], values=values(rng), passes=SCAN_CANONICALIZE)
    assert applied(log) == [HOIST] and scans(fg)[0].op.store_last == (3,)


def test_keep_last_declines_when_a_client_reads_more(rng):
    """The whole trajectory, its first entries, its shape, a symbolic index, a reversed slice to
    the start, or any client besides the last-entry ones: the scan keeps every state."""
    i = T.lscalar("i")
    cases = [lambda h: [h], lambda h: [h[-1], h], lambda h: [h[0]], lambda h: [h[:-1]], lambda h: [h[1:]],
             lambda h: [h[-1], T.sum(h)], lambda h: [h[-1], h.shape[0]], lambda h: [h[i]], lambda h: [h[-2::-1]],
             lambda h: [h[-1], h[1]], lambda h: [h[:, -1]]]
    for clients in cases:
        inputs, h = rnn()
        fg, log = rewrite_and_compare(inputs + [i], clients(h), values=values(rng) + [np.array(2)],
                                      passes=SCAN_CANONICALIZE)
        assert KEEP not in applied(log)
        assert all(n.op.store_last == (0,) for n in scans(fg))


def test_keep_last_results_in_every_mode(mode, rng):
    """RNN read at its last entries, for 0, 1, 2 and 6 steps, against numpy; the compiled graph
    keeps 3 states."""
    inputs, h = rnn()
    f = T.function(inputs, [h[-2:], h[-3:-1] * 2], mode=mode)
    g = T.function(inputs, [h[-1], h[-3]], mode=mode)
    if mode != "FAST_COMPILE":
        (node,) = scans(f.maker.fgraph)
        assert node.op.store_last == (3,)
    for steps in [0, 1, 2, 6]:
        x, h0, w = values(rng, steps=steps)
        full = np_rnn(x, h0, w)
        got = f(x, h0, w)
        np.testing.assert_allclose(got[0], full[-2:], rtol=1e-10)
        np.testing.assert_allclose(got[1], full[-3:-1] * 2, rtol=1e-10)
        if steps >= 3:
            last, third = g(x, h0, w)
            np.testing.assert_allclose(last, full[-1], rtol=1e-10)
            np.testing.assert_allclose(third, full[-3], rtol=1e-10)
        else:   # reading past the start fails as on the whole trajectory
            with pytest.raises(IndexError):
                g(x, h0, w)


def test_keep_last_mit_sot_and_go_backwards(mode, rng):
    """Taps [-2, -1] (two initial entries, ring of 2) read at [-1], and a backwards recurrence
    read at [-2:], beside a mapped output, for 0, 1 and 5 steps."""
    x0, n, s, b0 = T.matrix("x0"), T.lscalar("n"), T.matrix("s"), T.vector("b0")
    fib, _ = scan(lambda a, b: a * 0.5 + b, outputs_info=dict(initial=x0, taps=[-2, -1]), n_steps=n)
    (b, y), _ = scan(lambda st, bp: [bp * 0.9 + st, T.sum(st * bp)], sequences=s, outputs_info=[b0, None],
                     go_backwards=True)
    f = T.function([x0, n, s, b0], [fib[-1], b[-2:], y], mode=mode)
    if mode != "FAST_COMPILE":
        kept = sorted(node.op.store_last for node in scans(f.maker.fgraph))
        assert kept == [(1,), (2,)]
    x0v, b0v = rng.standard_normal((2, 3)), rng.standard_normal(3)
    for steps in [1, 5]:
        sv = rng.standard_normal((steps, 3))
        got = f(x0v, steps, sv, b0v)
        buf = list(x0v)
        for t in range(steps):
            buf.append(buf[t] * 0.5 + buf[t + 1])
        bs, ys, bp = [], [], b0v
        for st in sv[::-1]:
            ys.append(np.sum(st * bp))
            bp = bp * 0.9 + st
            bs.append(bp)
        np.testing.assert_allclose(got[0], buf[-1], rtol=1e-10)
        np.testing.assert_allclose(got[1], np.array(bs)[-2:], rtol=1e-10)
        np.testing.assert_allclose(got[2], ys, rtol=1e-10)
    got = T.function([x0, n, s, b0], [fib[-2:], b[-2:]], mode=mode)(x0v, 0, np.zeros((0, 3)), b0v)
    assert got[0].shape == (0, 3) and got[1].shape == (0, 3)


def test_keep_last_on_a_fixed_shape_body_in_every_mode(mode):
    """A scalar recurrence read at [-1]: a body the C backend can run as one C loop. The scan
    keeping its last state must reach the compiled-body path (DebugMode compares it with
    perform)."""
    a0, n = T.dscalar("a0"), T.lscalar("n")
    a, _ = scan(lambda ap: ap * 2.0 + 1.0, outputs_info=a0, n_steps=n)
    f = T.function([a0, n], a[-1], mode=mode)
    np.testing.assert_allclose(f(0.0, 4), 15.0)
    np.testing.assert_allclose(f(1.0, 1), 3.0)


def test_gradient_through_a_scan_read_at_its_last_state(rng):
    """grad of a cost reading only h[-1]: the backward scan reads h's whole trajectory, so the
    forward scan keeps every state in FAST_RUN, and the gradients are right."""
    from symtensor.grad import verify_grad
    inputs, h = rnn()
    grads = T.grad(T.sum(h[-1] ** 2), inputs)
    f = T.function(inputs, [h[-1]] + grads, mode="FAST_RUN")
    forward = [n for n in scans(f.maker.fgraph) if not n.op.name.startswith("grad_of")]
    assert forward and all(n.op.store_last == (0,) for n in forward)
    vals = values(rng)
    ref = T.function(inputs, [h[-1]] + grads, mode="FAST_COMPILE")(*vals)
    for a, b in zip(f(*vals), ref):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)

    def last_state(x, h0, w):
        out, _ = scan(lambda xt, hp, w_: T.tanh(xt + T.dot(hp, w_)), sequences=x, outputs_info=h0,
                      non_sequences=w)
        return out[-1]

    verify_grad(last_state, vals, rng=rng, mode="FAST_RUN")


def test_keep_last_excludable_by_name(rng):
    assert KEEP in known_names()
    inputs, h = rnn()
    fg = FunctionGraph(inputs, [h[-1]])
    assert KEEP not in applied(optimize(fg, "fast_run", excluded=[KEEP]))
    assert scans(fg)[0].op.store_last == (0,)
    f = T.function(inputs, h[-1], mode=T.Mode(optimizer="fast_run").excluding(KEEP))
    assert scans(f.maker.fgraph)[0].op.store_last == (0,)
    vals = values(rng)
    np.testing.assert_allclose(f(*vals), np_rnn(*vals)[-1], rtol=1e-10)
    g = T.function(inputs, h[-1], mode="FAST_RUN")
    assert scans(g.maker.fgraph)[0].op.store_last == (1,)


# --- last_entries_of_join --------------------------------------------------------------------
@pytest.mark.parametrize("index", [-1, -2])
def test_last_entries_of_join_slices_each_piece(index, rng):
    a, b = T.matrix("a"), T.matrix("b")
    out = T.join(0, a, b)[index]
    fg = FunctionGraph([a, b], [out])
    log = optimize(fg, "fast_run")
    assert "last_entries_of_join" in applied(log)
    join = [n for n in fg.toposort() if type(n.op).__name__ == "Join"][0]
    assert all(type(p.owner.op).__name__ == "Subtensor" for p in join.inputs)
    f = T.function([a, b], out)
    for ra, rb in [(3, 4), (0, 4), (3, 0), (1, 1), (4, 1)]:
        va, vb = rng.standard_normal((ra, 2)), rng.standard_normal((rb, 2))
        if ra + rb >= -index:
            np.testing.assert_array_equal(f(va, vb), np.concatenate([va, vb])[index])
        else:
            with pytest.raises(IndexError):
                f(va, vb)


def test_last_entries_of_join_declines_for_other_indices_and_axes():
    a, b = T.matrix("a"), T.matrix("b")
    for out in [T.join(0, a, b)[0], T.join(1, a, b)[-1], T.join(0, a, b)[1:]]:
        fg = FunctionGraph([a, b], [out])
        assert "last_entries_of_join" not in applied(optimize(fg, "fast_run"))


def test_bptt_accumulators_keep_only_their_last_state(mode, rng):
    """The gradient of a non-sequence is join(initial, accumulators)[-1]: after the rule the
    backward scan stores only the last accumulator state, with unchanged results."""
    x, h0, w = T.matrix("x"), T.vector("h0"), T.matrix("w")
    h, _ = scan(lambda xt, hp, w_: T.tanh(xt + T.dot(hp, w_)), sequences=x, outputs_info=h0, non_sequences=w)
    gw = T.grad((h ** 2).sum(), w)
    f = T.function([x, h0, w], gw, mode=mode)
    ref = T.function([x, h0, w], gw, mode="FAST_COMPILE")
    vals = values(rng)
    np.testing.assert_allclose(f(*vals), ref(*vals), rtol=1e-10)
    if mode == "FAST_RUN":
        grad_scans = [n for n in scans(f.maker.fgraph) if "grad" in str(n.op)]
        assert grad_scans and any(grad_scans[0].op.store_last)
