"""Basic indexing (ints, slices with constant or symbolic bounds, newaxis, Ellipsis) and
set_subtensor / inc_subtensor at a basic index, against numpy, in every mode.
(Integer arrays, boolean masks and take: test_advanced_subtensor.py.)"""
import os
import pickle

import numpy as np
import pytest

import symtensor as T
from symtensor.grad import verify_grad
from symtensor.ops.basic import tensor
from symtensor.ops.subtensor import IncSubtensor, Subtensor
from tests.helpers import DTYPES, assert_unchanged, check_infer_shape, layouts, noncontiguous, rand, run

HERE = os.path.basename(__file__)
SHAPE = (4, 5, 6)

BASIC_INDICES = [
    1, -1, (0, 2), (1, -2, 3), (-4, 0, -6),
    slice(1, 3), slice(None, None, -1), slice(3, 0, -2), slice(-2, None), slice(None, -7, -1),
    slice(2, 100), slice(-100, 2), slice(3, 1), slice(None, None, 3),
    (slice(None), 2), (Ellipsis, 1), (1, Ellipsis, None), (None, 1, None, slice(None, None, 2)),
    (Ellipsis,), (), (slice(1, 3), slice(None, None, -2), -1), (None,), (slice(None), None, Ellipsis),
]


def _ids(values):
    return [repr(v).replace(" ", "") for v in values]


def _expect_same(fn, ref_fn):
    """fn() equals ref_fn(), or both raise IndexError (e.g. an int index into a zero-size axis)."""
    try:
        expected = ref_fn()
    except IndexError:
        with pytest.raises(IndexError, match="out of bounds"):
            fn()
        return None
    got = fn()
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
    return got


# --- getitem ----------------------------------------------------------------------------------
@pytest.mark.parametrize("index", BASIC_INDICES, ids=_ids(BASIC_INDICES))
def test_getitem_basic_matches_numpy(mode, rng, index):
    for dtype in DTYPES + ["bool"]:
        x = T.tensor3("x", dtype=dtype)
        out = x[index]
        assert isinstance(out.owner.op, Subtensor) and out.dtype == dtype
        f = T.function([x], out, mode=mode)
        for _, value in layouts(rng, SHAPE, dtype):
            got = _expect_same(lambda: f(value), lambda: value[index])
            if got is not None:
                assert out.ndim == got.ndim
                check_infer_shape(mode, [x], out, [value], got.shape)


@pytest.mark.parametrize("index", BASIC_INDICES[:8], ids=_ids(BASIC_INDICES[:8]))
def test_static_shape_follows_numpy(index):
    x = tensor("float64", shape=SHAPE, name="x")
    expected = np.zeros(SHAPE)[index].shape
    assert x[index].type.shape == expected
    # with unknown sizes only what is certain is known
    y = T.tensor3("y")
    assert all(s is None or s == e for s, e in zip(y[index].type.shape, expected))


def test_broadcastable_pattern():
    r, c = T.row("r"), T.col("c")
    assert r[0].broadcastable == (False,)
    assert c[:, 0].broadcastable == (False,)
    assert r[:, 1:].broadcastable == (True, False)
    assert r[::-1].broadcastable == (True, False)
    assert T.matrix()[None, :, None].broadcastable == (True, False, True, False)
    assert T.matrix()[2:2].type.shape == (0, None)
    assert T.matrix()[-1:-3].type.shape == (0, None)


def test_symbolic_bounds_on_a_broadcastable_axis(mode):
    r, j, k = T.row("r"), T.lscalar("j"), T.lscalar("k")
    assert r[::k].broadcastable == (True, False)  # any step keeps the one element
    assert r[:j].type.shape == (None, None)  # a stop may drop it
    value = np.ones((1, 3))
    assert run(mode, [r, j], r[:j], value, 0).shape == (0, 3)
    assert run(mode, [r, k], r[::k], value, -1).shape == (1, 3)


def test_zero_d_and_empty_index(mode):
    s = T.dscalar("s")
    a = np.array(3.5)
    for index in [Ellipsis, (), None, (None, Ellipsis, None)]:
        np.testing.assert_array_equal(run(mode, [s], s[index], a), a[index])
    with pytest.raises(IndexError, match="too many indices"):
        s[0]


