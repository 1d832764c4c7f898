"""Random streams and random ops, in every mode.

numpy is the oracle: a random variable's state is a numpy Generator, so its samples must
equal numpy's draws from a copy of that state (uniform as ``low + (high - low) * random()``,
normal as ``avg + std * standard_normal()``, the others by the Generator method of the same
name). Beyond that: reproducibility per seed, advancing on every call, ``seed()``, symbolic
sizes, moments within loose bounds (fixed seeds), dtypes, dropout, run-time errors that leave
the state unchanged, gradients (reparameterized for uniform/normal, disconnected for the
discrete draws), pickling, and use beside other shared-variable updates.
"""
import pickle

import numpy as np
import pytest

import symtensor as T
from symtensor.compile.random_streams import MRG_RandomStreams, RandomStreams
from symtensor.graph.basic import Constant, ancestors
from symtensor.grad import DisconnectedInputError, verify_grad
from symtensor.ops import random_functions as rf
from symtensor.ops.random import RandomStateType, RandomVariable, random_state_type
from symtensor.ops.shape import shape_tuple
from tests.helpers import noncontiguous


def initial_state(var):
    """A copy of the Generator a stream's random variable will draw from next."""
    return var.rng.get_value()


def raw_node(var):
    """The RandomVariable node under a random variable."""
    return next(v.owner for v in ancestors([var]) if v.owner is not None and isinstance(v.owner.op, RandomVariable))


# --- samples equal numpy's draws from the same state; every call advances ---------------------
def test_samples_equal_numpy_draws_and_advance(mode):
    s = RandomStreams(123)
    u = s.uniform((3, 4), low=-1.0, high=2.0)
    n = s.normal((5,), avg=3.0, std=0.5)
    b = s.binomial((2, 6), n=5, p=0.3)
    i = s.random_integers((7,), low=-2, high=4)
    c = s.choice((4,), a=10, replace=False)
    perm = s.permutation((2,), n=5)
    mn = s.multinomial((3,), n=6, pvals=[0.2, 0.3, 0.5])
    po = s.poisson((4,), lam=2.5)
    outs = [u, n, b, i, c, perm, mn, po]
    gens = [initial_state(v) for v in outs]
    f = T.function([], outs, mode=mode)
    for _ in range(2):
        got = f()
        g = gens
        want = [-1 + 3 * g[0].random((3, 4)), 3 + 0.5 * g[1].standard_normal(5), g[2].binomial(5, 0.3, (2, 6)),
                g[3].integers(-2, 4, (7,), endpoint=True), g[4].choice(10, 4, replace=False),
                np.stack([g[5].permutation(5) for _ in range(2)]), g[6].multinomial(6, [0.2, 0.3, 0.5], (3,)),
                g[7].poisson(2.5, (4,))]
        for k, (a, e) in enumerate(zip(got, want)):
            assert a.shape == np.shape(e), k
            np.testing.assert_allclose(a, e, rtol=1e-12, err_msg=str(outs[k]))
    assert got[0].dtype == T.config.floatX and got[2].dtype == "int64" and got[5].dtype == "int64"


def test_reproducible_per_seed_and_seed_resets(mode):
    def make(seed):
        s = RandomStreams(seed)
        return s, T.function([], [s.uniform((4,)), s.normal((3,))], mode=mode)
    s1, f1 = make(42)
    _, f2 = make(42)
    _, f3 = make(43)
    a = [f1() for _ in range(3)]
    b = [f2() for _ in range(3)]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x[0], y[0])
        np.testing.assert_array_equal(x[1], y[1])
    assert not np.array_equal(a[0][0], a[1][0])          # advances between calls
    assert not np.array_equal(f3()[0], a[0][0])          # another seed, other numbers
    s1.seed(42)                                          # back to the start
    np.testing.assert_array_equal(f1()[0], a[0][0])
    s1.seed(43)                                          # as if made with seed 43
    _, f4 = make(43)
    np.testing.assert_array_equal(f1()[1], f4()[1])


