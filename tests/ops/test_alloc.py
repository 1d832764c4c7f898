"""Array-creating ops against numpy, in every mode: alloc, zeros/ones, zeros_like/ones_like,
fill/second, tensor_copy, eye, identity_like and arange."""
import numpy as np
import pytest

import symtensor as T
from symtensor.config import config
from symtensor.grad import verify_grad
from symtensor.ops.alloc import Alloc, ARange, Eye
from tests.helpers import check_infer_shape, layouts, rand, run

ALL_DTYPES = ["float32", "float64", "int32", "int64", "bool"]
THIS_FILE = "test_alloc.py"


def build_error(exc_type, fn, *match):
    """``fn()`` raises ``exc_type`` at graph build time, naming this file's line and ``match``."""
    with pytest.raises(exc_type) as info:
        fn()
    msg = str(info.value)
    assert THIS_FILE in msg, msg
    for m in match:
        assert m in msg, msg


# --- alloc ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_alloc_broadcasts_a_value_to_a_symbolic_shape(mode, rng, dtype):
    v, a, b = T.vector("v", dtype=dtype), T.lscalar("a"), T.iscalar("b")
    out = T.alloc(v, a, b, 4)
    assert isinstance(out.owner.op, Alloc) and out.dtype == dtype and out.type.shape == (None, None, 4)
    for name, value in layouts(rng, (4,), dtype)[:2]:
        for n, m in ((2, 3), (1, 1), (0, 3), (3, 0)):
            got = run(mode, [v, a, b], out, value, n, m)
            want = np.broadcast_to(value, (n, m, 4))
            assert got.dtype == want.dtype and got.shape == want.shape, name
            np.testing.assert_array_equal(got, want)
            assert got.flags.writeable and not np.shares_memory(got, value)


def test_alloc_scalar_and_broadcastable_values(mode, rng):
    s, r, c, a = T.scalar("s"), T.row("r"), T.col("c"), T.lscalar("a")
    sv, rv, cv = np.array(2.5), rand(rng, (1, 4)), rand(rng, (3, 1))
    outs = [T.alloc(s, a, 2), T.alloc(2.5, 2, a), T.alloc(r, a, 3, 4), T.alloc(c, 3, a), T.alloc(s)]
    got = run(mode, [s, r, c, a], outs, sv, rv, cv, 5)
    np.testing.assert_array_equal(got[0], np.full((5, 2), 2.5))
    np.testing.assert_array_equal(got[1], np.full((2, 5), 2.5))
    np.testing.assert_array_equal(got[2], np.broadcast_to(rv, (5, 3, 4)))
    np.testing.assert_array_equal(got[3], np.broadcast_to(cv, (3, 5)))
    assert got[4].shape == () and got[4] == 2.5
    assert T.alloc(2.5, 2, a).dtype == config.floatX
    assert T.alloc(r, 3, 4).type.shape == (3, 4)
    assert T.alloc(s, 1, a).broadcastable == (True, False)


def test_alloc_noncontiguous_value(mode, rng):
    m = T.matrix("m")
    for name, value in layouts(rng, (3, 4)):
        got = run(mode, [m], T.alloc(m, 2, value.shape[0], 4), value)
        np.testing.assert_array_equal(got, np.broadcast_to(value, (2,) + value.shape), err_msg=name)


def test_alloc_run_time_errors(mode, rng):
    v, a = T.vector("v"), T.lscalar("a")
    with pytest.raises(ValueError) as info:
        run(mode, [v, a], T.alloc(v, a, 4), rand(rng, (3,)), 2)
    msg = str(info.value)
    assert "alloc" in msg and "(3,)" in msg and "(2, 4)" in msg, msg
    # a size-1 dimension that is not marked broadcastable does not broadcast (Theano's rule)
    with pytest.raises(ValueError, match="not marked broadcastable"):
        run(mode, [v, a], T.alloc(v, a, 4), rand(rng, (1,)), 2)
    with pytest.raises(ValueError, match="negative dimension"):
        run(mode, [v, a], T.alloc(v, a, 4), rand(rng, (4,)), -1)


