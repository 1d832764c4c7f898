"""extra_ops against numpy in every mode: cumsum, cumprod, diff, bincount, fill_diagonal,
to_one_hot and softmax_with_bias; gradients (float64 verify_grad), R_op, infer_shape and errors.

Where Theano 1.0 and numpy differ: cumsum/cumprod dtypes follow numpy (as ``sum`` does);
bincount counts are int64 (numpy) and weighted counts keep float weights' dtype (Theano).
"""
import numpy as np
import pytest

import symtensor as T
from symtensor.grad import verify_grad
from symtensor.ops.extra_ops import (BinCount, CumOp, bincount, cumprod, cumsum, diff, fill_diagonal,
                                     softmax_with_bias, to_one_hot)
from tests.helpers import check_infer_shape, layouts, rand, run, tol

CUM_AXES = [None, 0, 1, -1, 2]


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
def test_cum_axes_and_layouts_match_numpy(mode, rng, name):
    x = T.tensor3("x")
    fn = {"cumsum": cumsum, "cumprod": cumprod}[name]
    f = T.function([x], [fn(x, axis=ax) for ax in CUM_AXES], mode=mode)
    for label, a in layouts(rng, (2, 3, 4)):
        for ax, got in zip(CUM_AXES, f(a)):
            want = getattr(np, name)(a, axis=ax)
            assert got.shape == want.shape and got.dtype == want.dtype, (label, ax)
            np.testing.assert_allclose(got, want, **tol("float64"))


@pytest.mark.parametrize("dtype", ["float32", "int8", "int32", "uint8", "bool"])
def test_cum_dtypes_follow_numpy(mode, rng, dtype):
    x = T.matrix("x", dtype=dtype)
    a = rand(rng, (3, 4), dtype, low=-2, high=3)
    outs = [cumsum(x, 1), cumprod(x), cumsum(x)]
    for out, got, want in zip(outs, run(mode, [x], outs, a), [np.cumsum(a, 1), np.cumprod(a), np.cumsum(a)]):
        assert out.dtype == str(want.dtype) == str(got.dtype)
        np.testing.assert_allclose(got, want, **tol(dtype if dtype == "float32" else "float64"))


def test_cum_of_a_scalar_with_axis_none(mode):
    s = T.scalar("s")
    np.testing.assert_array_equal(run(mode, [s], cumsum(s), 3.0), np.cumsum(3.0))


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
@pytest.mark.parametrize("axis", [None, 0, -1])
def test_cum_verify_grad(rng, name, axis):
    fn = {"cumsum": cumsum, "cumprod": cumprod}[name]
    verify_grad(lambda t: fn(t, axis=axis), [rand(rng, (3, 4)) + (3.0 if name == "cumprod" else 0)], rng=rng)


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
@pytest.mark.parametrize("axis", [None, 1])
def test_cum_rop_matches_lop(mode, rng, name, axis):
    fn = {"cumsum": cumsum, "cumprod": cumprod}[name]
    x, v = T.matrix("x"), T.matrix("v")
    y = fn(x, axis=axis)
    u = T.TensorType("float64", broadcastable=(False,) * y.ndim)("u")
    rop, lop = T.Rop(y, x, v), T.Lop(y, x, u)
    a, vv = rand(rng, (2, 3)) + 2, rand(rng, (2, 3))
    uu = rand(rng, (6,) if axis is None else (2, 3))
    got_rop, got_lop = run(mode, [x, v, u], [rop, lop], a, vv, uu)
    eps = 1e-6
    fd = (getattr(np, name)(a + eps * vv, axis=axis) - getattr(np, name)(a - eps * vv, axis=axis)) / (2 * eps)
    np.testing.assert_allclose(got_rop, fd, rtol=1e-6, atol=1e-6)
    assert np.sum(uu * got_rop) == pytest.approx(np.sum(got_lop * vv))


@pytest.mark.parametrize("axis", [None, 0, 1])
def test_cum_infer_shape_and_batching(mode, rng, axis):
    x = T.matrix("x")
    for shape in [(3, 4), (0, 2)]:
        a = rand(rng, shape)
        check_infer_shape(mode, [x], cumsum(x, axis), [a], np.cumsum(a, axis).shape)
    op = cumprod(x, axis).owner.op
    xb = T.tensor3("xb")
    (out,) = op.vectorize_node(cumprod(x, axis).owner, xb)
    b = rand(rng, (2, 3, 4))
    np.testing.assert_allclose(run(mode, [xb], out, b), np.stack([np.cumprod(s, axis) for s in b]))


def test_cum_errors():
    with pytest.raises(ValueError, match="out of bounds"):
        cumsum(T.matrix("x"), axis=2)
    with pytest.raises(TypeError, match="axis must be an int or None"):
        cumprod(T.matrix("x"), axis=(0, 1))
    with pytest.raises(ValueError, match="mode must be"):
        CumOp(0, "max")


