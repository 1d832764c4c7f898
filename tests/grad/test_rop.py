"""Rop (forward mode) against numeric directional derivatives; Lop/Rop consistency."""
import numpy as np
import pytest

import symtensor as T


def _directional(f, point, direction, eps=1e-6):
    plus = [p + eps * d for p, d in zip(point, direction)]
    minus = [p - eps * d for p, d in zip(point, direction)]
    return (np.asarray(f(*plus)) - np.asarray(f(*minus))) / (2 * eps)


def _chain():
    W, x = T.dmatrix("W"), T.dvector("x")
    hidden = T.exp(T.tanh(T.dot(W, x)) * 2) + x[:3]
    return W, x, hidden, hidden.sum()


@pytest.mark.parametrize("which", ["vector", "scalar"])
def test_rop_of_elemwise_dot_sum_chain(mode, rng, which):
    W, x, hidden, total = _chain()
    out = hidden if which == "vector" else total
    dW, dx = T.dmatrix("dW"), T.dvector("dx")
    jvp = T.Rop(out, [W, x], [dW, dx])
    f = T.function([W, x], out, mode=mode)
    g = T.function([W, x, dW, dx], jvp, mode=mode)
    Wv, xv = rng.standard_normal((3, 4)) * 0.5, rng.standard_normal(4)
    dWv, dxv = rng.standard_normal((3, 4)), rng.standard_normal(4)
    np.testing.assert_allclose(g(Wv, xv, dWv, dxv), _directional(f, [Wv, xv], [dWv, dxv]), rtol=1e-6, atol=1e-8)


def test_rop_wrt_a_subset_of_inputs(rng):
    W, x, hidden, _ = _chain()
    dx = T.dvector("dx")
    jvp = T.Rop(hidden, x, dx)
    f = T.function([W, x], hidden)
    Wv, xv, dxv = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal(4)
    got = T.function([W, x, dx], jvp)(Wv, xv, dxv)
    np.testing.assert_allclose(got, _directional(lambda w, v: f(w, v), [Wv, xv], [0 * Wv, dxv]), rtol=1e-6)


def test_rop_of_a_list_and_of_an_independent_output(rng):
    x, y = T.dvector("x"), T.dvector("y")
    v = T.dvector("v")
    outs = T.Rop([T.sin(x), y * 2], x, v)
    assert isinstance(outs, list) and len(outs) == 2
    xv, yv, vv = rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(3)
    a, b = T.function([x, y, v], outs, on_unused_input="ignore")(xv, yv, vv)
    np.testing.assert_allclose(a, np.cos(xv) * vv)
    np.testing.assert_array_equal(b, np.zeros(3))


def test_rop_and_lop_agree(rng):
    """<u, J v> computed by Rop equals <Lop(u), v>."""
    W, x, hidden, _ = _chain()
    u, v = T.dvector("u"), T.dvector("v")
    jv = T.Rop(hidden, x, v)
    ju = T.Lop(hidden, x, u)
    f = T.function([W, x, u, v], [T.dot(u, jv), T.dot(ju, v)])
    left, right = f(rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal(3),
                    rng.standard_normal(4))
    np.testing.assert_allclose(left, right, rtol=1e-10)


def test_rop_bad_eval_points():
    x = T.dvector("x")
    with pytest.raises(ValueError, match="1 wrt variables but 2 eval points"):
        T.Rop(x * 2, x, [T.dvector(), T.dvector()])
    with pytest.raises(ValueError, match="eval point for x has 2 dimension.*expected 1"):
        T.Rop(x * 2, x, T.dmatrix())
