"""Elemwise (broadcasting by flags, derivatives, batching), DimShuffle and cast (ops/elemwise.py)."""
import pickle

import numpy as np
import pytest

import symtensor as T
from symtensor.grad import verify_grad
from symtensor.ops import scalar as ps
from symtensor.ops.elemwise import (DimShuffle, Elemwise, shape_padaxis, shape_padleft,
                                    shape_padright)
from tests.helpers import assert_unchanged, check_infer_shape, run, tol
from tests.helpers import noncontiguous as _noncontiguous
from tests.helpers import rand as _rand


def rand(rng, shape, dtype="float64"):
    """helpers.rand as an array also for shape () (where numpy returns a scalar)."""
    return np.asarray(_rand(rng, shape, dtype))


def noncontiguous(value):
    """helpers.noncontiguous, keeping 0-d values arrays (a 0-d array has a single layout)."""
    return value if np.ndim(value) == 0 else _noncontiguous(value)


def var(broadcastable, dtype="float64", name=None):
    return T.TensorType(dtype, broadcastable=broadcastable)(name)


def close(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, want.dtype, got.shape,
                                                                  want.shape)
    np.testing.assert_allclose(got, want, **tol(got.dtype))


# --- broadcasting by flags -------------------------------------------------------------------------
BROADCAST_CASES = [  # (x flags, x shape, y flags, y shape)
    ((False, False), (3, 4), (True, False), (1, 4)),
    ((False, False), (3, 4), (False, True), (3, 1)),
    ((False, False), (3, 4), (False,), (4,)),
    ((False, True), (3, 1), (True, False), (1, 4)),
    ((), (), (False, False), (3, 4)),
    ((False, False, False), (2, 3, 4), (False, False), (3, 4)),
    ((True, False, True), (1, 3, 1), (False, False), (3, 4)),
    ((False, False), (0, 4), (True, False), (1, 4)),
]


@pytest.mark.parametrize("fx,sx,fy,sy", BROADCAST_CASES)
@pytest.mark.parametrize("dx,dy", [("float64", "float64"), ("float32", "float32"), ("int32", "float32")])
def test_binary_broadcasting_follows_flags(mode, rng, fx, sx, fy, sy, dx, dy):
    x, y = var(fx, dx, "x"), var(fy, dy, "y")
    a, b = rand(rng, sx, dx), rand(rng, sy, dy)
    out = x * y - x
    want = a * b - a
    assert out.dtype == str(want.dtype)
    flags = tuple(all(f) for f in zip(*[(True,) * (out.ndim - len(f)) + f for f in (fx, fy)]))
    assert out.broadcastable == flags
    close(run(mode, [x, y], out, a, b), want)
    close(run(mode, [x, y], out, noncontiguous(a), noncontiguous(b)), want)
    check_infer_shape(mode, [x, y], out.owner.inputs[0], [a, b], want.shape)


@pytest.mark.parametrize("sx,sy", [((3, 4), (1, 4)), ((3, 4), (3, 1)), ((0, 4), (1, 4)),
                                   ((3, 4), (2, 4)), ((1, 1), (3, 4))])
def test_size_mismatch_on_non_broadcastable_dimension_is_a_clear_runtime_error(mode, rng, sx, sy):
    x, y = T.dmatrix("x"), T.dmatrix("y")
    f = T.function([x, y], x + y, mode=mode)
    with pytest.raises(ValueError, match=r"Elemwise\{add\}: input 0 has size \d and input 1 has size \d "
                                         r"in dimension \d") as err:
        f(rand(rng, sx), rand(rng, sy))
    if 1 in sx + sy:
        assert "not marked broadcastable" in str(err.value)


def test_static_shapes_combine_and_mismatch_is_a_build_error():
    a = T.TensorType("float64", shape=(3, None))("a")
    b = T.TensorType("float64", shape=(None, 4))("b")
    assert (a + b).type.shape == (3, 4)
    assert (a + T.row()).type.shape == (3, None)
    c = T.TensorType("float64", shape=(2, 4))("c")
    with pytest.raises(ValueError, match=r"add: input shapes .* cannot be broadcast together "
                                         r"\(dimension 0 has sizes \[2, 3\]\)") as err:
        T.TensorType("float64", shape=(3, 4))("d") + c
    assert "test_elemwise.py" in str(err.value)