# --- diff ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 2, 5])
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_diff_matches_numpy(mode, rng, n, axis):
    x = T.tensor3("x")
    f = T.function([x], diff(x, n=n, axis=axis), mode=mode)
    for label, a in layouts(rng, (3, 4, 2)):
        want = np.diff(a, n=n, axis=axis)
        got = f(a)
        assert got.shape == want.shape, label
        np.testing.assert_allclose(got, want, **tol("float64"))


@pytest.mark.parametrize("dtype", ["int32", "uint8", "bool", "float32"])
def test_diff_dtypes(mode, rng, dtype):
    x = T.vector("x", dtype=dtype)
    a = rand(rng, (6,), dtype, low=0, high=4)
    got = run(mode, [x], diff(x, 2), a)
    want = np.diff(a, 2)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_diff_grad_and_errors(rng):
    verify_grad(lambda t: diff(t, 2, axis=0) ** 2, [rand(rng, (5, 3))], rng=rng)
    with pytest.raises(ValueError, match="non-negative"):
        diff(T.vector("x"), -1)
    with pytest.raises(ValueError, match="at least one-dimensional"):
        diff(T.scalar("s"))


# --- bincount ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint16"])
def test_bincount_matches_numpy(mode, rng, dtype):
    x, w = T.vector("x", dtype=dtype), T.vector("w")
    m = T.lscalar("m")
    outs = [bincount(x), bincount(x, minlength=9), bincount(x, w), bincount(x, w, m)]
    f = T.function([x, w, m], outs, mode=mode)
    for xv in [rand(rng, (7,), dtype, low=0, high=6), np.zeros(0, dtype=dtype)]:
        wv = rand(rng, xv.shape)
        got = f(xv, wv, 3)
        wants = [np.bincount(xv), np.bincount(xv, minlength=9), np.bincount(xv, wv),
                 np.bincount(xv, wv, minlength=3)]
        for out, g, want in zip(outs, got, wants):
            # numpy gives int64 for an empty weighted count; its non-empty dtype is kept here
            assert g.dtype == out.dtype == ("int64" if out.owner.inputs[1].ndim == 0 else "float64")
            assert g.shape == want.shape
            np.testing.assert_allclose(g, want)


def test_bincount_float32_weights_stay_float32(mode):
    x, w = T.ivector("x"), T.fvector("w")
    out = bincount(x, w)
    assert out.dtype == "float32"
    got = run(mode, [x, w], out, np.array([0, 2, 2], dtype="int32"), np.array([1, 2, 3], dtype="float32"))
    np.testing.assert_array_equal(got, np.array([1, 0, 5], dtype="float32"))


def test_bincount_runtime_errors(mode):
    x, w = T.ivector("x"), T.vector("w")
    f = T.function([x, w], bincount(x, w), mode=mode)
    with pytest.raises(ValueError, match="non-negative"):
        f(np.array([1, -1], dtype="int32"), np.ones(2))
    with pytest.raises(ValueError, match="weights has shape"):
        f(np.array([1, 2], dtype="int32"), np.ones(3))


def test_bincount_build_errors():
    with pytest.raises(TypeError, match="integer vector"):
        bincount(T.vector("x"))
    with pytest.raises(TypeError, match="integer vector"):
        bincount(T.imatrix("x"))
    with pytest.raises(TypeError, match="weights must be a real vector"):
        bincount(T.ivector("x"), T.matrix("w"))


def test_bincount_weight_gradient_and_infer_shape(mode, rng):
    xv = np.array([0, 3, 3, 1], dtype="int64")
    verify_grad(lambda w: bincount(T.constant(xv), w) ** 2, [rand(rng, (4,))], rng=rng)
    x, w = T.lvector("x"), T.vector("w")
    with pytest.raises(ValueError, match="does not depend on"):   # x is an index, not a weight
        T.grad(T.sum(bincount(x, w)), x)
    for xs, minlength in [(xv, 2), (xv, 9), (np.zeros(0, dtype="int64"), 0)]:
        out = bincount(x, w, minlength)
        check_infer_shape(mode, [x, w], out, [xs, np.ones(len(xs))], np.bincount(xs, minlength=minlength).shape)


def test_bincount_rop(mode, rng):
    x, w, v = T.lvector("x"), T.vector("w"), T.vector("v")
    xv, vv = np.array([2, 0, 2], dtype="int64"), rand(rng, (3,))
    got = run(mode, [x, w, v], T.Rop(bincount(x, w), w, v), xv, rand(rng, (3,)), vv)
    np.testing.assert_allclose(got, np.bincount(xv, vv))
    assert isinstance(bincount(x, w).owner.op, BinCount)


# --- fill_diagonal -------------------------------------------------------------------------------
def np_fill_diagonal(a, val):
    out = a.copy()
    np.fill_diagonal(out, val)
    return out


