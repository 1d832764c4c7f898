"""Shape ops against numpy, in every mode: reshape, flatten, x.shape, specify_shape, the
broadcast-flag ops (addbroadcast, unbroadcast, patternbroadcast), squeeze, and the
dimshuffle family as users call it (shape_padleft/right, transpose, .T, dimshuffle)."""
import numpy as np
import pytest

import symtensor as T
from symtensor.grad import verify_grad
from symtensor.ops.shape import Flatten, Reshape, Shape, Shape_i, SpecifyShape, shape_i
from tests.helpers import check_infer_shape, layouts, rand, run

ALL_DTYPES = ["float32", "float64", "int32", "int64", "bool"]
THIS_FILE = "test_shape.py"


def build_error(exc_type, fn, *match):
    """``fn()`` raises ``exc_type`` at graph build time, naming this file's line and ``match``."""
    with pytest.raises(exc_type) as info:
        fn()
    msg = str(info.value)
    assert THIS_FILE in msg, msg
    for m in match:
        assert m in msg, msg
    return msg


def batched(op_out, *batched_inputs):
    """The batching rule of ``op_out``'s node applied to ``batched_inputs``."""
    node = op_out.owner
    return node.op.vectorize_node(node, *batched_inputs)[0]


# --- reshape ----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_reshape_matches_numpy_in_every_layout(mode, rng, dtype):
    x = T.tensor3("x", dtype=dtype)
    targets = [(-1,), (-1, 6), (3, -1, 2), (-1, 2, 3, 1)]
    outs = [x.reshape(t) for t in targets]
    for name, value in layouts(rng, (2, 3, 2), dtype):
        got = run(mode, [x], outs, value)
        for t, g in zip(targets, got):
            want = value.reshape(t)
            assert g.dtype == want.dtype, (name, t)
            np.testing.assert_array_equal(g, want, err_msg=f"{name} {t}")


def test_reshape_static_shape_and_ndim():
    x = T.matrix("x", shape=(3, 4))
    assert x.reshape((2, -1)).type.shape == (2, 6)
    assert x.reshape((12,)).type.shape == (12,)
    assert T.matrix("y").reshape((2, -1)).type.shape == (2, None)
    assert isinstance(x.reshape(12).owner.op, Reshape) and x.reshape(12).ndim == 1
    # a reshape to another tensor's shape keeps that tensor's static sizes (and broadcast flags)
    like = T.tensor3("like", shape=(1, None, 2))
    out = T.vector("v").reshape(like.shape)
    assert out.type.shape == (1, None, 2) and out.broadcastable == (True, False, False)


def test_reshape_symbolic_vector_with_ndim(mode, rng):
    x, shp = T.matrix("x"), T.lvector("shp")
    out = x.reshape(shp, ndim=3)
    assert out.ndim == 3
    value = rand(rng, (4, 6))
    for target in ([2, 3, 4], [-1, 2, 2], [1, 24, 1]):
        got = run(mode, [x, shp], out, value, np.array(target))
        np.testing.assert_array_equal(got, value.reshape(target))
    check_infer_shape(mode, [x, shp], out, [value, np.array([-1, 2, 2])], (6, 2, 2))


def test_reshape_int32_shape_vector(mode, rng):
    x, shp = T.matrix("x"), T.ivector("shp")
    value = rand(rng, (3, 4))
    got = run(mode, [x, shp], x.reshape(shp, ndim=2), value, np.array([6, -1], dtype="int32"))
    np.testing.assert_array_equal(got, value.reshape(6, 2))


def test_reshape_list_of_symbolic_scalars(mode, rng):
    x, a, b = T.tensor3("x"), T.lscalar("a"), T.iscalar("b")
    value = rand(rng, (2, 3, 4))
    out = x.reshape((a, -1, b))
    assert out.ndim == 3 and out.type.shape == (None, None, None)
    got = run(mode, [x, a, b], out, value, 4, 2)
    np.testing.assert_array_equal(got, value.reshape(4, -1, 2))
    check_infer_shape(mode, [x, a, b], out, [value, 4, 2], (4, 3, 2))
    # entries read from the input's own shape
    out2 = x.reshape((x.shape[0] * x.shape[1], x.shape[2]))
    np.testing.assert_array_equal(run(mode, [x], out2, value), value.reshape(6, 4))
    out3 = x.reshape(x.shape[::-1])
    np.testing.assert_array_equal(run(mode, [x], out3, value), value.reshape(4, 3, 2))


