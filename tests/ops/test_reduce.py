"""Reductions (sum prod mean var std max min argmax argmin all any, max_and_argmax, norm)
against numpy, in every mode: every axis form, keepdims, dtypes, layouts, NaN, zero-size
inputs, gradients, R_op, batching rules and build-time errors.

Where Theano and numpy differ, the test says which one is followed:
- argmax/argmin over a tuple of axes: Theano's extension (numpy accepts only one axis); the
  result is the flat index over those axes, as numpy's argmax of the array with the reduced
  axes moved last and merged.
- ``acc_dtype``: Theano's meaning (the accumulator; the output keeps the default dtype).
- ``var(corrected=True)``: Theano's spelling of ``ddof=1``.
Everything else (output dtypes, NaN, empty inputs) follows numpy.
"""
import warnings

import numpy as np
import pytest

import symtensor as T
from symtensor.grad import verify_grad
from symtensor.graph.type import TensorType
from symtensor.ops.reduce import Argmax, CAReduce, normalize_axis
from tests.helpers import assert_unchanged, check_infer_shape, noncontiguous, rand, run, tol

NAMES = ["sum", "prod", "mean", "var", "std", "max", "min", "all", "any"]
ARGS = ["argmax", "argmin"]
# axis forms for a 3-d input: None, ints, negative ints, tuples (unsorted, with negatives), empty
AXES = [None, 0, 1, 2, -1, -3, (0, 2), (2, 0), (-1, 1), (0, 1, 2), [1], ()]
INT_DTYPES = ["int8", "int32", "int64", "uint8"]
ALL_DTYPES = ["float32", "float64"] + INT_DTYPES + ["bool"]


def np_axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def np_arg(name, a, axis, keepdims=False):
    """numpy reference for argmax/argmin, extended to several axes (flat index over them)."""
    fn = getattr(np, name)
    axes = tuple(range(a.ndim)) if axis is None else normalize_axis(axis, a.ndim)
    keep = [i for i in range(a.ndim) if i not in axes]
    moved = np.transpose(a, keep + list(axes))
    flat = moved.reshape([a.shape[i] for i in keep] + [int(np.prod([a.shape[i] for i in axes]))])
    out = fn(flat, axis=-1)
    if keepdims:
        out = np.expand_dims(out, axes)
    return out


def np_ref(name, a, axis=None, keepdims=False, **kw):
    """numpy's result for reduction ``name``."""
    if name in ARGS:
        return np_arg(name, a, axis, keepdims)
    return getattr(np, name)(a, axis=np_axis(axis), keepdims=keepdims, **kw)


def assert_matches(got, expected, dtype):
    """Same dtype, same shape and values equal to rounding (exactly for ints and bools)."""
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    if got.dtype.kind == "f":
        np.testing.assert_allclose(got, expected, **tol(got.dtype if np.dtype(dtype).kind != "f" else dtype))
    else:
        np.testing.assert_array_equal(got, expected)


# --- values against numpy: every reduction x every axis form x keepdims ------------------------------
@pytest.mark.parametrize("name", NAMES + ARGS)
def test_axis_forms_and_keepdims_match_numpy(mode, rng, name):
    x = T.tensor3("x")
    outs, cases = [], []
    for axis in AXES:
        for keepdims in (False, True):
            out = getattr(T, name)(x, axis=axis, keepdims=keepdims)
            outs.append(out)
            cases.append((axis, keepdims))
    f = T.function([x], outs, mode=mode)
    value = rand(rng, (2, 3, 4))
    for label, a in [("contiguous", value), ("noncontiguous", noncontiguous(value))]:
        before = a.copy()
        got = f(a)
        assert_unchanged([before], [a])
        for (axis, keepdims), g, out in zip(cases, got, outs):
            expected = np_ref(name, a, axis, keepdims)
            assert_matches(g, expected, "float64")
            assert out.ndim == np.ndim(expected), (label, axis, keepdims)
            assert out.dtype == str(np.asarray(expected).dtype)