def test_lower_rank_inputs_are_padded_on_the_left(mode, rng):
    x, v, s = T.dtensor3("x"), T.dvector("v"), T.dscalar("s")
    out = T.clip(x, s, v)
    assert [i.broadcastable for i in out.owner.inputs] == [(False,) * 3, (True,) * 3, (True, True, False)]
    a, b, c = rand(rng, (2, 3, 4)), np.array(-0.5), rand(rng, (4,))
    close(run(mode, [x, v, s], out, a, c, b), np.clip(a, b, c))


@pytest.mark.parametrize("fn,ref", [(T.add, np.add), (T.mul, np.multiply), (T.maximum, np.maximum),
                                    (T.minimum, np.minimum), (T.and_, np.bitwise_and)])
def test_associative_ops_take_many_inputs(mode, rng, fn, ref):
    dt = "int64" if fn is T.and_ else "float64"
    xs = [var((False, False), dt, "a"), var((True, False), dt, "b"), var((False,), "int32", "c"),
          var((), dt, "d")]
    vals = [rand(rng, (3, 4), dt), rand(rng, (1, 4), dt), rand(rng, (4,), "int32"), rand(rng, (), dt)]
    out = fn(*xs)
    want = ref(ref(ref(vals[0], vals[1]), vals[2]), vals[3])
    assert out.dtype == str(want.dtype) and out.owner.op == Elemwise(out.owner.op.scalar_op)
    close(run(mode, xs, out, *vals), want)


def test_perform_neither_writes_into_nor_returns_its_inputs(mode, rng):
    x, y = T.dmatrix("x"), T.drow("y")
    outs = [T.identity(x), x + y, T.second(x, y), T.switch(T.gt(x, 0), x, y), T.cast(x, "float32")]
    a, b = rand(rng, (3, 4)), rand(rng, (1, 4))
    before = [a.copy(), b.copy()]
    got = run(mode, [x, y], outs, a, b)
    for g in got:
        assert not np.shares_memory(g, a) and not np.shares_memory(g, b)
        g[...] = 7
    assert_unchanged(before, [a, b])


def test_elemwise_ops_compare_and_pickle():
    op = Elemwise(ps.get("exp"))
    assert op == Elemwise(ps.get("exp")) and hash(op) == hash(Elemwise(ps.get("exp")))
    assert op != Elemwise(ps.get("log"))
    assert pickle.loads(pickle.dumps(op)) == op
    assert str(op) == "Elemwise{exp}"


# --- derivatives -----------------------------------------------------------------------------------
def test_gradient_sums_over_broadcast_axes(mode, rng):
    m, r, v, s = T.dmatrix("m"), T.drow("r"), T.dvector("v"), T.dscalar("s")
    cost = (m * r * v * s).sum()
    g = T.grad(cost, [m, r, v, s])
    assert [x.broadcastable for x in g] == [m.broadcastable, r.broadcastable, v.broadcastable, ()]
    a, b, c, d = rand(rng, (3, 4)), rand(rng, (1, 4)), rand(rng, (4,)), np.array(1.5)
    got = run(mode, [m, r, v, s], g, a, b, c, d)
    close(got[0], b * c * d + 0 * a)
    close(got[1], (a * c * d).sum(0, keepdims=True))
    close(got[2], (a * b * d).sum(0))
    close(got[3], np.array((a * b * c).sum()))


def test_verify_grad_with_broadcasting_and_many_inputs(mode, rng):
    verify_grad(lambda m, v: T.mul(m, v, T.exp(v)) + v ** 2 / (1 + m * m),
                [rand(rng, (3, 4)), rand(rng, (4,))], rng=np.random.default_rng(0), mode=mode)
    verify_grad(lambda m, c: m / (2 + T.addbroadcast(c, 1) ** 2),
                [rand(rng, (3, 4)), rand(rng, (3, 1))], rng=np.random.default_rng(0), mode=mode)


def test_gradient_dtype_follows_input_and_is_zero_for_ints(mode, rng):
    f, i = T.fmatrix("f"), T.imatrix("i")
    cost = T.sum(f * i * 2.5)
    gf, gi = T.grad(cost, [f, i])
    assert gf.dtype == "float32" and gi.dtype.startswith("float")
    a, b = rand(rng, (2, 3), "float32"), rand(rng, (2, 3), "int32")
    got = run(mode, [f, i], [gf, gi], a, b)
    close(got[0], (b * np.float32(2.5)).astype("float32"))
    np.testing.assert_array_equal(got[1], np.zeros((2, 3)))


