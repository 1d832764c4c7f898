"""Advanced indexing (integer arrays, boolean masks, mixed with basic items as numpy), its
set/inc (increments accumulate over repeated indices, as numpy.add.at), and take, against
numpy, in every mode."""
import os

import numpy as np
import pytest

import symtensor as T
from symtensor.grad import verify_grad
from symtensor.ops.advanced_subtensor import AdvancedIncSubtensor, AdvancedSubtensor
from symtensor.ops.basic import tensor
from tests.helpers import DTYPES, assert_unchanged, check_infer_shape, layouts, noncontiguous, rand, run

HERE = os.path.basename(__file__)
SHAPE = (4, 5, 6)
M4 = np.array([True, False, True, True])
M5 = np.array([False, True, True, False, True])
M45 = np.arange(20).reshape(4, 5) % 3 == 0

ADV_INDICES = {
    "list": [0, 2, 2, -1],
    "2d-array": np.array([[0, 1], [3, -4]]),
    "middle": (slice(None), [4, 0, -5]),
    "last-ellipsis": (Ellipsis, [5, 0]),
    "adjacent-pair": (slice(None), [0, 1, 4], [5, 5, 0]),
    "non-adjacent": ([0, 1, 3], slice(None), [2, 2, 5]),
    "int-then-array-apart": (1, slice(None), [2, 3]),
    "int-next-to-array": (slice(None), 1, [2, 3]),
    "broadcast-arrays": (np.array([[0], [3]]), slice(1, 4), np.array([1, 2, 5])),
    "newaxis-between": ([0, 1], None, [1, 2]),
    "newaxis-around": (None, slice(None, None, -1), [1, 2], None),
    "slice-and-array": (slice(1, 3), slice(None, None, -2), [0, 5]),
    "mask": M4,
    "mask-middle": (slice(None), M5),
    "mask-2d": M45,
    "mask-full": np.arange(120).reshape(SHAPE) % 7 == 1,
    "mask-and-int": (M4, slice(None), 3),
    "mask-and-array": (M4, [0, 4, 1]),
    "bool-true": (True, 1),
    "bool-false": False,
    "empty-list": [],
    "empty-array-middle": (slice(None), np.zeros((0, 2), "int64")),
}


def _symbolic(index):
    """(symbolic index, input variables, their values): every array of ``index`` as an input."""
    items = index if isinstance(index, tuple) else (index,)
    out, inputs, values = [], [], []
    for k, e in enumerate(items):
        if isinstance(e, (list, np.ndarray)) and not isinstance(e, bool):
            arr = np.asarray(e) if np.asarray(e).size else np.asarray(e, "int64")
            var = tensor(str(arr.dtype), shape=(None,) * arr.ndim, name=f"i{k}")
            out.append(var)
            inputs.append(var)
            values.append(arr)
        else:
            out.append(e)
    return tuple(out), inputs, values


def _expect_same(fn, ref_fn):
    """fn() equals ref_fn(), or both raise IndexError (an index into a zero-size axis)."""
    try:
        expected = ref_fn()
    except IndexError:
        with pytest.raises(IndexError, match="out of bounds|did not match"):
            fn()
        return None
    got = fn()
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
    return got


def _np(index):
    """The index as numpy takes it (lists of ints as arrays)."""
    items = index if isinstance(index, tuple) else (index,)
    return tuple(np.asarray(e, "int64") if isinstance(e, list) else e for e in items)


# --- getitem ----------------------------------------------------------------------------------
@pytest.mark.parametrize("symbolic", [False, True], ids=["constant", "symbolic"])
@pytest.mark.parametrize("name", list(ADV_INDICES))
def test_getitem_advanced_matches_numpy(mode, rng, name, symbolic):
    index = ADV_INDICES[name]
    sym_index, inputs, values = _symbolic(index) if symbolic else (index, [], [])
    for dtype in DTYPES + ["bool"]:
        x = T.tensor3("x", dtype=dtype)
        out = x[sym_index]
        assert isinstance(out.owner.op, AdvancedSubtensor) and out.dtype == dtype
        f = T.function([x] + inputs, out, mode=mode)
        for _, value in layouts(rng, SHAPE, dtype):
            got = _expect_same(lambda: f(value, *values), lambda: value[_np(index)])
            if got is not None:
                assert out.ndim == got.ndim
                assert all(s is None or s == g for s, g in zip(out.type.shape, got.shape))
                check_infer_shape(mode, [x] + inputs, out, [value] + values, got.shape)
                assert not np.shares_memory(got, value)