def test_reshape_to_and_from_scalar(mode):
    x, s = T.matrix("x"), T.scalar("s")
    got = run(mode, [x], x.reshape(()), np.array([[2.5]]))
    assert got.shape == () and got == 2.5
    got = run(mode, [s], s.reshape((1, 1, -1)), np.array(3.0))
    assert got.shape == (1, 1, 1) and got[0, 0, 0] == 3.0


def test_reshape_bad_element_count_at_run_time(mode, rng):
    x, a = T.matrix("x"), T.lscalar("a")
    value = rand(rng, (3, 4))
    for out, args, shown in ((x.reshape((5, -1)), (), "(5, -1)"), (x.reshape((a, 2)), (5,), "(5, 2)"),
                             (x.reshape((a, -1)), (0,), "(0, -1)")):
        with pytest.raises(ValueError) as info:
            run(mode, [x, a], out, value, *(args or (1,)))
        msg = str(info.value)
        assert "reshape" in msg and "(3, 4)" in msg and "size 12" in msg and shown in msg, msg


def test_reshape_bad_vector_at_run_time(mode, rng):
    x, shp = T.matrix("x"), T.lvector("shp")
    out = x.reshape(shp, ndim=2)
    value = rand(rng, (3, 4))
    for target, words in (([-1, -1], "at most one -1"), ([-3, -4], ">= 0"), ([2, 2, 3], "3 entries")):
        with pytest.raises(ValueError) as info:
            run(mode, [x, shp], out, value, np.array(target))
        assert words in str(info.value), str(info.value)


def test_reshape_bad_input_at_build_time():
    x = T.matrix("x", shape=(3, 4))
    build_error(ValueError, lambda: x.reshape((-1, -1)), "-1 at most once")
    build_error(ValueError, lambda: x.reshape((-2, 6)), "negative dimension -2")
    build_error(ValueError, lambda: x.reshape((5, 2)), "(3, 4)", "(5, 2)")
    build_error(ValueError, lambda: x.reshape((5, -1)), "(3, 4)", "(5, -1)")
    build_error(TypeError, lambda: x.reshape((2.0, 6)), "shape entry", "integer")
    build_error(TypeError, lambda: x.reshape((True, 12)), "shape entry", "integer")
    build_error(TypeError, lambda: x.reshape(T.vector("fv"), ndim=2), "vector of ints")
    build_error(TypeError, lambda: x.reshape(T.lmatrix("m"), ndim=2), "vector of ints")
    build_error(ValueError, lambda: x.reshape(T.lvector("v")), "give ndim")
    build_error(ValueError, lambda: x.reshape((2, 6), ndim=3), "2 entries", "expected 3")


@pytest.mark.parametrize("target", [(2, -1), (12,), (3, 2, 2), (-1,)])
def test_reshape_infer_shape(mode, rng, target):
    x = T.matrix("x")
    value = rand(rng, (3, 4))
    check_infer_shape(mode, [x], x.reshape(target), [value], value.reshape(target).shape)


def test_reshape_grad():
    rng = np.random.default_rng(0)
    verify_grad(lambda x: x.reshape((2, -1)), [rand(rng, (3, 4))], rng=rng)
    verify_grad(lambda x: x.reshape((x.shape[1], x.shape[0], 1)), [rand(rng, (3, 4))], rng=rng)
    verify_grad(lambda x: x.reshape(()), [rand(rng, (1, 1))], rng=rng)
    # the gradient of a row keeps the row's broadcast pattern
    r = T.row("r")
    g = T.grad(r.reshape((2, 2)).sum(), r)
    assert g.broadcastable == (True, False)
    np.testing.assert_array_equal(T.function([r], g)(np.zeros((1, 4))), np.ones((1, 4)))


