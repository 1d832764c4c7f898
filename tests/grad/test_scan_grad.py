"""Derivatives through scan: verify_grad (float64) through recurrences with sequence and output
taps, non-sequences, mapped outputs and go_backwards; the vanilla RNN's BPTT gradient against
finite differences in every mode; truncate_gradient against the analytic truncated gradient;
R_op and Lop; second derivatives; disconnected and undefined gradients."""
import numpy as np
import pytest

import symtensor as T
from symtensor.grad import verify_grad
from symtensor.ops.scan import scan
from symtensor.ops.scan import map as scan_map
from tests.helpers import rand


def _tanh_rnn(x, h0, w):
    out, _ = scan(lambda xt, h, w_: T.tanh(xt + T.dot(h, w_)), sequences=x, outputs_info=h0, non_sequences=w)
    return out


def test_verify_grad_recurrence_with_non_sequence(rng):
    verify_grad(_tanh_rnn, [rand(rng, (4, 3)), rand(rng, (3,)), 0.5 * rand(rng, (3, 3))], rng=rng)


def test_verify_grad_sequence_and_output_taps(rng):
    def fn(x, h0, w):
        out, _ = scan(lambda xm2, xt, xp1, hm2, hm1, w_: T.sin(xt * xm2 + xp1 * w_) + 0.5 * hm2 - hm1 * w_,
                      sequences=dict(input=x, taps=[-2, 0, 1]), outputs_info=dict(initial=h0, taps=[-2, -1]),
                      non_sequences=w)
        return out
    verify_grad(fn, [rand(rng, (7, 2)), rand(rng, (3, 2)), rand(rng, (2,))], rng=rng)


def test_verify_grad_mapped_outputs_and_go_backwards(rng):
    def fn(x, h0):
        (h, y), _ = scan(lambda xt, h: [h * T.cos(xt), (xt * h).sum()], sequences=x, outputs_info=[h0, None],
                         go_backwards=True)
        return h.sum(axis=1) + 2 * y
    verify_grad(fn, [rand(rng, (4, 3)), rand(rng, (3,))], rng=rng)


def test_verify_grad_map_with_positive_taps(rng):
    def fn(x, w):
        out, _ = scan_map(lambda a, b, w_: T.exp(a * w_) - b, sequences=dict(input=x, taps=[1, 2]),
                          non_sequences=w)
        return out
    verify_grad(fn, [rand(rng, (5, 2)), rand(rng, (2,))], rng=rng)


def test_verify_grad_int_sequence_and_int_state(rng):
    """Integer sequences and states feed the body but get no gradient."""
    def fn(w):
        (i, s), _ = scan(lambda k, i, s: [i + k, s * w[k % 3] + T.cast(i, "float64")],
                         sequences=T.arange(4, dtype="int64"), outputs_info=[T.constant(0, dtype="int64"),
                                                                             T.constant(1.0)])
        return s
    verify_grad(fn, [rand(rng, (3,))], rng=rng)


def test_second_derivative_through_the_backward_scan(rng):
    def fn(x, w):
        out = _tanh_rnn(x, T.zeros_like(x[0]), w)
        return T.grad((out ** 2).sum(), w)
    verify_grad(fn, [rand(rng, (3, 2)), 0.5 * rand(rng, (2, 2))], rng=rng)


# --- the vanilla RNN: a_t = b + W s_{t-1} + U x_t, s_t = tanh(a_t), o_t = c + V s_t -----------------
def np_rnn_cost(x, y, s0, b, c, W, U, V):
    s, cost = s0, 0.0
    for t in range(x.shape[0]):
        s = np.tanh(b + W @ s + U @ x[t])
        cost += np.sum((c + V @ s - y[t]) ** 2)
    return cost


def rnn_cost(x, y, s0, b, c, W, U, V):
    """The symbolic RNN's squared error over the outputs."""
    def step(x_t, s_prev, b_, c_, W_, U_, V_):
        s_t = T.tanh(b_ + T.dot(W_, s_prev) + T.dot(U_, x_t))
        return s_t, c_ + T.dot(V_, s_t)

    (s, o), _ = scan(step, sequences=x, outputs_info=[s0, None], non_sequences=[b, c, W, U, V])
    return ((o - y) ** 2).sum()


