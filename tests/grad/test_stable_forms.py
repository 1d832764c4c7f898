"""The derivative engine differentiates stable forms of saturating sigmoid cross-entropies."""
import numpy as np
import pytest

import symtensor as T
from symtensor.grad import stable_forms

Z = np.array([30.0, 37.0, 40.0, -40.0, -750.0, 0.3])
TARGET = np.array([0, 0, 0, 1, 1, 1.0])
WANT = 1 / (1 + np.exp(-Z)) - TARGET          # d/dz of the cross-entropy of sigmoid(z)


def _costs(z, t):
    hand = 1 / (1 + T.exp(-z))
    return {
        "binary_crossentropy(sigmoid)": T.nnet.binary_crossentropy(T.nnet.sigmoid(z), t).sum(),
        "hand-written sigmoid": (-t * T.log(hand) - (1 - t) * T.log(1 - hand)).sum(),
        "log(sigmoid) terms": (-t * T.log(T.nnet.sigmoid(z)) - (1 - t) * T.log(1 - T.nnet.sigmoid(z))).sum(),
    }


@pytest.mark.parametrize("which", ["binary_crossentropy(sigmoid)", "hand-written sigmoid", "log(sigmoid) terms"])
def test_saturated_gradients_are_finite_and_right(mode, which):
    z, t = T.dvector("z"), T.dvector("t")
    cost = _costs(z, t)[which]
    got = T.function([z, t], T.grad(cost, z), mode=mode)(Z, TARGET)
    np.testing.assert_allclose(got, WANT, rtol=1e-12, atol=1e-15)


def test_forward_value_of_hand_written_form_is_stable_in_fast_run():
    z, t = T.dvector("z"), T.dvector("t")
    cost = _costs(z, t)["hand-written sigmoid"]
    value = T.function([z, t], cost, mode="FAST_RUN")(Z, TARGET)
    want = np.sum(np.logaddexp(0, -Z) * TARGET + np.logaddexp(0, Z) * (1 - TARGET))
    np.testing.assert_allclose(value, want, rtol=1e-12)


def test_user_graph_is_not_modified():
    z = T.dvector("z")
    p = 1 / (1 + T.exp(-z))
    cost = T.log(p).sum()
    before = T.debugprint(cost, file="str")
    T.grad(cost, z)
    assert T.debugprint(cost, file="str") == before


def test_named_intermediate_is_never_replaced():
    """grad with respect to p itself: p must stay in the graph that is differentiated."""
    z = T.dvector("z")
    p = T.nnet.sigmoid(z)
    cost = T.log(p).sum()
    assert stable_forms.stabilize(cost, keep={z, p}) is cost
    g = T.function([z], T.grad(cost, p))(np.array([0.0, 2.0]))
    np.testing.assert_allclose(g, 1 / (1 / (1 + np.exp(-np.array([0.0, 2.0])))))


def test_stabilize_rebuilds_only_where_a_pattern_applies():
    z = T.dvector("z")
    cost = (T.tanh(z) * 2).sum()
    assert stable_forms.stabilize(cost, keep={z}) is cost
    stable = stable_forms.stabilize(T.log(T.nnet.sigmoid(z)).sum(), keep={z})
    names = {n.op.scalar_op.name for n in T.FunctionGraph([z], [stable]).toposort()
             if hasattr(n.op, "scalar_op")}
    assert "softplus" in names and "log" not in names


def test_verify_grad_still_passes():
    rng = np.random.default_rng(0)
    T.verify_grad(lambda z: T.log(1 - T.nnet.sigmoid(z)).sum() + T.log(1 / (1 + T.exp(-z))).sum(),
                  [rng.standard_normal(5)], rng=rng)


def test_theano_logistic_regression_tutorial_stays_finite():
    """The Theano 1.0 tutorial's logistic regression, verbatim but smaller: it trained to NaN
    when saturated logits made the gradient 0/0."""
    rng = np.random.RandomState(42)
    N, feats = 100, 784
    D = (rng.randn(N, feats), rng.randint(size=N, low=0, high=2))
    x, y = T.dmatrix("x"), T.dvector("y")
    w = T.shared(rng.randn(feats), name="w")
    b = T.shared(0.0, name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    prediction = p_1 > 0.5
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = T.grad(cost, [w, b])
    train = T.function([x, y], [prediction, xent], updates=((w, w - 0.1 * gw), (b, b - 0.1 * gb)))
    for _ in range(50):
        train(D[0], D[1])
    assert np.all(np.isfinite(w.get_value())) and np.isfinite(b.get_value())
    predict = T.function([x], prediction)
    assert np.mean(predict(D[0]) == D[1]) > 0.9