def test_each_variable_has_its_own_state_and_updates_listed(mode):
    s = RandomStreams(5)
    u1, u2 = s.uniform((6,)), s.uniform((6,))
    assert [p[0] for p in s.updates()] == [u1.rng, u2.rng]
    assert u1.update == (u1.rng, u1.rng.default_update)
    r1, r2 = T.function([], [u1, u2], mode=mode)()
    assert not np.array_equal(r1, r2)
    state = s[u1]
    assert isinstance(state, np.random.Generator)
    s[u1] = np.random.default_rng(0)
    np.testing.assert_array_equal(T.function([], u1, mode=mode)(), np.random.default_rng(0).random(6))
    with pytest.raises(KeyError):
        s[T.vector()]


def test_no_default_updates_keeps_the_state(mode):
    s = RandomStreams(1)
    u = s.uniform((3,))
    f = T.function([], u, mode=mode, no_default_updates=True)
    np.testing.assert_array_equal(f(), f())


# --- symbolic and zero sizes, broadcasting, dtypes ---------------------------------------------
def test_symbolic_size_serves_every_shape(mode):
    s = RandomStreams(3)
    x = T.matrix("x")
    f = T.function([x], [s.uniform(x.shape), s.normal(x.shape, ndim=2), s.binomial(size=x.shape, p=0.5)],
                   mode=mode)
    for shape in [(2, 3), (5, 1), (0, 4)]:
        outs = f(np.zeros(shape, T.config.floatX))
        assert [o.shape for o in outs] == [shape] * 3
    size = (T.iscalar("a"), 3)
    g = T.function([size[0]], s.uniform(size), mode=mode)
    assert g(4).shape == (4, 3)
    assert g(0).shape == (0, 3)


def test_size_none_takes_the_parameters_shape(mode, rng):
    s = RandomStreams(11)
    avg = T.vector("avg")
    p = T.matrix("p")
    n = s.normal(avg=avg, std=1e-9)
    b = s.binomial(p=p)
    f = T.function([avg, p], [n, b], mode=mode)
    avg_v = np.arange(4.0).astype(T.config.floatX)
    p_v = noncontiguous(np.full((2, 3), 1.0, T.config.floatX))
    got_n, got_b = f(avg_v, p_v)
    np.testing.assert_allclose(got_n, avg_v, atol=1e-6)
    np.testing.assert_array_equal(got_b, np.ones((2, 3)))


def test_parameters_broadcast_against_size(mode):
    s = RandomStreams(12)
    avg = np.array([-100.0, 0.0, 100.0])
    n = s.normal((4000, 3), avg=avg, std=[1.0, 2.0, 3.0])
    b = s.binomial((4000, 2), p=np.array([0.1, 0.9]), dtype="float64")
    got_n, got_b = T.function([], [n, b], mode=mode)()
    np.testing.assert_allclose(got_n.mean(axis=0), avg, atol=0.3)
    np.testing.assert_allclose(got_n.std(axis=0), [1, 2, 3], rtol=0.1)
    np.testing.assert_allclose(got_b.mean(axis=0), [0.1, 0.9], atol=0.03)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float_dtypes(mode, dtype):
    s = RandomStreams(4)
    outs = [s.uniform((50,), dtype=dtype), s.normal((50,), dtype=dtype),
            s.uniform((5,), low=np.array(0, dtype=dtype), high=np.array(2, dtype=dtype)),
            s.binomial((50,), p=0.5, dtype=dtype)]
    got = T.function([], outs, mode=mode)()
    default = np.promote_types(T.config.floatX, dtype)      # Theano: upcast(floatX, low, high)
    assert [g.dtype for g in got] == [dtype, dtype, default, dtype]
    assert np.all((got[0] >= 0) & (got[0] < 1)) and np.all((got[2] >= 0) & (got[2] <= 2))