def rnn_graph(dtype):
    x, y = T.matrix("x", dtype=dtype), T.matrix("y", dtype=dtype)
    s0, b, c = T.vector("s0", dtype=dtype), T.vector("b", dtype=dtype), T.vector("c", dtype=dtype)
    W, U, V = T.matrix("W", dtype=dtype), T.matrix("U", dtype=dtype), T.matrix("V", dtype=dtype)
    params = [s0, b, c, W, U, V]
    cost = rnn_cost(x, y, *params)
    return [x, y] + params, cost, T.grad(cost, params)


def _rnn_values(rng, dtype, steps=5, n_in=2, n_hid=3, n_out=2):
    shapes = [(steps, n_in), (steps, n_out), (n_hid,), (n_hid,), (n_out,), (n_hid, n_hid), (n_hid, n_in),
              (n_out, n_hid)]
    return [(0.5 * rand(rng, s, "float64")).astype(dtype) for s in shapes]


def _finite_differences(f, values, k, eps=1e-6):
    g = np.zeros_like(values[k])
    for idx in np.ndindex(values[k].shape):
        plus = [v.copy() for v in values]
        minus = [v.copy() for v in values]
        plus[k][idx] += eps
        minus[k][idx] -= eps
        g[idx] = (f(*plus) - f(*minus)) / (2 * eps)
    return g


def test_rnn_bptt_matches_finite_differences(mode, rng):
    inputs, cost, grads = rnn_graph("float64")
    f = T.function(inputs, [cost] + grads, mode=mode)
    values = _rnn_values(rng, "float64")
    got = f(*values)
    np.testing.assert_allclose(got[0], np_rnn_cost(*values), rtol=1e-10)
    for k, g in enumerate(got[1:]):
        expected = _finite_differences(np_rnn_cost, values, 2 + k)
        np.testing.assert_allclose(g, expected, rtol=1e-5, atol=1e-7, err_msg=str(inputs[2 + k]))


def test_rnn_bptt_float32(mode, rng):
    inputs, cost, grads = rnn_graph("float32")
    assert all(g.dtype == "float32" for g in grads)
    values = _rnn_values(rng, "float32")
    got = T.function(inputs, grads, mode=mode)(*values)
    ref_inputs, _, ref_grads = rnn_graph("float64")
    ref = T.function(ref_inputs, ref_grads, mode="FAST_COMPILE")(*[v.astype("float64") for v in values])
    for g, r in zip(got, ref):
        assert g.dtype == "float32"
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-5)


def test_rnn_verify_grad_float64(rng):
    x, y, *params = _rnn_values(rng, "float64", steps=3, n_hid=2)
    verify_grad(lambda *ps: rnn_cost(T.constant(x), T.constant(y), *ps), params, rng=rng)


# --- truncated BPTT ----------------------------------------------------------------------------------
@pytest.mark.parametrize("truncate", [-1, 1, 3, 10])
def test_truncate_gradient_matches_truncated_bptt(mode, truncate):
    """h_t = a h_{t-1} + x_t, cost = h_{n-1}: d/dx_t = a^(n-1-t) for the last k steps, else 0;
    the initial state gets a^n only when the walk reaches it."""
    x, h0, a = T.dvector("x"), T.dscalar("h0"), T.dscalar("a")
    out, _ = scan(lambda xt, h, a_: a_ * h + xt, sequences=x, outputs_info=h0, non_sequences=a,
                  truncate_gradient=truncate)
    gx, gh0, ga = T.grad(out[-1], [x, h0, a])
    n, av, hv = 5, 0.7, 1.3
    xv = np.linspace(-1, 1, n)
    got = T.function([x, h0, a], [gx, gh0, ga], mode=mode)(xv, hv, av)
    k = n if truncate == -1 else min(truncate, n)
    expected_gx = [av ** (n - 1 - t) if t >= n - k else 0.0 for t in range(n)]
    h = [hv]
    for t in range(n):
        h.append(av * h[-1] + xv[t])
    expected_ga = sum(av ** (n - 1 - t) * h[t] for t in range(n - k, n))
    np.testing.assert_allclose(got[0], expected_gx)
    np.testing.assert_allclose(got[1], av ** n if k == n else 0.0)
    np.testing.assert_allclose(got[2], expected_ga)


