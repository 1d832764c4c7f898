"""Repeat and tile against numpy, in every mode."""
import numpy as np
import pytest

import symtensor as T
from symtensor.grad import verify_grad
from symtensor.ops.basic import tensor
from symtensor.ops.tile import Repeat, RepeatGrad, Tile
from tests.helpers import DTYPES, check_infer_shape, layouts, noncontiguous, rand, run


def counts(reps, n):
    """The repeat counts for a test case: ``"each"`` means one random count in [0, 3) per
    element of an axis of length ``n`` (numpy requires exactly ``n`` then)."""
    if reps == "each":
        return list(np.random.default_rng(n).integers(0, 3, size=n))
    return reps


# --- repeat ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("reps", [3, 0, "each", [2]])
def test_repeat_constant_matches_numpy(mode, rng, dtype, axis, reps):
    x = T.matrix("x", dtype=dtype)
    a = rand(rng, (3, 3), dtype)
    reps = counts(reps, 9 if axis is None else 3)
    out = T.repeat(x, reps, axis=axis)
    expected = np.repeat(a, reps, axis=axis)
    got = run(mode, [x], out, a)
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == dtype and out.ndim == expected.ndim
    check_infer_shape(mode, [x], out, [a], expected.shape)


def test_repeat_symbolic(mode, rng):
    x, r, rv = T.tensor3("x"), T.iscalar("r"), T.bvector("rv")
    a = rand(rng, (2, 3, 4)).transpose(1, 0, 2)  # non-contiguous, shape (3, 2, 4)
    f = T.function([x, r, rv], [T.repeat(x, r, axis=1), T.repeat(x, rv, axis=0), T.repeat(x, r)],
                   mode=mode)
    got = f(a, 2, np.array([0, 3, 1], dtype="int8"))
    np.testing.assert_array_equal(got[0], np.repeat(a, 2, axis=1))
    np.testing.assert_array_equal(got[1], np.repeat(a, [0, 3, 1], axis=0))
    np.testing.assert_array_equal(got[2], np.repeat(a, 2))
    got = f(np.zeros((0, 2, 4)), 3, np.zeros(0, dtype="int8"))
    assert got[0].shape == (0, 6, 4) and got[1].shape == (0, 2, 4) and got[2].shape == (0,)
    assert x.repeat(r, axis=1).ndim == 3  # method form


def test_repeat_static_shapes():
    x = tensor("float64", shape=(3, None))
    assert T.repeat(x, 2, axis=0).type.shape == (6, None)
    assert T.repeat(x, [1, 2, 3], axis=0).type.shape == (6, None)
    assert T.repeat(x, 0, axis=1).type.shape == (3, 0)
    assert T.repeat(x, [4], axis=0).type.shape == (12, None)
    assert T.repeat(x, T.lscalar(), axis=0).type.shape == (None, None)
    assert T.repeat(T.row(), 1, axis=0).broadcastable == (True, False)
    assert T.repeat(T.row(), 2, axis=0).type.shape == (2, None)
    assert T.repeat(T.scalar(), 3).type.shape == (3,)


def test_repeat_errors(mode, rng):
    x = tensor("float64", shape=(3, None), name="x")
    with pytest.raises(TypeError, match="integer"):
        T.repeat(x, 1.5)
    with pytest.raises(TypeError, match="integer"):
        T.repeat(x, T.dvector())
    with pytest.raises(ValueError, match="scalar or a vector"):
        T.repeat(x, [[1, 2]])
    with pytest.raises(ValueError, match=">= 0"):
        T.repeat(x, -1, axis=0)
    with pytest.raises(ValueError, match="2 repeat counts.*length 3"):
        T.repeat(x, [1, 2], axis=0)
    with pytest.raises(ValueError, match="out of range"):
        T.repeat(x, 2, axis=2)
    m, r = T.matrix("m"), T.lvector("r")
    f = T.function([m, r], T.repeat(m, r, axis=1), mode=mode)
    with pytest.raises(ValueError, match="2 repeat counts.*length 3"):
        f(rand(rng, (2, 3)), np.array([1, 2]))
    with pytest.raises(ValueError, match=">= 0"):
        f(rand(rng, (2, 3)), np.array([1, -2, 1]))


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("reps", [2, "each", [3]])
def test_repeat_grad(mode, rng, axis, reps):
    reps = counts(reps, 9 if axis is None else 3)
    verify_grad(lambda a: T.repeat(a, reps, axis=axis), [rand(rng, (3, 3))],
                rng=np.random.default_rng(0), mode=mode)