@pytest.mark.parametrize("name", NAMES + ARGS)
def test_methods_equal_functions(mode, rng, name):
    x = T.tensor3("x")
    a = rand(rng, (3, 2, 4))
    meth = getattr(x, name)(axis=(0, -1), keepdims=True)
    func = getattr(T, name)(x, axis=(0, -1), keepdims=True)
    m_all = getattr(x, name)()
    got_m, got_f, got_all = run(mode, [x], [meth, func, m_all], a)
    np.testing.assert_array_equal(got_m, got_f)
    assert_matches(got_m, np_ref(name, a, (0, -1), True), "float64")
    assert_matches(got_all, np_ref(name, a), "float64")


# --- dtypes ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("name", NAMES + ARGS)
def test_output_dtypes_and_values_follow_numpy(mode, rng, name, dtype):
    x = T.matrix("x", dtype=dtype)
    a = rand(rng, (3, 4), dtype, low=-2, high=3)  # small ints: no overflow in prod
    outs = [getattr(T, name)(x), getattr(T, name)(x, axis=1), getattr(T, name)(x, axis=0, keepdims=True)]
    got = run(mode, [x], outs, a)
    for out, g, (axis, kd) in zip(outs, got, [(None, False), (1, False), (0, True)]):
        expected = np.asarray(np_ref(name, a, axis, kd))
        assert out.dtype == str(expected.dtype), (name, dtype, out.dtype, expected.dtype)
        assert_matches(g, expected, dtype)


@pytest.mark.parametrize("name", ["sum", "prod", "all", "any", "mean"])
def test_empty_axis_tuple_still_converts_dtype(mode, rng, name):
    """``axis=()`` reduces nothing but, as numpy, still gives the reduction's dtype."""
    x = T.matrix("x", dtype="int8")
    a = rand(rng, (2, 3), "int8")
    out = getattr(T, name)(x, axis=())
    expected = np_ref(name, a, ())
    assert out.dtype == str(expected.dtype) != "int8"
    assert_matches(run(mode, [x], out, a), expected, "int8")


def test_scalar_input_reduces_to_numpy_dtype(mode):
    s = T.scalar("s", dtype="int8")
    out = T.sum(s)
    assert out.dtype == "int64"
    got = run(mode, [s], [out, T.max(s), T.all(s)], np.int8(7))
    assert got[0] == 7 and got[0].dtype == np.int64
    assert got[1] == 7 and got[1].dtype == np.int8
    assert got[2].dtype == np.bool_ and bool(got[2])


@pytest.mark.parametrize("name", ["sum", "prod"])
def test_dtype_and_acc_dtype(mode, rng, name):
    x = T.matrix("x", dtype="float32")
    a = rand(rng, (3, 4), "float32")
    with_dtype = getattr(T, name)(x, axis=1, dtype="float64")
    with_acc = getattr(T, name)(x, axis=1, acc_dtype="float64")  # Theano: the output stays float32
    with_floatx = getattr(T, name)(x, axis=1, dtype="floatX")
    assert with_dtype.dtype == "float64"
    assert with_acc.dtype == "float32"
    assert with_floatx.dtype == T.config.floatX
    got = run(mode, [x], [with_dtype, with_acc], a)
    expected = getattr(np, name)(a.astype("float64"), axis=1)
    np.testing.assert_allclose(got[0], expected, **tol("float64"))
    np.testing.assert_allclose(got[1], expected.astype("float32"), **tol("float32"))
    assert got[1].dtype == np.float32


@pytest.mark.parametrize("fn", [lambda x: T.sum(x, acc_dtype="float32"), lambda x: T.prod(x, acc_dtype="int8"),
                                lambda x: T.mean(x, acc_dtype="float32")])
def test_acc_dtype_losing_precision_is_refused(fn):
    x = T.matrix("x", dtype="float64")
    with pytest.raises(TypeError, match=r"acc_dtype .* would lose precision .* float64"):
        fn(x)


def test_bad_dtype_name_is_refused():
    with pytest.raises(TypeError, match=r"sum: dtype must be a numpy dtype name.*'floot32'"):
        T.sum(T.matrix("x"), dtype="floot32")


def test_mean_dtype_argument(mode, rng):
    x = T.matrix("x", dtype="int32")
    a = rand(rng, (3, 5), "int32")
    out = T.mean(x, axis=0, dtype="float32")
    assert out.dtype == "float32"
    np.testing.assert_allclose(run(mode, [x], out, a), np.mean(a, axis=0, dtype="float32"), **tol("float32"))