# --- moments (fixed seeds, loose bounds) --------------------------------------------------------
def test_moments(mode):
    s = RandomStreams(2024)
    N = 20000
    outs = [s.uniform((N,), low=2.0, high=5.0), s.normal((N,), avg=-1.0, std=3.0),
            s.binomial((N,), n=10, p=0.25), s.random_integers((N,), low=3, high=7),
            s.poisson((N,), lam=4.0), s.choice((N,), a=3, p=[0.5, 0.3, 0.2]),
            s.choice((N,), a=np.array([10.0, 20.0]))]
    u, z, b, i, po, c, cv = T.function([], outs, mode=mode)()
    assert abs(u.mean() - 3.5) < 0.05 and abs(u.var() - 0.75) < 0.05 and u.min() >= 2 and u.max() < 5
    assert abs(z.mean() + 1) < 0.1 and abs(z.std() - 3) < 0.1
    assert abs(b.mean() - 2.5) < 0.05 and abs(b.var() - 1.875) < 0.1
    assert set(np.unique(i)) == {3, 4, 5, 6, 7}
    assert abs(po.mean() - 4) < 0.1
    np.testing.assert_allclose(np.bincount(c, minlength=3) / N, [0.5, 0.3, 0.2], atol=0.02)
    assert cv.dtype == np.float64 and set(np.unique(cv)) == {10.0, 20.0}


def test_discrete_structure(mode):
    s = RandomStreams(8)
    outs = [s.choice((6,), a=6, replace=False), s.permutation((3, 2), n=4),
            s.multinomial(size=(5,), n=7, pvals=np.array([0.1, 0.6, 0.3], "float32"))]
    c, perm, mn = T.function([], outs, mode=mode)()
    assert sorted(c) == list(range(6))
    assert perm.shape == (3, 2, 4) and np.all(np.sort(perm, axis=-1) == np.arange(4))
    assert mn.shape == (5, 3) and np.all(mn.sum(axis=1) == 7)


# --- dropout ------------------------------------------------------------------------------------
def test_dropout_mask(mode, rng):
    s = RandomStreams(99)
    x = T.matrix("x")
    p_drop = 0.3
    mask = s.binomial(size=x.shape, n=1, p=1 - p_drop, dtype=T.config.floatX)
    y = x * mask / (1 - p_drop)
    f = T.function([x], [mask, y], mode=mode)
    xv = (rng.random((200, 100)) + 1).astype(T.config.floatX)
    m, out = f(xv)
    assert set(np.unique(m)) <= {0.0, 1.0}
    assert abs(m.mean() - (1 - p_drop)) < 0.01
    np.testing.assert_allclose(out[m == 1], xv[m == 1] / (1 - p_drop), rtol=1e-6)
    assert np.all(out[m == 0] == 0)
    assert abs(out.mean() / xv.mean() - 1) < 0.02        # inverted scaling keeps the mean
    m2, _ = f(xv)
    assert not np.array_equal(m, m2)


# --- errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad_p", [1.5, -0.1, np.nan])
def test_binomial_probability_out_of_range_raises_and_keeps_state(mode, bad_p):
    s = RandomStreams(6)
    p = T.scalar("p")
    b = s.binomial((3,), p=p)
    f = T.function([p], b, mode=mode)
    before = s[b].bit_generator.state
    with pytest.raises(ValueError, match=r"binomial: p must be in \[0, 1\], got"):
        f(bad_p)
    assert s[b].bit_generator.state == before
    assert f(0.5).shape == (3,)