def test_repeat_grad_symbolic_counts(mode, rng):
    x, r, rv = T.matrix("x"), T.lscalar("r"), T.ivector("rv")
    w = T.matrix("w")
    g_scalar = T.grad((T.repeat(x, r, axis=1) * w).sum(), x)
    w2 = T.matrix("w2")
    g_vec = T.grad((T.repeat(x, rv, axis=0) * w2).sum(), x)
    a = rand(rng, (3, 2))
    wv, w2v = rand(rng, (3, 6)), rand(rng, (5, 2))
    got = run(mode, [x, r, w, rv, w2], [g_scalar, g_vec], a, 3, wv, np.array([2, 0, 3], "int32"), w2v)
    np.testing.assert_allclose(got[0], wv.reshape(3, 2, 3).sum(-1))
    np.testing.assert_allclose(got[1], np.stack([w2v[:2].sum(0), np.zeros(2), w2v[2:].sum(0)]))


def test_repeat_grad_int_input_and_second_order(mode, rng):
    xi = T.ivector("xi")
    g = T.grad(T.cast(T.repeat(xi, [1, 2]), "float64").sum(), xi)
    np.testing.assert_array_equal(run(mode, [xi], g, np.array([1, 2], "int32")), [0.0, 0.0])

    def grad_of_repeat(a, w):
        # the gradient of a repeat is a segment sum; differentiating it in w checks its adjoint
        return T.grad((T.repeat(a, [2, 0, 1], axis=0) * w).sum(), a)
    verify_grad(grad_of_repeat, [rand(rng, (3, 2)), rand(rng, (3, 2))], rng=np.random.default_rng(0),
                mode=mode)


def test_repeat_rop_and_vectorize(mode, rng):
    x, v = T.matrix("x"), T.matrix("v")
    out = T.repeat(x * x, [1, 2], axis=1)
    a, va = rand(rng, (3, 2)), rand(rng, (3, 2))
    np.testing.assert_allclose(run(mode, [x, v], T.Rop(out, x, v), a, va),
                               np.repeat(2 * a * va, [1, 2], axis=1))
    node = T.repeat(x, 2, axis=-1).owner
    assert isinstance(node.op, Repeat) and node.op.axis == 1
    bx = T.tensor3("bx")
    b = rand(rng, (4, 3, 2))
    got = run(mode, [bx], node.op.vectorize_node(node, bx, node.inputs[1])[0], b)
    np.testing.assert_array_equal(got, np.repeat(b, 2, axis=2))


# --- tile --------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reps", [2, (2, 3), [1, 0], (2, 1, 3), (3,), [1, 1]])
def test_tile_constant_matches_numpy(mode, rng, dtype, reps):
    x = T.matrix("x", dtype=dtype)
    a = rand(rng, (2, 3), dtype)
    out = T.tile(x, reps)
    expected = np.tile(a, reps)
    # x's lengths are not static: only a zero count or a padded leading axis fixes a length
    pad = len(expected.shape) - 2
    full = (1,) * (len(expected.shape) - len(np.atleast_1d(reps))) + tuple(np.atleast_1d(reps))
    assert out.type.shape == tuple(0 if r == 0 else (r if d < pad else None)
                                   for d, r in enumerate(full))
    # with a static input shape the whole output shape is static
    assert T.tile(tensor(dtype, shape=a.shape), reps).type.shape == expected.shape
    got = run(mode, [x], out, a)
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == dtype
    check_infer_shape(mode, [x], out, [a], expected.shape)


def test_tile_symbolic_reps(mode, rng):
    x, r, n = T.matrix("x"), T.iscalar("r"), T.lscalar("n")
    rv = T.lvector("rv")
    outs = [T.tile(x, r), T.tile(x, [r, n]), T.tile(x, [2, n, 1]), T.tile(x, rv, ndim=3),
            T.tile(x, [r, 2], ndim=4)]
    assert [o.ndim for o in outs] == [2, 2, 3, 3, 4]
    assert outs[2].type.shape[0] == 2
    f = T.function([x, r, n, rv], outs, mode=mode)
    a = rand(rng, (4, 6))[::2, ::2]  # non-contiguous (2, 3)
    got = f(a, 2, 3, np.array([2, 1]))
    expected = [np.tile(a, 2), np.tile(a, (2, 3)), np.tile(a, (2, 3, 1)), np.tile(a, (1, 2, 1)),
                np.tile(a, (1, 1, 2, 2))]
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)
    got = f(np.zeros((0, 3)), 0, 2, np.array([3, 1, 2]))
    assert [g.shape for g in got] == [(0, 0), (0, 6), (2, 0, 3), (3, 0, 6), (1, 1, 0, 6)]
    check_infer_shape(mode, [x, rv], outs[3], [a, np.array([2, 1])], (1, 4, 3))


