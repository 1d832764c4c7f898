"""sort / argsort against numpy in every mode: every axis form (None flattens), kinds, dtypes,
NaN, ties, zero-size and non-contiguous inputs, gradients (float64 verify_grad), R_op,
infer_shape, batching rules and build-time errors."""
import numpy as np
import pytest

import symtensor as T
from symtensor.grad import verify_grad
from symtensor.ops.sort import ArgSortOp, PermuteAlongAxis, SortOp, argsort, sort
from tests.helpers import check_infer_shape, layouts, rand, run

AXES = [-1, 0, 1, 2, -3, None]


@pytest.mark.parametrize("fn", ["sort", "argsort"])
def test_axes_and_layouts_match_numpy(mode, rng, fn):
    x = T.tensor3("x")
    ours = {"sort": sort, "argsort": argsort}[fn]
    outs = [ours(x, axis=ax, kind="stable") for ax in AXES]
    f = T.function([x], outs, mode=mode)
    for label, a in layouts(rng, (3, 2, 4)):
        for ax, got in zip(AXES, f(a)):
            want = getattr(np, fn)(a, axis=ax, kind="stable")
            assert got.dtype == want.dtype and got.shape == want.shape, (label, ax)
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", ["float32", "int8", "int64", "uint8", "bool"])
@pytest.mark.parametrize("kind", ["quicksort", "mergesort", "heapsort", "stable"])
def test_dtypes_and_kinds(mode, rng, dtype, kind):
    x = T.matrix("x", dtype=dtype)
    a = rand(rng, (4, 6), dtype, low=-3, high=3)   # many ties
    s, i = run(mode, [x], [sort(x, kind=kind), argsort(x, axis=0, kind="stable")], a)
    np.testing.assert_array_equal(s, np.sort(a, kind=kind))
    assert s.dtype == a.dtype
    np.testing.assert_array_equal(i, np.argsort(a, axis=0, kind="stable"))


def test_nan_sorts_last(mode):
    x = T.vector("x")
    a = np.array([3.0, np.nan, -1.0, np.inf, 0.0])
    s, i = run(mode, [x], [sort(x), argsort(x)], a)
    np.testing.assert_array_equal(s, np.sort(a))
    np.testing.assert_array_equal(i, np.argsort(a))


def test_scalar_with_axis_none(mode):
    s = T.scalar("s")
    np.testing.assert_array_equal(run(mode, [s], sort(s, axis=None), 2.5), [2.5])


@pytest.mark.parametrize("axis", [-1, 0, None])
def test_verify_grad(rng, axis):
    verify_grad(lambda t: sort(t, axis=axis) ** 3, [rand(rng, (3, 4))], rng=rng)


def test_gradient_is_the_permuted_output_gradient(mode, rng):
    x = T.vector("x")
    w = np.arange(5.0)
    g = T.grad(T.sum(sort(x) * w), x)
    a = rand(rng, (5,))
    got = run(mode, [x], g, a)
    want = np.empty(5)
    want[np.argsort(a)] = w
    np.testing.assert_allclose(got, want)


def test_second_derivative(rng):
    verify_grad(lambda t: T.grad(T.sum(sort(t, axis=0) ** 3), t), [rand(rng, (4, 2))], rng=rng)


def test_argsort_gradient_is_zero(mode, rng):
    x = T.vector("x")
    g = T.grad(T.sum(argsort(x) * x), x)
    a = rand(rng, (4,))
    np.testing.assert_allclose(run(mode, [x], g, a), np.argsort(a).astype(float))


def test_rop_matches_lop(mode, rng):
    x, v, u = T.matrix("x"), T.matrix("v"), T.matrix("u")
    y = sort(x, axis=0)
    rop, lop = T.Rop(y, x, v), T.Lop(y, x, u)
    a, vv, uu = rand(rng, (3, 4)), rand(rng, (3, 4)), rand(rng, (3, 4))
    got_rop, got_lop = run(mode, [x, v, u], [rop, lop], a, vv, uu)
    np.testing.assert_allclose(got_rop, np.take_along_axis(vv, np.argsort(a, axis=0), axis=0))
    assert np.sum(uu * got_rop) == pytest.approx(np.sum(got_lop * vv))


@pytest.mark.parametrize("fn", [sort, argsort])
@pytest.mark.parametrize("axis", [0, -1])
def test_infer_shape(mode, rng, fn, axis):
    x = T.matrix("x")
    for shape in [(3, 4), (0, 2)]:
        check_infer_shape(mode, [x], fn(x, axis=axis), [rand(rng, shape)], shape)


@pytest.mark.parametrize("op", [SortOp(0), SortOp(1, "stable"), ArgSortOp(1, "stable")])
def test_batching_rule(mode, rng, op):
    x = T.matrix("x")
    node = op(x).owner
    xb = T.tensor3("xb")
    (out,) = op.vectorize_node(node, xb)
    b = rand(rng, (3, 2, 4))
    np.testing.assert_array_equal(run(mode, [xb], out, b), np.stack([run(mode, [x], node.outputs[0], s)
                                                                      for s in b]))


def test_build_errors():
    with pytest.raises(ValueError, match="out of bounds"):
        sort(T.matrix("x"), axis=2)
    with pytest.raises(ValueError, match="0-d"):
        sort(T.scalar("s"))
    with pytest.raises(ValueError, match="kind must be one of"):
        argsort(T.vector("x"), kind="bogus")
    with pytest.raises(ValueError, match="order"):
        sort(T.vector("x"), order="f")
    with pytest.raises(TypeError, match="axis must be an int or None"):
        sort(T.matrix("x"), axis=(0, 1))
    with pytest.raises(TypeError, match="perm must be an integer"):
        PermuteAlongAxis(0)(T.vector("x"), T.vector("p"))


def test_permute_checks_the_shape_at_run_time(mode):
    x, p = T.vector("x"), T.lvector("p")
    with pytest.raises(ValueError, match="perm has shape"):
        run(mode, [x, p], PermuteAlongAxis(0)(x, p), np.zeros(3), np.zeros(2, dtype="int64"))