def test_rop_broadcasts_a_tangent_of_a_broadcast_input_to_the_output_shape(mode, rng):
    m, r, vr, vm = T.dmatrix("m"), T.drow("r"), T.drow("vr"), T.dmatrix("vm")
    a, b, tb, ta = rand(rng, (3, 4)), rand(rng, (1, 4)), rand(rng, (1, 4)), rand(rng, (3, 4))
    only_row = T.Rop(m + r, r, vr)
    assert only_row.broadcastable == (False, False)
    close(run(mode, [m, r, vr], only_row, a, b, tb), np.broadcast_to(tb, (3, 4)).copy())
    both = T.Rop(m * r - T.sin(r), [m, r], [vm, vr])
    close(run(mode, [m, r, vm, vr], both, a, b, ta, tb), ta * b + a * tb - np.cos(b) * tb)


def test_rop_of_non_float_output_is_zero_and_through_cast_keeps_values(mode, rng):
    x, v = T.dvector("x"), T.dvector("v")
    a, t = rand(rng, (5,)), rand(rng, (5,))
    got = run(mode, [x, v], [T.Rop(T.lt(x, 0), x, v), T.Rop(T.cast(x, "float32") * 2, x, v)], a, t)
    np.testing.assert_array_equal(got[0], np.zeros(5))
    assert got[1].dtype == np.float32
    close(got[1], (2 * t).astype("float32"))


def test_vectorize_node_of_elemwise(mode, rng):
    m, v = T.dmatrix("m"), T.dvector("v")
    node = (m * v + 1).owner  # add(mul(m, v), 1)
    mul = node.inputs[0].owner
    bm, bv = T.dtensor3("bm"), T.dmatrix("bv")
    a, b, bb = rand(rng, (2, 3, 4)), rand(rng, (4,)), rand(rng, (2, 4))
    (one_batched,) = mul.op.vectorize_node(mul, bm, mul.inputs[1])
    close(run(mode, [bm, v], one_batched, a, b), a * b)
    (both,) = mul.op.vectorize_node(mul, bm, bv.dimshuffle(0, "x", 1))
    close(run(mode, [bm, bv], both, a, bb), a * bb[:, None, :])


# --- DimShuffle ------------------------------------------------------------------------------------
DIMSHUFFLE_CASES = [  # (input flags, value shape, pattern, numpy equivalent)
    ((False, False), (3, 4), (1, 0), lambda a: a.T),
    ((False, False, False), (2, 3, 4), (2, 0, 1), lambda a: a.transpose(2, 0, 1)),
    ((False, False), (3, 4), ("x", 0, 1), lambda a: a[None]),
    ((False, False), (3, 4), (1, "x", 0, "x"), lambda a: a.T[:, None, :, None]),
    ((True, False), (1, 4), (1,), lambda a: a[0]),
    ((True, False), (1, 4), (1, "x"), lambda a: a[0][:, None]),
    ((False, True), (3, 1), (0,), lambda a: a[:, 0]),
    ((True, False, True), (1, 3, 1), ("x", 1), lambda a: a[0, :, 0][None]),
    ((), (), ("x", "x"), lambda a: a.reshape(1, 1)),
    ((False,), (4,), (0, "x"), lambda a: a[:, None]),
]


@pytest.mark.parametrize("flags,shape,pattern,ref", DIMSHUFFLE_CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "bool"])
def test_dimshuffle_matches_numpy_in_every_layout(mode, rng, flags, shape, pattern, ref, dtype):
    x = var(flags, dtype, "x")
    out = x.dimshuffle(*pattern)
    assert out.broadcastable == tuple(p == "x" or flags[p] for p in pattern)
    f = T.function([x], out, mode=mode)
    value = rand(rng, shape, dtype)
    cases = [value, noncontiguous(value)]
    free = [k for k, f in enumerate(flags) if not f]
    if free:  # zero-size along the first axis that is not broadcastable
        cases.append(value[(slice(None),) * free[0] + (slice(0, 0),)])
    for a in cases:
        want = ref(a)
        got = f(a)
        assert got.dtype == a.dtype
        np.testing.assert_array_equal(got, want)
        assert got.shape == want.shape
    check_infer_shape(mode, [x], out, [value], ref(value).shape)


def test_dimshuffle_list_argument_and_identity_pattern():
    m = T.dmatrix()
    assert m.dimshuffle([1, 0]).owner.op == m.dimshuffle(1, 0).owner.op
    assert m.dimshuffle(0, 1) is m
    assert str(m.dimshuffle(1, "x", 0).owner.op) == "DimShuffle{1,x,0}"