def test_tile_errors(mode, rng):
    x = T.matrix("x")
    with pytest.raises(ValueError, match="integer"):
        T.tile(x, 1.5)
    with pytest.raises(ValueError, match="integer"):
        T.tile(x, [2, T.dscalar()])
    with pytest.raises(ValueError, match="ndim=1"):
        T.tile(x, 2, ndim=1)
    with pytest.raises(ValueError, match="give ndim"):
        T.tile(x, T.lvector())
    with pytest.raises(ValueError, match="3 repetition counts"):
        T.tile(x, [1, 2, 3], ndim=2)
    with pytest.raises(ValueError, match=">= 0"):
        T.tile(x, [-1, 2])
    with pytest.raises(ValueError, match="scalar or a vector"):
        T.tile(x, np.ones((2, 2), "int64"))
    rv = T.lvector("rv")
    f = T.function([x, rv], T.tile(x, rv, ndim=2), mode=mode)
    with pytest.raises(ValueError, match="3 repetition counts"):
        f(rand(rng, (2, 2)), np.array([1, 2, 3]))
    with pytest.raises(ValueError, match=">= 0"):
        f(rand(rng, (2, 2)), np.array([1, -2]))


@pytest.mark.parametrize("reps,ndim", [(2, None), ((2, 3), None), ((3, 1, 2), None), ((2,), 4),
                                       ((1, 0), None)])
def test_tile_grad(mode, rng, reps, ndim):
    verify_grad(lambda a: T.tile(a, reps, ndim=ndim), [rand(rng, (2, 3))], rng=np.random.default_rng(0),
                mode=mode)


def test_tile_grad_symbolic_reps(mode, rng):
    x, rv, w = T.matrix("x"), T.lvector("rv"), T.tensor3("w")
    g = T.grad((T.tile(x, rv, ndim=3) * w).sum(), x)
    b = T.row("b")
    gb = T.grad((T.tile(b, [2, 2]) * np.arange(12.0).reshape(2, 6)).sum(), b)
    assert g.broadcastable == (False, False) and gb.broadcastable == (True, False)
    a = rand(rng, (2, 3))
    wv = rand(rng, (1, 4, 3))  # reps [2, 1] pad to (1, 2, 1): the output is (1, 4, 3)
    got = run(mode, [x, rv, w, b], [g, gb], a, np.array([2, 1]), wv, rand(rng, (1, 3)))
    np.testing.assert_allclose(got[0], wv.reshape(2, 2, 3).sum(axis=0))
    np.testing.assert_allclose(got[1], np.arange(12.0).reshape(2, 6).reshape(2, 1, 2, 3).sum(axis=(0, 2)))


def test_tile_rop_and_vectorize(mode, rng):
    x, v = T.matrix("x"), T.matrix("v")
    a, va = rand(rng, (2, 3)), rand(rng, (2, 3))
    out = T.tile(x * x, (2, 1, 2))
    np.testing.assert_allclose(run(mode, [x, v], T.Rop(out, x, v), a, va), np.tile(2 * a * va, (2, 1, 2)))
    node = out.owner
    assert isinstance(node.op, Tile)
    bx = T.tensor3("bx")
    b = rand(rng, (4, 2, 3))
    got = run(mode, [bx], node.op.vectorize_node(node, bx, node.inputs[1])[0], b)
    np.testing.assert_array_equal(got, np.stack([np.tile(bi, (2, 1, 2)) for bi in b]))


