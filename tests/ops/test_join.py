"""Join, concatenate, stack and split against numpy, in every mode (repeat and tile: test_tile.py)."""
import warnings

import numpy as np
import pytest

import symtensor as T
from symtensor.grad import verify_grad
from symtensor.ops.basic import tensor
from symtensor.ops.join import Join, MakeVector, Split
from symtensor.ops.shape import reshape
from tests.helpers import DTYPES, check_infer_shape, layouts, noncontiguous, rand, run


# --- join / concatenate -------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES + ["bool"])
@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
def test_concatenate_matches_numpy(mode, rng, dtype, axis):
    x, y, z = (T.tensor3(n, dtype=dtype) for n in "xyz")
    vals = []
    for n in (1, 3, 2):
        s = [2, 3, 4]
        s[axis] = n
        vals.append(rand(rng, s, dtype))
    out = T.concatenate([x, y, z], axis=axis)
    assert out.dtype == dtype and out.ndim == 3
    got = run(mode, [x, y, z], out, *vals)
    np.testing.assert_array_equal(got, np.concatenate(vals, axis=axis))
    assert got.dtype == dtype
    assert isinstance(out.owner.op, Join) and out.owner.op.axis == axis % 3
    check_infer_shape(mode, [x, y, z], out, vals, got.shape)


@pytest.mark.parametrize("dts", [("int32", "float32"), ("float32", "float64"), ("int8", "uint8"),
                                 ("bool", "int16"), ("int64", "float32")])
def test_join_mixed_dtypes_follow_numpy(mode, rng, dts):
    x = T.matrix("x", dtype=dts[0])
    y = T.matrix("y", dtype=dts[1])
    a = rand(rng, (2, 3), "int8").astype(dts[0])
    b = rand(rng, (4, 3), "int8").astype(dts[1])
    out = T.join(0, x, y)
    expected = np.concatenate([a, b])
    assert out.dtype == str(expected.dtype)
    got = run(mode, [x, y], out, a, b)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_join_broadcastable_inputs(mode, rng):
    r, m, c = T.row("r"), T.matrix("m"), T.col("c")
    out0 = T.join(0, r, m)
    assert out0.broadcastable == (False, False)
    out1 = T.join(1, c, m)
    assert out1.broadcastable == (False, False)
    # two rows joined along axis 1 stay a row; two cols along axis 0 stay a col
    assert T.join(1, r, r).broadcastable == (True, False)
    assert T.join(0, c, c).broadcastable == (False, True)
    # a size-1 input dimension fixes the output size along a non-joined axis
    assert T.join(1, r, m).broadcastable == (True, False)
    a, b, d = rand(rng, (1, 3)), rand(rng, (4, 3)), rand(rng, (4, 1))
    got0, got1 = run(mode, [r, m, c], [out0, out1], a, b, d)
    np.testing.assert_array_equal(got0, np.concatenate([a, b], 0))
    np.testing.assert_array_equal(got1, np.concatenate([d, b], 1))


def test_join_noncontiguous_and_zero_size(mode, rng):
    x, y = T.matrix("x"), T.matrix("y")
    out = T.concatenate([x, y], axis=1)
    f = T.function([x, y], out, mode=mode)
    big = rand(rng, (3, 8))
    a, b = big[:, ::2], rand(rng, (5, 3)).T
    assert not a.flags.c_contiguous and not b.flags.c_contiguous
    np.testing.assert_array_equal(f(a, b), np.concatenate([a, b], 1))
    z0 = np.zeros((3, 0))
    np.testing.assert_array_equal(f(z0, b), b)
    np.testing.assert_array_equal(f(z0, z0), np.zeros((3, 0)))
    big_before = big.copy()
    f(a, b)
    np.testing.assert_array_equal(big, big_before)


