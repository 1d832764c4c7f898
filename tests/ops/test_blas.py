"""Tests of the linear algebra products (ops/blas.py) against numpy."""
import numpy as np
import pytest

import symtensor as T
from symtensor.graph.basic import Apply
from symtensor.graph.type import TensorType
from symtensor.grad import verify_grad
from symtensor.ops.blas import BatchedDot, CheckContraction, Dot

RNG = np.random.default_rng(1234)


def rand(shape, dtype="float64"):
    if np.dtype(dtype).kind in "iu":
        return RNG.integers(-4, 5, size=shape).astype(dtype)
    return RNG.standard_normal(shape).astype(dtype)


def var(shape, dtype="float64", static=False, name=None):
    """A symbolic tensor of len(shape) dims; static=True fixes the sizes in its type."""
    return TensorType(dtype, shape=shape if static else (None,) * len(shape))(name)


def compile_fn(inputs, outputs, mode, **kwargs):
    return T.function(inputs, outputs, mode=mode, **kwargs)


def check_close(got, want, dtype=None):
    want = np.asarray(want)
    got = np.asarray(got)
    assert got.shape == want.shape, (got.shape, want.shape)
    if dtype is not None:
        assert got.dtype == np.dtype(dtype), (got.dtype, dtype)
    if got.dtype.kind in "iub":
        np.testing.assert_array_equal(got, want)
    else:
        tol = 1e-4 if np.float32 in (got.dtype, want.dtype) else 1e-10
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def batched_ref(a, b):
    """Theano's batched_dot: numpy.dot per entry of the leading axis."""
    proto = np.dot(np.zeros(a.shape[1:], a.dtype), np.zeros(b.shape[1:], b.dtype))
    out = [np.dot(a[i], b[i]) for i in range(a.shape[0])]
    return np.array(out, dtype=proto.dtype).reshape((a.shape[0],) + np.shape(proto))


# ---------------------------------------------------------------------------------------------
# the Dot op: vectors and matrices
# ---------------------------------------------------------------------------------------------
DOT_SHAPES = [((5,), (5,)), ((3, 5), (5,)), ((5,), (5, 4)), ((3, 5), (5, 4))]
DTYPE_PAIRS = [("float64", "float64"), ("float32", "float32"), ("float32", "float64"),
               ("int64", "int64"), ("int32", "float32"), ("int8", "int16")]


@pytest.mark.parametrize("xs,ys", DOT_SHAPES)
@pytest.mark.parametrize("dx,dy", DTYPE_PAIRS)
def test_dot_matches_numpy(mode, xs, ys, dx, dy):
    x, y = var(xs, dx), var(ys, dy)
    z = T.dot(x, y)
    assert isinstance(z.owner.op, Dot)
    a, b = rand(xs, dx), rand(ys, dy)
    want = np.dot(a, b)
    assert z.dtype == str(want.dtype)
    assert z.ndim == want.ndim
    check_close(compile_fn([x, y], z, mode)(a, b), want, want.dtype)


@pytest.mark.parametrize("xs,ys", DOT_SHAPES)
def test_dot_static_shapes_propagate(xs, ys):
    z = T.dot(var(xs, static=True), var(ys, static=True))
    assert z.type.shape == np.dot(np.zeros(xs), np.zeros(ys)).shape


def test_dot_broadcastable_operands(mode):
    r, c, m = T.row("r"), T.col("c"), T.matrix("m")
    cases = [(T.dot(r, m), (1, 4), (4, 3), (True, False)),
             (T.dot(m, c), (3, 4), (4, 1), (False, True)),
             (T.dot(c, r), (3, 1), (1, 5), (False, False)),
             (T.dot(r, c), (1, 4), (4, 1), (True, True))]
    for z, sa, sb, bcast in cases:
        assert z.broadcastable == bcast
        inputs = [v for v in z.owner.inputs]
        a, b = rand(sa), rand(sb)
        check_close(compile_fn(inputs, z, mode)(a, b), np.dot(a, b))