@pytest.mark.parametrize("bounds", [(1, 3, 1), (3, 0, -1), (-1, -5, -2), (0, 100, 3), (-100, 100, -1),
                                    (2, 2, 1), (5, -7, -1), (-3, 4, 2), (4, -100, -3), (-1, 0, 1)])
def test_symbolic_slice_bounds(mode, rng, bounds):
    i, j, k = T.lscalar("i"), T.lscalar("j"), T.lscalar("k")
    x = T.matrix("x")
    start, stop, step = bounds
    forms = [(x[i:j:k], [start, stop, step], slice(start, stop, step)),
             (x[i:], [start], slice(start, None)),
             (x[:j:-1], [stop], slice(None, stop, -1)),
             (x[1:, i:j], [start, stop], (slice(1, None), slice(start, stop))),
             (x[::k], [step], slice(None, None, step))]
    for out, args, index in forms:
        syms = [v for v in (i, j, k) if any(v is n for n in out.owner.inputs)]
        for _, value in layouts(rng, (5, 6)):
            got = run(mode, [x] + syms, out, value, *args)
            np.testing.assert_array_equal(got, value[index])
            check_infer_shape(mode, [x] + syms, out, [value] + args, got.shape)


def test_symbolic_int_index_and_small_int_dtypes(mode, rng):
    x = T.tensor3("x")
    value = rand(rng, SHAPE)
    for dtype in ["int8", "uint8", "int16", "int32", "int64"]:
        i = tensor(dtype, shape=(), name="i")
        out = x[1:, i, ::-1]
        for v in ([0, 3, -2] if dtype[0] == "i" else [0, 4]):
            got = run(mode, [x, i], out, value, v)
            np.testing.assert_array_equal(got, value[1:, v, ::-1])
            check_infer_shape(mode, [x, i], out, [value, v], got.shape)


def test_numpy_integers_and_0d_arrays_as_bounds(mode, rng):
    x = T.vector("x")
    value = rand(rng, (7,))
    out = x[np.int64(1):np.array(6):np.int32(2)]
    np.testing.assert_array_equal(run(mode, [x], out, value), value[1:6:2])
    np.testing.assert_array_equal(run(mode, [x], x[np.int16(-2)], value), value[-2])


def test_runtime_index_out_of_bounds_names_index_and_size(mode, rng):
    x, i = T.matrix("x"), T.lscalar("i")
    f = T.function([x, i], x[i], mode=mode)
    g = T.function([x, i], x[:, i], mode=mode)
    value = rand(rng, (4, 5))
    for fn, v, size, axis in [(f, 4, 4, 0), (f, -5, 4, 0), (g, 5, 5, 1), (g, -6, 5, 1)]:
        with pytest.raises(IndexError, match=rf"index {v} is out of bounds for axis {axis} with size {size}"):
            fn(value, v)
    with pytest.raises(IndexError, match="index 0 is out of bounds for axis 0 with size 0"):
        f(np.zeros((0, 5)), 0)


def test_runtime_zero_step_is_a_value_error(mode, rng):
    x, k = T.vector("x"), T.lscalar("k")
    with pytest.raises(ValueError, match="slice step cannot be zero"):
        run(mode, [x, k], x[::k], rand(rng, (3,)), 0)


def test_build_errors_name_the_user_line():
    x = T.matrix("x")
    known = tensor("float64", shape=(4, 5), name="known")
    cases = [
        (IndexError, "too many indices for tensor x: it is 2-dimensional, but 3", lambda: x[1, 2, 3]),
        (IndexError, "single ellipsis", lambda: x[..., 1, ...]),
        (IndexError, "index 4 is out of bounds for axis 0 with size 4", lambda: known[4]),
        (IndexError, "index -6 is out of bounds for axis 1 with size 5", lambda: known[:, -6]),
        (ValueError, "slice step cannot be zero", lambda: x[::0]),
        (TypeError, "index 1.5 .*not valid", lambda: x[1.5]),
        (TypeError, "dtype float64; indices must be integers", lambda: x[T.dscalar("d")]),
        (TypeError, "slice stop 2.5 .*not an integer", lambda: x[:2.5]),
        (TypeError, "slice start .* must be an integer scalar", lambda: x[T.dscalar("d"):]),
        (TypeError, "slice step .* must be an integer scalar", lambda: x[::T.lvector("v")]),
        (TypeError, "index 'a' .*not valid", lambda: x["a"]),
    ]
    for err, msg, build in cases:
        with pytest.raises(err, match=msg) as info:
            build()
        assert HERE in str(info.value), str(info.value)