def test_alloc_build_errors():
    x = T.matrix("x")
    build_error(ValueError, lambda: T.alloc(x, 3), "2 dimension", "more than the 1")
    build_error(ValueError, lambda: T.alloc(1.0, 3, -1), "negative dimension -1")
    build_error(ValueError, lambda: T.alloc(np.ones(3), 2, 4), "(3,)", "dimension 1 of size 4")
    build_error(TypeError, lambda: T.alloc(1.0, 2.0), "shape entry 0", "integer")
    build_error(TypeError, lambda: T.alloc(1.0, T.lvector("v")), "shape entry 0", "integer scalar")
    build_error(TypeError, lambda: T.alloc(1.0, True), "integer")


def test_alloc_infer_shape(mode, rng):
    v, a = T.vector("v"), T.lscalar("a")
    check_infer_shape(mode, [v, a], T.alloc(v, a, 3, 4), [rand(rng, (4,)), 5], (5, 3, 4))
    check_infer_shape(mode, [v, a], T.alloc(2.0, a), [rand(rng, (4,)), 0], (0,))


def test_alloc_grad():
    rng = np.random.default_rng(0)
    verify_grad(lambda v: T.alloc(v, 3, 4), [rand(rng, (4,))], rng=rng)
    verify_grad(lambda s: T.alloc(s, 2, 3), [np.array(1.5)], rng=rng)
    verify_grad(lambda m: T.alloc(m, 2, 3, 4), [rand(rng, (3, 4))], rng=rng)
    verify_grad(lambda r: T.alloc(T.addbroadcast(r, 0), 3, 4), [rand(rng, (1, 4))], rng=rng)
    verify_grad(lambda c: T.alloc(T.addbroadcast(c, 1), 2, 3, 4), [rand(rng, (3, 1))], rng=rng)


def test_alloc_grad_sums_over_broadcast_axes(mode, rng):
    r, a = T.row("r"), T.lscalar("a")
    g = T.grad((T.alloc(r, a, 3, 4) * 2).sum(), r)
    assert g.broadcastable == (True, False)
    np.testing.assert_allclose(run(mode, [r, a], g, rand(rng, (1, 4)), 5), np.full((1, 4), 30.0))
    i = T.iscalar("i")
    gi = T.grad((T.alloc(i, 2) * r.sum()).sum(), r)  # an int value: no gradient flows into it
    np.testing.assert_allclose(run(mode, [r, i], gi, rand(rng, (1, 4)), 3), np.full((1, 4), 6.0))


def test_alloc_rop_and_batching(mode, rng):
    v, ev, a = T.vector("v"), T.vector("ev"), T.lscalar("a")
    value, tangent = rand(rng, (4,)), rand(rng, (4,))
    got = run(mode, [v, ev, a], T.Rop(T.alloc(v, a, 4), v, ev), value, tangent, 3)
    np.testing.assert_array_equal(got, np.broadcast_to(tangent, (3, 4)))
    out = T.alloc(v, a, 4)
    node = out.owner
    vb = T.matrix("vb")
    batch = rand(rng, (2, 4))
    res = node.op.vectorize_node(node, vb, *node.inputs[1:])[0]
    got = run(mode, [vb, a], res, batch, 3)
    np.testing.assert_array_equal(got, np.broadcast_to(batch[:, None, :], (2, 3, 4)))
    with pytest.raises(NotImplementedError):
        node.op.vectorize_node(node, v, T.lvector("ab"), node.inputs[2])


# --- zeros / ones / zeros_like / ones_like ---------------------------------------------------------
@pytest.mark.parametrize("dtype", [None] + ALL_DTYPES + ["int8", "uint8"])
def test_zeros_and_ones_match_numpy(mode, dtype):
    a = T.lscalar("a")
    want_dtype = np.dtype(dtype or config.floatX)
    for maker, ref in ((T.zeros, np.zeros), (T.ones, np.ones)):
        outs = [maker((2, 3), dtype), maker(4, dtype), maker((a, 3), dtype), maker([], dtype),
                maker(np.array([2, 1]), dtype)]
        got = run(mode, [a], outs, 5)
        wants = [ref((2, 3), want_dtype), ref(4, want_dtype), ref((5, 3), want_dtype), ref((), want_dtype),
                 ref((2, 1), want_dtype)]
        for o, g, w in zip(outs, got, wants):
            assert o.dtype == w.dtype and g.dtype == w.dtype and g.shape == w.shape
            np.testing.assert_array_equal(g, w)