def test_runtime_errors_name_the_argument(mode):
    s = RandomStreams(6)
    lo, hi, k = T.lscalar("lo"), T.lscalar("hi"), T.lscalar("k")
    with pytest.raises(ValueError, match="low must be <= high"):
        T.function([lo, hi], s.random_integers((2,), lo, hi), mode=mode)(5, 1)
    with pytest.raises(ValueError, match="without replacement"):
        T.function([k], s.choice((k,), a=3, replace=False), mode=mode)(5)
    with pytest.raises(ValueError, match="must sum to 1"):
        T.function([], s.choice((2,), a=2, p=[0.5, 0.7]), mode=mode)()
    with pytest.raises(ValueError, match="size must not hold negative"):
        T.function([k], s.uniform((k,)), mode=mode)(-1)
    pv = T.vector("pv")
    with pytest.raises(ValueError, match=r"binomial: .*size \(2,\); parameter shapes: n \(\), p \(3,\)"):
        T.function([pv], s.binomial((2,), p=pv), mode=mode)(np.full(3, 0.5))
    with pytest.raises(ValueError):
        T.function([pv], s.normal((2,), avg=pv), mode=mode)(np.zeros(3))


def test_build_errors():
    s = RandomStreams(0)
    with pytest.raises(ValueError, match=r"size\[1\] must be >= 0"):
        s.uniform((2, -1))
    with pytest.raises(TypeError, match=r"size\[0\] must be an integer"):
        s.uniform((2.5,))
    with pytest.raises(ValueError, match="ndim=3 disagrees"):
        s.normal((2, 2), ndim=3)
    with pytest.raises(TypeError, match="dtype must be a float dtype"):
        s.uniform((2,), dtype="int32")
    with pytest.raises(ValueError, match="a must be an int or a vector"):
        s.choice((2,), a=np.eye(2))
    with pytest.raises(ValueError, match="avg has 2 dimension"):
        s.normal((3,), avg=np.zeros((3, 3)))
    with pytest.raises(TypeError, match="binomial: n must be an integer"):
        s.binomial((2,), n=1.5)
    with pytest.raises(TypeError, match="random state"):
        rf.uniform(T.vector(), (2,))
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        random_state_type.filter(3)
    with pytest.raises(TypeError, match="seed must be"):
        RandomStreams("x")
    with pytest.raises(ValueError, match="seed must be >= 0"):
        RandomStreams(-1)


# --- gradients ----------------------------------------------------------------------------------
def fixed_state(seed):
    return Constant(RandomStateType(), np.random.default_rng(seed))


def test_verify_grad_through_reparameterized_draws(rng):
    size = (3, 2)
    verify_grad(lambda avg, std: rf.normal(fixed_state(1), size, avg, std)[1],
                [rng.standard_normal(2), rng.random(2) + 0.5])
    verify_grad(lambda low, high: rf.uniform(fixed_state(2), size, low, high)[1],
                [rng.standard_normal(size), rng.standard_normal(size) + 3])


def test_discrete_draws_are_disconnected_from_their_parameters(mode):
    s = RandomStreams(3)
    p = T.scalar("p")
    mask = s.binomial((4,), p=p, dtype="float64")
    with pytest.raises(DisconnectedInputError):
        T.grad(mask.sum(), p)
    g = T.grad(mask.sum(), p, disconnected_inputs="ignore")
    assert float(T.function([p], g, mode=mode)(0.5)) == 0.0


def test_gradient_through_a_dropout_whose_size_depends_on_the_weights(mode, rng):
    s = RandomStreams(5)
    W = T.matrix("W")
    mask = s.binomial(size=W.shape, p=0.5, dtype="float64")
    cost = (W * mask).sum() + s.normal(W.shape, avg=W).sum()
    gW = T.grad(cost, W)
    f = T.function([W], [gW, mask], mode=mode)
    g, m = f(rng.standard_normal((3, 4)))
    np.testing.assert_allclose(g, m + 1)


def test_rop_through_a_normal_draw(mode):
    avg = T.vector("avg")
    out = rf.normal(fixed_state(4), (3,), avg, 2.0)[1]
    jvp = T.Rop(out, avg, T.ones_like(avg))
    np.testing.assert_allclose(T.function([avg], jvp, mode=mode)(np.zeros(3)), np.ones(3))