def test_build_index_errors_are_index_and_value_errors():
    """numpy raises IndexError for a bad index, Theano ValueError: ported code may catch either."""
    known = tensor("float64", shape=(4, 5), name="known")
    for build in (lambda: known[4], lambda: known[1, 2, 3], lambda: known[..., ...],
                  lambda: T.inc_subtensor(known[:, 5], 1.0)):
        with pytest.raises(IndexError):
            build()
        with pytest.raises(ValueError):
            build()


def test_compiled_indexing_pickles(mode, rng):
    x, i = T.matrix("x"), T.lscalar("i")
    f = T.function([x, i], [x[i:, ::-1], T.inc_subtensor(x[i], 1.0)], mode=mode)
    g = pickle.loads(pickle.dumps(f))
    value = rand(rng, (3, 4))
    for a, b in zip(f(value, 1), g(value, 1)):
        np.testing.assert_array_equal(a, b)
    op = x[i:, ::-1].owner.op
    assert pickle.loads(pickle.dumps(op)) == op


def test_output_does_not_alias_the_callers_array(mode, rng):
    x = T.matrix("x")
    value = rand(rng, (4, 5))
    before = value.copy()
    f = T.function([x], [x[1:3], x[1], x[None]], mode=mode)
    for out in f(value):
        out[...] = 99
    assert_unchanged([before], [value])


def test_op_identity_and_str():
    x, i = T.matrix("x"), T.lscalar("i")
    a, b = x[1:3, ::2].owner.op, x[1:3, ::2].owner.op
    assert a == b and hash(a) == hash(b) and a != x[1:3].owner.op
    assert str(a) == "Subtensor{1:3, ::2}"
    assert str(x[i, None].owner.op) == "Subtensor{?, newaxis}"
    op = Subtensor([slice(1, None), 0])
    assert op.idx_list == (("slice", 1, None, None), 0)
    with pytest.raises(TypeError, match="takes no index arrays"):
        Subtensor(["array"])
    with pytest.raises(TypeError, match="expected 1 index input"):
        Subtensor(["?"])(x)


# --- set_subtensor / inc_subtensor -------------------------------------------------------------
INC_INDICES = [1, (slice(1, 3), -1), (slice(None, None, -2), slice(1, 5, 3)), (Ellipsis, 2),
               (0, 0), (slice(0, 0),), (slice(None), None, slice(2, None))]


def _numpy_update(x, index, y, set_):
    out = x.copy()
    if set_:
        out[index] = y
    else:
        out[index] += y
    return out


@pytest.mark.parametrize("set_", [False, True], ids=["inc", "set"])
@pytest.mark.parametrize("index", INC_INDICES, ids=_ids(INC_INDICES))
def test_set_and_inc_match_numpy(mode, rng, index, set_):
    fn = T.set_subtensor if set_ else T.inc_subtensor
    for dtype in DTYPES:
        x = T.matrix("x", dtype=dtype)
        sub_shape = np.zeros((4, 5))[index].shape
        y = tensor(dtype, shape=(None,) * len(sub_shape), name="y")
        out = fn(x[index], y)
        assert isinstance(out.owner.op, IncSubtensor) and out.owner.op.set_instead_of_inc == set_
        assert out.dtype == dtype and out.type.shape == x.type.shape
        f = T.function([x, y], out, mode=mode)
        for _, xv in layouts(rng, (4, 5), dtype)[:2]:
            yv = rand(rng, sub_shape, dtype)
            yv = noncontiguous(yv) if yv.ndim else yv
            before = [xv.copy(), yv.copy()]
            got = f(xv, yv)
            assert got.dtype == dtype
            np.testing.assert_array_equal(got, _numpy_update(xv, index, yv, set_))
            assert_unchanged(before, [xv, yv])
        check_infer_shape(mode, [x, y], out, [xv, yv], xv.shape)