@pytest.mark.parametrize("pattern,exc,msg", [
    ((1,), ValueError, r"drops dimension 0 of .*, which is not broadcastable"),
    ((0, 0), ValueError, r"repeats an axis"),
    ((0, 2), ValueError, r"names axis 2, but the input has 2 dimension"),
    ((0, -1), ValueError, r"names axis -1"),
    (("y", 0, 1), ValueError, r"each entry must be an input axis .* or 'x'.*got 'y'"),
    ((0, 1.5), ValueError, r"got 1.5"),
    ((True, 0), ValueError, r"got True"),
])
def test_dimshuffle_errors_at_build_time(pattern, exc, msg):
    with pytest.raises(exc, match=msg) as err:
        T.dmatrix("m").dimshuffle(*pattern)
    assert "test_elemwise.py" in str(err.value)


def test_dimshuffle_op_rejects_input_of_wrong_rank():
    with pytest.raises(TypeError, match="DimShuffle expected a 3-d input, got 2-d"):
        DimShuffle(3, (2, 1, 0))(T.dmatrix())


def test_dimshuffle_gradient(mode, rng):
    verify_grad(lambda a: a.dimshuffle(1, "x", 0) * T.arange(3.0).dimshuffle("x", "x", 0) + a.T[:, None],
                [rand(rng, (3, 4))], rng=np.random.default_rng(0), mode=mode)
    verify_grad(lambda a: T.exp(T.addbroadcast(a, 0).dimshuffle(1, "x")),
                [rand(rng, (1, 4))], rng=np.random.default_rng(0), mode=mode)
    verify_grad(lambda a: a.dimshuffle(2, 0, 1) ** 2, [rand(rng, (2, 3, 4))],
                rng=np.random.default_rng(0), mode=mode)
    i = T.imatrix("i")
    g = T.grad(T.sum(T.cast(i.T, "float64")), i)
    np.testing.assert_array_equal(run(mode, [i], g, rand(rng, (2, 3), "int32")), np.zeros((2, 3)))


def test_dimshuffle_rop_and_vectorize(mode, rng):
    x, v = T.dmatrix("x"), T.dmatrix("v")
    a, t = rand(rng, (3, 4)), rand(rng, (3, 4))
    close(run(mode, [x, v], T.Rop(x.dimshuffle(1, "x", 0), x, v), a, t), t.T[:, None, :])
    r = T.drow("r")
    node = r.dimshuffle(1, "x").owner
    br = var((False, True, False), "float64", "br")
    (out,) = node.op.vectorize_node(node, br)
    b = rand(rng, (5, 1, 4))
    close(run(mode, [br], out, b), b[:, 0, :, None])
    node = x.dimshuffle(1, 0).owner
    assert node.op.vectorize_node(node, x)[0].owner.op == node.op


def test_dimshuffle_output_is_safe_to_modify(mode, rng):
    x = T.dmatrix("x")
    a = rand(rng, (3, 4))
    before = a.copy()
    out = run(mode, [x], x.T, a)
    out[...] = 0
    assert_unchanged([before], [a])


def test_transpose_and_padding_helpers(mode, rng):
    x = T.dtensor3("x")
    a = rand(rng, (2, 3, 4))
    outs = [T.transpose(x), T.transpose(x, (1, -1, 0)), x.transpose(2, 1, 0), x.transpose((0, 2, 1)),
            shape_padleft(x, 2), shape_padright(x), shape_padaxis(x, 1), shape_padaxis(x, -1), x.T]
    want = [a.T, a.transpose(1, 2, 0), a.transpose(2, 1, 0), a.transpose(0, 2, 1), a[None, None],
            a[..., None], a[:, None], a[..., None], a.T]
    for g, w in zip(run(mode, [x], outs, a), want):
        close(g, w)
    assert shape_padleft(x, 2).broadcastable == (True, True, False, False, False)
    with pytest.raises(ValueError, match="not a permutation of 3 dimension"):
        T.transpose(x, (0, 1))
    with pytest.raises(ValueError, match="axis 5 is out of range for a 3-d tensor"):
        shape_padaxis(x, 5)


# --- cast / astype ---------------------------------------------------------------------------------
CAST_DTYPES = ["bool", "int8", "uint8", "int32", "int64", "float32", "float64"]