@pytest.mark.parametrize("name", ["list", "adjacent-pair", "non-adjacent", "mask-2d", "mask-and-int",
                                  "broadcast-arrays", "newaxis-around", "bool-false"])
def test_static_shape_with_known_sizes(name):
    x = tensor("float64", shape=SHAPE, name="x")
    index = ADV_INDICES[name]
    assert x[index].type.shape == np.zeros(SHAPE)[_np(index)].shape


def test_symbolic_mask_from_a_comparison(mode, rng):
    x = T.matrix("x")
    for out, ref in [(x[x > 0], lambda v: v[v > 0]), (x[:, x[0] > 0], lambda v: v[:, v[0] > 0]),
                     (x[(x > 0).any(axis=1), 1:], lambda v: v[(v > 0).any(axis=1), 1:])]:
        for _, value in layouts(rng, (4, 5))[:2] + [("zero-size", np.zeros((0, 5)).T)]:
            got = run(mode, [x], out, value)
            np.testing.assert_array_equal(got, ref(value))
            check_infer_shape(mode, [x], out, [value], got.shape)


def test_index_dtypes_and_python_forms(mode, rng):
    x = T.matrix("x")
    value = rand(rng, (4, 5))
    for dtype in ["int8", "uint8", "int16", "int32", "int64", "uint64"]:
        idx = np.array([3, 0, 3], dtype)
        np.testing.assert_array_equal(run(mode, [x], x[idx], value), value[idx])
        iv = T.vector("iv", dtype=dtype)
        np.testing.assert_array_equal(run(mode, [x, iv], x[:, iv], value, idx), value[:, idx])
    np.testing.assert_array_equal(run(mode, [x], x[range(1, 4)], value), value[1:4])
    np.testing.assert_array_equal(run(mode, [x], x[np.array(2), [0, 1]], value), value[2, [0, 1]])
    i, j = T.lscalar("i"), T.lscalar("j")
    out = x[[i, j, i]]  # a list holding symbolic scalars is an index vector
    np.testing.assert_array_equal(run(mode, [x, i, j], out, value, 1, -1), value[[1, -1, 1]])
    out = x[T.lvector("v"), i]  # a symbolic scalar next to an array is an advanced index
    v = out.owner.inputs[1]
    np.testing.assert_array_equal(run(mode, [x, v, i], out, value, np.array([0, 2]), 3), value[[0, 2], 3])


def test_runtime_errors_name_index_and_size(mode, rng):
    x, iv, jv = T.matrix("x"), T.lvector("iv"), T.lvector("jv")
    value = rand(rng, (4, 5))
    mask = T.vector("m", dtype="bool")
    f = T.function([x, iv], x[iv], mode=mode)
    with pytest.raises(IndexError, match="index 9 is out of bounds for axis 0 with size 4"):
        f(value, np.array([1, 9]))
    with pytest.raises(IndexError, match="index -5 is out of bounds for axis 0 with size 4"):
        f(value, np.array([-5]))
    with pytest.raises(IndexError, match="index 5 is out of bounds for axis 1 with size 5"):
        run(mode, [x, iv], x[:, iv], value, np.array([5]))
    for fn in (T.set_subtensor, T.inc_subtensor):
        with pytest.raises(IndexError, match="index 4 is out of bounds for axis 0 with size 4"):
            run(mode, [x, iv], fn(x[iv], 1.0), value, np.array([0, 4]))
    with pytest.raises(IndexError, match="axis 0; size of axis is 4 but size of corresponding boolean axis is 3"):
        run(mode, [x, mask], x[mask], value, np.ones(3, bool))
    with pytest.raises(IndexError, match=r"could not be broadcast together with shapes \(2,\) \(3,\)"):
        run(mode, [x, iv, jv], x[iv, jv], value, np.array([0, 1]), np.array([0, 1, 2]))