@pytest.mark.parametrize("set_", [False, True], ids=["inc", "set"])
def test_set_and_inc_broadcast_y(mode, rng, set_):
    fn = T.set_subtensor if set_ else T.inc_subtensor
    x = T.tensor3("x")
    xv = rand(rng, SHAPE)
    index = (slice(1, 3), 2)
    cases = [(2.5, None), (T.dscalar("y"), rand(rng, ())), (T.row("y"), rand(rng, (1, 6))),
             (T.vector("y"), rand(rng, (6,))), (T.col("y"), rand(rng, (2, 1)))]
    for y, yv in cases:
        out = fn(x[index], y)
        inputs, values = ([x], [xv]) if yv is None else ([x, y], [xv, yv])
        got = run(mode, inputs, out, *values)
        np.testing.assert_allclose(got, _numpy_update(xv, index, 2.5 if yv is None else yv, set_))


def test_set_and_inc_on_zero_size_and_0d(mode, rng):
    x, y = T.matrix("x"), T.matrix("y")
    empty = np.zeros((0, 5))
    got = run(mode, [x, y], T.inc_subtensor(x[1:], y), empty, np.zeros((0, 5)))
    assert got.shape == (0, 5)
    got = run(mode, [x], T.set_subtensor(x[:, 1:3], 7.0), empty)
    assert got.shape == (0, 5)
    s = T.dscalar("s")
    np.testing.assert_array_equal(run(mode, [s], T.set_subtensor(s[...], 4.0), 1.5), 4.0)
    np.testing.assert_array_equal(run(mode, [s], T.inc_subtensor(s[()], 4.0), 1.5), 5.5)


def test_python_scalar_y_takes_x_dtype(mode, rng):
    for dtype, value in [("float32", 1.5), ("int8", 100), ("int32", -3), ("bool", True)]:
        x = T.vector("x", dtype=dtype)
        out = T.set_subtensor(x[1:], value)
        assert out.dtype == dtype
        xv = rand(rng, (3,), dtype)
        expected = xv.copy()
        expected[1:] = value
        got = run(mode, [x], out, xv)
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, expected)


def test_int_y_into_float_x_and_float32_y_into_float64_x(mode, rng):
    x = T.vector("x")
    xv = rand(rng, (4,))
    for y, yv in [(T.ivector("y"), np.array([1, 2], "int32")), (T.fvector("y"), np.array([1.5, 2], "float32"))]:
        out = T.inc_subtensor(x[:2], y)
        assert out.dtype == "float64"
        np.testing.assert_allclose(run(mode, [x, y], out, xv, yv), _numpy_update(xv, slice(None, 2), yv, False))


def test_set_and_inc_build_errors_name_the_user_line():
    x, ix = T.matrix("x"), T.imatrix("ix")
    known = tensor("float64", shape=(4, 5), name="known")
    cases = [
        (TypeError, "x must be the result of indexing", lambda: T.set_subtensor(x, 1.0)),
        (TypeError, "x must be the result of indexing", lambda: T.inc_subtensor(x + 1, 1.0)),
        (TypeError, "trying to set a 1-d subtensor with a 2-d value", lambda: T.set_subtensor(x[0], x)),
        (TypeError, "trying to increment a 0-d subtensor with a 1-d", lambda: T.inc_subtensor(x[0, 0], x[0])),
        (TypeError, "dtype float64, which cannot be cast to x's dtype int32",
         lambda: T.set_subtensor(ix[0], T.vector())),
        (TypeError, "1.5 does not fit in x's dtype int32", lambda: T.set_subtensor(ix[0], 1.5)),
        (TypeError, "300 does not fit in x's dtype int8", lambda: T.inc_subtensor(T.bvector()[0], 300)),
        (ValueError, r"y of shape \(3,\) does not broadcast to the indexed shape \(5,\)",
         lambda: T.set_subtensor(known[1], tensor("float64", shape=(3,)))),
        (IndexError, "index 7 is out of bounds for axis 1 with size 5", lambda: T.set_subtensor(known[:, 7], 0.0)),
    ]
    for err, msg, build in cases:
        with pytest.raises(err, match=msg) as info:
            build()
        assert HERE in str(info.value), str(info.value)