# --- every layout, dtype and mode; more errors ---------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES + ["bool"])
def test_repeat_layouts(mode, rng, dtype):
    """Contiguous, strided and zero-size inputs repeat like numpy; the inputs are not written."""
    x, r, rv = T.matrix("x", dtype=dtype), T.lscalar("r"), T.lvector("rv")
    f = T.function([x, r, rv], [T.repeat(x, 2, axis=0), T.repeat(x, r, axis=1),
                                T.repeat(x, rv, axis=1), T.repeat(x, r)], mode=mode)
    for name, a in layouts(rng, (3, 2), dtype):
        before = a.copy()
        got = f(a, 3, np.array([0, 2]))
        expected = [np.repeat(a, 2, axis=0), np.repeat(a, 3, axis=1), np.repeat(a, [0, 2], axis=1),
                    np.repeat(a, 3)]
        for g, e in zip(got, expected):
            np.testing.assert_array_equal(g, e, err_msg=name)
            assert g.dtype == dtype and g.shape == e.shape
        np.testing.assert_array_equal(a, before)


@pytest.mark.parametrize("value,expected", [([3], (6, 2)), ([1, 0], (1, 2))])
def test_repeat_symbolic_counts_infer_shape(mode, rng, value, expected):
    """A symbolic count vector of length 1 repeats every element; of length n, each one."""
    x, rv = T.matrix("x"), T.lvector("rv")
    out = T.repeat(x, rv, axis=0)
    a = rand(rng, (2, 2))
    assert run(mode, [x, rv], out, a, np.array(value)).shape == expected
    check_infer_shape(mode, [x, rv], out, [a, np.array(value)], expected)


def test_repeat_grad_float32_and_noncontiguous(mode, rng):
    x = T.fmatrix("x")
    w = np.arange(12, dtype="float32").reshape(2, 6)
    g = T.grad((T.repeat(x, [1, 2, 0], axis=1) * w[:, :3]).sum() + (T.repeat(x, 2, axis=1) * w).sum(),
               x)
    assert g.dtype == "float32"
    got = run(mode, [x], g, noncontiguous(rand(rng, (2, 3), "float32")))
    expected = np.stack([w[:, 0], w[:, 1] + w[:, 2], np.zeros(2, "float32")], axis=1) \
        + w.reshape(2, 3, 2).sum(-1)
    np.testing.assert_array_equal(got, expected)
    verify_grad(lambda a: T.repeat(a, [2, 1, 0], axis=1), [noncontiguous(rand(rng, (2, 3)))],
                rng=np.random.default_rng(0), mode=mode)


def test_repeat_grad_op(mode, rng):
    """RepeatGrad sums each element's block of copies; its shape and errors."""
    gz, rv, n = T.matrix("gz"), T.lvector("rv"), T.lscalar("n")
    out = RepeatGrad(1)(gz, rv, n)
    g = rand(rng, (2, 5))
    got = run(mode, [gz, rv, n], out, g, np.array([2, 0, 3]), 3)
    np.testing.assert_allclose(got, np.stack([g[:, :2].sum(1), np.zeros(2), g[:, 2:].sum(1)], 1))
    check_infer_shape(mode, [gz, rv, n], out, [g, np.array([2, 0, 3]), 3], (2, 3))
    f = T.function([gz, rv, n], out, mode=mode)
    with pytest.raises(ValueError, match="sum to 4.*length 5"):
        f(g, np.array([2, 0, 2]), 3)
    with pytest.raises(TypeError, match="vector"):
        RepeatGrad(0)(gz, T.lscalar(), n)


def test_repeat_more_errors(mode, rng):
    x = tensor("float64", shape=(3, 3), name="x")
    with pytest.raises(ValueError, match="3 repeat counts.*length 9"):
        T.repeat(x, [1, 0, 2])  # axis=None repeats the 9 flattened elements
    with pytest.raises(TypeError, match="integer dtype"):
        T.repeat(x, T.vector("b", dtype="bool"))
    with pytest.raises(TypeError, match="constant integer"):
        T.repeat(x, 2, axis=T.iscalar("ax"))
    with pytest.raises(TypeError, match="axis must be an integer"):
        T.repeat(x, 2, axis=1.0)
    with pytest.raises(ValueError, match="test_tile.py"):
        T.repeat(x, -1)
    m = T.matrix("m")
    f = T.function([m], T.repeat(m, [1, 0, 2]), mode=mode)
    with pytest.raises(ValueError, match="3 repeat counts for axis 0 of length 4"):
        f(rand(rng, (2, 2)))