def test_build_errors_name_the_user_line():
    x = T.matrix("x")
    known = tensor("float64", shape=(4, 5), name="known")
    cases = [
        (IndexError, "index 4 is out of bounds for axis 0 with size 4", lambda: known[[0, 4]]),
        (IndexError, "index -6 is out of bounds for axis 1 with size 5", lambda: known[[0], [-6]]),
        (IndexError, "index 7 is out of bounds for axis 1 with size 5", lambda: known[[0], 7]),
        (IndexError, "boolean index did not match indexed tensor along axis 1; size of axis is 5 but size "
                     "of corresponding boolean axis is 3", lambda: known[:, np.ones(3, bool)]),
        (IndexError, r"could not be broadcast together with shapes \(2,\) \(3,\)", lambda: x[[0, 1], [0, 1, 2]]),
        (IndexError, "too many indices for tensor x: it is 2-dimensional, but 3", lambda: x[M45, 0]),
        (TypeError, "has dtype float64; indices must be integers", lambda: x[[0.5, 1.0]]),
        (TypeError, "has dtype float64; indices must be integers", lambda: x[T.vector("fv")]),
        (IndexError, "index 4 is out of bounds", lambda: T.set_subtensor(known[[4]], 0.0)),
        (TypeError, "trying to increment a 1-d subtensor with a 2-d value",
         lambda: T.inc_subtensor(x[[0, 1], 0], x)),
        (ValueError, r"y of shape \(3,\) does not broadcast to the indexed shape \(2,\)",
         lambda: T.inc_subtensor(x[[0, 1], 0], np.ones(3))),
        (TypeError, "cannot be cast to x's dtype int64", lambda: T.set_subtensor(T.lmatrix()[[0]], 0.5)),
    ]
    for err, msg, build in cases:
        with pytest.raises(err, match=msg) as info:
            build()
        assert HERE in str(info.value), str(info.value)


def test_symbolic_scalar_entry_counts_as_advanced_for_placement(mode, rng):
    """An integer scalar input in an advanced index is an advanced index (numpy): here it is
    apart from the array, so the index dims come first."""
    x, iv, i = T.tensor4("x"), T.lvector("iv"), T.lscalar("i")
    out = AdvancedSubtensor([slice(None), "array", slice(None), "?"])(x, iv, i)
    value = rand(rng, (2,) + SHAPE)
    got = run(mode, [x, iv, i], out, value, np.array([0, 3, 1]), -2)
    expected = value[:, [0, 3, 1], :, -2]
    assert got.shape == expected.shape == (3, 2, 5)
    np.testing.assert_array_equal(got, expected)
    check_infer_shape(mode, [x, iv, i], out, [value, np.array([0, 3, 1]), -2], got.shape)


def test_op_identity_and_str():
    x = T.matrix("x")
    a, b = x[[0, 1], 1:].owner.op, x[[1, 0], 1:].owner.op
    assert a == b and hash(a) == hash(b)  # the arrays are inputs, not props
    assert str(a) == "AdvancedSubtensor{array, 1:}"
    assert str(T.set_subtensor(x[[0]], 1.0).owner.op) == "AdvancedIncSubtensor{array, set_instead_of_inc}"


# --- set_subtensor / inc_subtensor -------------------------------------------------------------
INC_INDICES = ["list", "middle", "adjacent-pair", "non-adjacent", "int-then-array-apart",
               "broadcast-arrays", "mask", "mask-2d", "mask-and-array", "newaxis-between", "empty-list"]


def _numpy_update(x, index, y, set_):
    out = x.copy()
    if set_:
        out[index] = y
    else:
        np.add.at(out, index, y)
    return out


