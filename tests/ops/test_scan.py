"""scan, map, reduce, foldl, foldr against numpy loops, in every mode: sequence and output taps,
outputs that are not fed back, states of several dtypes, non-sequences, n_steps (constant,
symbolic, zero), go_backwards, shared-variable updates, strict, the updates dict, the Scan
op's interface (infer_shape, inner graphs, printing, pickling), build/run-time errors, and
the op keeping only the last states of an output (store_last: values, ring memory, gradients).

Theano's conventions followed (see symtensor/ops/scan.py): sequence taps count as if tap 0
were used too (taps [-2, -1] on a length-L sequence give L - 2 steps, the first reading
entries 0 and 1); a dict initial state with taps [-2, -1] holds the two values before the
first step in its first two entries; outputs come out in iteration order (also backwards).
"""
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import symtensor as T
from symtensor.graph.fg import iter_inner_graphs
from symtensor.ops.scan import OrderedUpdates, foldl, foldr, scan
from symtensor.ops.scan import map as scan_map
from symtensor.ops.scan import reduce as scan_reduce
from symtensor.ops.scan_op import Scan
from symtensor.ops.scan_parse import ScanTypeError
from tests.helpers import assert_unchanged, check_infer_shape, noncontiguous, rand, run, tol


def np_rnn(x, h0, w):
    """h_t = tanh(x_t + h_{t-1} . w), stacked."""
    out, h = [], h0
    for t in range(x.shape[0]):
        h = np.tanh(x[t] + h @ w)
        out.append(h)
    return np.array(out, dtype=x.dtype).reshape((x.shape[0],) + h0.shape)


def _rnn(dtype):
    x, h0, w = T.matrix("x", dtype=dtype), T.vector("h0", dtype=dtype), T.matrix("w", dtype=dtype)
    out, upd = scan(lambda xt, h, w_: T.tanh(xt + T.dot(h, w_)), sequences=x, outputs_info=h0, non_sequences=w)
    return [x, h0, w], out, upd


# --- recurrences against numpy -----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_recurrence_with_non_sequence_matches_numpy(mode, rng, dtype):
    inputs, out, upd = _rnn(dtype)
    assert len(upd) == 0 and out.dtype == dtype and out.ndim == 2
    f = T.function(inputs, out, mode=mode)
    h0, w = rand(rng, (3,), dtype), 0.5 * rand(rng, (3, 3), dtype)
    value = rand(rng, (5, 3), dtype)
    for label, x in [("contiguous", value), ("noncontiguous", noncontiguous(value)),
                     ("zero-size", rand(rng, (0, 3), dtype))]:
        before = [x.copy(), h0.copy(), w.copy()]
        got = f(x, h0, noncontiguous(w))
        assert_unchanged(before, [x, h0, w])
        assert got.dtype == dtype and got.shape == (x.shape[0], 3), label
        np.testing.assert_allclose(got, np_rnn(x, h0, w), **tol(dtype))


def test_sequence_taps_negative_and_positive(mode, rng):
    x = T.vector("x")
    cases = {(-2, -1): lambda a, b: a - 2 * b, (0, 1): lambda a, b: a * b, (-1, 1): lambda a, b: a + 3 * b,
             (2,): lambda a: 2 * a, (-3,): lambda a: a + 1, (-2, 0, 3): lambda a, b, c: a * b - c}
    outs = [scan(fn, sequences=dict(input=x, taps=list(taps)))[0] for taps, fn in cases.items()]
    xv = rand(rng, (9,))
    got = run(mode, [x], outs, xv)
    for (taps, fn), g in zip(cases.items(), got):
        lo, hi = min(min(taps), 0), max(max(taps), 0)
        expected = [fn(*[xv[t + k] for k in taps]) for t in range(-lo, len(xv) - hi)]
        np.testing.assert_allclose(g, expected, err_msg=str(taps))


def test_output_taps_with_longer_initial_value(mode, rng):
    """outputs_info=dict(initial=x0, taps=[-3, -1]): x0[:3] are the three values before step 0."""
    x0, seq = T.vector("x0"), T.vector("s")
    out, _ = scan(lambda s, a, b: a + 0.5 * b + s, sequences=seq, outputs_info=dict(initial=x0, taps=[-3, -1]))
    x0v, sv = rand(rng, (5,)), rand(rng, (6,))
    buf = list(x0v[:3])
    for t in range(6):
        buf.append(buf[t] + 0.5 * buf[t + 2] + sv[t])
    np.testing.assert_allclose(run(mode, [x0, seq], out, x0v, sv), buf[3:])


