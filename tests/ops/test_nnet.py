"""Neural-network ops against numpy loop references, in every mode: activations
(ultra_fast_sigmoid, hard_sigmoid, relu, elu), softmax / logsoftmax (Theano 1.0: a vector gives
a 1 x n row; more dimensions are taken over the last axis), the cross-entropies, their
gradients (verify_grad in float64, second order included), R_op, stability for huge logits
and build/run-time errors."""
import numpy as np
import pytest

import symtensor as T
from symtensor.grad import Rop, verify_grad
from symtensor.ops.nnet import (LogSoftmax, Softmax, SoftmaxGrad, elu, hard_sigmoid, logsoftmax, relu,
                                sigmoid, softmax, softmax_grad, softplus, ultra_fast_sigmoid)
from symtensor.ops.nnet_xent import (CrossentropyCategorical1Hot, binary_crossentropy,
                                     categorical_crossentropy, crossentropy_categorical_1hot_grad,
                                     crossentropy_softmax_1hot)
from tests.helpers import FLOATS, check_infer_shape, layouts, noncontiguous, rand, run, tol


# --- numpy references (loops where the definition is per element or per row) -------------------
def ufs_ref(a):
    """Theano's UltraFastScalarSigmoid.st_impl, element by element."""
    out = np.empty(a.shape, dtype="float64")
    for idx, v in np.ndenumerate(a.astype("float64")):
        h = 0.5 * v
        xx = h if h >= 0 else -h
        z = 1.5 * xx / (1 + xx) if xx < 1.7 else (
            0.935409070603099 + 0.0458812946797165 * (xx - 1.7) if xx < 3 else 0.99505475368673)
        out[idx] = 0.5 * ((z if h >= 0 else -z) + 1.0)
    return out


def softmax_ref(a):
    out = np.empty(a.shape, dtype="float64")
    for idx in np.ndindex(*a.shape[:-1]):
        row = a[idx].astype("float64")
        e = np.exp(row - row.max()) if row.size else row
        out[idx] = e / e.sum()
    return out


def logsoftmax_ref(a):
    out = np.empty(a.shape, dtype="float64")
    for idx in np.ndindex(*a.shape[:-1]):
        row = a[idx].astype("float64")
        m = row.max() if row.size else 0.0
        out[idx] = row - m - np.log(np.sum(np.exp(row - m)))
    return out


def xent_int_ref(p, t):
    out = np.empty(t.shape, dtype="float64")
    for idx in np.ndindex(*t.shape):
        out[idx] = -np.log(p[idx][t[idx]])
    return out


def jvp_numeric(fn, a, v, eps=1e-6):
    return (fn(a + eps * v) - fn(a - eps * v)) / (2 * eps)


def close(got, expected, dtype):
    got = np.asarray(got)
    assert got.dtype == np.dtype(dtype), (got.dtype, dtype)
    assert got.shape == np.shape(expected), (got.shape, np.shape(expected))
    np.testing.assert_allclose(got, expected, **tol(dtype))


# --- activations ---------------------------------------------------------------------------------
ACTIVATIONS = {
    "ultra_fast_sigmoid": (ultra_fast_sigmoid, ufs_ref),
    "hard_sigmoid": (hard_sigmoid, lambda a: np.clip(0.2 * a.astype("float64") + 0.5, 0, 1)),
    "relu": (relu, lambda a: np.maximum(a, 0)),
    "leaky_relu": (lambda x: relu(x, 0.1), lambda a: np.where(a > 0, a, 0.1 * a.astype("float64"))),
    "elu": (elu, lambda a: np.where(a > 0, a, np.expm1(np.minimum(a, 0).astype("float64")))),
    "elu_alpha": (lambda x: elu(x, 0.5), lambda a: np.where(a > 0, a, 0.5 * np.expm1(np.minimum(a, 0)))),
}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations_match_reference(mode, rng, name, dtype):
    build, ref = ACTIVATIONS[name]
    x = T.matrix("x", dtype=dtype)
    out = build(x)
    assert out.dtype == dtype
    f = T.function([x], out, mode=mode)
    for label, a in layouts(rng, (5, 7), dtype):
        a = a * 3                      # cover every piece of the piecewise approximations
        a = noncontiguous(a) if label == "noncontiguous" else a
        close(f(a), ref(a), dtype)
    specials = np.array([[0.0, -0.0, 3.4, -3.4, 6.0, -6.0, 1e4, -1e4, np.inf, -np.inf]], dtype=dtype)
    close(f(specials), ref(specials), dtype)