def test_zeros_from_a_shape_vector(mode, rng):
    x = T.tensor3("x")
    value = rand(rng, (2, 3, 4))
    got = run(mode, [x], [T.zeros(x.shape), T.ones(x.shape[1:], dtype="int32")], value)
    np.testing.assert_array_equal(got[0], np.zeros((2, 3, 4)))
    np.testing.assert_array_equal(got[1], np.ones((3, 4), dtype="int32"))
    assert got[1].dtype == np.int32
    check_infer_shape(mode, [x], T.zeros(x.shape), [value], (2, 3, 4))
    with pytest.raises(ValueError, match="known length"):
        T.zeros(T.lvector("shp"))


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_zeros_like_and_ones_like(mode, rng, dtype):
    x = T.matrix("x", dtype=dtype)
    outs = [T.zeros_like(x), T.ones_like(x), x.zeros_like(), x.ones_like(dtype="float32"),
            T.zeros_like(x, dtype="int8")]
    for name, value in layouts(rng, (3, 4), dtype):
        got = run(mode, [x], outs, value)
        wants = [np.zeros_like(value), np.ones_like(value), np.zeros_like(value),
                 np.ones_like(value, dtype="float32"), np.zeros_like(value, dtype="int8")]
        for o, g, w in zip(outs, got, wants):
            assert o.dtype == w.dtype and g.dtype == w.dtype, (name, o)
            np.testing.assert_array_equal(g, w, err_msg=name)
    value = rand(rng, (3, 4), dtype)
    check_infer_shape(mode, [x], outs[0], [value], (3, 4))


def test_zeros_like_grad():
    rng = np.random.default_rng(1)
    verify_grad(lambda x: T.zeros_like(x) + x * T.ones_like(x), [rand(rng, (3, 4))], rng=rng)


# --- fill / second / tensor_copy ------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64"])
def test_fill_and_second_match_numpy(mode, rng, dtype):
    m, v, s = T.matrix("m"), T.vector("v", dtype=dtype), T.scalar("s", dtype=dtype)
    outs = [T.fill(m, s), T.second(m, v), T.fill(m, v), T.second(m, s)]
    for name, mv in layouts(rng, (3, 4)):
        vv, sv = rand(rng, (4,), dtype), rand(rng, (), dtype)
        got = run(mode, [m, v, s], outs, mv, vv, sv)
        wants = [np.full(mv.shape, sv, dtype=dtype), np.broadcast_to(vv, mv.shape),
                 np.broadcast_to(vv, mv.shape), np.full(mv.shape, sv, dtype=dtype)]
        for o, g, w in zip(outs, got, wants):
            assert o.dtype == dtype and g.dtype == np.dtype(dtype), name  # the value's dtype
            np.testing.assert_array_equal(g, w, err_msg=name)
    check_infer_shape(mode, [m, v, s], outs[0], [rand(rng, (3, 4)), rand(rng, (4,), dtype),
                                                 rand(rng, (), dtype)], (3, 4))


def test_fill_grad_and_bad_shapes(mode, rng):
    if mode == "FAST_COMPILE":
        vrng = np.random.default_rng(2)
        verify_grad(lambda m, s: T.fill(m, s), [rand(rng, (3, 4)), np.array(2.0)], rng=vrng)
        verify_grad(lambda m, v: T.second(m, v), [rand(rng, (3, 4)), rand(rng, (4,))], rng=vrng)
    m, v = T.matrix("m"), T.vector("v")
    with pytest.raises(ValueError):
        run(mode, [m, v], T.fill(m, v), rand(rng, (3, 4)), rand(rng, (5,)))


def test_tensor_copy_is_a_fresh_array(mode, rng):
    x = T.matrix("x")
    for name, value in layouts(rng, (3, 4)):
        before = value.copy()
        got = run(mode, [x], T.tensor_copy(x), value)
        np.testing.assert_array_equal(got, value, err_msg=name)
        assert not np.shares_memory(got, value)
        got[...] = 7
        np.testing.assert_array_equal(value, before)
    if mode == "FAST_COMPILE":
        verify_grad(T.tensor_copy, [rand(rng, (3, 4))], rng=np.random.default_rng(3))


