"""RowPick (``x[arange(k), y]``) and RowPickInc (its increment) in every mode: numpy's results
for float and integer x, int32/int64 y, strided operands, zero rows, negative columns, both
row counts (``rows_from``) with numpy's broadcasting and errors, repeated positions, the C
kernel taken in FAST_RUN, shapes, type errors, gradients, R_op and batching."""
import numpy as np
import pytest

import symtensor as T
from symtensor.grad import verify_grad
from symtensor.grad.vectorize import vectorize_graph
from symtensor.ops.row_pick import RowPick, RowPickInc, row_pick, row_pick_inc
from tests.helpers import FLOATS, INTS, assert_unchanged, check_infer_shape, noncontiguous, run, tol

ROW_OPS = (RowPick, RowPickInc)


def numpy_pick(x, y, rows_from):
    k = y.shape[0] if rows_from == "y" else x.shape[0]
    return x[np.arange(k), y]


def numpy_inc(x, g, y, rows_from):
    k = y.shape[0] if rows_from == "y" else x.shape[0]
    out = x.copy()
    np.add.at(out, (np.arange(k), y), g)
    return out


def compiled(mode, inputs, out):
    f = T.function(inputs, out, mode=mode)
    if mode == "FAST_RUN":
        assert not [n for n in f.maker.executor.fallbacks if isinstance(n.op, ROW_OPS)]
    return f


def kernels_only(monkeypatch):
    """Make the numpy perform of both ops fail: a compiled call must not fall back to it."""
    def boom(self, *args):
        raise AssertionError(f"{self} ran perform instead of its C kernel")
    for cls in ROW_OPS:
        monkeypatch.setattr(cls, "perform", boom)


def vars_for(dtype, ydtype):
    return T.matrix("x", dtype=dtype), T.vector("g", dtype=dtype), T.vector("y", dtype=ydtype)