def test_reshape_rop_and_batching(mode, rng):
    x, ev = T.matrix("x"), T.matrix("ev")
    value, tangent = rand(rng, (3, 4)), rand(rng, (3, 4))
    got = run(mode, [x, ev], T.Rop(x.reshape((2, -1)), x, ev), value, tangent)
    np.testing.assert_array_equal(got, tangent.reshape(2, 6))
    # batching: each sample of a (5, 3, 4) batch reshaped to (2, 6)
    out = x.reshape((2, -1))
    xb = T.tensor3("xb")
    b = rand(rng, (5, 3, 4))
    np.testing.assert_array_equal(run(mode, [xb], batched(out, xb, out.owner.inputs[1]), b),
                                  b.reshape(5, 2, 6))
    # an unbatched input is left as it is
    assert batched(out, x, out.owner.inputs[1]).ndim == 2


# --- flatten ----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_flatten_every_ndim_matches_numpy(mode, rng, dtype):
    x = T.tensor4("x", dtype=dtype)
    outs = [x.flatten(k) for k in (1, 2, 3, 4)]
    for name, value in layouts(rng, (2, 3, 2, 2), dtype):
        for k, got in zip((1, 2, 3, 4), run(mode, [x], outs, value)):
            want = value.reshape(value.shape[:k - 1] + (int(np.prod(value.shape[k - 1:])),))
            assert got.shape == want.shape and got.dtype == want.dtype, (name, k)
            np.testing.assert_array_equal(got, want)


def test_flatten_names_and_static_shape(mode, rng):
    x = T.tensor3("x", shape=(2, None, 4))
    assert T.flatten(x).ndim == 1 and T.flatten(x, 2).type.shape == (2, None)
    assert T.flatten(x, outdim=2).type.shape == (2, None)  # Theano's old keyword
    assert T.tensor3("y", shape=(2, 3, 4)).flatten(2).type.shape == (2, 12)
    assert T.row("r").flatten(2).broadcastable == (True, False)
    assert x.ravel().ndim == 1
    s = T.scalar("s")
    got = run(mode, [s], s.flatten(), np.array(4.0))
    assert got.shape == (1,) and got[0] == 4.0


def test_flatten_bad_ndim():
    x = T.matrix("x")
    build_error(ValueError, lambda: x.flatten(3), "between 1 and 2", "got 3")
    build_error(ValueError, lambda: x.flatten(0), "between 1 and 2", "got 0")


@pytest.mark.parametrize("k", [1, 2, 3])
def test_flatten_infer_shape_and_grad(mode, rng, k):
    x = T.tensor3("x")
    value = rand(rng, (2, 3, 4))
    out = x.flatten(k)
    assert isinstance(out.owner.op, Flatten)
    check_infer_shape(mode, [x], out, [value], value.reshape(value.shape[:k - 1] + (-1,)).shape)
    if mode == "FAST_COMPILE":
        verify_grad(lambda v: v.flatten(k), [value], rng=np.random.default_rng(k))


def test_flatten_rop_and_batching(mode, rng):
    x, ev = T.tensor3("x"), T.tensor3("ev")
    value, tangent = rand(rng, (2, 3, 4)), rand(rng, (2, 3, 4))
    got = run(mode, [x, ev], T.Rop(x.flatten(2), x, ev), value, tangent)
    np.testing.assert_array_equal(got, tangent.reshape(2, 12))
    xb = T.tensor4("xb")
    b = rand(rng, (5, 2, 3, 4))
    np.testing.assert_array_equal(run(mode, [xb], batched(x.flatten(2), xb), b), b.reshape(5, 2, 12))
    np.testing.assert_array_equal(run(mode, [xb], batched(x.flatten(1), xb), b), b.reshape(5, 24))