def test_join_static_shapes():
    a = tensor("float64", shape=(2, 3))
    b = tensor("float64", shape=(4, 3))
    c = tensor("float64", shape=(None, 3))
    m = T.matrix("m")
    assert T.join(0, a, b).type.shape == (6, 3)
    assert T.join(0, a, c).type.shape == (None, 3)
    assert T.join(0, m, a).type.shape == (None, 3)
    assert T.join(-1, a, a).type.shape == (2, 6)
    assert T.stack([a, a]).type.shape == (2, 2, 3)
    assert T.stack([a, a], axis=-1).type.shape == (2, 3, 2)


def test_join_single_tensor_and_python_lists(mode):
    x = T.vector("x")
    assert T.join(0, x) is x
    assert T.concatenate([x]) is x
    out = T.concatenate([x, [1.5, 2.5]])
    np.testing.assert_array_equal(run(mode, [x], out, np.array([0.5])), [0.5, 1.5, 2.5])


def test_join_build_errors():
    a = tensor("float64", shape=(2, 3), name="a")
    b = tensor("float64", shape=(2, 4), name="b")
    with pytest.raises(ValueError) as err:
        T.join(0, a, b)
    msg = str(err.value)
    assert "(2, 3)" in msg and "(2, 4)" in msg and "dimension 1" in msg and "a" in msg and "b" in msg
    assert "test_join.py" in msg  # the user's source line
    T.join(1, a, b)  # fine along the differing axis
    with pytest.raises(TypeError, match="same number of dimensions"):
        T.join(0, T.matrix(), T.vector())
    with pytest.raises(TypeError, match="scalar"):
        T.join(0, T.scalar(), T.scalar())
    with pytest.raises(ValueError, match="out of range"):
        T.join(2, T.matrix(), T.matrix())
    with pytest.raises(ValueError, match="out of range"):
        T.join(-3, T.matrix(), T.matrix())
    with pytest.raises(TypeError, match="constant integer"):
        T.join(T.iscalar("ax"), T.matrix(), T.matrix())
    with pytest.raises(TypeError, match="list or a tuple"):
        T.concatenate(T.matrix(), T.matrix())
    with pytest.raises(ValueError, match="empty"):
        Join(0)()


def test_join_runtime_error(mode, rng):
    x, y = T.matrix("x"), T.matrix("y")
    f = T.function([x, y], T.join(0, x, y), mode=mode)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 4\)"):
        f(rand(rng, (2, 3)), rand(rng, (2, 4)))


def test_join_symbolic_constant_axis(mode, rng):
    x, y = T.matrix("x"), T.matrix("y")
    out = T.join(T.constant(1), x, y)
    a, b = rand(rng, (2, 2)), rand(rng, (2, 3))
    np.testing.assert_array_equal(run(mode, [x, y], out, a, b), np.concatenate([a, b], 1))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_join_grad(mode, rng, axis):
    shapes = [[3, 2], [3, 2], [3, 2]]
    for s, n in zip(shapes, (1, 4, 2)):
        s[axis] = n
    verify_grad(lambda a, b, c: T.join(axis, a, b, c), [rand(rng, s) for s in shapes],
                rng=np.random.default_rng(0), mode=mode)


def test_join_grad_dtypes_and_broadcastable(mode, rng):
    x32, x64, xi = T.fmatrix("x32"), T.dmatrix("x64"), T.imatrix("xi")
    r = T.row("r", dtype="float64")
    out = T.join(0, x32, x64, xi, r)
    assert out.dtype == "float64"
    cost = (out * np.arange(24, dtype="float64").reshape(8, 3)).sum()
    g32, g64, gr = T.grad(cost, [x32, x64, r])
    assert g32.dtype == "float32" and g64.dtype == "float64"
    assert gr.broadcastable == (True, False)
    gi = T.grad(cost, xi)
    vals = [rand(rng, (2, 3), "float32"), rand(rng, (3, 3)), rand(rng, (2, 3), "int32"), rand(rng, (1, 3))]
    res = run(mode, [x32, x64, xi, r], [g32, g64, gi, gr], *vals)
    w = np.arange(24, dtype="float64").reshape(8, 3)
    np.testing.assert_array_equal(res[0], w[:2])
    np.testing.assert_array_equal(res[1], w[2:5])
    np.testing.assert_array_equal(res[2], np.zeros((2, 3)))
    np.testing.assert_array_equal(res[3], w[7:])