def test_set_and_inc_runtime_shape_errors(mode, rng):
    x, y = T.matrix("x"), T.vector("y")
    f = T.function([x, y], T.set_subtensor(x[1], y), mode=mode)
    with pytest.raises(ValueError, match=r"y of shape \(4,\) does not match the indexed shape \(5,\)"):
        f(rand(rng, (4, 5)), rand(rng, (4,)))
    with pytest.raises(ValueError, match="not marked broadcastable"):
        f(rand(rng, (4, 5)), rand(rng, (1,)))
    i = T.lscalar("i")
    g = T.function([x, i], T.inc_subtensor(x[i], 1.0), mode=mode)
    with pytest.raises(IndexError, match="index 9 is out of bounds for axis 0 with size 4"):
        g(rand(rng, (4, 5)), 9)


def test_set_subtensor_of_a_shared_variable_leaves_its_value(mode):
    s = T.shared(np.arange(5.0), name="s")
    f = T.function([], T.set_subtensor(s[1:3], -1.0), mode=mode)
    np.testing.assert_array_equal(f(), [0, -1, -1, 3, 4])
    np.testing.assert_array_equal(s.get_value(), np.arange(5.0))


# --- derivatives -----------------------------------------------------------------------------
@pytest.mark.parametrize("index", [1, (slice(1, 3), slice(None, None, -2)), (Ellipsis, None, -1),
                                   (slice(None), 2, None), (0, 1, 2), (slice(5, 1),)],
                         ids=["int", "slices", "ellipsis-newaxis", "mixed", "scalar", "empty"])
def test_getitem_verify_grad(rng, index):
    verify_grad(lambda a: a[index], [rand(rng, SHAPE)], rng=rng)


def test_getitem_grad_with_symbolic_bounds(mode, rng):
    start, step = T.shared(np.int64(3), name="start"), T.shared(np.int64(-2), name="step")
    verify_grad(lambda a: a[start::step, 1:], [rand(rng, (5, 4))], rng=rng, mode=mode)


@pytest.mark.parametrize("set_", [False, True], ids=["inc", "set"])
@pytest.mark.parametrize("index,yshape", [(1, (5,)), ((slice(1, 4), slice(None, None, 2)), (3, 3)),
                                          ((slice(1, 4), 2), ()), ((slice(None), slice(0, 2)), (2,))],
                         ids=["row", "slices", "scalar-y", "broadcast-y"])
def test_set_and_inc_verify_grad_wrt_x_and_y(rng, set_, index, yshape):
    fn = T.set_subtensor if set_ else T.inc_subtensor
    verify_grad(lambda a, b: fn(a[index], b), [rand(rng, (4, 5)), rand(rng, yshape)], rng=rng)


def test_set_subtensor_grad_values(mode, rng):
    x, y = T.matrix("x"), T.vector("y")
    cost = (T.set_subtensor(x[1], y) ** 2).sum()
    gx, gy = T.grad(cost, [x, y])
    xv, yv = rand(rng, (3, 4)), rand(rng, (4,))
    got_x, got_y = run(mode, [x, y], [gx, gy], xv, yv)
    expected_x = 2 * xv
    expected_x[1] = 0
    np.testing.assert_allclose(got_x, expected_x)
    np.testing.assert_allclose(got_y, 2 * yv)


def test_grad_float32(mode, rng):
    x = T.fmatrix("x")
    gx = T.grad(x[1:, ::-1].sum(), x)
    assert gx.dtype == "float32"
    expected = np.zeros((3, 4), "float32")
    expected[1:] = 1
    np.testing.assert_array_equal(run(mode, [x], gx, rand(rng, (3, 4), "float32")), expected)