# --- x.shape ----------------------------------------------------------------------------------
@pytest.mark.parametrize("ndim", [0, 1, 3])
def test_shape_evaluates(mode, rng, ndim):
    x = T.TensorType("float64", (False,) * ndim)("x")
    sh = x.shape
    assert isinstance(sh.owner.op, Shape) and sh.dtype == "int64" and sh.type.shape == (ndim,)
    # helpers.layouts cannot build a 0-d non-contiguous view (see the report): 0-d uses one array
    cases = layouts(rng, (2, 3, 4)[:ndim]) if ndim else [("0-d", np.array(1.5))]
    for name, value in cases:
        got = run(mode, [x], sh, value)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, value.shape, err_msg=name)
    value = rand(rng, (2, 3, 4)[:ndim])
    np.testing.assert_array_equal(sh.eval({x: value}), value.shape)
    check_infer_shape(mode, [x], sh, [value], (ndim,))


def test_shape_entries(mode, rng):
    x = T.tensor3("x", shape=(None, 3, None))
    value = rand(rng, (2, 3, 4))
    got = run(mode, [x], [x.shape[0], x.shape[-1], T.shape(x)[1], shape_i(x, 2)], value)
    assert [int(g) for g in got] == [2, 4, 3, 4]
    # a static size is a constant, an unknown one a Shape_i node
    assert isinstance(shape_i(x, 1), T.TensorConstant) and int(shape_i(x, 1).data) == 3
    assert isinstance(shape_i(x, 0).owner.op, Shape_i)
    with pytest.raises(ValueError, match="Shape_i"):
        Shape_i(3)(x)


def test_shape_is_not_differentiable_but_does_not_break_grad(mode, rng):
    x = T.matrix("x")
    g = T.grad(x.sum() + T.cast(x.shape[0] * x.shape[1], "float64"), x)
    value = rand(rng, (3, 4))
    np.testing.assert_array_equal(run(mode, [x], g, value), np.ones((3, 4)))
    with pytest.raises(Exception, match="does not depend"):
        T.grad(T.cast(x.shape.sum(), "float64"), x)


def test_shape_batching(mode, rng):
    x, xb = T.matrix("x"), T.tensor3("xb")
    b = rand(rng, (5, 3, 4))
    np.testing.assert_array_equal(run(mode, [xb], batched(x.shape, xb), b), [3, 4])
    assert int(run(mode, [xb], batched(shape_i(x, 1), xb), b)) == 4


# --- shape_padleft / shape_padright / dimshuffle / transpose -------------------------------------
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_pad_and_dimshuffle_match_numpy(mode, rng, dtype):
    x = T.matrix("x", dtype=dtype)
    outs = [T.shape_padleft(x), T.shape_padleft(x, 2), T.shape_padright(x), T.shape_padright(x, 3),
            T.shape_padaxis(x, 1), x.dimshuffle(1, "x", 0), x.dimshuffle([0, "x", 1, "x"]),
            x.T, x.transpose(), T.transpose(x, (1, 0))]
    wants = [lambda v: v[None], lambda v: v[None, None], lambda v: v[..., None],
             lambda v: v[..., None, None, None], lambda v: v[:, None], lambda v: v.T[:, None],
             lambda v: v[:, None, :, None], lambda v: v.T, lambda v: v.T, lambda v: v.T]
    for name, value in layouts(rng, (3, 4), dtype):
        for got, want in zip(run(mode, [x], outs, value), wants):
            assert got.dtype == value.dtype
            np.testing.assert_array_equal(got, want(value), err_msg=name)


def test_pad_broadcast_flags():
    x = T.matrix("x")
    assert T.shape_padleft(x, 2).broadcastable == (True, True, False, False)
    assert T.shape_padright(x).broadcastable == (False, False, True)
    assert T.shape_padaxis(x, -1).broadcastable == (False, False, True)
    assert T.shape_padleft(x, 0) is x
    # a padded vector broadcasts against a matrix
    v = T.vector("v")
    assert (T.shape_padleft(v) + x).broadcastable == (False, False)
    assert (T.shape_padright(v) * x).type.shape == (None, None)