def test_ultra_fast_sigmoid_nan_and_int_inputs(mode):
    x = T.vector("x")
    got = run(mode, [x], ultra_fast_sigmoid(x), np.array([np.nan, 1.0]))
    np.testing.assert_allclose(got, ufs_ref(np.array([np.nan, 1.0])))   # NaN takes Theano's else-branch
    for dtype, out_dtype in [("int8", "float32"), ("int32", "float64"), ("bool", "float32")]:
        i = T.vector("i", dtype=dtype)
        vals = np.array([-7, 0, 3, 9]).astype(dtype)
        for fn, ref in [(ultra_fast_sigmoid, ufs_ref), (hard_sigmoid, ACTIVATIONS["hard_sigmoid"][1])]:
            out = fn(i)
            assert out.dtype == out_dtype
            close(run(mode, [i], out, vals), ref(vals), out_dtype)


def test_relu_symbolic_alpha_broadcasts(mode, rng):
    x, alpha = T.matrix("x"), T.row("alpha")
    a, al = rand(rng, (4, 3)), rng.random((1, 3))
    got = run(mode, [x, alpha], relu(x, alpha), a, al)
    np.testing.assert_allclose(got, np.where(a > 0, a, al * a), **tol("float64"))
    i = T.ivector("i")
    assert relu(i).dtype == "int32"       # alpha=0 keeps integers integer
    np.testing.assert_array_equal(run(mode, [i], relu(i), np.array([-2, 0, 5], "int32")), [0, 0, 5])


def test_sigmoid_softplus_are_the_scalar_table_ops(mode):
    x = T.vector("x")
    a = np.array([-800.0, -3.0, 0.0, 2.0, 800.0])
    got_s, got_p = run(mode, [x], [sigmoid(x), softplus(x)], a)
    np.testing.assert_allclose(got_s, np.exp(-np.logaddexp(0, -a)), **tol("float64"))
    np.testing.assert_allclose(got_p, np.logaddexp(0, a), **tol("float64"))


def test_activation_gradients(rng):
    a = rng.standard_normal((3, 4)) * 3
    a[np.abs(a) < 0.05] = 0.5                             # keep away from relu/elu's kink at 0
    h = np.abs(0.5 * a)
    a[(np.abs(h - 1.7) < 0.05) | (np.abs(h - 3) < 0.05)] = 1.0   # and the approximation's kinks
    a[np.abs(np.abs(a) - 2.5) < 0.05] = 1.0              # and hard_sigmoid's
    for name, (build, _) in sorted(ACTIVATIONS.items()):
        verify_grad(build, [a], rng=np.random.default_rng(1))
    big = np.array([800.0, -800.0, 0.3])
    v = T.vector("v")
    got = run("FAST_COMPILE", [v], T.grad(elu(v).sum(), v), big)
    np.testing.assert_allclose(got, [1.0, 0.0, 1.0])      # no overflow in the untaken branch


def test_ultra_fast_sigmoid_gradient_at_zero():
    x = T.vector("x")
    got = run("FAST_COMPILE", [x], T.grad(ultra_fast_sigmoid(x).sum(), x), np.array([0.0]))
    np.testing.assert_allclose(got, [0.375])               # 0.5 * 1.5 * 0.5, not 0


# --- softmax / logsoftmax --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("which", ["softmax", "logsoftmax"])
def test_softmax_family_matches_reference(mode, rng, which, dtype):
    fn, ref = (softmax, softmax_ref) if which == "softmax" else (logsoftmax, logsoftmax_ref)
    x = T.matrix("x", dtype=dtype)
    out = fn(x)
    assert out.dtype == dtype and out.ndim == 2
    f = T.function([x], out, mode=mode)
    for label, a in layouts(rng, (4, 5), dtype):
        close(f(a), ref(a), dtype)
    close(f(np.zeros((3, 0), dtype)), np.zeros((3, 0)), dtype)          # no classes
    t3 = T.tensor3("t", dtype=dtype)                                      # over the last axis
    a3 = rand(rng, (2, 3, 4), dtype)
    close(run(mode, [t3], fn(t3), noncontiguous(a3)), ref(a3), dtype)