@pytest.mark.parametrize("set_", [False, True], ids=["inc", "set"])
@pytest.mark.parametrize("name", INC_INDICES)
def test_set_and_inc_match_numpy(mode, rng, name, set_):
    fn = T.set_subtensor if set_ else T.inc_subtensor
    index = ADV_INDICES[name]
    sym_index, inputs, ivalues = _symbolic(index)
    sub_shape = np.zeros(SHAPE)[_np(index)].shape
    for dtype in DTYPES:
        x = T.tensor3("x", dtype=dtype)
        y = tensor(dtype, shape=(None,) * len(sub_shape), name="y")
        for idx, ins, vals in [(index, [], []), (sym_index, inputs, ivalues)]:
            out = fn(x[idx], y)
            assert isinstance(out.owner.op, AdvancedIncSubtensor) and out.type.shape == x.type.shape
            f = T.function([x, y] + ins, out, mode=mode)
            for _, xv in layouts(rng, SHAPE, dtype)[:2]:
                yv = rand(rng, sub_shape, dtype)
                yv = noncontiguous(yv) if yv.ndim else yv
                before = [xv.copy(), yv.copy()]
                got = f(xv, yv, *vals)
                assert got.dtype == dtype
                np.testing.assert_array_equal(got, _numpy_update(xv, _np(index), yv, set_))
                assert_unchanged(before, [xv, yv])
        check_infer_shape(mode, [x, y] + ins, out, [xv, yv] + vals, SHAPE)


def test_inc_accumulates_over_repeated_indices(mode, rng):
    x, y, iv = T.matrix("x"), T.vector("y"), T.lvector("iv")
    xv, yv = rand(rng, (4, 5)), rand(rng, (5,))
    idx = np.array([1, 3, 1, 1, -3])
    got = run(mode, [x, y, iv], T.inc_subtensor(x[iv], y), xv, yv, idx)
    expected = xv.copy()
    expected[1] += 4 * yv  # -3 is row 1 too
    expected[3] += yv
    np.testing.assert_allclose(got, expected)
    got = run(mode, [x, iv], T.inc_subtensor(x[iv, iv], 1.0), xv, idx)
    expected = xv.copy()
    expected[1, 1] += 3
    expected[1, 2] += 1  # (-3, -3) is (1, 2)
    expected[3, 3] += 1
    np.testing.assert_allclose(got, expected)
    # a set writes each repeated position once (numpy's assignment)
    got = run(mode, [x, iv], T.set_subtensor(x[iv, 0], 7.0), xv, idx)
    expected = xv.copy()
    expected[[1, 3], 0] = 7.0
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("set_", [False, True], ids=["inc", "set"])
def test_set_and_inc_broadcast_y(mode, rng, set_):
    fn = T.set_subtensor if set_ else T.inc_subtensor
    x = T.tensor3("x")
    xv = rand(rng, SHAPE)
    index = ([0, 2, 0], slice(1, 3))  # sub shape (3, 2, 6)
    for y, yv in [(-1.5, None), (T.dscalar("y"), rand(rng, ())), (T.vector("y"), rand(rng, (6,))),
                  (T.col("y"), rand(rng, (2, 1))), (tensor("float64", (True, False, False), "y"),
                                                    rand(rng, (1, 2, 6)))]:
        out = fn(x[index], y)
        inputs, values = ([x], [xv]) if yv is None else ([x, y], [xv, yv])
        got = run(mode, inputs, out, *values)
        np.testing.assert_allclose(got, _numpy_update(xv, _np(index), -1.5 if yv is None else yv, set_))