def test_mapped_outputs_mixed_with_states_and_several_dtypes(mode, rng):
    """None in outputs_info: not fed back; int64 counter, float32 and float64 states side by side."""
    x = T.fvector("x")
    i0, s0, p0 = T.lscalar("i0"), T.fscalar("s0"), T.dscalar("p0")

    def step(xt, i, s, p):
        return [i + 1, xt * 2, s + xt * T.cast(i, "float32"), p * 1.5 + T.cast(xt, "float64")]

    (ic, dbl, ss, pp), upd = scan(step, sequences=x, outputs_info=[i0, None, s0, p0])
    assert (ic.dtype, dbl.dtype, ss.dtype, pp.dtype) == ("int64", "float32", "float32", "float64")
    xv = rand(rng, (4,), "float32")
    got = run(mode, [x, i0, s0, p0], [ic, dbl, ss, pp], xv, 3, np.float32(0.5), 2.0)
    i, s, p, exp = 3, np.float32(0.5), 2.0, [[], [], [], []]
    for t in range(4):
        s = np.float32(s + xv[t] * np.float32(i))
        p = p * 1.5 + float(xv[t])
        i += 1
        for lst, v in zip(exp, [i, xv[t] * 2, s, p]):
            lst.append(v)
    np.testing.assert_array_equal(got[0], exp[0])
    for g, e, dt in zip(got[1:], exp[1:], ["float32", "float32", "float64"]):
        assert g.dtype == dt
        np.testing.assert_allclose(g, e, **tol(dt))


def test_go_backwards_with_taps(mode, rng):
    x, h0 = T.matrix("x"), T.vector("h0")
    out, _ = scan(lambda a, b, h: h * 0.5 + a - b, sequences=dict(input=x, taps=[-1, 0]), outputs_info=h0,
                  go_backwards=True)
    xv, hv = rand(rng, (5, 2)), rand(rng, (2,))
    h, expected = hv, []
    for t in range(4, 0, -1):     # iteration order: from the end; tap -1 is x[t-1]
        h = h * 0.5 + xv[t - 1] - xv[t]
        expected.append(h)
    np.testing.assert_allclose(run(mode, [x, h0], out, xv, hv), expected)


def test_n_steps_constant_symbolic_and_zero(mode, rng):
    a0, n = T.dscalar("a0"), T.lscalar("n")
    const, _ = scan(lambda a: a * 2, outputs_info=a0, n_steps=4)
    sym, _ = scan(lambda a: a * 2, outputs_info=a0, n_steps=n)
    mapped, _ = scan(lambda a: [a * 2, T.stack([a, a + 1])], outputs_info=[a0, None], n_steps=n)
    f = T.function([a0, n], [const, sym] + mapped, mode=mode)
    c, s, m0, m1 = f(1.5, 3)
    np.testing.assert_allclose(c, [3, 6, 12, 24])
    np.testing.assert_allclose(s, [3, 6, 12])
    np.testing.assert_allclose(m1, [[1.5, 2.5], [3, 4], [6, 7]])
    c, s, m0, m1 = f(1.5, 0)
    assert s.shape == (0,) and m0.shape == (0,) and m1.shape == (0, 2)


def test_n_steps_shorter_than_sequence(mode, rng):
    x = T.vector("x")
    out, _ = scan(lambda a, b: a * b, sequences=dict(input=x, taps=[0, 1]), n_steps=3)
    back, _ = scan(lambda a: a + 1, sequences=x, n_steps=2, go_backwards=True)
    xv = rand(rng, (6,))
    got, got_back = run(mode, [x], [out, back], xv)
    np.testing.assert_allclose(got, xv[:3] * xv[1:4])
    np.testing.assert_allclose(got_back, xv[::-1][:2] + 1)