# --- inside functions: other updates, pickling, infer_shape ------------------------------------
def test_with_updates_of_other_shared_variables(mode):
    s = RandomStreams(10)
    counter = T.shared(np.int64(0), name="counter")
    acc = T.shared(np.zeros(3), name="acc")
    u = s.uniform((3,))
    f = T.function([], u, updates=[(counter, counter + 1), (acc, acc + u)], mode=mode)
    draws = [f() for _ in range(3)]
    assert int(counter.get_value()) == 3
    np.testing.assert_allclose(acc.get_value(), np.sum(draws, axis=0))
    assert not np.array_equal(draws[0], draws[1])


def test_pickled_function_continues_from_the_saved_state(mode):
    s = RandomStreams(77)
    x = T.vector("x")
    f = T.function([x], x + s.normal((3,)), mode=mode)
    f(np.zeros(3))
    g = pickle.loads(pickle.dumps(f))
    np.testing.assert_array_equal(g(np.zeros(3)), f(np.zeros(3)))
    np.testing.assert_array_equal(g(np.zeros(3)), f(np.zeros(3)))


def test_infer_shape(mode):
    k = T.lscalar("k")
    for var in [rf.uniform(fixed_state(0), (k, 3))[1], rf.permutation(fixed_state(0), (2,), n=k)[1],
                rf.multinomial(fixed_state(0), (k,), 3, [0.5, 0.5])[1]]:
        node = raw_node(var)
        shapes = node.op.infer_shape(node, [None] + [shape_tuple(i) for i in node.inputs[1:]])
        assert shapes[0] is None
        got = T.function([k], [T.as_tensor_variable(e) for e in shapes[1]], mode=mode)(4)
        assert tuple(int(g) for g in got) == T.function([k], var, mode=mode)(4).shape


# --- MRG_RandomStreams ----------------------------------------------------------------------------
def test_mrg_streams(mode):
    s = MRG_RandomStreams()
    s2 = MRG_RandomStreams(seed=12345)
    x = T.matrix("x")
    pvals = np.array([[0.2, 0.8], [0.9, 0.1], [0.5, 0.5]])
    outs = [s.uniform(size=x.shape, dtype="float32", nstreams=10), s.normal((2000,), avg=1.0, std=2.0),
            s.normal((2000,), truncate=True), s.binomial(size=x.shape, p=0.25, dtype="float64"),
            s.multinomial(pvals=pvals, n=3), s.choice(size=2, p=pvals, replace=False),
            s.multinomial_wo_replacement(size=1, p=pvals)]
    f = T.function([x], outs, mode=mode)
    xv = np.zeros((100, 30), T.config.floatX)
    u, z, zt, b, mn, ch, ch1 = f(xv)
    assert u.dtype == np.float32 and u.shape == (100, 30) and 0 <= u.min() and u.max() < 1
    assert abs(z.mean() - 1) < 0.15 and abs(z.std() - 2) < 0.15
    assert np.abs(zt).max() <= 2 and 0.8 < zt.std() < 0.95
    assert abs(b.mean() - 0.25) < 0.02
    assert mn.shape == (3, 2) and np.all(mn.sum(axis=1) == 3) and mn.dtype == np.int64
    assert ch.shape == (3, 2) and np.all(np.sort(ch, axis=1) == [0, 1]) and ch1.shape == (3, 1)
    np.testing.assert_array_equal(T.function([x], s2.uniform(size=x.shape, dtype="float32"), mode=mode)(xv), u)
    with pytest.raises(ValueError, match="leave size and ndim out"):
        s.multinomial(size=(2,), pvals=pvals)
    with pytest.raises(TypeError, match="a has to be None"):
        s.choice(size=2, a=3, p=pvals)