# --- eye / identity_like ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [None] + ALL_DTYPES)
def test_eye_matches_numpy(mode, dtype):
    n, m, k = T.lscalar("n"), T.lscalar("m"), T.iscalar("k")
    out = T.eye(n, m, k, dtype=dtype)
    want_dtype = np.dtype(dtype or config.floatX)
    assert isinstance(out.owner.op, Eye) and out.dtype == want_dtype
    for args in ((3, 3, 0), (3, 5, 1), (4, 2, -1), (3, 4, 7), (3, 4, -7), (0, 3, 0), (2, 0, 0)):
        got = run(mode, [n, m, k], out, *args)
        want = np.eye(*args, dtype=want_dtype)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want, err_msg=str(args))
    check_infer_shape(mode, [n, m, k], out, [3, 5, 1], (3, 5))


def test_eye_constant_forms(mode):
    outs = [T.eye(3), T.eye(2, 4), T.eye(4, k=-1), T.eye(3, None, 1, dtype="int32")]
    got = run(mode, [], outs)
    wants = [np.eye(3), np.eye(2, 4), np.eye(4, k=-1), np.eye(3, k=1, dtype="int32")]
    for o, g, w in zip(outs, got, wants):
        np.testing.assert_array_equal(g, w)
        assert g.dtype == w.dtype
    assert T.eye(2, 4).type.shape == (2, 4)


def test_eye_errors(mode):
    n = T.lscalar("n")
    build_error(ValueError, lambda: T.eye(-1), "n must be >= 0", "-1")
    build_error(ValueError, lambda: T.eye(2, -3), "m must be >= 0")
    build_error(TypeError, lambda: T.eye(3.0), "eye: n", "integer")
    build_error(TypeError, lambda: T.eye(3, k=0.5), "eye: k", "integer")
    with pytest.raises(ValueError, match="must be >= 0"):
        run(mode, [n], T.eye(n), -2)


def test_identity_like(mode, rng):
    x = T.matrix("x", dtype="int32")
    for name, value in layouts(rng, (3, 4), "int32"):
        got = run(mode, [x], T.identity_like(x), value)
        want = np.eye(*value.shape, dtype="int32")
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want, err_msg=name)
    build_error(TypeError, lambda: T.identity_like(T.vector("v")), "expected a matrix", "1 dimension")


def test_eye_has_no_gradient_into_its_sizes(mode):
    s = T.scalar("s")
    g = T.grad((T.eye(3) * s).sum(), s)
    assert float(run(mode, [s], g, 2.0)) == 3.0


# --- arange ----------------------------------------------------------------------------------------
ARANGE_CASES = [(5,), (0,), (-3,), (2, 9), (9, 2), (1, 10, 3), (10, 1, -3), (-5, 5, 2), (3, 3, 1)]


def test_arange_constant_ints_match_numpy(mode):
    outs = [T.arange(*args) for args in ARANGE_CASES]
    for args, o, g in zip(ARANGE_CASES, outs, run(mode, [], outs)):
        want = np.arange(*args)
        assert o.dtype == "int64" and o.type.shape == want.shape, args
        np.testing.assert_array_equal(g, want)
        assert g.dtype == want.dtype


def test_arange_constant_floats_match_numpy(mode):
    cases = [(0.0, 1.0, 0.25), (0.5, 3), (1.0, -1.0, -0.3), (2.5,), (0, 1, 0.1)]
    outs = [T.arange(*args) for args in cases]
    for args, o, g in zip(cases, outs, run(mode, [], outs)):
        want = np.arange(*args)
        assert o.dtype == config.floatX and o.type.shape == want.shape, args
        np.testing.assert_allclose(g, want, rtol=1e-12)


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint16", "float32", "float64"])
def test_arange_explicit_dtype(mode, dtype):
    a = T.lscalar("a")
    out = T.arange(1, a, 2, dtype=dtype)
    assert out.dtype == dtype
    got = run(mode, [a], out, 10)
    want = np.arange(1, 10, 2, dtype=dtype)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint8", "float32", "float64"])