# --- forward mode, Lop ---------------------------------------------------------------------------------
def test_rop_through_scan_matches_finite_differences(mode, rng):
    x, h0, w = T.matrix("x"), T.vector("h0"), T.matrix("w")
    out = _tanh_rnn(x, h0, w)
    taps, _ = scan(lambda a, b, hm2, hm1: hm2 * a + T.sin(hm1) * b, sequences=dict(input=x, taps=[-1, 0]),
                   outputs_info=dict(initial=T.stack([h0, h0 * 2]), taps=[-2, -1]))
    evs = [T.matrix("vx"), T.vector("vh"), T.matrix("vw")]
    jvp = T.Rop([out, taps], [x, h0, w], evs)
    f = T.function([x, h0, w] + evs, jvp, mode=mode)
    g = T.function([x, h0, w], [out, taps], mode="FAST_COMPILE")
    point = [rand(rng, (4, 3)), rand(rng, (3,)), 0.5 * rand(rng, (3, 3))]
    direction = [rand(rng, (4, 3)), rand(rng, (3,)), rand(rng, (3, 3))]
    eps = 1e-6
    plus = g(*[p + eps * d for p, d in zip(point, direction)])
    minus = g(*[p - eps * d for p, d in zip(point, direction)])
    for got, hi, lo in zip(f(*point, *direction), plus, minus):
        np.testing.assert_allclose(got, (hi - lo) / (2 * eps), rtol=1e-6, atol=1e-8)


def test_rop_with_shared_state_updated_in_the_loop(rng):
    count = T.shared(np.float64(1.0), name="count")
    x = T.dvector("x")
    out, upd = scan(lambda a: (a * count, {count: count + 1}), sequences=x)
    vx = T.dvector("vx")
    jvp = T.function([x, vx], T.Rop(out, x, vx))
    xv, vv = rand(rng, (4,)), rand(rng, (4,))
    np.testing.assert_allclose(jvp(xv, vv), vv * np.arange(1, 5))
    assert count.get_value() == 1.0       # the tangent computation does not apply the updates


def test_lop_through_scan(rng):
    x, h0, w = T.matrix("x"), T.vector("h0"), T.matrix("w")
    out = _tanh_rnn(x, h0, w)
    v = T.matrix("v")
    vjp = T.Lop(out, w, v)
    direct = T.grad((out * v).sum(), w)
    vals = [rand(rng, (3, 2)), rand(rng, (2,)), rand(rng, (2, 2)), rand(rng, (3, 2))]
    a, b = T.function([x, h0, w, v], [vjp, direct])(*vals)
    np.testing.assert_allclose(a, b)


# --- disconnected and undefined -----------------------------------------------------------------------
def test_unused_non_sequence_is_disconnected():
    x, w = T.dvector("x"), T.dvector("w")
    out, _ = scan(lambda a, w_: a * 2, sequences=x, non_sequences=w)
    with pytest.raises(T.DisconnectedInputError):
        T.grad(out.sum(), w)
    g = T.grad(out.sum(), w, disconnected_inputs="ignore")
    np.testing.assert_allclose(g.eval({w: np.ones(3)}), np.zeros(3))


def test_gradient_through_a_state_updated_in_the_loop_is_reported():
    count = T.shared(np.float64(1.0), name="count")
    x = T.dvector("x")
    out, _ = scan(lambda a: (a * count, {count: count + 1}), sequences=x)
    with pytest.raises(T.NullTypeGradError, match="shared variable that the loop updates"):
        T.grad(out.sum(), x)
    free, _ = scan(lambda a: (a * 3, {count: count + 1}), sequences=x)   # outputs do not read it
    np.testing.assert_allclose(T.grad(free.sum(), x).eval({x: np.ones(2)}), [3, 3])