def test_mean_float16_accumulates_wider(mode):
    """numpy (and Theano) accumulate float16 means in float32; 3000 ones sum past float16's 2048 step."""
    x = T.vector("x", dtype="float16")
    a = np.full(3001, 1.0, dtype="float16")
    a[0] = 0.5
    got = run(mode, [x], T.mean(x), a)
    assert got.dtype == np.float16
    assert got == np.mean(a)


# --- zero-size and NaN ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_zero_size_inputs_follow_numpy(mode, rng, name):
    x = T.matrix("x")
    a = rand(rng, (0, 3))
    # a non-empty reduced axis of an empty array: an empty result for every reduction
    got_keep = run(mode, [x], getattr(T, name)(x, axis=1), a)
    assert got_keep.shape == (0,)
    out = getattr(T, name)(x, axis=0)
    if name in ("max", "min"):
        with pytest.raises(ValueError, match=rf"cannot take the {name} over a zero-size axis.*\(0, 3\)"):
            run(mode, [x], out, a)
        with pytest.raises(ValueError, match="zero-size axis"):
            run(mode, [x], getattr(T, name)(x), a)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy warns for the mean of an empty slice
        got = run(mode, [x], [out, getattr(T, name)(x)], a)
        expected = [np_ref(name, a, 0), np_ref(name, a)]
    for g, e in zip(got, expected):
        assert_matches(g, e, "float64")
    identity = {"sum": 0, "prod": 1, "all": True, "any": False}
    if name in identity:
        assert got[1] == identity[name]
    else:
        assert np.isnan(got[1])


@pytest.mark.parametrize("name", ARGS)
def test_arg_of_empty_axis_raises_like_numpy(mode, rng, name):
    x = T.matrix("x")
    a = rand(rng, (0, 3))
    with pytest.raises(ValueError, match=r"zero-size axis.*\(0, 3\)"):
        run(mode, [x], getattr(T, name)(x, axis=0), a)
    got = run(mode, [x], getattr(T, name)(x, axis=1), a)
    assert got.shape == (0,) and got.dtype == np.int64


@pytest.mark.parametrize("name", NAMES + ARGS)
def test_nan_handling_follows_numpy(mode, name):
    x = T.matrix("x")
    a = np.array([[1.0, np.nan, 3.0, np.nan], [2.0, -1.0, 5.0, 0.0], [np.nan, 4.0, 4.0, -2.0]])
    outs = [getattr(T, name)(x, axis=1), getattr(T, name)(x, axis=0), getattr(T, name)(x)]
    got = run(mode, [x], outs, a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = [np_ref(name, a, 1), np_ref(name, a, 0), np_ref(name, a)]
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)  # NaN positions equal too
    if name in ("max", "min", "sum", "prod", "mean"):
        assert np.isnan(got[0][0]) and not np.isnan(got[0][1])
    if name in ARGS:
        assert got[0][0] == 1  # the first NaN wins, as numpy


# --- argmax / argmin specifics -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ARGS)
def test_arg_ties_take_the_first_index(mode, name):
    x = T.matrix("x", dtype="int32")
    a = np.array([[3, 1, 3, 1], [2, 2, 2, 2]], dtype="int32")
    got = run(mode, [x], [getattr(T, name)(x, axis=1), getattr(T, name)(x)], a)
    np.testing.assert_array_equal(got[0], getattr(np, name)(a, axis=1))
    assert got[1] == getattr(np, name)(a)


def test_max_and_argmax(mode, rng):
    x = T.tensor3("x")
    a = rand(rng, (2, 3, 4))
    for axis, kd in [(None, False), (1, False), (-1, True), ((0, 2), False)]:
        mx, am = T.max_and_argmax(x, axis=axis, keepdims=kd)
        got_max, got_arg = run(mode, [x], [mx, am], a)
        assert_matches(got_max, np.max(a, axis=np_axis(axis), keepdims=kd), "float64")
        assert_matches(got_arg, np_arg("argmax", a, axis, kd), "float64")


def test_arg_reductions_are_not_differentiable():
    x = T.matrix("x")
    cost = T.cast(T.argmax(x, axis=1), "float64").sum()
    with pytest.raises(Exception, match="does not depend"):
        T.grad(cost, x)
    g = T.grad(cost + x.sum(), x)  # connected through the sum only
    np.testing.assert_array_equal(T.function([x], g)(np.ones((2, 3))), np.ones((2, 3)))