@pytest.mark.parametrize("which", ["softmax", "logsoftmax"])
def test_vector_gives_a_row_as_in_theano(mode, rng, which):
    fn, ref = (softmax, softmax_ref) if which == "softmax" else (logsoftmax, logsoftmax_ref)
    v = T.vector("v")
    out = fn(v)
    assert out.broadcastable == (True, False)
    a = rand(rng, (6,))
    close(run(mode, [v], out, a), ref(a[None, :]), "float64")


@pytest.mark.parametrize("dtype", FLOATS)
def test_stable_for_huge_logits(mode, dtype):
    x = T.matrix("x", dtype=dtype)
    a = np.array([[1000.0, 0.0], [-1000.0, 0.0], [3e4, 3e4]], dtype=dtype)
    sm, lsm = run(mode, [x], [softmax(x), logsoftmax(x)], a)
    np.testing.assert_allclose(sm, [[1, 0], [0, 1], [0.5, 0.5]], atol=1e-7)
    np.testing.assert_allclose(lsm, [[0, -1000], [-1000, 0], [-np.log(2)] * 2], rtol=1e-6)
    g_sm, g_lsm = run(mode, [x], [T.grad((softmax(x)[:, 0]).sum(), x),
                                  T.grad((logsoftmax(x)[:, 1]).sum(), x)], a)
    assert np.all(np.isfinite(g_sm)) and np.all(np.isfinite(g_lsm))
    np.testing.assert_allclose(g_lsm, [[-1, 1], [0, 0], [-0.5, 0.5]], atol=1e-6)


def test_softmax_family_infer_shape(mode, rng):
    x, dy = T.tensor3("x"), T.tensor3("dy")
    a = rand(rng, (2, 3, 4))
    for out in (softmax(x), logsoftmax(x), softmax_grad(dy, x)):
        check_infer_shape(mode, [x, dy], out, [a, a], a.shape)


def test_softmax_family_gradients(rng):
    a = rng.standard_normal((3, 4))
    verify_grad(softmax, [a], rng=np.random.default_rng(2))
    verify_grad(logsoftmax, [a], rng=np.random.default_rng(3))
    verify_grad(lambda t: softmax(t), [rng.standard_normal((2, 3, 4))], rng=np.random.default_rng(4))
    w = T.constant(rng.standard_normal((3, 4)))
    # second order: the gradients of softmax_grad (through both of its inputs)
    verify_grad(lambda t: T.grad((softmax(t) * w).sum(), t), [a], rng=np.random.default_rng(5))
    verify_grad(lambda t: T.grad((logsoftmax(t) * w).sum(), t), [a], rng=np.random.default_rng(6))
    verify_grad(lambda dy, t: softmax_grad(dy, softmax(t)), [rng.standard_normal((3, 4)), a],
                rng=np.random.default_rng(7))


@pytest.mark.parametrize("which", ["softmax", "logsoftmax", "softmax_grad"])
def test_softmax_family_r_op(rng, which):
    x = T.matrix("x")
    v = T.matrix("v")
    a, d = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    dy = rng.standard_normal((3, 4))
    build = {"softmax": softmax, "logsoftmax": logsoftmax,
             "softmax_grad": lambda t: softmax_grad(T.constant(dy), softmax(t))}[which]
    f = T.function([x], build(x), mode="FAST_COMPILE")
    got = run("FAST_COMPILE", [x, v], Rop(build(x), x, v), a, d)
    np.testing.assert_allclose(got, jvp_numeric(f, a, d), rtol=1e-6, atol=1e-8)
    dyv = T.matrix("dyv")    # tangent through softmax_grad's dy input too
    both = Rop(softmax_grad(dyv, softmax(x)), [dyv, x], [v, v])
    g = T.function([dyv, x], softmax_grad(dyv, softmax(x)), mode="FAST_COMPILE")
    expected = (g(dy + 1e-6 * d, a + 1e-6 * d) - g(dy - 1e-6 * d, a - 1e-6 * d)) / 2e-6
    np.testing.assert_allclose(run("FAST_COMPILE", [dyv, x, v], both, dy, a, d), expected, rtol=1e-6, atol=1e-8)