def test_map_reduce_foldl_foldr(mode, rng):
    x, y = T.matrix("x"), T.vector("y")
    mapped, upd = scan_map(lambda row, v: (row * v).sum(), sequences=x, non_sequences=y)
    total, _ = scan_reduce(lambda row, acc: acc + row, sequences=x, outputs_info=T.zeros_like(y))
    left, _ = foldl(lambda row, acc: acc * 0.5 + row, sequences=x, outputs_info=T.zeros_like(y))
    right, _ = foldr(lambda row, acc: acc * 0.5 + row, sequences=x, outputs_info=T.zeros_like(y))
    xv, yv = rand(rng, (4, 3)), rand(rng, (3,))
    got = run(mode, [x, y], [mapped, total, left, right], xv, yv)
    np.testing.assert_allclose(got[0], xv @ yv)
    np.testing.assert_allclose(got[1], xv.sum(0))
    fl = fr = np.zeros(3)
    for t in range(4):
        fl, fr = fl * 0.5 + xv[t], fr * 0.5 + xv[3 - t]
    np.testing.assert_allclose(got[2], fl)
    np.testing.assert_allclose(got[3], fr)


def test_several_outputs_and_return_forms(mode, rng):
    x = T.vector("x")
    outs, _ = scan(lambda a: (a + 1, a * 2), sequences=x)
    listed, _ = scan(lambda a: a + 1, sequences=x, return_list=True)
    const_out, _ = scan(lambda a: [a, 2.0], sequences=x)
    xv = rand(rng, (3,))
    got = run(mode, [x], outs + listed + const_out, xv)
    np.testing.assert_allclose(got[0], xv + 1)
    np.testing.assert_allclose(got[1], xv * 2)
    np.testing.assert_allclose(got[2], xv + 1)
    np.testing.assert_allclose(got[4], [2.0] * 3)
    assert scan(lambda a: None, sequences=x)[0] is None


def test_free_variables_and_computed_non_sequences(mode, rng):
    """A variable fn uses without receiving it becomes an implicit input; a computed
    non-sequence is evaluated once outside the loop and passed in."""
    x, w, z = T.vector("x"), T.vector("w"), T.dscalar("z")
    w2 = w * 2
    out, _ = scan(lambda a, v: a * v.sum() + z, sequences=x, non_sequences=w2)
    xv, wv = rand(rng, (4,)), rand(rng, (3,))
    np.testing.assert_allclose(run(mode, [x, w, z], out, xv, wv, 0.25), xv * 2 * wv.sum() + 0.25)


def test_broadcastable_initial_state_is_relaxed(mode, rng):
    """An initial value of static shape (1,) whose steps may have any length is accepted."""
    x = T.matrix("x")
    out, _ = scan(lambda row, h: h + row, sequences=x, outputs_info=T.zeros((1,)))
    assert out.broadcastable == (False, False)
    xv = rand(rng, (3, 1))
    np.testing.assert_allclose(run(mode, [x], out, xv), np.cumsum(xv, axis=0))


# --- shared variables and updates ---------------------------------------------------------------------
def test_shared_updates_from_fn(mode, rng):
    x = T.vector("x")
    count = T.shared(np.int64(0), name="count")
    total = T.shared(np.zeros(2), name="total")
    scale = T.shared(np.float64(3.0), name="scale")    # used without update: an implicit input

    def step(a):
        return a * scale, OrderedDict([(count, count + 1), (total, total + a)])

    out, updates = scan(step, sequences=x)
    assert isinstance(updates, OrderedUpdates) and list(updates) == [count, total]
    f = T.function([x], out, updates=updates, mode=mode)
    xv = rand(rng, (3,))
    np.testing.assert_allclose(f(xv), xv * 3)
    np.testing.assert_allclose(f(xv), xv * 3)
    assert count.get_value() == 6
    np.testing.assert_allclose(total.get_value(), 2 * xv.sum() * np.ones(2))
    scale.set_value(np.float64(-1.0))
    np.testing.assert_allclose(f(xv), -xv)


def test_fn_returning_only_updates_and_reading_the_state(mode, rng):
    """Inside the loop a shared variable that fn updates holds its value at that step."""
    acc = T.shared(np.float64(1.0), name="acc")
    seq = T.vector("seq")
    out, updates = scan(lambda a: [acc * 2], sequences=seq)
    _, only = scan(lambda a: {acc: acc * a}, sequences=seq)
    assert out is not None and len(only) == 1
    f = T.function([seq], [], updates=only, mode=mode)
    sv = rand(rng, (4,))
    f(sv)
    np.testing.assert_allclose(acc.get_value(), np.prod(sv))
    traj, upd = scan(lambda a: (acc + a, {acc: acc + a}), sequences=seq)
    g = T.function([seq], traj, updates=upd, mode=mode)
    start = acc.get_value()
    np.testing.assert_allclose(g(sv), start + np.cumsum(sv))
    np.testing.assert_allclose(acc.get_value(), start + sv.sum())