def test_dot_non_contiguous_inputs(mode):
    x, y = T.matrix("x"), T.matrix("y")
    v = T.vector("v")
    f = compile_fn([x, y], T.dot(x, y), mode)
    g = compile_fn([x, v], T.dot(x, v), mode)
    big = rand((6, 8))
    a = big[:, ::2]            # (6, 4), strided
    b = rand((5, 4)).T         # (4, 5), transposed
    check_close(f(a, b), np.dot(a, b))
    check_close(f(b.T, a.T[:, 1:]), np.dot(b.T, a.T[:, 1:]))
    w = rand((12,))[::3]
    check_close(g(a, w), np.dot(a, w))
    assert a.base is big  # the caller's arrays are untouched views
    np.testing.assert_array_equal(big[:, ::2], a)


@pytest.mark.parametrize("xs,ys", [((0, 3), (3, 4)), ((3, 0), (0, 4)), ((0,), (0,)),
                                   ((2, 0), (0,)), ((0,), (0, 2)), ((3, 4), (4, 0))])
def test_dot_zero_size(mode, xs, ys):
    x, y = var(xs), var(ys)
    a, b = rand(xs), rand(ys)
    check_close(compile_fn([x, y], T.dot(x, y), mode)(a, b), np.dot(a, b))


def test_dot_operator_and_method(mode):
    x, y = T.matrix("x"), T.matrix("y")
    a, b = rand((2, 3)), rand((3, 2))
    f = compile_fn([x, y], [x @ y, x.dot(y)], mode)
    for out in f(a, b):
        check_close(out, a @ b)


def test_dot_build_time_shape_error_names_both_shapes():
    x = TensorType("float64", shape=(None, 3))("x")
    y = TensorType("float64", shape=(4, None))("y")
    with pytest.raises(ValueError) as err:
        T.dot(x, y)
    assert "(None, 3)" in str(err.value) and "(4, None)" in str(err.value)
    with pytest.raises(ValueError):
        T.dot(TensorType("float64", shape=(3,))(), TensorType("float64", shape=(2,))())
    with pytest.raises(TypeError):
        Dot()(T.tensor3(), T.matrix())
    with pytest.raises(TypeError):
        Dot()(T.scalar(), T.vector())


def test_dot_run_time_shape_error(mode):
    x, y = T.matrix("x"), T.matrix("y")
    f = compile_fn([x, y], T.dot(x, y), mode)
    with pytest.raises(ValueError):
        f(rand((2, 3)), rand((4, 2)))
    v = T.vector("v")
    g = compile_fn([v, x], T.dot(v, x), mode)
    with pytest.raises(ValueError):
        g(rand((3,)), rand((2, 2)))


@pytest.mark.parametrize("xs,ys", DOT_SHAPES + [((3, 0), (0, 2))])
def test_dot_infer_shape(mode, xs, ys):
    x, y = var(xs), var(ys)
    z = T.dot(x, y)
    in_shapes = [tuple(x.shape[i] for i in range(x.ndim)), tuple(y.shape[i] for i in range(y.ndim))]
    out_shape = z.owner.op.infer_shape(z.owner, in_shapes)[0]
    assert len(out_shape) == z.ndim
    if out_shape:
        f = compile_fn([x, y], list(out_shape), mode, on_unused_input="ignore")
        got = tuple(int(s) for s in f(rand(xs), rand(ys)))
    else:
        got = ()
    assert got == np.dot(np.zeros(xs), np.zeros(ys)).shape


@pytest.mark.parametrize("xs,ys", DOT_SHAPES)
def test_dot_grad(mode, xs, ys):
    verify_grad(T.dot, [rand(xs), rand(ys)], rng=np.random.default_rng(0), mode=mode)