@pytest.mark.parametrize("axes", [(2, 0, 1), (0, 2, 1), (-1, 0, 1), None])
def test_transpose_3d(mode, rng, axes):
    x = T.tensor3("x")
    out = x.transpose(axes) if axes is not None else x.T
    for name, value in layouts(rng, (2, 3, 4)):
        got = run(mode, [x], out, value)
        np.testing.assert_array_equal(got, np.transpose(value, axes), err_msg=name)
    value = rand(rng, (2, 3, 4))
    check_infer_shape(mode, [x], out, [value], np.transpose(value, axes).shape)
    if mode == "FAST_COMPILE":
        verify_grad(lambda v: v.transpose(axes) if axes is not None else v.T, [value],
                    rng=np.random.default_rng(1))


def test_transpose_method_forms(mode, rng):
    x = T.tensor3("x")
    value = rand(rng, (2, 3, 4))
    a, b = run(mode, [x], [x.transpose(1, 2, 0), x.transpose([1, 2, 0])], value)
    np.testing.assert_array_equal(a, value.transpose(1, 2, 0))
    np.testing.assert_array_equal(b, value.transpose(1, 2, 0))


def test_dimshuffle_family_grad_and_infer_shape(mode, rng):
    x = T.matrix("x")
    value = rand(rng, (3, 4))
    for out, shape in ((x.dimshuffle(1, "x", 0), (4, 1, 3)), (T.shape_padleft(x, 2), (1, 1, 3, 4)),
                       (T.shape_padright(x), (3, 4, 1))):
        check_infer_shape(mode, [x], out, [value], shape)
    if mode == "FAST_COMPILE":
        vrng = np.random.default_rng(2)
        verify_grad(lambda v: v.dimshuffle(1, "x", 0), [value], rng=vrng)
        verify_grad(lambda v: T.shape_padleft(v) * np.ones((2, 1, 1)), [value], rng=vrng)
        verify_grad(lambda v: T.shape_padright(v, 2), [value], rng=vrng)
        # dropping a broadcastable axis
        verify_grad(lambda v: T.addbroadcast(v, 0).dimshuffle(1), [rand(rng, (1, 4))], rng=vrng)


def test_dimshuffle_family_rop(mode, rng):
    x, ev = T.matrix("x"), T.matrix("ev")
    value, tangent = rand(rng, (3, 4)), rand(rng, (3, 4))
    got = run(mode, [x, ev], [T.Rop(x.T, x, ev), T.Rop(T.shape_padleft(x), x, ev)], value, tangent)
    np.testing.assert_array_equal(got[0], tangent.T)
    np.testing.assert_array_equal(got[1], tangent[None])


def test_dimshuffle_family_bad_input():
    x = T.matrix("x")
    build_error(ValueError, lambda: x.transpose(0, 0), "not a permutation")
    build_error(ValueError, lambda: x.transpose(0, 1, 2), "not a permutation")
    build_error(ValueError, lambda: x.dimshuffle(1), "drops dimension 0", "not broadcastable")
    build_error(ValueError, lambda: T.shape_padaxis(x, 4), "out of range")
    with pytest.raises(ValueError, match="repeats an axis"):
        x.dimshuffle(0, 0)
    with pytest.raises(ValueError, match="names axis 2"):
        x.dimshuffle(0, 2)


# --- addbroadcast / unbroadcast / patternbroadcast ------------------------------------------------
def test_addbroadcast_marks_and_checks(mode, rng):
    x = T.matrix("x")
    out = T.addbroadcast(x, 0)
    assert out.broadcastable == (True, False)
    assert T.addbroadcast(x, -1).broadcastable == (False, True)
    assert T.addbroadcast(x, 0, 1).broadcastable == (True, True)
    row = T.row("row")
    assert T.addbroadcast(row, 0) is row
    value = rand(rng, (1, 4))
    np.testing.assert_array_equal(run(mode, [x], out, value), value)
    # the marked matrix now broadcasts against a bigger one
    y = T.matrix("y")
    other = rand(rng, (3, 4))
    np.testing.assert_array_equal(run(mode, [x, y], out + y, value, other), value + other)
    check_infer_shape(mode, [x], out, [value], (1, 4))