def test_grad_of_an_integer_tensor_is_zero_and_index_is_disconnected(mode):
    xi, i = T.ivector("xi"), T.lscalar("i")
    f = T.vector("f")
    g = T.grad((xi[i] * f).sum() + f.sum(), [xi, f])
    np.testing.assert_array_equal(run(mode, [xi, i, f], g[0], np.arange(3, dtype="int32"), 1, np.ones(2)), 0)
    with pytest.raises(Exception, match="(?i)disconnected|not part of the computational graph"):
        T.grad(f[i].sum(), i)


def test_rop(mode, rng):
    x, vx, y, vy = T.matrix("x"), T.matrix("vx"), T.vector("y"), T.vector("vy")
    xv, vxv, yv, vyv = rand(rng, (3, 4)), rand(rng, (3, 4)), rand(rng, (4,)), rand(rng, (4,))
    got = run(mode, [x, vx], T.Rop(x[1:, None, ::-1], x, vx), xv, vxv)
    np.testing.assert_array_equal(got, vxv[1:, None, ::-1])
    for fn, set_ in [(T.set_subtensor, True), (T.inc_subtensor, False)]:
        out = fn(x[1], y)
        both = run(mode, [x, vx, y, vy], T.Rop(out, [x, y], [vx, vy]), xv, vxv, yv, vyv)
        np.testing.assert_allclose(both, _numpy_update(vxv, 1, vyv, set_))
        only_x = run(mode, [x, vx, y], T.Rop(out, x, vx), xv, vxv, yv)
        np.testing.assert_allclose(only_x, _numpy_update(vxv, 1, 0.0, set_))
        only_y = run(mode, [x, y, vy], T.Rop(out, y, vy), xv, yv, vyv)
        np.testing.assert_allclose(only_y, _numpy_update(np.zeros((3, 4)), 1, vyv, False))


# --- batching rules ---------------------------------------------------------------------------
def _vectorized(out, batched):
    """The outputs of ``out``'s node for ``batched`` (same order as the node's inputs)."""
    return out.owner.op.vectorize_node(out.owner, *batched)[0]


@pytest.mark.parametrize("index", [1, (slice(1, 3), -1), (None, Ellipsis, slice(None, None, -2))],
                         ids=["int", "slice-int", "newaxis"])
def test_subtensor_batching_rule(mode, rng, index):
    x, xb = T.matrix("x"), T.tensor3("xb")
    xbv = rand(rng, (3, 4, 5))
    got = run(mode, [xb], _vectorized(x[index], [xb]), xbv)
    np.testing.assert_array_equal(got, np.stack([v[index] for v in xbv]))


@pytest.mark.parametrize("set_", [False, True], ids=["inc", "set"])
@pytest.mark.parametrize("batched", ["x", "y", "both"])
def test_inc_subtensor_batching_rule(mode, rng, set_, batched):
    fn = T.set_subtensor if set_ else T.inc_subtensor
    x, y = T.matrix("x"), T.vector("y")
    index = (slice(1, 3), 2)
    out = fn(x[index], y)
    xv, yv = rand(rng, (3, 4, 5)), rand(rng, (3, 2))
    if batched == "y":
        xv = xv[0]
    if batched == "x":
        yv = yv[0]
    xin = T.tensor3("xb") if xv.ndim == 3 else x
    yin = T.matrix("yb") if yv.ndim == 2 else y
    got = run(mode, [xin, yin], _vectorized(out, [xin, yin]), xv, yv)
    expected = [_numpy_update(xv[b] if xv.ndim == 3 else xv, index, yv[b] if yv.ndim == 2 else yv, set_)
                for b in range(3)]
    np.testing.assert_allclose(got, np.stack(expected))


def test_batching_over_a_symbolic_index_is_refused():
    x, i, ib = T.matrix("x"), T.lscalar("i"), T.lvector("ib")
    out = x[i]
    with pytest.raises(NotImplementedError, match="batching over the index inputs"):
        _vectorized(out, [x, ib])