def test_set_and_inc_on_zero_size(mode, rng):
    x, y, iv = T.matrix("x"), T.matrix("y"), T.lvector("iv")
    empty = np.zeros((0, 5))
    got = run(mode, [x, y, iv], T.inc_subtensor(x[iv], y), empty, np.zeros((0, 5)), np.zeros(0, "int64"))
    assert got.shape == (0, 5)
    got = run(mode, [x], T.set_subtensor(x[x > 0], 1.0), empty)
    assert got.shape == (0, 5)
    xv = rand(rng, (3, 5))
    got = run(mode, [x, iv], T.set_subtensor(x[:, iv], 1.0), xv, np.zeros(0, "int64"))
    np.testing.assert_array_equal(got, xv)


def test_set_with_a_symbolic_mask(mode, rng):
    x = T.matrix("x")
    xv = rand(rng, (4, 5))
    np.testing.assert_array_equal(run(mode, [x], T.set_subtensor(x[x < 0], 0.0), xv), np.maximum(xv, 0))
    got = run(mode, [x], T.inc_subtensor(x[x < 0], x[x < 0]), xv)
    np.testing.assert_allclose(got, np.where(xv < 0, 2 * xv, xv))


def test_runtime_y_shape_errors(mode, rng):
    x, y, iv = T.matrix("x"), T.vector("y"), T.lvector("iv")
    f = T.function([x, y, iv], T.set_subtensor(x[iv, 0], y), mode=mode)
    with pytest.raises(ValueError, match=r"y of shape \(2,\) does not match the indexed shape \(3,\)"):
        f(rand(rng, (4, 5)), rand(rng, (2,)), np.array([0, 1, 2]))


# --- derivatives -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["list", "2d-array", "non-adjacent", "int-next-to-array", "broadcast-arrays",
                                  "mask", "mask-middle", "mask-and-array", "newaxis-around"])
def test_getitem_verify_grad(rng, name):
    index = ADV_INDICES[name]
    verify_grad(lambda a: a[index], [rand(rng, SHAPE)], rng=rng)


def test_getitem_grad_accumulates_repeated_indices(mode, rng):
    x = T.matrix("x")
    g = T.grad(x[[0, 2, 0, 0]].sum(), x)
    expected = np.zeros((3, 4))
    expected[0], expected[2] = 3, 1
    np.testing.assert_array_equal(run(mode, [x], g, rand(rng, (3, 4))), expected)


@pytest.mark.parametrize("set_", [False, True], ids=["inc", "set"])
@pytest.mark.parametrize("index,xshape,yshape", [
    (([3, 0, 1],), (4, 5), (3, 5)),
    (([0, 3], slice(None), [1, 2]), (4, 3, 5), (2, 3)),
    ((M4[:3],), (3, 4, 5), (2, 4, 5)),
    ((slice(None), [4, 0]), (3, 5), (2,)),
], ids=["rows", "non-adjacent", "mask", "broadcast-y"])
def test_set_and_inc_verify_grad_wrt_x_and_y(rng, set_, index, xshape, yshape):
    fn = T.set_subtensor if set_ else T.inc_subtensor
    verify_grad(lambda a, b: fn(a[index], b), [rand(rng, xshape), rand(rng, yshape)], rng=rng)


def test_inc_verify_grad_with_repeated_indices(rng):
    verify_grad(lambda a, b: T.inc_subtensor(a[[1, 1, 0], 2:], b), [rand(rng, (3, 4)), rand(rng, (3, 2))],
                rng=rng)


@pytest.mark.parametrize("index,yshape", [(([1, 1, 0, 1], slice(2, None)), (4, 2)),
                                          (([1, 1, 0, 1], [0, 0, 2, 0]), ()),
                                          ((slice(None), [2, 0, 2]), (3,))],
                         ids=["rows", "points-scalar-y", "columns-broadcast-y"])
def test_set_verify_grad_with_repeated_indices(rng, index, yshape):
    """A y element overwritten by a later one at the same position gets no gradient."""
    verify_grad(lambda a, b: T.set_subtensor(a[index], b), [rand(rng, (3, 4)), rand(rng, yshape)], rng=rng)