def test_addbroadcast_on_a_dimension_that_is_not_size_1_fails_at_run_time(mode, rng):
    x = T.matrix("x")
    with pytest.raises(ValueError) as info:
        run(mode, [x], T.addbroadcast(x, 1), rand(rng, (3, 4)))
    msg = str(info.value)
    assert "dimension 1" in msg and "size 1" in msg and "(3, 4)" in msg, msg
    with pytest.raises(ValueError, match="dimension 0"):
        run(mode, [x], T.addbroadcast(x, 0), rand(rng, (0, 4)))


def test_unbroadcast_and_patternbroadcast(mode, rng):
    row, x = T.row("row"), T.matrix("x")
    assert T.unbroadcast(row, 0).broadcastable == (False, False)
    assert T.unbroadcast(x, 0) is x
    assert T.patternbroadcast(x, (True, False)).broadcastable == (True, False)
    assert T.patternbroadcast(row, (False, False)).broadcastable == (False, False)
    assert T.patternbroadcast(row, [False, True]).broadcastable == (False, True)
    value = rand(rng, (1, 5))
    np.testing.assert_array_equal(run(mode, [row], T.unbroadcast(row, 0), value), value)
    with pytest.raises(ValueError, match="dimension 1"):
        run(mode, [row], T.patternbroadcast(row, (False, True)), value)
    one = rand(rng, (1, 1))
    np.testing.assert_array_equal(run(mode, [row], T.patternbroadcast(row, (False, True)), one), one)


def test_broadcast_flag_ops_grad(mode, rng):
    value = rand(rng, (1, 4))
    if mode == "FAST_COMPILE":
        vrng = np.random.default_rng(3)
        verify_grad(lambda v: T.addbroadcast(v, 0) + np.zeros((3, 1)), [value], rng=vrng)
        verify_grad(lambda v: T.unbroadcast(T.addbroadcast(v, 0), 0), [value], rng=vrng)
        verify_grad(lambda v: T.patternbroadcast(v, (True, False)) * np.ones((2, 4)), [value], rng=vrng)
    row = T.row("row")
    g = T.grad(T.unbroadcast(row, 0).sum(), row)
    assert g.broadcastable == (True, False)
    np.testing.assert_array_equal(run(mode, [row], g, value), np.ones((1, 4)))


def test_broadcast_flag_ops_bad_input():
    x = T.matrix("x")
    build_error(ValueError, lambda: T.addbroadcast(x, 2), "axis 2", "out of bounds")
    build_error(ValueError, lambda: T.addbroadcast(x, -3), "axis -3", "out of bounds")
    build_error(ValueError, lambda: T.unbroadcast(x, 2), "axis 2", "out of bounds")
    build_error(TypeError, lambda: T.addbroadcast(x, 0.5), "ints")
    build_error(ValueError, lambda: T.patternbroadcast(x, (True,)), "1 entries", "2 dimension")
    build_error(ValueError, lambda: T.addbroadcast(T.matrix("s", shape=(3, 4)), 0), "static size 3")


# --- specify_shape --------------------------------------------------------------------------------
def test_specify_shape_static(mode, rng):
    x = T.matrix("x")
    out = T.specify_shape(x, (3, 4))
    assert isinstance(out.owner.op, SpecifyShape) and out.type.shape == (3, 4)
    assert T.specify_shape(x, (None, 4)).type.shape == (None, 4)
    assert T.specify_shape(T.matrix("y", shape=(3, None)), (None, 4)).type.shape == (3, 4)
    assert T.specify_shape(x, (None, None)) is x
    value = rand(rng, (3, 4))
    np.testing.assert_array_equal(run(mode, [x], out, value), value)
    check_infer_shape(mode, [x], out, [value], (3, 4))
    with pytest.raises(ValueError) as info:
        run(mode, [x], out, rand(rng, (3, 5)))
    assert "dimension 1" in str(info.value) and "size 4" in str(info.value) and "(3, 5)" in str(info.value)