@pytest.mark.parametrize("shape", [(3, 3), (2, 5), (5, 2), (3, 3, 3), (0, 4)])
def test_fill_diagonal_matches_numpy(mode, rng, shape):
    x, v = T.tensor("float64", (False,) * len(shape), name="x"), T.scalar("v")
    f = T.function([x, v], fill_diagonal(x, v), mode=mode)
    for label, a in layouts(rng, shape)[:2]:
        before = a.copy()
        np.testing.assert_array_equal(f(a, 7.5), np_fill_diagonal(a, 7.5))
        np.testing.assert_array_equal(a, before)


def test_fill_diagonal_dtypes_and_literals(mode, rng):
    x, fx = T.imatrix("x"), T.fmatrix("fx")
    a = rand(rng, (3, 3), "int32")
    out = fill_diagonal(x, 4)
    assert out.dtype == "int32" and fill_diagonal(fx, 0.5).dtype == "float32"
    np.testing.assert_array_equal(run(mode, [x], out, a), np_fill_diagonal(a, 4))
    with pytest.raises(TypeError, match="losing precision"):
        fill_diagonal(x, 0.5)
    with pytest.raises(TypeError, match="losing precision"):
        fill_diagonal(fx, T.dscalar("d"))
    with pytest.raises(TypeError, match="at least two dimensions"):
        fill_diagonal(T.vector("v"), 1.0)
    with pytest.raises(TypeError, match="must be a scalar"):
        fill_diagonal(T.matrix("m"), T.vector("v"))


def test_fill_diagonal_unequal_3d_raises(mode, rng):
    x = T.tensor3("x")
    with pytest.raises(ValueError, match="equal length"):
        run(mode, [x], fill_diagonal(x, 1.0), rand(rng, (2, 3, 3)))


@pytest.mark.parametrize("shape", [(3, 3), (2, 4), (4, 2), (2, 2, 2)])
def test_fill_diagonal_grad_rop_and_shape(mode, rng, shape):
    verify_grad(lambda a, v: fill_diagonal(a, v.sum()) ** 2, [rand(rng, shape), rand(rng, ())], rng=rng)
    x, v = T.tensor("float64", (False,) * len(shape), name="x"), T.scalar("v")
    ex, ev = T.tensor("float64", (False,) * len(shape), name="ex"), T.scalar("ev")
    y = fill_diagonal(x, v)
    r = T.Rop(y, [x, v], [ex, ev])
    a, ea = rand(rng, shape), rand(rng, shape)
    np.testing.assert_allclose(run(mode, [x, v, ex, ev], r, a, 1.0, ea, 2.0), np_fill_diagonal(ea, 2.0))
    check_infer_shape(mode, [x, v], y, [a, 1.0], shape)


# --- to_one_hot ----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [None, "int8", "float32"])
def test_to_one_hot_matches_numpy(mode, rng, dtype):
    y = T.ivector("y")
    out = to_one_hot(y, 4, dtype=dtype)
    assert out.dtype == (dtype or T.config.floatX)
    for yv in [np.array([0, 3, 1, 1], dtype="int32"), np.zeros(0, dtype="int32")]:
        got = run(mode, [y], out, yv)
        np.testing.assert_array_equal(got, np.eye(4, dtype=out.dtype)[yv])
        assert got.dtype == out.dtype


def test_to_one_hot_symbolic_classes_shape_and_errors(mode):
    y, n = T.lvector("y"), T.lscalar("n")
    out = to_one_hot(y, n)
    assert out.type.shape == (None, None) and to_one_hot(y, 3).type.shape == (None, 3)
    check_infer_shape(mode, [y, n], out, [np.array([1, 0]), 5], (2, 5))
    with pytest.raises(ValueError, match=r"label 5 at position 1 is outside \[0, 5\)"):
        run(mode, [y, n], out, np.array([1, 5]), 5)
    with pytest.raises(ValueError, match="outside"):
        run(mode, [y, n], out, np.array([-1]), 5)
    with pytest.raises(TypeError, match="integer vector"):
        to_one_hot(T.vector("f"), 3)
    with pytest.raises(ValueError, match="non-negative"):
        to_one_hot(y, -2)


# --- softmax_with_bias ---------------------------------------------------------------------------
def test_softmax_with_bias(mode, rng):
    x, b = T.matrix("x"), T.vector("b")
    a, bv = rand(rng, (3, 4)), rand(rng, (4,))
    got = run(mode, [x, b], softmax_with_bias(x, b), a, bv)
    e = np.exp(a + bv - (a + bv).max(axis=1, keepdims=True))
    np.testing.assert_allclose(got, e / e.sum(axis=1, keepdims=True), **tol("float64"))
    verify_grad(lambda t, c: softmax_with_bias(t, c), [a, bv], rng=rng)
    with pytest.raises(ValueError, match="2-d tensor of floats"):
        softmax_with_bias(T.vector("v"), b)
    with pytest.raises(ValueError, match="1-d tensor of floats"):
        softmax_with_bias(x, T.ivector("i"))