def test_softmax_family_build_errors():
    with pytest.raises(TypeError, match="softmax: c must be a float tensor, got dtype int32"):
        softmax(T.imatrix("i"))
    with pytest.raises(TypeError, match="logsoftmax: c must have at least one dimension"):
        logsoftmax(T.scalar("s"))
    with pytest.raises(ValueError, match=r"softmax_grad: dy has shape \(3, 4\) and sm has shape \(3, 5\)"):
        softmax_grad(T.tensor("float64", shape=(3, 4)), T.tensor("float64", shape=(3, 5)))
    with pytest.raises(TypeError, match="dy has dtype float32 but sm has dtype float64"):
        SoftmaxGrad()(T.fmatrix(), T.dmatrix())


def test_softmax_batching_rule(rng):
    x = T.matrix("x")
    b = T.tensor3("b")
    for op in (Softmax(), LogSoftmax()):
        node = op(x).owner
        out = op.vectorize_node(node, b)[0]
        a = rand(rng, (2, 3, 4))
        ref = softmax_ref(a) if isinstance(op, Softmax) else logsoftmax_ref(a)
        np.testing.assert_allclose(run("FAST_COMPILE", [b], out, a), ref, **tol("float64"))


# --- categorical cross-entropy ---------------------------------------------------------------------
def probs(rng, shape, dtype):
    p = rng.random(shape) + 0.05
    return (p / p.sum(-1, keepdims=True)).astype(dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("tdtype", ["int32", "int64", "uint8"])
def test_crossentropy_integer_targets(mode, rng, dtype, tdtype):
    p, t = T.matrix("p", dtype=dtype), T.vector("t", dtype=tdtype)
    out = categorical_crossentropy(p, t)
    assert out.dtype == dtype and isinstance(out.owner.op, CrossentropyCategorical1Hot)
    f = T.function([p, t], out, mode=mode)
    pv, tv = probs(rng, (6, 4), dtype), rng.integers(0, 4, 6).astype(tdtype)
    close(f(pv, tv), xent_int_ref(pv, tv), dtype)
    close(f(noncontiguous(pv), noncontiguous(tv)), xent_int_ref(pv, tv), dtype)
    close(f(pv[:0], tv[:0]), np.zeros(0), dtype)
    p3, t2 = T.tensor3("p3", dtype=dtype), T.matrix("t2", dtype=tdtype)
    pv3, tv2 = probs(rng, (2, 3, 5), dtype), rng.integers(0, 5, (2, 3)).astype(tdtype)
    close(run(mode, [p3, t2], categorical_crossentropy(p3, t2), pv3, tv2), xent_int_ref(pv3, tv2), dtype)


@pytest.mark.parametrize("dtype", FLOATS)
def test_crossentropy_onehot_and_soft_targets(mode, rng, dtype):
    p, t = T.matrix("p", dtype=dtype), T.matrix("t", dtype=dtype)
    pv, soft = probs(rng, (5, 3), dtype), probs(rng, (5, 3), dtype)
    onehot = np.eye(3, dtype=dtype)[rng.integers(0, 3, 5)]
    f = T.function([p, t], categorical_crossentropy(p, t), mode=mode)
    for tv in (soft, onehot, noncontiguous(soft)):
        close(f(pv, tv), -np.sum(tv * np.log(pv.astype("float64")), axis=-1), dtype)
    idx = np.argmax(onehot, axis=1)
    close(f(pv, onehot), xent_int_ref(pv, idx), dtype)        # one-hot equals the integer form
    r = T.row("r", dtype=dtype)                                 # one target row for every example
    close(run(mode, [p, r], categorical_crossentropy(p, r), pv, soft[:1]),
          -np.sum(soft[:1] * np.log(pv.astype("float64")), axis=-1), dtype)


def test_crossentropy_gradients(rng):
    pv = probs(rng, (4, 3), "float64")
    tv = np.array([0, 2, 1, 2], "int32")
    verify_grad(lambda q: categorical_crossentropy(q, T.constant(tv)), [pv], rng=np.random.default_rng(8))
    verify_grad(lambda q, s: categorical_crossentropy(q, s), [pv, probs(rng, (4, 3), "float64")],
                rng=np.random.default_rng(9))
    verify_grad(lambda z: crossentropy_softmax_1hot(z, T.constant(tv)), [rng.standard_normal((4, 3))],
                rng=np.random.default_rng(10))
    w = T.constant(rng.random(4) + 0.5)
    # second order: the gradient op's own gradients (w.r.t. the probabilities and the cotangent)
    verify_grad(lambda q: T.grad((categorical_crossentropy(q, T.constant(tv)) * w).sum(), q), [pv],
                rng=np.random.default_rng(11))
    verify_grad(lambda g, q: crossentropy_categorical_1hot_grad(g, q, T.constant(tv)),
                [rng.standard_normal(4), pv], rng=np.random.default_rng(12))
    verify_grad(lambda z: T.grad((crossentropy_softmax_1hot(z, T.constant(tv)) * w).sum(), z),
                [rng.standard_normal((4, 3))], rng=np.random.default_rng(13))


def test_crossentropy_r_op(rng):
    p, z, v = T.matrix("p"), T.matrix("z"), T.matrix("v")
    pv, zv, d = probs(rng, (4, 3), "float64"), rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    tv = T.constant(np.array([2, 0, 1, 1], "int64"))
    for build, a in [(lambda q: categorical_crossentropy(q, tv), pv),
                     (lambda q: crossentropy_softmax_1hot(q, tv), zv)]:
        f = T.function([p], build(p), mode="FAST_COMPILE")
        got = run("FAST_COMPILE", [p, v], Rop(build(p), p, v), a, d)
        np.testing.assert_allclose(got, jvp_numeric(f, a, d), rtol=1e-6, atol=1e-8)
    g, eg = T.vector("g"), T.vector("eg")
    gv, egv = rng.standard_normal(4), rng.standard_normal(4)
    grad_op = crossentropy_categorical_1hot_grad(g, p, tv)
    fn = T.function([g, p], grad_op, mode="FAST_COMPILE")
    expected = (fn(gv + 1e-6 * egv, pv + 1e-6 * d) - fn(gv - 1e-6 * egv, pv - 1e-6 * d)) / 2e-6
    got = run("FAST_COMPILE", [g, p, eg, v], Rop(grad_op, [g, p], [eg, v]), gv, pv, egv, d)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def test_fused_softmax_crossentropy_is_stable(mode, rng):
    z, t = T.matrix("z"), T.ivector("t")
    a = np.array([[1000.0, 0.0, -1000.0], [0.0, 5000.0, 0.0], [1.0, 2.0, 3.0]])
    tv = np.array([2, 1, 0], "int32")
    loss, g = run(mode, [z, t], [crossentropy_softmax_1hot(z, t), T.grad(crossentropy_softmax_1hot(z, t).sum(), z)],
                  a, tv)
    np.testing.assert_allclose(loss, [2000.0, 0.0, 2.0 + np.log(np.exp([0, -1, -2]).sum())], rtol=1e-12)
    np.testing.assert_allclose(g, softmax_ref(a) - np.eye(3)[tv], atol=1e-12)


@pytest.mark.parametrize("dtype", FLOATS)
def test_crossentropy_of_softmax_gradient_is_stable_in_every_mode(mode, dtype):
    """The gradient through softmax uses the closed form, also without rewrites (FAST_COMPILE)."""
    z, t = T.matrix("z", dtype=dtype), T.ivector("t")
    a = np.array([[1000.0, 0.0, -1000.0], [0.0, 50.0, 0.0]], dtype=dtype)
    tv = np.array([2, 1], "int32")
    cost = categorical_crossentropy(softmax(z), t).mean()
    g = run(mode, [z, t], T.grad(cost, z), a, tv)
    np.testing.assert_allclose(g, (softmax_ref(a) - np.eye(3)[tv]) / 2, atol=1e-6)
    g_log = run(mode, [z], T.grad(T.log(softmax(z))[:, 2].sum(), z), a)
    np.testing.assert_allclose(g_log, np.eye(3)[[2, 2]] - softmax_ref(a), atol=1e-6)


def test_crossentropy_errors(mode):
    p = T.matrix("p")
    with pytest.raises(TypeError, match="integer class targets must have an integer dtype, got float64"):
        categorical_crossentropy(p, T.vector("t"))
    with pytest.raises(TypeError, match="rank mismatch between coding_dist"):
        categorical_crossentropy(p, T.tensor3("t"))
    with pytest.raises(TypeError, match="coding_dist must be a float tensor"):
        categorical_crossentropy(T.imatrix("q"), T.ivector("t"))
    with pytest.raises(ValueError, match=r"coding_dist has shape \(3, 4\) but the targets have shape \(5,\)"):
        categorical_crossentropy(T.tensor("float64", shape=(3, 4)), T.tensor("int32", shape=(5,)))
    with pytest.raises(ValueError, match=r"coding_dist has shape \(3, 4\) and true_dist has shape \(3, 5\)"):
        categorical_crossentropy(T.tensor("float64", shape=(3, 4)), T.tensor("float64", shape=(3, 5)))
    t = T.ivector("t")
    f = T.function([p, t], categorical_crossentropy(p, t), mode=mode)
    with pytest.raises(ValueError, match=r"target 4 at index \(1,\) is out of range for 4 classes"):
        f(np.full((2, 4), 0.25), np.array([0, 4], "int32"))
    with pytest.raises(ValueError, match="target -1"):
        f(np.full((2, 4), 0.25), np.array([-1, 0], "int32"))
    with pytest.raises(ValueError, match=r"expected targets of shape \(2,\)"):
        f(np.full((2, 4), 0.25), np.array([0, 1, 2], "int32"))


# --- binary cross-entropy ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOATS)
def test_binary_crossentropy(mode, rng, dtype):
    o, t = T.matrix("o", dtype=dtype), T.matrix("t", dtype=dtype)
    ov = (rng.random((4, 5)) * 0.9 + 0.05).astype(dtype)
    tv = rng.random((4, 5)).astype(dtype)

    def ref(a, b):
        a, b = a.astype("float64"), b.astype("float64")
        return -(b * np.log(a) + (1 - b) * np.log(1 - a))
    f = T.function([o, t], binary_crossentropy(o, t), mode=mode)
    close(f(ov, tv), ref(ov, tv), dtype)
    close(f(noncontiguous(ov), noncontiguous(tv)), ref(ov, tv), dtype)
    close(f(ov[:0], tv[:0]), np.zeros((0, 5)), dtype)
    r = T.row("r", dtype=dtype)
    close(run(mode, [o, r], binary_crossentropy(o, r), ov, tv[:1]), ref(ov, tv[:1]), dtype)
    x = T.matrix("x", dtype=dtype)
    big = np.array([[-200.0, 200.0, 0.0]], dtype=dtype)
    if mode != "FAST_COMPILE":    # the compiled graph rewrites log(sigmoid) into softplus terms
        got = run(mode, [x, t], binary_crossentropy(sigmoid(x), t), big, np.array([[1, 0, 1]], dtype))
        np.testing.assert_allclose(got, [[200.0, 200.0, np.log(2)]], rtol=1e-5)


def test_binary_crossentropy_gradients_and_errors(rng):
    ov, tv = rng.random((3, 4)) * 0.8 + 0.1, rng.random((3, 4))
    verify_grad(binary_crossentropy, [ov, tv], rng=np.random.default_rng(14))
    with pytest.raises(ValueError, match=r"binary_crossentropy: output has shape \(3, 4\) and target has "
                                         r"shape \(3, 5\); they cannot be broadcast together"):
        binary_crossentropy(T.tensor("float64", shape=(3, 4)), T.tensor("float64", shape=(3, 5)))
    with pytest.raises(TypeError, match="binary_crossentropy: output must be a float tensor"):
        binary_crossentropy(T.imatrix("o"), T.matrix("t"))
    with pytest.raises(TypeError, match="target must be real"):
        binary_crossentropy(T.matrix("o"), T.matrix("t", dtype="complex128"))