# --- var / std / norm ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std_ddof(mode, rng, name):
    x = T.matrix("x")
    a = rand(rng, (4, 3))
    outs = [getattr(T, name)(x, axis=0, ddof=1), getattr(T, name)(x, axis=1, corrected=True),
            getattr(T, name)(x, ddof=2, keepdims=True), getattr(T, name)(x, axis=0, ddof=4),
            getattr(T, name)(x, axis=0, ddof=5)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = run(mode, [x], outs, a)
        expected = [getattr(np, name)(a, axis=0, ddof=1), getattr(np, name)(a, axis=1, ddof=1),
                    getattr(np, name)(a, ddof=2, keepdims=True), getattr(np, name)(a, axis=0, ddof=4),
                    getattr(np, name)(a, axis=0, ddof=5)]
    for g, e in zip(got, expected):
        assert_matches(g, e, "float64")
    # ddof at or past the count divides by zero (not by a negative number), as numpy
    assert np.all(np.isposinf(got[3])) and np.all(np.isposinf(got[4]))


@pytest.mark.parametrize("ddof", [-1, 1.5, True])
def test_var_bad_ddof(ddof):
    with pytest.raises(ValueError, match=r"var: ddof must be a non-negative int"):
        T.var(T.matrix("x"), ddof=ddof)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_norm_matches_numpy(mode, rng, dtype):
    x = T.matrix("x", dtype=dtype)
    a = rand(rng, (3, 4), dtype)
    cases = [(1, 1), (2, 0), (np.inf, 1), ("inf", None), (3, (0, 1)), (0.5, 1)]
    outs = [T.norm(x, L, axis=axis) for L, axis in cases] + [x.norm(2, axis=1, keepdims=True)]
    got = run(mode, [x], outs, a)
    for (L, axis), g in zip(cases, got):
        p = np.inf if L == "inf" else L
        expected = np.sum(np.abs(a) ** p, axis=axis) ** (1.0 / p) if p != np.inf else np.max(np.abs(a), axis=axis)
        np.testing.assert_allclose(g, expected, **tol(dtype))
    np.testing.assert_allclose(got[-1], np.linalg.norm(a, axis=1, keepdims=True), **tol(dtype))


@pytest.mark.parametrize("L", [0, -2, "fro", None, True])
def test_norm_bad_order(L):
    with pytest.raises(ValueError, match=r"norm: L must be a positive number or inf"):
        T.norm(T.matrix("x"), L)


# --- gradients -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["sum", "prod", "mean", "var", "std", "max", "min"])
@pytest.mark.parametrize("axis, keepdims", [(None, False), (0, True), (-1, False), ((0, 2), False), ((2, 1), True)])
def test_verify_grad(rng, name, axis, keepdims):
    a = rand(rng, (2, 3, 2))
    verify_grad(lambda x: getattr(T, name)(x, axis=axis, keepdims=keepdims), [a], rng=rng)


@pytest.mark.parametrize("axis", [None, 0, 1])
def test_prod_grad_with_zeros(rng, axis):
    """One zero in a slice (the gradient there is the product of the others), two zeros
    (all zero) and none: exact, not NaN."""
    a = rand(rng, (3, 4)) + 0.1
    a[0, 1] = 0.0
    a[1, 0] = a[1, 2] = 0.0
    verify_grad(lambda x: T.prod(x, axis=axis), [a], rng=rng)
    x = T.matrix("x")
    g = T.function([x], T.grad(T.prod(x, axis=1).sum(), x))(a)
    assert g[0, 1] == pytest.approx(np.prod(np.delete(a[0], 1)))
    assert np.all(g[1] == 0)
    np.testing.assert_allclose(g[2], np.prod(a[2]) / a[2])


def test_verify_grad_in_each_mode(mode, rng):
    a = rand(rng, (3, 4))
    verify_grad(lambda x: T.max(x, axis=1) * T.prod(x, axis=1) + T.std(x, axis=1), [a], rng=rng, mode=mode)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_grad_goes_to_every_tied_entry(mode, name):
    """Theano's rule: each entry equal to the extremum receives the output gradient."""
    x = T.matrix("x")
    a = np.array([[1.0, 5.0, 5.0], [-2.0, -2.0, 0.0]])
    g = run(mode, [x], T.grad(getattr(T, name)(x, axis=1).sum(), x), a)
    ext = getattr(np, name)(a, axis=1, keepdims=True)
    np.testing.assert_array_equal(g, (a == ext).astype("float64"))


@pytest.mark.parametrize("name", ["norm1", "norm2", "norm3"])
def test_norm_grad(rng, name):
    a = rand(rng, (3, 4))
    L = int(name[-1])
    verify_grad(lambda x: T.norm(x, L, axis=1), [a], rng=rng)


def test_grad_of_integer_and_boolean_reductions_is_zero(mode, rng):
    x = T.matrix("x")
    ix = T.matrix("ix", dtype="int32")
    g_int = T.grad(T.sum(ix) + T.sum(x), ix)
    assert g_int.dtype[0] == "f"
    cost = T.cast(T.any(T.gt(x, 0)), "float64") + T.cast(T.all(T.gt(x, 0), axis=1), "float64").sum()
    g_bool = T.grad(cost, x, disconnected_inputs="ignore")
    got = run(mode, [x, ix], [g_int, g_bool], rand(rng, (2, 3)), rand(rng, (2, 3), "int32"))
    assert got[0].shape == (2, 3) and not got[0].any()
    assert got[1].shape == (2, 3) and not got[1].any()


# --- R_op (forward mode) ------------------------------------------------------------------------------------
def _fd_directional(f, a, v, eps=1e-6):
    return (f(a + eps * v) - f(a - eps * v)) / (2 * eps)


@pytest.mark.parametrize("name", ["sum", "prod", "mean", "var", "std", "max", "min"])
def test_rop_matches_finite_differences_and_lop(mode, rng, name):
    x, v, u = T.matrix("x"), T.matrix("v"), T.vector("u")
    y = getattr(T, name)(x, axis=1)
    rop = T.Rop(y, x, v)
    lop = T.Lop(y, x, u)
    f = T.function([x, v, u], [y, rop, lop], mode=mode, on_unused_input="ignore")
    a, vv, uu = rand(rng, (3, 4)), rand(rng, (3, 4)), rand(rng, (3,))
    if name == "prod":
        a[0, 2] = 0.0  # the product's tangent is exact with a zero in the slice
    _, got_rop, got_lop = f(a, vv, uu)
    expected = _fd_directional(lambda t: f(t, vv, uu)[0], a, vv)
    np.testing.assert_allclose(got_rop, expected, rtol=1e-6, atol=1e-6)
    # <u, J v> == <J^T u, v>
    assert np.dot(uu, got_rop) == pytest.approx(np.sum(got_lop * vv))


def test_rop_of_sum_over_all_axes(mode, rng):
    x, v = T.tensor3("x"), T.tensor3("v")
    rop = T.Rop(T.sum(x, axis=(0, 2), keepdims=True), x, v)
    vv = rand(rng, (2, 3, 4))
    got = run(mode, [x, v], rop, rand(rng, (2, 3, 4)), vv)
    np.testing.assert_allclose(got, vv.sum(axis=(0, 2), keepdims=True), **tol("float64"))


# --- infer_shape ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["sum", "prod", "max", "min", "all", "any", "argmax", "argmin"])
@pytest.mark.parametrize("axis", [None, 1, -1, (0, 2)])
def test_infer_shape(mode, rng, name, axis):
    x = T.tensor3("x")
    out = getattr(T, name)(x, axis=axis)
    assert isinstance(out.owner.op, (CAReduce, Argmax))
    # zero-size only along a kept axis: max/min/arg* of an empty reduced axis raise instead
    for shape in [(2, 3, 4), (2, 0, 3)] if axis == -1 else [(2, 3, 4)]:
        a = rand(rng, shape)
        check_infer_shape(mode, [x], out, [a], np.asarray(np_ref(name, a, axis)).shape)


def test_static_shapes_and_broadcastable(rng):
    x = TensorType("float64", shape=(2, None, 4))("x")
    assert T.sum(x, axis=1).type.shape == (2, 4)
    assert T.max(x, axis=(0, 2)).type.shape == (None,)
    kd = T.sum(x, axis=(0, 2), keepdims=True)
    assert kd.broadcastable == (True, False, True)
    assert T.argmax(x, axis=-1, keepdims=True).broadcastable == (False, False, True)
    # a static count makes mean's divisor a constant; a dynamic one is read from the shape
    m = T.mean(x, axis=1)
    a = rand(rng, (2, 5, 4))
    np.testing.assert_allclose(T.function([x], [m, T.mean(x, axis=0)])(a)[0], a.mean(axis=1))


# --- batching rules -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", [CAReduce("add", (1,)), CAReduce("maximum", (0, 1)), CAReduce("mul", ()),
                                CAReduce("or", (0,)), Argmax("min", (1,)), Argmax("max", (0, 1))])