def test_updated_non_sequence_and_zero_steps_keeps_value(mode):
    w = T.shared(np.array([1.0, 2.0]), name="w")
    n = T.lscalar("n")
    _, updates = scan(lambda w_: {w: w_ * 2}, non_sequences=w, n_steps=n)
    f = T.function([n], [], updates=updates, mode=mode)
    f(0)
    np.testing.assert_allclose(w.get_value(), [1, 2])
    f(3)
    np.testing.assert_allclose(w.get_value(), [8, 16])


def test_ordered_updates_behave_as_a_dict():
    a, b = T.shared(0.0, name="a"), T.shared(0.0, name="b")
    _, upd = scan(lambda: {a: a + 1}, n_steps=2)
    upd[b] = b + 1
    upd.update({a: upd[a]})                  # the same value again: allowed
    assert list(upd) == [a, b]
    with pytest.raises(KeyError, match="already has a different update"):
        upd.update({a: a * 2})
    with pytest.raises(TypeError, match="not a shared variable"):
        upd[T.dscalar("x")] = 1
    merged = upd + OrderedDict([(T.shared(1.0, name="c"), 2.0)])
    assert len(merged) == 3
    f = T.function([], [], updates=upd)
    f()
    assert a.get_value() == 2.0 and b.get_value() == 1.0


def test_strict_requires_every_variable_to_be_passed(mode, rng):
    x, w = T.vector("x"), T.vector("w")
    sh = T.shared(np.float64(2.0), name="sh")
    with pytest.raises(ValueError, match=r"strict=True.*variable w"):
        scan(lambda a: a * w.sum(), sequences=x, strict=True)
    with pytest.raises(ValueError, match=r"strict=True.*shared variable sh"):
        scan(lambda a: a * sh, sequences=x, strict=True)
    out, _ = scan(lambda a, w_, s: a * w_.sum() + s, sequences=x, non_sequences=[w, sh], strict=True)
    xv, wv = rand(rng, (3,)), rand(rng, (2,))
    np.testing.assert_allclose(run(mode, [x, w], out, xv, wv), xv * wv.sum() + 2)


# --- the op's interface ----------------------------------------------------------------------------------
def test_infer_shape(mode, rng):
    x, h0 = T.matrix("x"), T.vector("h0")
    outs, _ = scan(lambda a, h: [h + a, T.outer(a, a)], sequences=x, outputs_info=[h0, None])
    xv, hv = rand(rng, (4, 3)), rand(rng, (3,))
    check_infer_shape(mode, [x, h0], outs[0], [xv, hv], (4, 3))
    check_infer_shape(mode, [x, h0], outs[1], [xv, hv], (4, 3, 3))


def test_inner_graph_interface_printing_and_pickling(rng):
    inputs, out, _ = _rnn("float64")
    f = T.function(inputs, out)
    seen = []
    iter_inner_graphs(f.maker.fgraph, seen.append)
    node = out.owner
    assert isinstance(node.op, Scan) and seen == [node.op.fgraph]
    text = T.debugprint(out, file="str")
    assert "inner graph of Scan{scan_fn}" in text and "Elemwise{tanh}" in text and "x[t]" in text
    g = pickle.loads(pickle.dumps(f))
    vals = [rand(rng, (3, 3)), rand(rng, (3,)), rand(rng, (3, 3))]
    np.testing.assert_allclose(g(*vals), np_rnn(*vals))
    named, _ = scan(lambda a: a, sequences=inputs[0], name="identity")
    assert str(named.owner.op) == "Scan{identity}" and named.owner.op != node.op