def test_join_rop(mode, rng):
    x, y = T.matrix("x"), T.matrix("y")
    vx, vy = T.matrix("vx"), T.matrix("vy")
    out = T.join(1, x * x, y)
    jv = T.Rop(out, [x, y], [vx, vy])
    a, b, va, vb = rand(rng, (2, 3)), rand(rng, (2, 2)), rand(rng, (2, 3)), rand(rng, (2, 2))
    got = run(mode, [x, y, vx, vy], jv, a, b, va, vb)
    np.testing.assert_allclose(got, np.concatenate([2 * a * va, vb], 1))
    # a tangent only for x: y's part is zero
    jx = T.Rop(out, x, vx)
    got = run(mode, [x, y, vx], jx, a, b, va)
    np.testing.assert_allclose(got, np.concatenate([2 * a * va, 0 * b], 1))


def test_join_vectorize_node():
    x, y = T.matrix("x"), T.matrix("y")
    node = T.join(-1, x, y).owner
    bx = T.tensor3("bx")
    out = node.op.vectorize_node(node, bx, y)[0]
    f = T.function([bx, y], out, mode="FAST_COMPILE")
    rng = np.random.default_rng(0)
    a, b = rand(rng, (4, 2, 3)), rand(rng, (2, 5))
    expected = np.stack([np.concatenate([ai, b], -1) for ai in a])
    np.testing.assert_array_equal(f(a, b), expected)


# --- stack -------------------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2])
@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_stack_matches_numpy(mode, rng, axis, dtype):
    x, y = T.matrix("x", dtype=dtype), T.matrix("y", dtype=dtype)
    a, b = rand(rng, (2, 3), dtype), rand(rng, (2, 3), dtype)
    out = T.stack([x, y], axis=axis)
    got = run(mode, [x, y], out, a, b[::-1].T.T)
    np.testing.assert_array_equal(got, np.stack([a, b[::-1]], axis=axis))
    assert out.broadcastable == tuple(False for _ in range(3))


def test_stack_of_scalars_is_make_vector(mode):
    a, b = T.iscalar("a"), T.lscalar("b")
    v = T.stack([a, b, 3])
    assert isinstance(v.owner.op, MakeVector) and v.dtype == "int64" and v.type.shape == (3,)
    np.testing.assert_array_equal(run(mode, [a, b], v, 1, 2), [1, 2, 3])
    f = T.stack([T.fscalar("f"), T.dscalar("d")])
    assert f.dtype == "float64"
    # a reshape through a stack of scalars keeps the constant entries static
    x = T.vector("x")
    n = T.lscalar("n")
    assert reshape(x, T.stack([n, 4])).type.shape == (None, 4)


def test_stack_forms_and_errors():
    x, y = T.vector("x"), T.vector("y")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = T.stack(x, y)
    assert any(issubclass(i.category, DeprecationWarning) for i in w)
    assert out.ndim == 2
    assert T.stack([x, y], 1).owner.op.axis == 1
    assert T.stack(tensors=[x, y], axis=-1).owner.op.axis == 1
    with pytest.raises(ValueError, match="empty"):
        T.stack([])
    with pytest.raises(TypeError, match="same number of dimensions"):
        T.stack([x, T.matrix()])
    with pytest.raises(ValueError, match="out of range"):
        T.stack([x, y], axis=2)
    with pytest.raises(ValueError, match="out of range"):
        T.stack([T.scalar(), T.scalar()], axis=1)


def test_stack_grad(mode, rng):
    verify_grad(lambda a, b: T.stack([a, b], axis=1), [rand(rng, (2, 3)), rand(rng, (2, 3))],
                rng=np.random.default_rng(0), mode=mode)
    verify_grad(lambda a, b, c: T.stack([a, b * c, c]), [np.array(1.5), np.array(-0.5), np.array(2.0)],
                rng=np.random.default_rng(0), mode=mode)