@pytest.mark.parametrize("rows_from", ["x", "y"])
@pytest.mark.parametrize("ydtype", INTS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_pick_and_inc_match_numpy(mode, rng, monkeypatch, dtype, ydtype, rows_from):
    x, g, y = vars_for(dtype, ydtype)
    f = compiled(mode, [x, g, y], [row_pick(x, y, rows_from), row_pick_inc(x, g, y, rows_from)])
    if mode == "FAST_RUN":
        kernels_only(monkeypatch)
    X = rng.standard_normal((6, 5)).astype(dtype)
    Y = np.array([0, 4, -1, 2, -5, 3], ydtype)
    G = rng.standard_normal(6).astype(dtype)
    before = [X.copy(), G.copy(), Y.copy()]
    for xv, gv, yv in [(X, G, Y), (noncontiguous(X), noncontiguous(G), noncontiguous(Y)), (X[::-1], G[::-1], Y),
                       (np.asfortranarray(X), G, Y)]:
        got_pick, got_inc = f(xv, gv, yv)
        assert got_pick.dtype == dtype and got_inc.dtype == dtype
        np.testing.assert_array_equal(got_pick, numpy_pick(xv, yv, rows_from))
        np.testing.assert_allclose(got_inc, numpy_inc(xv, gv, yv, rows_from), **tol(dtype))
    assert_unchanged(before, [X, G, Y])


@pytest.mark.parametrize("rows_from", ["x", "y"])
def test_zero_rows(mode, rows_from):
    x, g, y = vars_for("float64", "int64")
    f = compiled(mode, [x, g, y], [row_pick(x, y, rows_from), row_pick_inc(x, g, y, rows_from)])
    X, Y, G = np.zeros((0, 4)), np.zeros(0, "int64"), np.zeros(0)
    pick, inc = f(X, G, Y)
    assert pick.shape == (0,) and inc.shape == (0, 4)
    pick, inc = f(np.zeros((0, 0)), G, Y)
    assert pick.shape == (0,) and inc.shape == (0, 0)


def test_prefix_rows_when_counted_from_y(mode, rng):
    """rows_from='y' picks from the first len(y) rows, as x[arange(len(y)), y] does."""
    x, y = T.matrix("x"), T.lvector("y")
    f = compiled(mode, [x, y], row_pick(x, y, "y"))
    X, Y = rng.standard_normal((5, 3)), np.array([2, 0])
    np.testing.assert_array_equal(f(X, Y), X[np.arange(2), Y])


@pytest.mark.parametrize("shape, ys", [((1, 4), [3, 0, 3, -1]), ((4, 3), [2])])
def test_rows_from_x_broadcasts_like_numpy(mode, rng, monkeypatch, shape, ys):
    x, g, y = vars_for("float64", "int64")
    f = compiled(mode, [x, g, y], [row_pick(x, y, "x"), row_pick_inc(x, g, y, "x")])
    if mode == "FAST_RUN":
        kernels_only(monkeypatch)
    X, Y = rng.standard_normal(shape), np.array(ys)
    n = max(shape[0], len(ys))
    G = rng.standard_normal(n)
    pick, inc = f(X, G, Y)
    np.testing.assert_array_equal(pick, numpy_pick(X, Y, "x"))
    np.testing.assert_allclose(inc, numpy_inc(X, G, Y, "x"), rtol=1e-12)   # repeats accumulate


@pytest.mark.parametrize("rows_from", ["x", "y"])
@pytest.mark.parametrize("ys, col", [([0, 7, 1], 7), ([0, 1, -4], -4)])
def test_column_out_of_range_raises_numpys_error(mode, rows_from, ys, col):
    x, g, y = vars_for("float32", "int64")
    X, Y = np.ones((3, 3), "float32"), np.array(ys)
    f = compiled(mode, [x, y], row_pick(x, y, rows_from))
    message = rf"index {col} is out of bounds for axis 1 with size 3 \(row_pick: y\[\d\] = {col} for row \d"
    with pytest.raises(IndexError, match=message):
        f(X, Y)
    h = compiled(mode, [x, g, y], row_pick_inc(x, g, y, rows_from))
    with pytest.raises(IndexError, match=message):
        h(X, np.ones(3, "float32"), Y)


def test_lengths_that_do_not_go_together_raise(mode):
    x, y = T.matrix("x"), T.lvector("y")
    X = np.ones((3, 2))
    f = compiled(mode, [x, y], row_pick(x, y, "y"))
    with pytest.raises(IndexError, match="index 3 is out of bounds for axis 0 with size 3"):
        f(X, np.zeros(4, "int64"))
    h = compiled(mode, [x, y], row_pick(x, y, "x"))
    with pytest.raises(IndexError, match=r"shape mismatch: indexing arrays could not be broadcast together "
                                         r"with shapes \(3,\) \(2,\)"):
        h(X, np.zeros(2, "int64"))


def test_increment_value_shapes(mode, rng):
    x, y = T.matrix("x"), T.lvector("y")
    X, Y = rng.standard_normal((4, 3)), np.array([0, 2, 1, 1])
    s = T.dscalar("s")
    np.testing.assert_allclose(run(mode, [x, s, y], row_pick_inc(x, s, y), X, 2.5, Y), numpy_inc(X, 2.5, Y, "y"))
    one = T.tensor("float64", shape=(1,), name="one")
    np.testing.assert_allclose(run(mode, [x, one, y], row_pick_inc(x, one, y), X, np.array([2.0]), Y),
                               numpy_inc(X, 2.0, Y, "y"))
    g = T.dvector("g")
    f = compiled(mode, [x, g, y], row_pick_inc(x, g, y))
    with pytest.raises(ValueError, match=r"row_pick_inc: g of shape \(1,\) does not match the 4 picked entries"):
        f(X, np.array([1.0]), Y)


@pytest.mark.parametrize("dtype", ["int32", "int64", "int8", "bool", "float16", "complex64", "complex128"])
def test_pick_of_other_dtypes(mode, rng, dtype):
    x, y = T.matrix("x", dtype=dtype), T.ivector("y")
    X = (rng.standard_normal((5, 4)) * 10).astype(dtype)
    Y = np.array([3, 0, -2, 1, 3], "int32")
    f = T.function([x, y], row_pick(x, y, "x"), mode=mode)
    if mode == "FAST_RUN" and dtype != "complex128":       # 16-byte elements run perform
        assert not [n for n in f.maker.executor.fallbacks if isinstance(n.op, RowPick)]
    for xv in (X, noncontiguous(X)):
        got = f(xv, Y)
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, X[np.arange(5), Y])


@pytest.mark.parametrize("rows_from", ["x", "y"])
def test_infer_shape(mode, rng, rows_from):
    x, g, y = vars_for("float64", "int64")
    cases = [((4, 3), 4), ((1, 3), 5), ((4, 3), 1)] if rows_from == "x" else [((4, 3), 4), ((6, 3), 2)]
    for shape, n in cases:
        X, Y, G = rng.standard_normal(shape), np.zeros(n, "int64"), np.zeros(max(shape[0], n))
        expected = numpy_pick(X, Y, rows_from).shape
        check_infer_shape(mode, [x, y], row_pick(x, y, rows_from), [X, Y], expected)
        check_infer_shape(mode, [x, g, y], row_pick_inc(x, g, y, rows_from), [X, G[:expected[0]], Y], shape)