# --- errors --------------------------------------------------------------------------------------------
def test_output_type_must_match_its_state():
    x = T.fvector("x")
    with pytest.raises(TypeError, match=r"output 0 of fn has type .*float64.*outputs_info\[0\].*float32"):
        scan(lambda a, h: h + T.cast(a, "float64"), sequences=x, outputs_info=T.fscalar("h0"))
    with pytest.raises(ValueError, match=r"output 1 of fn .*1 dimension.*0 dimension"):
        scan(lambda v: [v * 2, T.stack([v, v])], outputs_info=[None, T.dscalar("v0")], n_steps=2)
    s = T.shared(np.float32(0), name="s")
    with pytest.raises(ScanTypeError, match="update of shared variable s"):
        scan(lambda a: {s: a * 2}, sequences=T.dvector("y"))


def test_bad_arguments_raise_clear_errors():
    x = T.vector("x")
    with pytest.raises(ValueError, match="no sequences and no n_steps"):
        scan(lambda: T.constant(1.0))
    with pytest.raises(TypeError, match="n_steps must be an integer"):
        scan(lambda a: a, outputs_info=T.dscalar("a"), n_steps=T.dscalar("n"))
    with pytest.raises(ValueError, match="n_steps is -2"):
        scan(lambda a: a, outputs_info=T.dscalar("a"), n_steps=-2)
    with pytest.raises(TypeError, match=r"sequences\[0\].*at least one dimension"):
        scan(lambda a: a, sequences=T.dscalar("s"))
    with pytest.raises(ValueError, match=r"outputs_info\[0\]: taps must be negative"):
        scan(lambda a: a, outputs_info=dict(initial=x, taps=[1]), n_steps=2)
    with pytest.raises(ValueError, match="gives taps .* but no initial value"):
        scan(lambda a: a, outputs_info=dict(taps=[-1]), n_steps=2)
    with pytest.raises(ValueError, match="returned 2 output.*outputs_info has 1"):
        scan(lambda a, h: [a, h], sequences=x, outputs_info=T.dscalar("h"))
    with pytest.raises(ValueError, match="cannot understand what fn returned"):
        scan(lambda a: "nonsense", sequences=x)
    with pytest.raises(TypeError, match="not a shared variable"):
        scan(lambda a: (a, {T.dscalar("q"): a}), sequences=x)
    with pytest.raises(ValueError, match="truncate_gradient"):
        scan(lambda a: a, sequences=x, truncate_gradient=0)
    with pytest.raises(TypeError, match="fn must be callable"):
        scan(None, sequences=x)


def test_taps_and_n_steps_checked_at_build_time_when_shapes_are_known():
    seq = T.constant(np.arange(3.0))
    with pytest.raises(ValueError, match=r"has 3 entries.*taps \[-4\] need at least 4.*before the start"):
        scan(lambda a: a, sequences=dict(input=seq, taps=[-4]))
    with pytest.raises(ValueError, match=r"n_steps is 5.*provides only 2 step"):
        scan(lambda a, b: a + b, sequences=dict(input=seq, taps=[-1, 0]), n_steps=5)
    with pytest.raises(ValueError, match=r"initial value of outputs_info\[0\] has 1 entries.*need 2"):
        scan(lambda a, b: a + b, outputs_info=dict(initial=T.constant([1.0]), taps=[-2, -1]), n_steps=2)


def test_taps_and_n_steps_checked_at_run_time(mode):
    x, n = T.vector("x"), T.lscalar("n")
    taps, _ = scan(lambda a, b: a + b, sequences=dict(input=x, taps=[-3, 0]))
    counted, _ = scan(lambda a: a * 2, sequences=x, n_steps=n)
    mit, _ = scan(lambda a, b: a + b, outputs_info=dict(initial=x, taps=[-2, -1]), n_steps=n)
    f = T.function([x, n], [taps, counted, mit], mode=mode)
    ok = f(np.arange(4.0), 2)
    np.testing.assert_allclose(ok[0], [3.0])
    with pytest.raises(ValueError, match=r"sequences\[0\] \(x\) has 2 entries.*need at least 3.*before the start"):
        f(np.arange(2.0), 1)
    g = T.function([x, n], [counted, mit], mode=mode)
    with pytest.raises(ValueError, match=r"n_steps is 5.*sequences\[0\] \(x\) has 4 entries"):
        g(np.arange(4.0), 5)
    with pytest.raises(ValueError, match="n_steps is -1"):
        g(np.arange(4.0), -1)
    with pytest.raises(ValueError, match=r"initial state of output 0 \(outputs_info\[0\]\) has 1 entries"):
        T.function([x, n], mit, mode=mode)(np.arange(1.0), 1)