@pytest.mark.parametrize("src", CAST_DTYPES)
@pytest.mark.parametrize("dst", CAST_DTYPES)
def test_cast_every_dtype_pair_like_numpy(mode, src, dst):
    base = np.array([[0.0, 1.0, 2.7, 5.5], [3.2, 0.5, 1.0, 0.0]])
    if np.dtype(src).kind == "f" and np.dtype(dst).kind == "i":
        base = base * np.array([1, -1, 1, -1])
    a = base.astype(src)
    x = T.TensorType(src, shape=(None, None))("x")
    out = T.cast(x, dst)
    assert out.dtype == dst and x.astype(dst).owner.op == out.owner.op if src != dst else out is x
    want = a.astype(dst)
    for value in (a, noncontiguous(a), a[:0]):
        got = run(mode, [x], out, value)
        assert got.dtype == np.dtype(dst)
        np.testing.assert_array_equal(got, value.astype(dst))
    assert want.shape == (2, 4)


def test_cast_floatx_and_bad_dtype():
    with T.change_flags(floatX="float32"):
        assert T.cast(T.ivector(), "floatX").dtype == "float32"
        assert T.ivector().astype("floatX").dtype == "float32"
    with pytest.raises(TypeError, match=r"cast: cannot cast to 'foo'; expected 'floatX' or one of") as err:
        T.dvector().astype("foo")
    assert "test_elemwise.py" in str(err.value)
    with pytest.raises(TypeError, match="cannot cast to 'U3'"):
        T.cast(T.dvector(), "U3")


def test_cast_gradient_and_rop(mode, rng):
    x, i, v = T.dvector("x"), T.ivector("i"), T.dvector("v")
    gx = T.grad(T.sum(T.cast(x, "float32") * 3), x)
    gi = T.grad(T.sum(T.cast(i, "float64") * x), i)
    assert gx.dtype == "float64"
    a, b, t = rand(rng, (4,)), rand(rng, (4,), "int32"), rand(rng, (4,))
    got = run(mode, [x, i, v], [gx, gi, T.Rop(T.cast(x, "float32"), x, v)], a, b, t)
    close(got[0], np.full(4, 3.0))
    np.testing.assert_array_equal(got[1], np.zeros(4))
    close(got[2], t.astype("float32"))


# --- switch / where / clip -------------------------------------------------------------------------
def test_switch_condition_broadcasts_and_any_nonzero_is_true(mode, rng):
    c, m, s, fc = T.dcol("c"), T.dmatrix("m"), T.iscalar("s"), T.dvector("fc")
    outs = [T.switch(c, m, -m), T.where(s, m, 0.0), T.switch(fc, 1, m), T.switch(T.lt(m, 0), 0, m)]
    a = rand(rng, (3, 4))
    cv, fcv = np.array([[0.0], [2.0], [np.nan]]), np.array([0.0, -1.5, 0.0, 3.0])
    got = run(mode, [c, m, s, fc], outs, cv, a, np.array(0, "int32"), fcv)
    close(got[0], np.where(cv != 0, a, -a))
    close(got[1], np.zeros((3, 4)))
    close(got[2], np.where(fcv != 0, 1.0, a))
    close(got[3], np.maximum(a, 0))
    assert T.where is T.switch or T.where(c, m, m).owner.op == T.switch(c, m, m).owner.op


def test_switch_and_clip_gradients_route_to_the_chosen_input(mode):
    x, lo, hi = T.dvector("x"), T.dvector("lo"), T.dvector("hi")
    a = np.array([-2.0, -0.5, 0.5, 3.0])
    lv, hv = np.full(4, -1.0), np.full(4, 1.0)
    g_clip = T.grad(T.sum(T.clip(x, lo, hi) * T.arange(1.0, 5.0)), [x, lo, hi])
    g_sw = T.grad(T.sum(T.switch(T.gt(x, 0), x * x, 3 * x)), x)
    got = run(mode, [x, lo, hi], g_clip + [g_sw], a, lv, hv)
    np.testing.assert_array_equal(got[0], [0, 2, 3, 0])
    np.testing.assert_array_equal(got[1], [1, 0, 0, 0])
    np.testing.assert_array_equal(got[2], [0, 0, 0, 4])
    np.testing.assert_array_equal(got[3], [3, 3, 1, 6])


def test_clip_with_scalar_and_tensor_bounds(mode, rng):
    x, lo = T.fmatrix("x"), T.frow("lo")
    out = T.clip(x, lo, 1.5)
    assert out.dtype == "float32"
    a, b = rand(rng, (3, 4), "float32"), rand(rng, (1, 4), "float32") - 1
    close(run(mode, [x, lo], out, a, b), np.clip(a, b, np.float32(1.5)))