# --- MRG_RandomStreams: counter-based (Philox) states -------------------------------------------
def test_mrg_samples_are_the_philox_draws_of_the_state(mode):
    from symtensor.ops.philox import sample
    s = MRG_RandomStreams(7)
    u = s.uniform((3, 4), low=-1.0, high=2.0, dtype="float64")
    z = s.normal((5,), avg=3.0, std=0.5, dtype="float32")
    states = [s[u].copy(), s[z].copy()]
    assert all(st.dtype == np.uint32 and st.shape == (4,) and st[2] == st[3] == 0 for st in states)
    f = T.function([], [u, z], mode=mode)
    for call in range(2):
        got_u, got_z = f()
        np.testing.assert_allclose(got_u, -1 + 3 * sample(states[0], "uniform", "float64", 12).reshape(3, 4),
                                   rtol=1e-15)
        np.testing.assert_allclose(got_z, np.float32(3) + np.float32(0.5) * sample(states[1], "normal", "float32", 5),
                                   rtol=1e-6)
        assert got_z.dtype == np.float32
        states = [np.array([st[0], st[1], call + 1, 0], dtype=np.uint32) for st in states]
        assert s[u].tolist() == states[0].tolist() and s[z].tolist() == states[1].tolist()


def test_mrg_same_numbers_in_every_mode():
    outs = []
    for mode in ("FAST_COMPILE", "FAST_RUN", "DebugMode"):
        s = MRG_RandomStreams(3)
        x = T.matrix("x")
        f = T.function([x], [s.uniform(x.shape), s.normal((1001,), truncate=True), s.binomial(x.shape, p=0.3)],
                       mode=mode)
        outs.append([f(np.zeros((30, 7), T.config.floatX)) for _ in range(2)])
    for other in outs[1:]:
        for a, b in zip(outs[0], other):
            for x, y in zip(a, b):
                np.testing.assert_allclose(x, y, rtol=1e-6)


def test_mrg_seed_getitem_setitem_and_errors(mode):
    from symtensor.ops.philox import make_state
    s = MRG_RandomStreams(21)
    u, v = s.uniform((4,)), s.normal((4,))
    f = T.function([], [u, v], mode=mode)
    a = f()
    s.seed(21)
    np.testing.assert_array_equal(f()[0], a[0])
    s.seed(22)
    assert not np.array_equal(f()[0], a[0])
    assert s[u].tolist() != s[v].tolist()           # every variable has its own key
    s[u] = make_state(99, call=5)
    want = T.function([], u, mode=mode, no_default_updates=True)()
    s[u] = make_state(99, call=5)
    np.testing.assert_array_equal(f()[0], want)
    assert s[u].tolist() == make_state(99, call=6).tolist()
    with pytest.raises(ValueError, match="uint32 array of shape"):
        s[u] = np.zeros(2, dtype=np.uint32)
    with pytest.raises(KeyError):
        s[T.vector()]
    for name in ("poisson", "random_integers", "permutation"):
        with pytest.raises(NotImplementedError, match="use RandomStreams"):
            getattr(s, name)((2,))


def test_mrg_binomial_n_trials_and_dropout(mode, rng):
    s = MRG_RandomStreams(4)
    x = T.matrix("x")
    p_drop = 0.3
    mask = s.binomial(size=x.shape, n=1, p=1 - p_drop, dtype=T.config.floatX)
    y = x * mask / (1 - p_drop)
    three = s.binomial((20000,), n=3, p=0.25)
    none = s.binomial((5,), n=0, p=0.5)
    f = T.function([x], [mask, y, three, none, T.grad(y.sum(), x)], mode=mode)
    xv = (rng.random((200, 100)) + 1).astype(T.config.floatX)
    m, out, b3, b0, g = f(xv)
    assert set(np.unique(m)) <= {0.0, 1.0} and abs(m.mean() - (1 - p_drop)) < 0.01
    np.testing.assert_allclose(out, xv * m / (1 - p_drop), rtol=1e-6)
    np.testing.assert_allclose(g, m / (1 - p_drop), rtol=1e-6)
    assert b3.dtype == np.int64 and set(np.unique(b3)) == {0, 1, 2, 3}
    assert abs(b3.mean() - 0.75) < 0.03 and abs(b3.var() - 3 * 0.25 * 0.75) < 0.05
    np.testing.assert_array_equal(b0, 0)
    assert not np.array_equal(m, f(xv)[0])
    with pytest.raises(NotImplementedError, match="constant int"):
        s.binomial((3,), n=T.lscalar("n"), p=0.5)
    with pytest.raises(TypeError, match="n must be an int"):
        s.binomial((3,), n=1.5, p=0.5)