def test_make_vector_grad_int_input_and_rop(mode):
    a, i = T.dscalar("a"), T.iscalar("i")
    v = T.stack([a, i, a])
    assert v.dtype == "float64"
    ga, gi = T.grad((v * np.array([1.0, 2.0, 3.0])).sum(), [a, i])
    res = run(mode, [a, i], [ga, gi], 0.5, 3)
    assert float(res[0]) == 4.0 and float(res[1]) == 0.0
    va = T.dscalar("va")
    np.testing.assert_array_equal(run(mode, [a, i, va], T.Rop(v, a, va), 0.5, 3, 2.0), [2.0, 0.0, 2.0])


# --- split -------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_split_matches_numpy(mode, rng, dtype, axis):
    x = T.matrix("x", dtype=dtype)
    sizes = [2, 0, 3, 1]
    parts = T.split(x, sizes, 4, axis=axis)
    assert isinstance(parts, list) and len(parts) == 4
    shape = [6, 6]
    shape[axis] = 6
    a = rand(rng, (6, 7) if axis == 0 else (7, 6), dtype)
    got = run(mode, [x], parts, a)
    expected = np.split(a, np.cumsum(sizes)[:-1], axis=axis)
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)
        assert g.dtype == dtype
    for p, s in zip(parts, sizes):
        assert p.type.shape[axis % 2] == s
    check_infer_shape(mode, [x], parts[2], [a], expected[2].shape)


def test_split_symbolic_sizes(mode, rng):
    x, sizes = T.tensor3("x"), T.lvector("sizes")
    parts = T.split(x, sizes, 3, axis=1)
    assert all(p.type.shape == (None, None, None) for p in parts)
    f = T.function([x, sizes], parts, mode=mode)
    a = rand(rng, (2, 9, 3))
    b = a.transpose(0, 2, 1).copy().transpose(0, 2, 1)  # non-contiguous
    for val in (a, b):
        got = f(val, np.array([4, 0, 5]))
        for g, e in zip(got, np.split(val, [4, 4], axis=1)):
            np.testing.assert_array_equal(g, e)
    got = f(np.zeros((2, 0, 3)), np.array([0, 0, 0]))
    assert [g.shape for g in got] == [(2, 0, 3)] * 3
    # mixed symbolic and constant sizes
    n = T.lscalar("n")
    p1, p2 = T.split(x, [n, 2], 2, axis=-1)
    assert p2.type.shape == (None, None, 2)
    got = run(mode, [x, n], [p1, p2], a, 1)
    np.testing.assert_array_equal(got[0], a[..., :1])
    np.testing.assert_array_equal(got[1], a[..., 1:])


def test_split_one_piece_returns_the_piece(mode, rng):
    """As in Theano 1.0, a one-output op returns its variable, not a list."""
    x = T.vector("x")
    p = T.split(x, [3], 1)
    assert isinstance(p, T.Variable)
    a = rand(rng, (3,))
    np.testing.assert_array_equal(run(mode, [x], p, a), a)


def test_split_runtime_errors(mode, rng):
    x, sizes = T.matrix("x"), T.lvector("sizes")
    f = T.function([x, sizes], T.split(x, sizes, 2, axis=1), mode=mode)
    a = rand(rng, (2, 5))
    with pytest.raises(ValueError, match=r"sum to 4.*length 5"):
        f(a, np.array([1, 3]))
    with pytest.raises(ValueError, match="expected n_splits=2"):
        f(a, np.array([1, 2, 2]))
    with pytest.raises(ValueError, match=">= 0"):
        f(a, np.array([-1, 6]))


def test_split_build_errors():
    x = tensor("float64", shape=(None, 5), name="x")
    with pytest.raises(ValueError, match=r"sum to 4.*length 5"):
        T.split(x, [1, 3], 2, axis=1)
    with pytest.raises(ValueError, match="n_splits=3"):
        T.split(x, [1, 4], 3, axis=1)
    with pytest.raises(ValueError, match=">= 0"):
        T.split(x, [-1, 6], 2, axis=1)
    with pytest.raises(TypeError, match="integer"):
        T.split(x, T.dvector(), 2)
    with pytest.raises(ValueError, match="out of range"):
        T.split(x, [1, 4], 2, axis=2)
    with pytest.raises(TypeError, match="scalar"):
        T.split(T.scalar(), [1], 1)
    with pytest.raises(ValueError, match="n_splits"):
        Split(0)