def test_static_shapes():
    y = T.tensor("int64", shape=(None,), name="y")
    assert row_pick(T.tensor("float64", shape=(5, None)), y, "x").type.shape == (5,)
    assert row_pick(T.tensor("float64", shape=(5, None)), T.tensor("int64", shape=(3,)), "y").type.shape == (3,)
    assert row_pick(T.tensor("float64", shape=(1, None)), y, "x").type.shape == (None,)
    assert row_pick(T.tensor("float64", shape=(1, None)), T.tensor("int64", shape=(3,)), "x").type.shape == (3,)


def test_build_errors():
    x, y = T.dmatrix("x"), T.lvector("y")
    with pytest.raises(TypeError, match="row_pick: x must be a matrix"):
        row_pick(T.dvector("v"), y)
    with pytest.raises(TypeError, match="row_pick: y must be an integer vector"):
        row_pick(x, T.dvector("f"))
    with pytest.raises(TypeError, match="row_pick: y must be an integer vector"):
        row_pick(x, T.lmatrix("m"))
    with pytest.raises(ValueError, match="rows_from must be 'x'"):
        row_pick(x, y, "z")
    with pytest.raises(TypeError, match="row_pick_inc: g must be a scalar or vector of x's dtype float64"):
        row_pick_inc(x, T.fvector("g"), y)
    with pytest.raises(IndexError, match="shape mismatch"):
        row_pick(T.tensor("float64", shape=(4, None)), T.tensor("int64", shape=(3,)), "x")
    with pytest.raises(IndexError, match="index 2 is out of bounds for axis 0"):
        row_pick(T.tensor("float64", shape=(2, None)), T.tensor("int64", shape=(3,)), "y")
    with pytest.raises(ValueError, match="row_pick_inc: g of shape"):
        row_pick_inc(x, T.tensor("float64", shape=(3,)), T.tensor("int64", shape=(4,)))


@pytest.mark.parametrize("rows_from", ["x", "y"])
def test_verify_grad(rng, rows_from):
    Y = np.array([2, 0, -1, 1])
    X = rng.standard_normal((4, 3))
    verify_grad(lambda a: row_pick(a, Y, rows_from), [X], rng=rng)
    verify_grad(lambda a, b: row_pick_inc(a, b, Y, rows_from), [X, rng.standard_normal(4)], rng=rng)
    verify_grad(lambda a, s: row_pick_inc(a, s, Y, rows_from), [X, np.array(0.7)], rng=rng)
    # one row picked at repeated columns: the gradient accumulates
    verify_grad(lambda a: row_pick(a, np.array([1, 1, 0]), "x"), [rng.standard_normal((1, 3))], rng=rng)


def test_gradient_of_integer_x_is_zero(mode):
    x, y = T.lmatrix("x"), T.lvector("y")
    gx = T.grad(T.sum(row_pick(x, y) * 1.0), x)
    np.testing.assert_array_equal(run(mode, [x, y], gx, np.ones((2, 3), "int64"), np.array([0, 1])), 0)


def test_rop(mode, rng):
    x, g, y, v, w = T.dmatrix("x"), T.dvector("g"), T.lvector("y"), T.dmatrix("v"), T.dvector("w")
    X, V, Y, W = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), np.array([3, 0, 1]), rng.standard_normal(3)
    got = run(mode, [x, v, y], T.Rop(row_pick(x, y), x, v), X, V, Y)
    np.testing.assert_allclose(got, V[np.arange(3), Y])
    got = run(mode, [x, g, v, w, y], T.Rop(row_pick_inc(x, g, y), [x, g], [v, w]), X, W, V, W, Y)
    np.testing.assert_allclose(got, numpy_inc(V, W, Y, "y"))


@pytest.mark.parametrize("rows_from", ["x", "y"])
@pytest.mark.parametrize("batched", ["x", "y", "xg", "yg", "xyg"])
def test_vectorize(mode, rng, rows_from, batched):
    x, g, y = T.dmatrix("x"), T.dvector("g"), T.lvector("y")
    bx, bg, by = T.tensor3("bx"), T.dmatrix("bg"), T.lmatrix("by")
    X, G, Y = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 4)), rng.integers(-3, 3, (2, 4))
    replace = {v: b for v, b, name in ((x, bx, "x"), (g, bg, "g"), (y, by, "y")) if name in batched}
    outs = vectorize_graph([row_pick(x, y, rows_from), row_pick_inc(x, g, y, rows_from)], replace)
    ins = [replace.get(v, v) for v in (x, g, y)]
    vals = [V if v in replace else V[0] for v, V in ((x, X), (g, G), (y, Y))]
    pick, inc = run(mode, ins, outs, *vals)
    for b in range(2):
        xb, gb, yb = (V[b] if v in replace else V[0] for v, V in ((x, X), (g, G), (y, Y)))
        np.testing.assert_allclose(pick[b], numpy_pick(xb, yb, rows_from))
        np.testing.assert_allclose(inc[b], numpy_inc(xb, gb, yb, rows_from))