def test_dot_grad_dtypes_and_patterns():
    x = T.fmatrix("x")
    y = T.dmatrix("y")
    gx, gy = T.grad(T.dot(x, y).sum(), [x, y])
    assert gx.dtype == "float32" and gy.dtype == "float64"
    r, m = T.row("r"), T.matrix("m")
    gr, gm = T.grad(T.dot(m, r).sum(), [r, m])   # m's columns are statically unknown
    assert gr.broadcastable == r.broadcastable and gm.broadcastable == m.broadcastable
    i = T.imatrix("i")
    gi, gm = T.grad(T.dot(i, m).sum(), [i, m])
    assert gm.dtype == m.dtype
    f = T.function([i, m], [gi, gm])
    a, b = rand((2, 3), "int32"), rand((3, 4))
    vi, vm = f(a, b)
    np.testing.assert_array_equal(vi, np.zeros((2, 3)))
    check_close(vm, np.dot(a.T, np.ones((2, 4))))


@pytest.mark.parametrize("xs,ys", DOT_SHAPES)
def test_dot_rop(mode, xs, ys):
    x, y, ex, ey = var(xs), var(ys), var(xs), var(ys)
    z = T.dot(x, y)
    a, b, ea, eb = rand(xs), rand(ys), rand(xs), rand(ys)
    both = T.Rop(z, [x, y], [ex, ey])
    f = compile_fn([x, y, ex, ey], both, mode)
    check_close(f(a, b, ea, eb), np.dot(ea, b) + np.dot(a, eb))
    only_x = compile_fn([x, y, ex], T.Rop(z, x, ex), mode, on_unused_input="ignore")
    check_close(only_x(a, b, ea), np.dot(ea, b))
    assert z.owner.op.R_op([x, y], [None, None]) == [None]


def _vectorize(node, batched):
    return node.op.vectorize_node(node, *batched)[0]


@pytest.mark.parametrize("xs,ys", DOT_SHAPES)
@pytest.mark.parametrize("which", ["x", "y", "both"])
def test_dot_vectorize_node(mode, xs, ys, which):
    B = 3
    x, y = var(xs), var(ys)
    z = T.dot(x, y)
    bx = var((B,) + xs) if which in ("x", "both") else x
    by = var((B,) + ys) if which in ("y", "both") else y
    out = _vectorize(z.owner, [bx, by])
    a = rand((B,) + xs) if bx is not x else rand(xs)
    b = rand((B,) + ys) if by is not y else rand(ys)
    want = np.stack([np.dot(a[i] if bx is not x else a, b[i] if by is not y else b) for i in range(B)])
    assert out.ndim == want.ndim
    check_close(compile_fn([bx, by], out, mode)(a, b), want)


# ---------------------------------------------------------------------------------------------
# dot of other ranks, tensordot, outer
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("xs,ys", [((2, 3, 4), (4,)), ((2, 3, 4), (4, 5)), ((4,), (2, 4, 5)),
                                   ((3, 4), (2, 4, 5)), ((2, 3, 4), (5, 4, 6)), ((), (3, 2)),
                                   ((3,), ()), ((2, 3, 0), (0, 4)), ((2, 1, 3, 4), (4, 2))])
@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
def test_dot_any_rank(mode, xs, ys, dtype):
    x, y = var(xs, dtype), var(ys, dtype)
    z = T.dot(x, y)
    a, b = rand(xs, dtype), rand(ys, dtype)
    want = np.dot(a, b)
    assert z.ndim == np.ndim(want) and z.dtype == str(np.asarray(want).dtype)
    check_close(compile_fn([x, y], z, mode)(a, b), want, np.asarray(want).dtype)


def test_dot_python_scalar_is_weak(mode):
    x = T.fvector("x")
    z = T.dot(2.0, x)
    assert z.dtype == "float32"
    a = rand((3,), "float32")
    check_close(compile_fn([x], z, mode)(a), 2 * a)


def test_dot_high_rank_static_shape():
    z = T.dot(var((2, 3, 4), static=True), var((5, 4, 6), static=True))
    assert z.type.shape == (2, 3, 5, 6)
    z = T.dot(var((2, 1, 4), static=True), T.matrix())
    assert z.broadcastable == (False, True, False)