def test_arange_symbolic_inputs_and_dtype_rule(mode, dtype):
    """Theano's rule: the upcast of the inputs, integers widened to int64 (uint64)."""
    start, stop, step = (T.scalar(n, dtype=dtype) for n in ("start", "stop", "step"))
    want_dtype = {"i": "int64", "u": "uint64", "f": dtype}[np.dtype(dtype).kind]
    out = T.arange(start, stop, step)
    assert out.dtype == want_dtype and out.type.shape == (None,)
    assert T.arange(stop).dtype == want_dtype  # Python 0 and 1 do not widen a float32 stop
    cases = [(1, 9, 2), (9, 1, -3), (2, 2, 1)] if dtype[0] != "u" else [(1, 9, 2), (2, 2, 1)]
    for args in cases:
        vals = [np.array(v, dtype=dtype) for v in args]
        got = run(mode, [start, stop, step], out, *vals)
        want = np.arange(*args, dtype=want_dtype)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
        check_infer_shape(mode, [start, stop, step], out, vals, want.shape)


def test_arange_mixed_and_float_steps(mode):
    n, x = T.lscalar("n"), T.dscalar("x")
    out = T.arange(0.5, n)
    assert out.dtype == "float64"
    np.testing.assert_array_equal(run(mode, [n], out, 4), np.arange(0.5, 4))
    out = T.arange(0, x, 0.1)
    for stop in (1.0, 0.35, -1.0):
        want = np.arange(0, stop, 0.1)
        np.testing.assert_allclose(run(mode, [x], out, stop), want, rtol=1e-12)
        check_infer_shape(mode, [x], out, [stop], want.shape)


@pytest.mark.parametrize("args", ARANGE_CASES)
def test_arange_infer_shape(mode, args):
    a, b, c = T.lscalar("a"), T.lscalar("b"), T.lscalar("c")
    full = {1: (0,) + args + (1,), 2: args + (1,), 3: args}[len(args)]
    check_infer_shape(mode, [a, b, c], T.arange(a, b, c), list(full), np.arange(*full).shape)


def test_arange_infer_shape_is_exact_for_large_ints(mode):
    a, b = T.lscalar("a"), T.lscalar("b")
    big = 2**53 + 1  # not representable in float64: a float length formula would be off
    check_infer_shape(mode, [a, b], T.arange(a, b), [big - 5, big], (5,))
    assert T.arange(big - 5, big).type.shape == (5,)
    assert T.arange(0, 10**12, 10**6).type.shape == (10**6,)  # no array is built at build time


def test_arange_errors(mode):
    a, v = T.lscalar("a"), T.vector("v")
    build_error(ValueError, lambda: T.arange(0, 5, 0), "step must not be zero")
    build_error(TypeError, lambda: T.arange(v), "stop must be a scalar")
    build_error(TypeError, lambda: T.arange(T.cscalar("z")), "real number")
    with pytest.raises(ValueError, match="step must not be zero"):
        run(mode, [a], T.arange(0, 5, a), 0)


def test_arange_grad():
    """Theano's rule: out = start + i * step; stop only sets the length."""
    rng = np.random.default_rng(4)
    verify_grad(lambda start, step: T.arange(start, 5.0, step), [np.array(0.3), np.array(0.7)], rng=rng)
    verify_grad(lambda start: T.arange(start, 2.0) ** 2, [np.array(-1.2)], rng=rng)
    x = T.dscalar("x")
    g_start, g_step = T.grad(T.arange(x, 10.0, x).sum(), [x, x])
    # out = x + i * x for i = 0..n-1 with n = ceil((10 - x) / x): d/dx = n + sum(i)
    n = int(np.ceil((10 - 2.0) / 2.0))
    assert float(T.function([x], g_start)(2.0)) == n + n * (n - 1) / 2
    stop = T.dscalar("stop")
    with pytest.raises(Exception, match="does not depend"):
        T.grad(T.arange(0.0, stop).sum(), stop)
    # an integer arange carries no gradient into its float inputs
    s = T.dscalar("s")
    gi = T.grad(T.arange(s, 5.0, dtype="int64").sum() * s, s)
    assert float(T.function([s], gi)(1.0)) == np.arange(1.0, 5.0, dtype="int64").sum()


def test_arange_op_props():
    assert ARange("int64") == ARange("int64") and ARange("int64") != ARange("int32")
    assert isinstance(T.arange(3).owner.op, ARange)