def test_set_grad_wrt_y_skips_overwritten_elements(mode):
    x, y, iv = T.matrix("x"), T.vector("y"), T.lvector("iv")
    out = T.set_subtensor(x[iv, 1], y)
    g = T.grad((out ** 2).sum(), y)
    got = run(mode, [x, y, iv], g, np.ones((3, 4)), np.array([1.0, 2.0, 3.0, 4.0]), np.array([0, 2, 0, -3]))
    np.testing.assert_allclose(got, [0.0, 4.0, 0.0, 8.0])  # rows 0, 2, 0, 0: only the last write counts


def test_rop(mode, rng):
    x, vx, y, vy = T.matrix("x"), T.matrix("vx"), T.vector("y"), T.vector("vy")
    xv, vxv, yv, vyv = rand(rng, (3, 4)), rand(rng, (3, 4)), rand(rng, (4,)), rand(rng, (4,))
    got = run(mode, [x, vx], T.Rop(x[[2, 0, 2], ::-1], x, vx), xv, vxv)
    np.testing.assert_array_equal(got, vxv[[2, 0, 2], ::-1])
    out = T.inc_subtensor(x[[1, 1]], y)
    got = run(mode, [x, vx, y, vy], T.Rop(out, [x, y], [vx, vy]), xv, vxv, yv, vyv)
    np.testing.assert_allclose(got, _numpy_update(vxv, [1, 1], vyv, False))
    got = run(mode, [x, vx, y, vy], T.Rop(T.set_subtensor(x[[0, 2]], y), [x, y], [vx, vy]), xv, vxv, yv, vyv)
    np.testing.assert_allclose(got, _numpy_update(vxv, [0, 2], vyv, True))


# --- batching rules ---------------------------------------------------------------------------
def _vectorized(out, batched):
    return out.owner.op.vectorize_node(out.owner, *batched)[0]


BATCH_INDICES = ["list", "adjacent-pair", "non-adjacent", "int-then-array-apart", "mask", "newaxis-between"]


@pytest.mark.parametrize("name", BATCH_INDICES)
def test_advanced_subtensor_batching_rule(mode, rng, name):
    index = _np(ADV_INDICES[name])
    x, xb = T.tensor3("x"), T.tensor4("xb")
    xbv = rand(rng, (2,) + SHAPE)
    out = x[index]
    got = run(mode, [xb], _vectorized(out, [xb] + out.owner.inputs[1:]), xbv)
    np.testing.assert_array_equal(got, np.stack([v[index] for v in xbv]))


@pytest.mark.parametrize("set_", [False, True], ids=["inc", "set"])
@pytest.mark.parametrize("batched", ["x", "y", "both"])
@pytest.mark.parametrize("name", BATCH_INDICES)
def test_advanced_inc_subtensor_batching_rule(mode, rng, name, batched, set_):
    fn = T.set_subtensor if set_ else T.inc_subtensor
    index = _np(ADV_INDICES[name])
    sub_shape = np.zeros(SHAPE)[index].shape
    x = T.tensor3("x")
    y = tensor("float64", shape=(None,) * len(sub_shape), name="y")
    out = fn(x[index], y)
    xv = rand(rng, (2,) + SHAPE) if batched != "y" else rand(rng, SHAPE)
    yv = rand(rng, (2,) + sub_shape) if batched != "x" else rand(rng, sub_shape)
    xin = T.tensor4("xb") if xv.ndim == 4 else x
    yin = tensor("float64", shape=(None,) * yv.ndim, name="yb") if yv.ndim > len(sub_shape) else y
    got = run(mode, [xin, yin], _vectorized(out, [xin, yin] + out.owner.inputs[2:]), xv, yv)
    expected = [_numpy_update(xv[b] if xv.ndim == 4 else xv, index, yv[b] if yv.ndim > len(sub_shape) else yv,
                              set_) for b in range(2)]
    np.testing.assert_allclose(got, np.stack(expected))


def test_batching_over_an_index_array_is_refused():
    x, iv, ib = T.matrix("x"), T.lvector("iv"), T.lmatrix("ib")
    with pytest.raises(NotImplementedError, match="batching over the index inputs"):
        _vectorized(x[iv], [x, ib])