TENSORDOT_CASES = [
    ((2, 3, 4), (3, 4, 5), 2), ((2, 3, 4), (4, 5), 1), ((3, 4), (3, 4), 2), ((3,), (4,), 0),
    ((2, 3), (4, 5), 0), ((2, 3, 4), (4, 3, 2), [[1, 2], [1, 0]]), ((2, 3, 4), (4, 3), ([2, 1], [0, 1])),
    ((2, 3, 4), (5, 2), [[0], [1]]), ((2, 3, 4), (3, 5), (-2, 0)), ((3, 4, 5), (5, 4, 3), [[0, 1, 2], [2, 1, 0]]),
    ((), (2, 3), 0), ((2, 0, 3), (3, 0), [[1, 2], [1, 0]]), ((0, 3), (3, 4), 1), ((4,), (4,), 1),
]


@pytest.mark.parametrize("xs,ys,axes", TENSORDOT_CASES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_tensordot_matches_numpy(mode, xs, ys, axes, dtype):
    x, y = var(xs, dtype), var(ys, dtype)
    z = T.tensordot(x, y, axes)
    a, b = rand(xs, dtype), rand(ys, dtype)
    want = np.tensordot(a, b, axes)
    assert z.ndim == want.ndim
    check_close(compile_fn([x, y], z, mode)(a, b), want, want.dtype)
    zs = T.tensordot(var(xs, dtype, static=True), var(ys, dtype, static=True), axes)
    assert zs.type.shape == want.shape


def test_tensordot_int_and_mixed_dtypes(mode):
    x, y = var((2, 3), "int32"), var((3, 2, 2), "float32")
    a, b = rand((2, 3), "int32"), rand((3, 2, 2), "float32")
    want = np.tensordot(a, b, 1)
    check_close(compile_fn([x, y], T.tensordot(x, y, 1), mode)(a, b), want, want.dtype)


def test_tensordot_non_contiguous(mode):
    x, y = var((3, 4, 2)), var((2, 4, 5))
    f = compile_fn([x, y], T.tensordot(x, y, [[1, 2], [1, 0]]), mode)
    a = rand((2, 4, 3)).transpose(2, 1, 0)
    b = rand((2, 8, 10))[:, ::2, ::2]
    check_close(f(a, b), np.tensordot(a, b, [[1, 2], [1, 0]]))


def test_tensordot_bad_axes():
    x, y = T.tensor3(), T.matrix()
    with pytest.raises(ValueError):
        T.tensordot(x, y, 3)
    with pytest.raises(ValueError):
        T.tensordot(x, y, [[0, 1], [0]])
    with pytest.raises(ValueError):
        T.tensordot(x, y, [[3], [0]])
    with pytest.raises(ValueError):
        T.tensordot(x, y, [[0, 0], [0, 1]])
    with pytest.raises(ValueError):
        T.tensordot(x, y, [[0], [1], [0]])
    with pytest.raises(TypeError):
        T.tensordot(x, y, [[0.5], [0]])


def test_tensordot_build_time_shape_error():
    x = TensorType("float64", shape=(2, 3, None))()
    y = TensorType("float64", shape=(4, None))()
    with pytest.raises(ValueError) as err:
        T.tensordot(x, y, [[1], [0]])
    assert "(2, 3, None)" in str(err.value) and "(4, None)" in str(err.value)


def test_tensordot_run_time_shape_error(mode):
    x, y = T.tensor3("x"), T.tensor3("y")
    f = compile_fn([x, y], T.tensordot(x, y, [[1, 2], [0, 1]]), mode)
    check_close(f(rand((2, 3, 4)), rand((3, 4, 5))).shape, (2, 5))
    # same product of the contracted sizes, different sizes: must not pass silently
    with pytest.raises(ValueError):
        f(rand((2, 3, 2)), rand((2, 3, 5)))
    with pytest.raises(ValueError):
        f(rand((2, 3, 4)), rand((3, 5, 5)))
    g = compile_fn([x, y], T.tensordot(x, y, 1), mode)
    with pytest.raises(ValueError):
        g(rand((2, 3, 4)), rand((3, 4, 5)))


@pytest.mark.parametrize("xs,ys,axes", [((2, 3, 4), (3, 4, 5), 2), ((2, 3, 4), (4, 2), [[0, 2], [1, 0]]),
                                        ((3,), (2,), 0), ((2, 3), (3, 4, 2), [[1, 0], [0, 2]])])
def test_tensordot_grad(mode, xs, ys, axes):
    verify_grad(lambda a, b: T.tensordot(a, b, axes), [rand(xs), rand(ys)],
                rng=np.random.default_rng(0), mode=mode)


@pytest.mark.parametrize("xs,ys", [((2, 3, 4), (4,)), ((4,), (2, 4, 3)), ((2, 3, 4), (2, 4, 3))])
def test_dot_any_rank_grad(mode, xs, ys):
    verify_grad(T.dot, [rand(xs), rand(ys)], rng=np.random.default_rng(0), mode=mode)


@pytest.mark.parametrize("xs,ys", [((3,), (4,)), ((2, 2), (3,)), ((0,), (2,))])
def test_outer(mode, xs, ys):
    x, y = var(xs), var(ys)
    z = T.outer(x, y)
    a, b = rand(xs), rand(ys)
    check_close(compile_fn([x, y], z, mode)(a, b), np.outer(a, b))
    assert T.outer(var((3,), static=True), var((1,), static=True)).type.shape == (3, 1)


def test_outer_grad(mode):
    verify_grad(T.outer, [rand((3,)), rand((4,))], rng=np.random.default_rng(0), mode=mode)
    verify_grad(T.outer, [rand((2, 2)), rand((3,))], rng=np.random.default_rng(0), mode=mode)


# ---------------------------------------------------------------------------------------------
# BatchedDot, batched_dot, batched_tensordot
# ---------------------------------------------------------------------------------------------
BATCHED_SHAPES = [((4, 5), (4, 5)), ((4, 3, 5), (4, 5)), ((4, 5), (4, 5, 2)), ((4, 3, 5), (4, 5, 2))]


@pytest.mark.parametrize("xs,ys", BATCHED_SHAPES)
@pytest.mark.parametrize("dx,dy", DTYPE_PAIRS)
def test_batched_dot_matches_numpy(mode, xs, ys, dx, dy):
    x, y = var(xs, dx), var(ys, dy)
    z = T.batched_dot(x, y)
    assert isinstance(z.owner.op, BatchedDot)
    a, b = rand(xs, dx), rand(ys, dy)
    want = batched_ref(a, b)
    assert z.dtype == str(want.dtype) and z.ndim == want.ndim
    check_close(compile_fn([x, y], z, mode)(a, b), want, want.dtype)
    zs = T.batched_dot(var(xs, dx, static=True), var(ys, dy, static=True))
    assert zs.type.shape == want.shape


@pytest.mark.parametrize("xs,ys", [((0, 3, 5), (0, 5, 2)), ((4, 3, 0), (4, 0, 2)), ((4, 0), (4, 0)),
                                   ((2, 0, 3), (2, 3))])
def test_batched_dot_zero_size(mode, xs, ys):
    x, y = var(xs), var(ys)
    a, b = rand(xs), rand(ys)
    got = compile_fn([x, y], T.batched_dot(x, y), mode)(a, b)
    want = np.matmul(a if a.ndim == 3 else a[:, None, :], b if b.ndim == 3 else b[:, :, None])
    want = want.reshape((xs[0],) + xs[1:-1] + ys[2:])
    check_close(got, want)


def test_batched_dot_non_contiguous(mode):
    x, y = T.tensor3("x"), T.tensor3("y")
    f = compile_fn([x, y], T.batched_dot(x, y), mode)
    a = rand((5, 3, 4)).transpose(2, 1, 0)        # (4, 3, 5)
    b = rand((4, 10, 2))[:, ::2, :]               # (4, 5, 2)
    check_close(f(a, b), batched_ref(a, b))


@pytest.mark.parametrize("xs,ys", [((3,), (3, 4)), ((3, 4, 2), (3,)), ((2, 3, 4, 5), (2, 5, 3)),
                                   ((2, 3, 4), (2, 5, 4, 6)), ((3, 2), (3, 2, 2, 2))])
def test_batched_dot_other_ranks(mode, xs, ys):
    x, y = var(xs), var(ys)
    a, b = rand(xs), rand(ys)
    if len(xs) == 1 or len(ys) == 1:
        want = (a.reshape(a.shape + (1,) * (b.ndim - 1)) * b.reshape(b.shape + (1,) * (a.ndim - 1)))
    else:
        want = batched_ref(a, b)
    check_close(compile_fn([x, y], T.batched_dot(x, y), mode)(a, b), want)


def test_batched_dot_errors(mode):
    with pytest.raises(TypeError):
        T.batched_dot(T.scalar(), T.matrix())
    with pytest.raises(TypeError):
        BatchedDot()(T.vector(), T.matrix())
    with pytest.raises(ValueError) as err:
        T.batched_dot(TensorType("float64", shape=(3, None, None))(),
                      TensorType("float64", shape=(4, None, None))())
    assert "(3, None, None)" in str(err.value) and "(4, None, None)" in str(err.value)
    with pytest.raises(ValueError):
        T.batched_dot(TensorType("float64", shape=(None, None, 2))(),
                      TensorType("float64", shape=(None, 3, None))())
    x, y = T.tensor3("x"), T.tensor3("y")
    f = compile_fn([x, y], T.batched_dot(x, y), mode)
    with pytest.raises(ValueError):
        f(rand((3, 2, 4)), rand((2, 4, 2)))     # batch sizes differ
    with pytest.raises(ValueError):
        f(rand((3, 2, 4)), rand((3, 3, 2)))     # contracted sizes differ


@pytest.mark.parametrize("xs,ys", BATCHED_SHAPES)
def test_batched_dot_infer_shape(mode, xs, ys):
    x, y = var(xs), var(ys)
    z = T.batched_dot(x, y)
    in_shapes = [tuple(x.shape[i] for i in range(x.ndim)), tuple(y.shape[i] for i in range(y.ndim))]
    out_shape = z.owner.op.infer_shape(z.owner, in_shapes)[0]
    f = compile_fn([x, y], list(out_shape), mode, on_unused_input="ignore")
    assert tuple(int(s) for s in f(rand(xs), rand(ys))) == batched_ref(rand(xs), rand(ys)).shape


@pytest.mark.parametrize("xs,ys", BATCHED_SHAPES + [((2, 3, 4, 5), (2, 5, 3))])
def test_batched_dot_grad(mode, xs, ys):
    verify_grad(T.batched_dot, [rand(xs), rand(ys)], rng=np.random.default_rng(0), mode=mode)


@pytest.mark.parametrize("xs,ys", BATCHED_SHAPES)
def test_batched_dot_rop(mode, xs, ys):
    x, y, ex, ey = var(xs), var(ys), var(xs), var(ys)
    z = T.batched_dot(x, y)
    a, b, ea, eb = rand(xs), rand(ys), rand(xs), rand(ys)
    f = compile_fn([x, y, ex, ey], T.Rop(z, [x, y], [ex, ey]), mode)
    check_close(f(a, b, ea, eb), batched_ref(ea, b) + batched_ref(a, eb))
    only_y = compile_fn([x, y, ey], T.Rop(z, y, ey), mode, on_unused_input="ignore")
    check_close(only_y(a, b, eb), batched_ref(a, eb))


@pytest.mark.parametrize("xs,ys", BATCHED_SHAPES)
@pytest.mark.parametrize("which", ["x", "y", "both"])
def test_batched_dot_vectorize_node(mode, xs, ys, which):
    C = 2
    x, y = var(xs), var(ys)
    z = T.batched_dot(x, y)
    bx = var((C,) + xs) if which in ("x", "both") else x
    by = var((C,) + ys) if which in ("y", "both") else y
    out = _vectorize(z.owner, [bx, by])
    a = rand((C,) + xs) if bx is not x else rand(xs)
    b = rand((C,) + ys) if by is not y else rand(ys)
    want = np.stack([batched_ref(a[i] if bx is not x else a, b[i] if by is not y else b)
                     for i in range(C)])
    assert out.ndim == want.ndim
    check_close(compile_fn([bx, by], out, mode)(a, b), want)


def test_batched_dot_vectorize_checks_merged_batch_axes(mode):
    x, y = T.tensor3("x"), T.tensor3("y")
    z = T.batched_dot(x, y)
    bx, by = T.tensor4("bx"), T.tensor4("by")
    f = compile_fn([bx, by], _vectorize(z.owner, [bx, by]), mode)
    with pytest.raises(ValueError):
        f(rand((2, 3, 4, 5)), rand((3, 2, 5, 4)))


BATCHED_TENSORDOT_CASES = [
    ((3, 4, 5), (3, 5, 2), 1), ((3, 4, 5), (3, 4, 5), 2), ((3, 4, 5, 2), (3, 5, 2, 6), 2),
    ((3, 4, 5), (3, 2, 5), [[2], [2]]), ((3, 4, 5, 2), (3, 2, 4), [[1, 3], [2, 1]]),
    ((3, 4), (3, 4), [[1], [1]]), ((0, 4, 5), (0, 5, 2), 1), ((3, 4, 5), (3, 5), [[-1], [-1]]),
]


def batched_tensordot_ref(a, b, axes):
    if isinstance(axes, int):
        ax = [list(range(a.ndim - axes - 1, a.ndim - 1)), list(range(axes))]
    else:
        ax = [[(i % a.ndim) - 1 for i in axes[0]], [(j % b.ndim) - 1 for j in axes[1]]]
    out = [np.tensordot(a[i], b[i], ax) for i in range(a.shape[0])]
    shape = np.tensordot(np.zeros(a.shape[1:]), np.zeros(b.shape[1:]), ax).shape
    return np.array(out).reshape((a.shape[0],) + shape)


@pytest.mark.parametrize("xs,ys,axes", BATCHED_TENSORDOT_CASES)
def test_batched_tensordot(mode, xs, ys, axes):
    x, y = var(xs), var(ys)
    a, b = rand(xs), rand(ys)
    z = T.batched_tensordot(x, y, axes)
    want = batched_tensordot_ref(a, b, axes)
    assert z.ndim == want.ndim
    check_close(compile_fn([x, y], z, mode)(a, b), want)
    zs = T.batched_tensordot(var(xs, static=True), var(ys, static=True), axes)
    assert zs.type.shape == want.shape


def test_batched_tensordot_errors(mode):
    x, y = T.tensor3(), T.tensor3()
    with pytest.raises(ValueError):
        T.batched_tensordot(x, y, [[0], [1]])      # the batch axis cannot be contracted
    with pytest.raises(ValueError):
        T.batched_tensordot(x, y, 3)
    with pytest.raises(ValueError):
        T.batched_tensordot(TensorType("float64", shape=(2, None, None))(),
                            TensorType("float64", shape=(3, None, None))(), 1)
    f = compile_fn([x, y], T.batched_tensordot(x, y, [[1, 2], [2, 1]]), mode)
    with pytest.raises(ValueError):
        f(rand((2, 3, 4)), rand((2, 3, 4)))      # contracted (3, 4) against (4, 3)
    with pytest.raises(ValueError):
        f(rand((2, 3, 4)), rand((3, 4, 3)))      # batch sizes differ


@pytest.mark.parametrize("xs,ys,axes", [((3, 4, 5), (3, 5, 2), 1), ((3, 4, 5, 2), (3, 2, 4), [[1, 3], [2, 1]]),
                                        ((2, 3), (2, 3), [[1], [1]])])
def test_batched_tensordot_grad(mode, xs, ys, axes):
    verify_grad(lambda a, b: T.batched_tensordot(a, b, axes), [rand(xs), rand(ys)],
                rng=np.random.default_rng(0), mode=mode)


def test_check_contraction_op():
    a, b = T.tensor3("a"), T.tensor3("b")
    out = CheckContraction([(1, 2), (2, 1)])(a, b)
    assert out.type == a.type and isinstance(out.owner, Apply)
    ga, gb = out.owner.op.L_op([a, b], [out], [a])
    assert ga is a
    with pytest.raises(ValueError):
        CheckContraction([(3, 0)])(a, b)