@pytest.mark.parametrize("bad_p", [1.5, -0.1, np.nan])
def test_mrg_binomial_bad_probability_raises_and_keeps_state(mode, bad_p):
    s = MRG_RandomStreams(6)
    p = T.scalar("p")
    b = s.binomial((3,), p=p)
    f = T.function([p], b, mode=mode)
    before = s[b].copy()
    with pytest.raises(ValueError, match=r"binomial: p must be in \[0, 1\], got"):
        f(bad_p)
    assert s[b].tolist() == before.tolist()
    assert f(0.5).shape == (3,)


def test_mrg_multinomial_frequencies(mode):
    s = MRG_RandomStreams(8)
    pvals = np.array([[0.2, 0.0, 0.8], [0.5, 0.25, 0.25]])
    counts = s.multinomial(pvals=pvals, n=5000)
    single = s.multinomial(pvals=[0.1, 0.9])
    pv = T.matrix("pv")
    f = T.function([], [counts, single], mode=mode)
    c, one = f()
    assert c.shape == (2, 3) and c.dtype == np.int64 and np.all(c.sum(axis=1) == 5000) and c[0, 1] == 0
    np.testing.assert_allclose(c / 5000, pvals, atol=0.03)
    assert one.shape == (2,) and one.sum() == 1
    with pytest.raises(ValueError, match="must sum to 1"):
        T.function([pv], s.multinomial(pvals=pv), mode=mode)(np.full((2, 2), 0.7, T.config.floatX))
    with pytest.raises(NotImplementedError, match="constant int"):
        s.multinomial(pvals=pvals, n=T.lscalar())


@pytest.mark.parametrize("replace", [True, False])
def test_mrg_choice(mode, replace):
    s = MRG_RandomStreams(10)
    p = np.array([[0.1, 0.2, 0.7, 0.0], [0.25, 0.25, 0.25, 0.25]])
    k = T.lscalar("k")
    many = s.choice(size=k, p=p, replace=replace)
    f = T.function([k], many, mode=mode)
    draws = np.stack([f(3) for _ in range(2000)])                      # (2000, 2, 3)
    assert draws.dtype == np.int64 and draws.shape == (2000, 2, 3)
    assert not np.any(draws[:, 0] == 3)                                  # probability 0: never
    if replace:
        freq = np.bincount(draws[:, 0].reshape(-1), minlength=4) / draws[:, 0].size
        np.testing.assert_allclose(freq, p[0], atol=0.02)
    else:
        assert all(len(set(row)) == 3 for row in draws.reshape(-1, 3))
        np.testing.assert_array_equal(np.sort(draws[:, 0], axis=1), np.broadcast_to([0, 1, 2], (2000, 3)))
        first = np.bincount(draws[:, 1, 0], minlength=4) / 2000        # the first pick of a uniform row
        np.testing.assert_allclose(first, 0.25, atol=0.04)
        with pytest.raises(ValueError):
            f(5)                                                         # 5 > 4 categories
    with pytest.raises(ValueError, match="must sum to 1"):
        T.function([], s.choice(size=1, p=[[0.5, 0.7]], replace=replace), mode=mode)()


def test_mrg_pickled_function_continues_from_the_saved_state(mode):
    s = MRG_RandomStreams(5)
    f = T.function([], s.normal((3,)), mode=mode)
    f()
    g = pickle.loads(pickle.dumps(f))
    np.testing.assert_array_equal(f(), g())
    np.testing.assert_array_equal(f(), g())
