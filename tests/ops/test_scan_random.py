"""Random streams used inside ``scan`` (Theano's pattern for noise and dropout in an RNN), in
every mode.

A random state used by ``fn`` is threaded through the loop: each step draws from the current
state and passes the advanced state on, and ``scan`` returns the update {state: final state}.
The numbers are checked against a copy of the state's numpy generator drawing the same
sequence of samples. Gradients treat the draws as constants and match finite differences of
the function run with the stream re-seeded before each call.
"""
import copy

import numpy as np
import pytest

import symtensor as T
from symtensor.ops.scan_op import Scan


def _noise_map(srng, made):
    """``x_t * uniform((2,))`` over the rows of X; ``made`` collects the random variables."""
    X = T.dmatrix("X")

    def step(x_t):
        u = srng.uniform((2,))
        made.append(u)
        return x_t * u

    r, upd = T.scan(step, sequences=X)
    return X, r, upd


def test_each_step_draws_and_the_stream_advances_per_call(mode):
    srng, made = T.RandomStreams(7), []
    X, r, upd = _noise_map(srng, made)
    (state,) = [v for v in upd]
    assert state is made[0].rng
    f = T.function([X], r, updates=upd, mode=mode)
    ref = copy.deepcopy(srng[made[0]])
    xv = np.arange(8.0).reshape(4, 2) + 1
    first, second = f(xv), f(xv)
    want1 = xv * np.array([ref.random(2) for _ in range(4)])
    want2 = xv * np.array([ref.random(2) for _ in range(4)])
    np.testing.assert_allclose(first, want1, rtol=1e-12)
    np.testing.assert_allclose(second, want2, rtol=1e-12)
    assert not np.allclose(first[0] / xv[0], first[1] / xv[1])      # a fresh draw per step
    assert srng[made[0]].bit_generator.state == ref.bit_generator.state      # the update is the final state


def test_reproducible_per_seed(mode):
    results = []
    for _ in range(2):
        srng = T.RandomStreams(123)
        X, r, upd = _noise_map(srng, [])
        f = T.function([X], r, updates=upd, mode=mode)
        results.append([f(np.ones((3, 2))), f(np.ones((3, 2)))])
        srng.seed(123)
        np.testing.assert_array_equal(f(np.ones((3, 2))), results[-1][0])
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
    other = T.RandomStreams(124)
    X, r, upd = _noise_map(other, [])
    assert not np.allclose(T.function([X], r, updates=upd, mode=mode)(np.ones((3, 2))), results[0][0])


def test_dropout_mask_inside_rnn_step(mode, rng):
    srng, made = T.RandomStreams(3), []
    X, W, h0 = T.dmatrix("X"), T.dmatrix("W"), T.dvector("h0")

    def step(x_t, h):
        mask = srng.binomial(h.shape, p=0.5, dtype="float64")      # size from the state's shape
        made.append(mask)
        return T.tanh(T.dot(x_t, W) + h * mask)

    r, upd = T.scan(step, sequences=X, outputs_info=h0)
    f = T.function([X, W, h0], r, updates=upd, mode=mode)
    xv, wv, hv = rng.normal(size=(5, 3)), rng.normal(size=(3, 3)), rng.normal(size=3)
    ref = copy.deepcopy(srng[made[0]])
    for _ in range(2):
        got = f(xv, wv, hv)
        h, want = hv, []
        for t in range(5):
            h = np.tanh(xv[t] @ wv + h * ref.binomial(1, 0.5, 3))
            want.append(h)
        np.testing.assert_allclose(got, np.array(want), rtol=1e-12)


def test_mrg_streams_random_walk_without_sequences(mode):
    srng = T.MRG_RandomStreams(seed=42)
    h0 = T.dvector("h0")
    walk, upd = T.scan(lambda h: h + srng.normal((2,), std=0.5), outputs_info=h0, n_steps=6)
    f = T.function([h0], walk, updates=upd, mode=mode)
    a, b = f(np.zeros(2)), f(np.zeros(2))
    steps = np.diff(np.concatenate([np.zeros((1, 2)), a]), axis=0)
    assert a.shape == (6, 2) and len({tuple(s) for s in steps}) == 6
    assert not np.allclose(a, b)
    srng.seed(42)
    np.testing.assert_array_equal(f(np.zeros(2)), a)


def test_mrg_uniform_backwards_with_a_tensor_shared_update(mode):
    srng = T.MRG_RandomStreams(seed=5)
    count = T.shared(np.float64(0.0), name="count")
    X = T.dmatrix("X")
    r, upd = T.scan(lambda x_t: (x_t + srng.uniform((2,), low=-1.0, high=1.0), {count: count + 1}),
                    sequences=X, go_backwards=True)
    assert set(upd) >= {count}
    f = T.function([X], r, updates=upd, mode=mode)
    out = f(np.zeros((4, 2)))
    assert np.all(np.abs(out) <= 1) and len({tuple(row) for row in out}) == 4
    assert count.get_value() == 4.0