def test_repeat_vectorize_vector_counts(mode, rng):
    x = T.matrix("x")
    node = T.repeat(x, [2, 0, 1], axis=0).owner
    bx = T.tensor3("bx")
    b = rand(rng, (4, 3, 2))
    got = run(mode, [bx], node.op.vectorize_node(node, bx, node.inputs[1])[0], b)
    np.testing.assert_array_equal(got, np.repeat(b, [2, 0, 1], axis=1))
    r = T.lscalar("r")
    ra = T.lvector("ra")
    node = T.repeat(x, r, axis=0).owner
    with pytest.raises(NotImplementedError, match="batched repeat counts"):
        node.op.vectorize_node(node, x, ra)


@pytest.mark.parametrize("dtype", DTYPES + ["bool"])
def test_tile_layouts(mode, rng, dtype):
    x, rv = T.matrix("x", dtype=dtype), T.lvector("rv")
    f = T.function([x, rv], [T.tile(x, (2, 3)), T.tile(x, (2, 1, 2)), T.tile(x, rv, ndim=2)],
                   mode=mode)
    for name, a in layouts(rng, (3, 2), dtype):
        before = a.copy()
        got = f(a, np.array([3]))
        for g, e in zip(got, [np.tile(a, (2, 3)), np.tile(a, (2, 1, 2)), np.tile(a, 3)]):
            np.testing.assert_array_equal(g, e, err_msg=name)
            assert g.dtype == dtype and g.shape == e.shape
        np.testing.assert_array_equal(a, before)


def test_tile_scalars_and_vectors(mode, rng):
    s, v = T.scalar("s"), T.vector("v")
    outs = [T.tile(s, 3), T.tile(s, (2, 3)), T.tile(v, (2, 1, 2)), T.tile(v, 2, ndim=3)]
    assert [o.ndim for o in outs] == [1, 2, 3, 3]
    assert outs[0].type.shape == (3,) and outs[1].type.shape == (2, 3)
    sv, vv = 1.5, rand(rng, (2,))
    got = run(mode, [s, v], outs, sv, vv)
    expected = [np.tile(sv, 3), np.tile(sv, (2, 3)), np.tile(vv, (2, 1, 2)), np.tile(vv, (1, 1, 2))]
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)


def test_tile_broadcastable_and_grad_float32(mode, rng):
    r = T.frow("r")
    assert T.tile(r, (1, 3)).broadcastable == (True, False)
    assert T.tile(r, (2, 1)).broadcastable == (False, False)
    w = np.arange(18, dtype="float32").reshape(3, 6)
    g = T.grad((T.tile(r, (3, 2)) * w).sum(), r)
    assert g.dtype == "float32" and g.broadcastable == (True, False)
    got = run(mode, [r], g, rand(rng, (1, 3), "float32"))
    np.testing.assert_array_equal(got, w.reshape(3, 1, 2, 3).sum(axis=(0, 2)))
    verify_grad(lambda a: T.tile(a, (2, 1, 3)), [noncontiguous(rand(rng, (2, 3)))],
                rng=np.random.default_rng(0), mode=mode)


def test_tile_int_input_grad_is_zero(mode, rng):
    xi = T.imatrix("xi")
    g = T.grad(T.cast(T.tile(xi, (2, 2)), "float64").sum(), xi)
    np.testing.assert_array_equal(run(mode, [xi], g, rand(rng, (2, 3), "int32")), np.zeros((2, 3)))


def test_tile_more_errors():
    x = T.matrix("x")
    with pytest.raises(TypeError, match="ndim must be an integer or None"):
        T.tile(x, 2, ndim=3.0)
    with pytest.raises(TypeError, match="ndim must be an integer or None"):
        T.tile(x, 2, ndim="3")
    with pytest.raises(ValueError, match="integer dtype"):
        T.tile(x, T.vector("b", dtype="bool"), ndim=2)
    with pytest.raises(ValueError, match="integer scalars"):
        T.tile(x, [2, T.lvector("v")])
    with pytest.raises(TypeError, match="integer vector"):
        Tile(2)(x, T.lscalar("r"))
    with pytest.raises(ValueError, match="test_tile.py"):
        T.tile(x, [-1, 2])
    node = T.tile(x, T.lvector("rv"), ndim=2).owner
    with pytest.raises(NotImplementedError, match="batched repetition counts"):
        node.op.vectorize_node(node, x, T.lmatrix("rm"))