def test_step_with_changing_shape_is_reported(mode):
    n, h0 = T.lscalar("n"), T.dvector("h0")
    grow, _ = scan(lambda h: T.concatenate([h, h]), outputs_info=h0, n_steps=n)
    with pytest.raises(ValueError, match=r"at step 0, output 0 .* has shape \(4,\).*state .* shape \(2,\)"):
        T.function([h0, n], grow, mode=mode)(np.ones(2), 2)


# --- store_last: only the last states of a recurrent output ------------------------------------------
def _keep_last(out, store_last):
    """``out`` (a recurrent output of a Scan node) recomputed by the same loop keeping only
    ``store_last`` states of each recurrent output."""
    node = out.owner
    new = node.op.with_store_last(store_last)(*node.inputs)
    new = new if isinstance(new, list) else [new]
    return new[node.outputs.index(out)]


def _last(full, keep):
    """``full[-keep:]`` of a stacked trajectory (every state when there are fewer)."""
    return np.asarray(full)[max(0, len(full) - keep):]


@pytest.mark.parametrize("keep", [1, 2, 3, 7])
def test_store_last_holds_the_last_states(mode, rng, keep):
    """An RNN (one tap) and a mit-sot recurrence (taps [-2, -1], two initial entries) keeping
    their last ``keep`` states, for 0, 1, 2 and 5 steps: the output is ``trajectory[-keep:]``,
    of length min(keep, n_steps), never an initial value."""
    inputs, h, _ = _rnn("float64")
    x0, n = T.matrix("x0"), T.lscalar("n")
    fib, _ = scan(lambda a, b: a * 0.5 + b, outputs_info=dict(initial=x0, taps=[-2, -1]), n_steps=n)
    f = T.function(inputs + [x0, n], [_keep_last(h, (keep,)), _keep_last(fib, (keep,))], mode=mode)
    h0, w, x0v = rand(rng, (3,)), 0.5 * rand(rng, (3, 3)), rand(rng, (4, 2))
    for steps in [0, 1, 2, 5]:
        x = rand(rng, (steps, 3))
        got_h, got_fib = f(x, h0, w, x0v, steps)
        buf = list(x0v[:2])
        for t in range(steps):
            buf.append(buf[t] * 0.5 + buf[t + 1])
        assert got_h.shape == (min(keep, steps), 3) and got_fib.shape == (min(keep, steps), 2)
        np.testing.assert_allclose(got_h, _last(np_rnn(x, h0, w), keep).reshape(-1, 3), **tol("float64"))
        np.testing.assert_allclose(got_fib, _last(buf[2:], keep).reshape(-1, 2), **tol("float64"))


def test_store_last_on_a_fixed_shape_body(mode):
    """A scalar recurrence (a body the C backend can run as one C loop) keeping its last 2
    states. Compiled, the C loop must leave such a scan to the compiled-body path (a Python
    loop over the compiled body, which keeps the ring)."""
    a0, n = T.dscalar("a0"), T.lscalar("n")
    a, _ = scan(lambda ap: ap * 2.0 + 1.0, outputs_info=a0, n_steps=n)
    f = T.function([a0, n], _keep_last(a, (2,)), mode=mode)
    for steps, expected in [(0, []), (1, [1.0]), (4, [7.0, 15.0])]:
        got = f(0.0, steps)
        assert got.shape == (len(expected),)
        np.testing.assert_allclose(got, expected)


def test_store_last_with_go_backwards_and_several_outputs(mode, rng):
    """Only the kept output is cut; a mapped output and a full recurrent one are unchanged."""
    x, a0, b0 = T.matrix("x"), T.vector("a0"), T.vector("b0")
    (a, b, y), _ = scan(lambda xt, ap, bp: [ap * 0.5 + xt, bp + ap, T.sum(xt) * ap],
                        sequences=x, outputs_info=[a0, b0, None], go_backwards=True)
    node = a.owner
    outs = node.op.with_store_last((2, 0))(*node.inputs)
    xv, av, bv = rand(rng, (5, 2)), rand(rng, (2,)), rand(rng, (2,))
    got = run(mode, [x, a0, b0], outs[:3], xv, av, bv)
    full = run("FAST_COMPILE", [x, a0, b0], [a, b, y], xv, av, bv)
    ap, exp_a = av, []
    for t in range(4, -1, -1):
        ap = ap * 0.5 + xv[t]
        exp_a.append(ap)
    np.testing.assert_allclose(got[0], exp_a[-2:])
    np.testing.assert_allclose(got[1], full[1])
    np.testing.assert_allclose(got[2], full[2])