def test_split_grad(mode, rng):
    def fun(a):
        p, q, r = T.split(a, [1, 2, 2], 3, axis=1)
        return T.concatenate([r * 2, p, q * q], axis=1)
    verify_grad(fun, [rand(rng, (3, 5))], rng=np.random.default_rng(0), mode=mode)


def test_split_grad_unused_pieces(mode, rng):
    x = T.matrix("x")
    p, q, r = T.split(x, [1, 2, 2], 3, axis=1)
    g = T.grad((q * 3).sum(), x)
    assert g.broadcastable == (False, False)
    got = run(mode, [x], g, rand(rng, (2, 5)))
    np.testing.assert_array_equal(got, [[0, 3, 3, 0, 0]] * 2)
    xi = T.imatrix("xi")
    gi = T.grad(T.cast(T.split(xi, [2, 3], 2, axis=1)[0], "float64").sum(), xi)
    np.testing.assert_array_equal(run(mode, [xi], gi, np.ones((2, 5), "int32")), np.zeros((2, 5)))


def test_split_rop_and_vectorize(mode, rng):
    x, v = T.matrix("x"), T.matrix("v")
    parts = T.split(x * x, [1, 2], 2, axis=0)
    jv = T.Rop(parts, x, v)
    a, va = rand(rng, (3, 2)), rand(rng, (3, 2))
    got = run(mode, [x, v], jv, a, va)
    np.testing.assert_allclose(got[0], (2 * a * va)[:1])
    np.testing.assert_allclose(got[1], (2 * a * va)[1:])
    node = T.split(x, [1, 2], 2)[0].owner  # split returns a list; its pieces share one node
    bx = T.tensor3("bx")
    outs = node.op.vectorize_node(node, bx, node.inputs[1])
    b = rand(rng, (4, 3, 2))
    got = run(mode, [bx], outs, b)
    np.testing.assert_array_equal(got[0], b[:, :1])
    np.testing.assert_array_equal(got[1], b[:, 1:])


# --- every layout, dtype and mode; more errors ---------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES + ["bool"])
@pytest.mark.parametrize("axis", [1, -1])
def test_concatenate_layouts(mode, rng, dtype, axis):
    """Contiguous, strided and zero-size inputs all join like numpy; the inputs are not written."""
    x, y = T.matrix("x", dtype=dtype), T.matrix("y", dtype=dtype)
    f = T.function([x, y], T.concatenate([x, y], axis=axis), mode=mode)
    for (name, a), (_, b) in zip(layouts(rng, (3, 2), dtype), layouts(rng, (3, 4), dtype)):
        before = a.copy(), b.copy()
        got = f(a, b)
        np.testing.assert_array_equal(got, np.concatenate([a, b], axis=axis), err_msg=name)
        assert got.dtype == dtype
        np.testing.assert_array_equal(a, before[0])
        np.testing.assert_array_equal(b, before[1])


def test_join_float32_grad_and_zero_size_piece(mode, rng):
    x, y = T.fmatrix("x"), T.fmatrix("y")
    w = np.arange(10, dtype="float32").reshape(2, 5)
    gx, gy = T.grad((T.join(1, x, y) * w).sum(), [x, y])
    assert gx.dtype == gy.dtype == "float32"
    got = run(mode, [x, y], [gx, gy], rand(rng, (2, 0), "float32"), rand(rng, (2, 5), "float32"))
    assert got[0].shape == (2, 0)
    np.testing.assert_array_equal(got[1], w)


def test_join_runtime_error_names_source_line(mode, rng):
    x, y = T.matrix("x"), T.matrix("y")
    f = T.function([x, y], T.join(0, x, y), mode=mode)
    with pytest.raises(ValueError, match="test_join.py"):
        f(rand(rng, (2, 3)), rand(rng, (2, 4)))


