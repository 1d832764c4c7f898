"""Join, stack, split, repeat and tile against numpy, in every mode."""
import warnings

import numpy as np
import pytest

import symtensor as T
from symtensor.grad import verify_grad
from symtensor.ops.join import Join, MakeVector, Repeat, Split, Tile
from symtensor.ops.shape import reshape, shape_tuple

FLOATS = ["float32", "float64"]
DTYPES = FLOATS + ["int32", "int64"]


def rand(rng, shape, dtype="float64"):
    if np.dtype(dtype).kind in "iu":
        return rng.integers(-5, 6, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def run(mode, inputs, outputs, *values):
    return T.function(inputs, outputs, mode=mode, on_unused_input="ignore")(*values)


def check_infer_shape(mode, inputs, out, values, expected):
    """The op's symbolic infer_shape evaluates to the actual output shape."""
    node = out.owner
    shapes = node.op.infer_shape(node, [shape_tuple(i) for i in node.inputs])
    sym = shapes[node.outputs.index(out)]
    got = run(mode, inputs, [T.as_tensor_variable(s) for s in sym], *values) if sym else []
    assert tuple(int(g) for g in got) == tuple(expected)


# --- join / concatenate -------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
def test_concatenate_matches_numpy(mode, rng, dtype, axis):
    x, y, z = (T.tensor3(n, dtype=dtype) for n in "xyz")
    shapes = [[2, 3, 4]] * 3
    for s, n in zip(shapes, (1, 3, 2)):
        s = list(s)
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
    a = T.tensor("float64", shape=(2, 3))
    b = T.tensor("float64", shape=(4, 3))
    c = T.tensor("float64", shape=(None, 3))
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
    a = T.tensor("float64", shape=(2, 3), name="a")
    b = T.tensor("float64", shape=(2, 4), name="b")
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


def test_split_one_piece_returns_list(mode, rng):
    x = T.vector("x")
    (p,) = T.split(x, [3], 1)
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
    x = T.tensor("float64", shape=(None, 5), name="x")
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
    node = T.split(x, [1, 2], 2).owner
    bx = T.tensor3("bx")
    outs = node.op.vectorize_node(node, bx, node.inputs[1])
    b = rand(rng, (4, 3, 2))
    got = run(mode, [bx], outs, b)
    np.testing.assert_array_equal(got[0], b[:, :1])
    np.testing.assert_array_equal(got[1], b[:, 1:])


# --- repeat ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("reps", [3, 0, [1, 0, 2], [2]])
def test_repeat_constant_matches_numpy(mode, rng, dtype, axis, reps):
    x = T.matrix("x", dtype=dtype)
    a = rand(rng, (3, 3), dtype)
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
    x = T.tensor("float64", shape=(3, None))
    assert T.repeat(x, 2, axis=0).type.shape == (6, None)
    assert T.repeat(x, [1, 2, 3], axis=0).type.shape == (6, None)
    assert T.repeat(x, 0, axis=1).type.shape == (3, 0)
    assert T.repeat(x, [4], axis=0).type.shape == (12, None)
    assert T.repeat(x, T.lscalar(), axis=0).type.shape == (None, None)
    assert T.repeat(T.row(), 1, axis=0).broadcastable == (True, False)
    assert T.repeat(T.row(), 2, axis=0).type.shape == (2, None)
    assert T.repeat(T.scalar(), 3).type.shape == (3,)


def test_repeat_errors(mode, rng):
    x = T.tensor("float64", shape=(3, None), name="x")
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
@pytest.mark.parametrize("reps", [2, [1, 0, 3], [3]])
def test_repeat_grad(mode, rng, axis, reps):
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
    assert out.type.shape == expected.shape  # known statically from constant reps
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
    node = outs[3].owner
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
    wv = rand(rng, (2, 4, 3))
    got = run(mode, [x, rv, w, b], [g, gb], a, np.array([2, 1]), wv, rand(rng, (1, 3)))
    np.testing.assert_allclose(got[0], wv.reshape(2, 2, 3).sum(0) if False else
                               wv.reshape(2, 2, 2, 3).sum(axis=(0, 1)))
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