def test_draws_reading_an_updated_tensor_state_run_in_one_loop(mode):
    srng = T.RandomStreams(9)
    p = T.shared(np.float64(0.0), name="p")
    X = T.dmatrix("X")
    r, upd = T.scan(lambda x_t: (x_t * srng.binomial((3,), p=p, dtype="float64"), {p: p + 0.5}),
                    sequences=X)
    (state,) = [v for v in upd if v is not p]
    assert isinstance(r.owner.op, Scan) and upd[state].owner is r.owner is upd[p].owner
    f = T.function([X], r, updates=upd, mode=mode)
    p.set_value(np.float64(0.0))
    out = f(np.ones((3, 3)))
    np.testing.assert_array_equal(out[0], 0)                  # p = 0 at the first step
    np.testing.assert_array_equal(out[2], 1)                  # p = 1 at the third
    assert p.get_value() == 1.5


@pytest.mark.parametrize("stream", [T.RandomStreams, T.MRG_RandomStreams])
def test_gradient_treats_draws_as_constants(mode, rng, stream):
    srng = stream(11)
    X, W, h0 = T.dmatrix("X"), T.dmatrix("W"), T.dvector("h0")

    def step(x_t, h):
        mask = srng.binomial(h.shape, p=0.7, dtype="float64")
        return T.tanh(T.dot(x_t, W) + h * mask + srng.normal((3,), std=0.1))

    r, upd = T.scan(step, sequences=X, outputs_info=h0)
    cost = (r ** 2).sum()
    f = T.function([X, W, h0], [cost] + T.grad(cost, [W, X, h0]), updates=upd, mode=mode)
    xv, wv, hv = rng.normal(size=(4, 3)), rng.normal(size=(3, 3)), rng.normal(size=3)
    srng.seed(2)
    c, *grads = f(xv, wv, hv)
    eps = 1e-6
    for k, value in enumerate([xv, wv, hv]):
        num = np.zeros_like(value)
        for i in np.ndindex(*value.shape):
            bumped = [xv, wv, hv]
            bumped[k] = value.copy()
            bumped[k][i] += eps
            srng.seed(2)
            num[i] = (f(*bumped)[0] - c) / eps
        np.testing.assert_allclose(grads[[1, 0, 2][k]], num, rtol=1e-4, atol=1e-5)


def test_mrg_draws_in_scan_follow_the_call_counter(mode):
    from symtensor.ops.philox import sample
    srng, made = T.MRG_RandomStreams(17), []
    X, r, upd = _noise_map(srng, made)
    (state,) = [v for v in upd]
    assert state is made[0].rng
    f = T.function([X], r, updates=upd, mode=mode)
    start = srng[made[0]].copy()
    xv = np.arange(8.0).reshape(4, 2) + 1
    dtype = made[0].dtype
    for call in range(2):
        want = xv * np.stack([sample(np.array([start[0], start[1], 4 * call + t, 0], dtype=np.uint32), "uniform",
                                     dtype, 2) for t in range(4)])
        np.testing.assert_allclose(f(xv), want, rtol=1e-6 if dtype == "float32" else 1e-15)
        assert srng[made[0]].tolist() == [start[0], start[1], 4 * (call + 1), 0]   # one call per step


def test_mrg_dropout_in_rnn_with_gradient(mode, rng):
    from symtensor.ops.philox import sample
    srng = T.MRG_RandomStreams(3)
    X, W, h0 = T.dmatrix("X"), T.dmatrix("W"), T.dvector("h0")
    masks = []

    def step(x_t, h):
        mask = srng.binomial(h.shape, p=0.5, dtype="float64")
        masks.append(mask)
        return T.tanh(T.dot(x_t, W) + h * mask)

    r, upd = T.scan(step, sequences=X, outputs_info=h0)
    f = T.function([X, W, h0], [r, T.grad(r.sum(), h0)], updates=upd, mode=mode)
    xv, wv, hv = rng.normal(size=(5, 3)), rng.normal(size=(3, 3)), rng.normal(size=3)
    state = srng[masks[0]].copy()
    got, g = f(xv, wv, hv)
    h, want, ms = hv, [], []
    for t in range(5):
        m = (sample(np.array([state[0], state[1], t, 0], dtype=np.uint32), "uniform", "float64", 3) < 0.5) * 1.0
        ms.append(m)
        h = np.tanh(xv[t] @ wv + h * m)
        want.append(h)
    np.testing.assert_allclose(got, np.array(want), rtol=1e-12)
    # backpropagate by hand through the recorded masks
    gh = np.zeros(3)
    for t in reversed(range(5)):
        gh = (gh + 1) * (1 - want[t] ** 2) * ms[t]
    np.testing.assert_allclose(g, gh, rtol=1e-10)