@pytest.mark.parametrize("dtype", DTYPES + ["bool"])
def test_stack_layouts(mode, rng, dtype):
    x, y = T.tensor3("x", dtype=dtype), T.tensor3("y", dtype=dtype)
    outs = [T.stack([x, y]), T.stack([x, y], axis=2), T.stack([x, y], axis=-1)]
    f = T.function([x, y], outs, mode=mode)
    for (name, a), (_, b) in zip(layouts(rng, (2, 3, 2), dtype), layouts(rng, (2, 3, 2), dtype)):
        for got, axis in zip(f(a, b), (0, 2, 3)):
            np.testing.assert_array_equal(got, np.stack([a, b], axis=axis), err_msg=name)
            assert got.dtype == dtype
    zero = rand(rng, (0, 3, 2), dtype)
    check_infer_shape(mode, [x, y], outs[1], [zero, zero], (0, 3, 2, 2))


def test_stack_of_scalars_infer_shape_and_grad_dtypes(mode):
    a, b = T.fscalar("a"), T.fscalar("b")
    v = T.stack([a, b, a])
    assert v.dtype == "float32"
    check_infer_shape(mode, [a, b], v, [1.0, 2.0], (3,))
    ga, gb = T.grad((v * np.array([1.0, 2.0, 4.0], "float32")).sum(), [a, b])
    assert ga.dtype == gb.dtype == "float32"
    got = run(mode, [a, b], [ga, gb], 1.0, 2.0)
    assert float(got[0]) == 5.0 and float(got[1]) == 2.0


def test_make_vector_errors():
    with pytest.raises(TypeError, match="must be a scalar"):
        MakeVector("float64")(T.vector("v"))
    with pytest.raises(TypeError, match="without loss"):
        MakeVector("int32")(T.dscalar("d"))


@pytest.mark.parametrize("dtype", DTYPES + ["bool"])
def test_split_layouts(mode, rng, dtype):
    x = T.matrix("x", dtype=dtype)
    parts = T.split(x, [1, 0, 2], 3, axis=1)
    f = T.function([x], parts, mode=mode)
    for name, a in layouts(rng, (4, 3), dtype):
        before = a.copy()
        got = f(a)
        for g, e in zip(got, np.split(a, [1, 1], axis=1)):
            np.testing.assert_array_equal(g, e, err_msg=name)
            assert g.dtype == dtype and g.shape == e.shape
        np.testing.assert_array_equal(a, before)


def test_split_grad_zero_size_piece_and_noncontiguous(mode, rng):
    def fun(a):
        p, q, r = T.split(a, [2, 0, 3], 3, axis=0)
        return T.concatenate([r, p * p, q], axis=0)
    verify_grad(fun, [noncontiguous(rand(rng, (5, 2)))], rng=np.random.default_rng(0), mode=mode)


def test_split_symbolic_sizes_infer_shape(mode, rng):
    x, sizes = T.matrix("x"), T.lvector("sizes")
    parts = T.split(x, sizes, 2, axis=0)
    a = rand(rng, (5, 3))
    check_infer_shape(mode, [x, sizes], parts[1], [a, np.array([2, 3])], (3, 3))


def test_split_bad_sizes_and_counts():
    x = T.matrix("x")
    with pytest.raises(TypeError, match="split size 0 must be an integer scalar.*float64"):
        T.split(x, [1.5, 2], 2)
    with pytest.raises(TypeError, match="split size 1 must be an integer scalar"):
        T.split(x, [1, T.dscalar("d")], 2)
    with pytest.raises(TypeError, match="integer vector"):
        T.split(x, T.lmatrix("m"), 2)
    with pytest.raises(TypeError, match="n_splits must be an integer"):
        T.split(x, [1, 2], 2.0)
    with pytest.raises(ValueError, match="2 split sizes given for n_splits=3"):
        T.split(x, [1, 2], 3)
    with pytest.raises(TypeError, match="constant integer"):
        T.split(x, [1, 2], 2, axis=T.iscalar("ax"))
    with pytest.raises(TypeError, match="test_join.py"):
        T.split(x, [1.5, 2], 2)