def test_batching_rule(mode, rng, op):
    x = T.matrix("x")
    node = op(x).owner
    xb = T.tensor3("xb")
    (out,) = op.vectorize_node(node, xb)
    b = rand(rng, (3, 2, 4))
    single = T.function([x], node.outputs[0])
    got = run(mode, [xb], out, b)
    expected = np.stack([single(s) for s in b])
    np.testing.assert_array_equal(got, expected)
    assert op.vectorize_node(node, x)[0].owner.op == op  # unbatched input: the same op


# --- build-time errors ----------------------------------------------------------------------------------------
BUILDERS = {
    "sum": T.sum, "prod": T.prod, "mean": T.mean, "var": T.var, "std": T.std, "max": T.max, "min": T.min,
    "all": T.all, "any": T.any, "argmax": T.argmax, "argmin": T.argmin,
    "method_sum": lambda x, axis: x.sum(axis=axis), "method_argmax": lambda x, axis: x.argmax(axis=axis),
    "max_and_argmax": T.max_and_argmax, "norm": lambda x, axis: T.norm(x, 2, axis=axis),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
@pytest.mark.parametrize("axis, pattern", [
    (2, r"axis 2 is out of bounds for a 2-d tensor"),
    (-3, r"axis -3 is out of bounds for a 2-d tensor"),
    ((0, 5), r"axis 5 is out of bounds for a 2-d tensor"),
    ((1, 1), r"axis \(1, 1\) repeats axis 1 of a 2-d tensor"),
    ((0, -2), r"axis \(0, -2\) repeats axis 0 of a 2-d tensor"),
])
def test_bad_axis_raises_at_build_time(name, axis, pattern):
    x = T.matrix("x")
    with pytest.raises(ValueError, match=pattern) as err:
        BUILDERS[name](x, axis)
    assert "test_reduce.py" in str(err.value)  # the user's source line is named


@pytest.mark.parametrize("axis", [1.0, "0", True, [0, 1.5], T.iscalar("a")])
def test_non_integer_axis_is_a_type_error(axis):
    x = T.matrix("x")
    with pytest.raises(TypeError, match=r"axis (must be|entries must be)") as err:
        T.sum(x, axis=axis)
    assert "test_reduce.py" in str(err.value)


def test_axis_given_as_numpy_or_constant():
    x = T.tensor3("x")
    assert T.sum(x, axis=np.array([2, 0])).owner.op.axis == (0, 2)
    assert T.sum(x, axis=np.int64(-1)).owner.op.axis == (2,)
    assert T.sum(x, axis=np.array(1)).owner.op.axis == (1,)
    assert T.max(x, axis=T.constant(1)).owner.op.axis == (1,)


def test_scalar_has_no_axis_0():
    with pytest.raises(ValueError, match=r"axis 0 is out of bounds for a 0-d tensor"):
        T.sum(T.scalar("s"), axis=0)


def test_direct_op_construction_errors():
    x = T.matrix("x")
    with pytest.raises(ValueError, match=r"axis must be sorted, distinct and in range 0..1 for a 2-d input"):
        CAReduce("add", (2,))(x)
    with pytest.raises(ValueError, match=r"axis must be sorted"):
        Argmax("max", (1, 0))(x)
    with pytest.raises(ValueError, match=r"unknown reduction 'mean'"):
        CAReduce("mean", (0,))
    with pytest.raises(ValueError, match=r"kind must be 'max' or 'min'"):
        Argmax("sum", (0,))


@pytest.mark.parametrize("name", ["max", "min"])
def test_complex_max_is_refused(name):
    with pytest.raises(TypeError, match=r"complex input is not ordered"):
        getattr(T, name)(T.matrix("z", dtype="complex128"))