# --- take ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("tmode", ["raise", "wrap", "clip"])
def test_take_matches_numpy(mode, rng, axis, tmode):
    indices = np.array([[0, -1], [2, 2]]) if tmode == "raise" else np.array([[-7, 12], [3, 0]])
    for dtype in DTYPES:
        a = T.tensor3("a", dtype=dtype)
        iv = T.lmatrix("iv")
        for _, value in layouts(rng, (3, 4, 5), dtype)[:2]:
            expected = np.take(value, indices, axis=axis, mode=tmode)
            np.testing.assert_array_equal(run(mode, [a], T.take(a, indices, axis=axis, mode=tmode), value),
                                          expected)
            got = run(mode, [a, iv], T.take(a, iv, axis=axis, mode=tmode), value, indices)
            np.testing.assert_array_equal(got, expected)
            assert got.dtype == dtype


def test_take_scalar_list_bool_and_empty_indices(mode, rng):
    a, i = T.matrix("a"), T.lscalar("i")
    value = rand(rng, (3, 4))
    np.testing.assert_array_equal(run(mode, [a], T.take(a, 2, axis=1), value), np.take(value, 2, axis=1))
    np.testing.assert_array_equal(run(mode, [a, i], T.take(a, i), value, 7), np.take(value, 7))
    np.testing.assert_array_equal(run(mode, [a], T.take(a, [1, 0, 1], axis=0), value), value[[1, 0, 1]])
    np.testing.assert_array_equal(run(mode, [a], T.take(a, np.array([True, False]), axis=1), value),
                                  np.take(value, np.array([True, False]), axis=1))
    assert run(mode, [a], T.take(a, [], axis=1), value).shape == (3, 0)
    np.testing.assert_array_equal(run(mode, [a, i], T.take(a, [i, 0], axis=0), value, 2), value[[2, 0]])


def test_take_errors():
    a = T.matrix("a")
    cases = [(ValueError, "axis 2 is out of range for a 2-d tensor", lambda: T.take(a, [0], axis=2)),
             (TypeError, "axis must be an int or None", lambda: T.take(a, [0], axis=1.0)),
             (TypeError, "have dtype float64; expected integers", lambda: T.take(a, [0.5])),
             (ValueError, "mode must be 'raise', 'wrap' or 'clip'", lambda: T.take(a, [0], mode="bad"))]
    for err, msg, build in cases:
        with pytest.raises(err, match=msg) as info:
            build()
        assert HERE in str(info.value), str(info.value)


def test_take_runtime_out_of_bounds(mode, rng):
    a, iv = T.matrix("a"), T.lvector("iv")
    with pytest.raises(IndexError, match="index 4 is out of bounds for axis 1 with size 4"):
        run(mode, [a, iv], T.take(a, iv, axis=1), rand(rng, (3, 4)), np.array([0, 4]))


def test_take_verify_grad(rng):
    verify_grad(lambda a: T.take(a, [[1, 1], [0, -1]], axis=1), [rand(rng, (2, 3, 2))], rng=rng)
    verify_grad(lambda a: T.take(a, [5, 0, 5]), [rand(rng, (2, 3))], rng=rng)


def test_theano_subtensor1_helpers(mode, rng):
    x, y, iv = T.matrix("x"), T.matrix("y"), T.lvector("iv")
    xv, yv, idx = rand(rng, (4, 3)), rand(rng, (3, 3)), np.array([2, 0, 2])
    np.testing.assert_array_equal(run(mode, [x, iv], T.advanced_subtensor1(x, iv), xv, idx), xv[idx])
    got = run(mode, [x, y, iv], T.advanced_inc_subtensor1(x, y, iv), xv, yv, idx)
    np.testing.assert_allclose(got, _numpy_update(xv, idx, yv, False))
    got = run(mode, [x, y, iv], T.advanced_set_subtensor1(x, y, iv), xv, yv, idx)
    np.testing.assert_array_equal(got, _numpy_update(xv, idx, yv, True))