def test_specify_shape_symbolic(mode, rng):
    x, a, shp = T.matrix("x"), T.lscalar("a"), T.lvector("shp")
    by_scalar = T.specify_shape(x, (a, 4))
    assert by_scalar.type.shape == (None, 4)
    by_vector = T.specify_shape(x, T.stack([a, T.constant(4, dtype="int64")]))
    y = T.matrix("y")
    by_shape = T.specify_shape(x, y.shape)
    value = rand(rng, (3, 4))
    got = run(mode, [x, a, y], [by_scalar, by_vector, by_shape], value, 3, np.zeros((3, 4)))
    for g in got:
        np.testing.assert_array_equal(g, value)
    check_infer_shape(mode, [x, a], by_scalar, [value, 3], (3, 4))
    for out in (by_scalar, by_vector):
        with pytest.raises(ValueError, match="dimension 0 was declared of size 2"):
            run(mode, [x, a], out, value, 2)
    with pytest.raises(ValueError, match="dimension 1 was declared of size 5"):
        run(mode, [x, y], by_shape, value, np.zeros((3, 5)))
    with pytest.raises(ValueError, match="known length"):
        T.specify_shape(x, shp)


def test_specify_shape_grad_rop_and_batching(mode, rng):
    x, ev, a = T.matrix("x"), T.matrix("ev"), T.lscalar("a")
    value, tangent = rand(rng, (3, 4)), rand(rng, (3, 4))
    if mode == "FAST_COMPILE":
        verify_grad(lambda v: T.specify_shape(v, (3, 4)), [value], rng=np.random.default_rng(4))
        verify_grad(lambda v: T.specify_shape(v, (v.shape[0], 4)) * 2, [value],
                    rng=np.random.default_rng(4))
    got = run(mode, [x, ev, a], T.Rop(T.specify_shape(x, (a, 4)), x, ev), value, tangent, 3)
    np.testing.assert_array_equal(got, tangent)
    out = T.specify_shape(x, (None, 4))
    xb = T.tensor3("xb")
    assert batched(out, xb).type.shape == (None, None, 4)
    b = rand(rng, (2, 3, 4))
    np.testing.assert_array_equal(run(mode, [xb], batched(out, xb), b), b)


def test_specify_shape_bad_input():
    x = T.matrix("x")
    build_error(ValueError, lambda: T.specify_shape(x, (3,)), "1 entries", "2 dimension")
    build_error(ValueError, lambda: T.specify_shape(x, (3, -1)), "negative size -1")
    build_error(TypeError, lambda: T.specify_shape(x, (3, 2.5)), "integer")
    build_error(ValueError, lambda: T.specify_shape(T.matrix("s", shape=(3, 4)), (3, 5)),
                "static size 4", "not 5")


# --- squeeze -------------------------------------------------------------------------------------
def test_squeeze(mode, rng):
    x = T.TensorType("float64", (False, True, False, True))("x")
    m = T.matrix("m")
    value = rand(rng, (3, 1, 4, 1))
    col = rand(rng, (5, 1))
    got = run(mode, [x, m], [T.squeeze(x), x.squeeze(), T.squeeze(m, 1), T.squeeze(m, -1)], value, col)
    np.testing.assert_array_equal(got[0], np.squeeze(value))
    np.testing.assert_array_equal(got[1], np.squeeze(value))
    np.testing.assert_array_equal(got[2], col[:, 0])
    np.testing.assert_array_equal(got[3], col[:, 0])
    assert T.squeeze(m).ndim == 2  # nothing known to be broadcastable: nothing dropped
    with pytest.raises(ValueError, match="dimension 1"):
        run(mode, [m], T.squeeze(m, 1), rand(rng, (5, 2)))
    if mode == "FAST_COMPILE":
        verify_grad(lambda v: T.squeeze(v, 1), [col], rng=np.random.default_rng(5))