def test_store_last_identity_printing_pickling_and_errors(rng):
    inputs, h, _ = _rnn("float64")
    op = h.owner.op
    assert op.store_last == (0,)
    kept = _keep_last(h, (2,))
    assert kept.owner.op.store_last == (2,) and kept.owner.op != op and kept.type == h.type
    assert str(kept.owner.op) == "Scan{scan_fn, store_last=(2,)}"
    f = T.function(inputs, kept, mode="FAST_COMPILE")
    g = pickle.loads(pickle.dumps(f))
    (node,) = [n for n in g.maker.fgraph.toposort() if isinstance(n.op, Scan)]
    assert node.op.store_last == (2,)
    vals = [rand(rng, (4, 3)), rand(rng, (3,)), rand(rng, (3, 3))]
    np.testing.assert_allclose(g(*vals), np_rnn(*vals)[-2:])
    for bad in [(1, 1), (-1,), (1.5,), (True,), ()]:
        with pytest.raises(ValueError, match=r"store_last must hold one int >= 0 per recurrent output \(1\)"):
            op.with_store_last(bad)


def test_store_last_infer_shape(mode, rng):
    inputs, h, _ = _rnn("float64")
    vals = [rand(rng, (4, 3)), rand(rng, (3,)), rand(rng, (3, 3))]
    check_infer_shape(mode, inputs, _keep_last(h, (3,)), vals, (3, 3))
    check_infer_shape(mode, inputs, _keep_last(h, (9,)), vals, (4, 3))


def test_store_last_does_not_allocate_the_trajectory():
    """A 400-step recurrence on 2000-entry states: the whole trajectory takes 6.4 MB, the loop
    keeping the last state allocates a few states (the measure is checked on the full loop)."""
    import tracemalloc
    h0, n = T.dvector("h0"), T.lscalar("n")
    h, _ = scan(lambda hp: hp * 0.5 + 1.0, outputs_info=h0, n_steps=n)
    full = T.function([h0, n], h[-1], mode="FAST_COMPILE")
    last = T.function([h0, n], _keep_last(h, (1,))[-1], mode="FAST_COMPILE")
    h0v, steps = np.zeros(2000), 400
    trajectory_bytes = steps * h0v.nbytes
    peaks = []
    for f in (full, last):
        f(h0v, 2)                                   # build the interpreter's schedules first
        tracemalloc.start()
        got = f(h0v, steps)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        np.testing.assert_allclose(got, 2.0 * (1 - 0.5 ** steps))
    assert peaks[0] >= trajectory_bytes
    assert peaks[1] < trajectory_bytes / 20


def test_store_last_gradients(rng):
    """The gradient (and the forward-mode tangent) of a loop keeping its last states: through
    the same loop keeping every state, the cotangent of the kept states at the end."""
    from symtensor.grad import verify_grad

    def fun(x, h0, w):
        out, _ = scan(lambda xt, hp, w_: T.tanh(xt + T.dot(hp, w_)), sequences=x, outputs_info=h0,
                      non_sequences=w)
        return _keep_last(out, (2,))

    verify_grad(fun, [rand(rng, (4, 3)), rand(rng, (3,)), 0.5 * rand(rng, (3, 3))], rng=rng)
    inputs, h, _ = _rnn("float64")
    v = T.matrix("v")
    tangent = T.Rop(_keep_last(h, (2,)), inputs[2], v)
    full = T.Rop(h, inputs[2], v)
    vals = [rand(rng, (4, 3)), rand(rng, (3,)), 0.5 * rand(rng, (3, 3)), rand(rng, (3, 3))]
    got, ref = T.function(inputs + [v], [tangent, full], mode="FAST_COMPILE")(*vals)
    assert got.shape == (2, 3)
    np.testing.assert_allclose(got, ref[-2:], rtol=1e-12)
