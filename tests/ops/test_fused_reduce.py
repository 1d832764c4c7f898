"""FusedReduce: an elementwise program and the reduction of its result as one op. Against
numpy in every mode (dtypes, broadcasting, layouts, zero-size inputs, NaN), props and
pickling, build-time errors, infer_shape, gradients (verify_grad), R_op and batching."""
import pickle

import numpy as np
import pytest

import symtensor as T
from symtensor.grad import verify_grad
from symtensor.graph.type import TensorType
from symtensor.ops import scalar as ps
from symtensor.ops.fused_reduce import FusedReduce
from symtensor.ops.reduce import CAReduce
from tests.helpers import assert_unchanged, check_infer_shape, layouts, noncontiguous, rand, run, tol

ADD, EXP, MUL, SUB, GT = ps.get("add"), ps.get("exp"), ps.get("mul"), ps.get("sub"), ps.get("gt")


def exp_sum_program(dtype):
    """exp(i0 - i1) * 0.5 as a program."""
    return (2, ((SUB, (("i", 0), ("i", 1)), dtype), (EXP, (("s", 0),), dtype),
                (MUL, (("s", 1), ("c", dtype, 0.5)), dtype)), (2,))


def make(kind="add", axis=(1,), dtype="float64", in_shapes=((None, None), (None, 1)),
         elem_shape=(None, None), **kw):
    in_types = tuple(TensorType(dtype, shape=s) for s in in_shapes)
    return FusedReduce(exp_sum_program(dtype), in_types, TensorType(dtype, shape=elem_shape),
                       CAReduce(kind, axis, **kw))


def reference(kind, a, b, axis):
    fn = {"add": np.sum, "mul": np.prod, "maximum": np.max, "minimum": np.min}[kind]
    return fn(np.exp(a - b) * 0.5, axis=axis)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind,axis", [("add", (1,)), ("add", (0, 1)), ("mul", (0,)),
                                       ("maximum", (1,)), ("minimum", ())])
def test_against_numpy_every_layout(mode, rng, dtype, kind, axis):
    x, c = T.matrix("x", dtype=dtype), T.col("c", dtype=dtype)
    out = make(kind, axis, dtype)(x, c)
    f = T.function([x, c], out, mode=mode)
    for name, value in layouts(rng, (5, 7), dtype):
        if name == "zero-size" and kind in ("maximum", "minimum") and 0 in axis:
            continue
        cv = (rand(rng, (value.shape[0], 1), dtype) * 0.3).astype(dtype)
        before = [value.copy(), cv.copy()]
        got = f(value, noncontiguous(cv) if name == "noncontiguous" else cv)
        want = reference(kind, value, cv, axis)
        assert got.dtype == want.dtype and got.shape == want.shape, (name, got.shape, want.shape)
        np.testing.assert_allclose(got, want, **tol(dtype), err_msg=name)
        assert_unchanged(before, [value, cv])


def test_broadcast_row_and_column(mode, rng):
    r, c = T.row("r"), T.col("c")
    op = make("add", (0,), in_shapes=((1, None), (None, 1)))
    rv, cv = rand(rng, (1, 4)), rand(rng, (3, 1))
    got = run(mode, [r, c], op(r, c), rv, cv)
    np.testing.assert_allclose(got, reference("add", rv, cv, (0,)), **tol("float64"))


def test_dtype_and_acc_dtype_semantics(mode, rng):
    """The reducer's output and accumulator dtypes are kept: a bool program counted in int64,
    a float32 program summed in a float64 accumulator."""
    x = T.matrix("x", dtype="float32")
    count = FusedReduce((1, ((GT, (("i", 0), ("c", "float32", 0.0)), "bool"),), (0,)),
                        (x.type,), TensorType("bool", shape=(None, None)), CAReduce("add", (1,)))
    wide = make("add", (0, 1), "float32", in_shapes=((None, None), (None, None)), acc_dtype="float64")
    xv = rand(rng, (6, 300), "float32")
    got_count, got_wide = run(mode, [x], [count(x), wide(x, x)], xv)
    assert got_count.dtype == np.int64
    np.testing.assert_array_equal(got_count, (xv > 0).sum(axis=1))
    assert got_wide.dtype == np.float32
    want = np.sum(np.exp(xv - xv).astype("float32") * np.float32(0.5), dtype="float64")
    np.testing.assert_allclose(got_wide, want, rtol=1e-6)


def test_nan_propagates_through_max(mode):
    x, c = T.matrix("x"), T.col("c")
    xv = np.arange(12.0).reshape(3, 4)
    xv[1, 2] = np.nan
    got = run(mode, [x, c], make("maximum", (1,))(x, c), xv, np.zeros((3, 1)))
    want = np.max(np.exp(xv) * 0.5, axis=1)
    np.testing.assert_allclose(got, want)
    assert np.isnan(got[1])


def test_zero_size_identities_and_max_error(mode):
    x, c = T.matrix("x"), T.col("c")
    empty, cv = np.zeros((3, 0)), np.zeros((3, 1))
    np.testing.assert_array_equal(run(mode, [x, c], make("add", (1,))(x, c), empty, cv), np.zeros(3))
    np.testing.assert_array_equal(run(mode, [x, c], make("mul", (1,))(x, c), empty, cv), np.ones(3))
    with pytest.raises(ValueError, match=r"cannot take the max over a zero-size axis \(input shape \(3, 0\)\)"):
        run(mode, [x, c], make("maximum", (1,))(x, c), empty, cv)


def test_runtime_shape_mismatch_raises(mode):
    x, y = T.matrices("x", "y")
    op = make("add", (1,), in_shapes=((None, None), (None, None)))
    with pytest.raises(ValueError, match="does not broadcast"):
        run(mode, [x, y], op(x, y), np.ones((3, 4)), np.ones((3, 1)))


def test_props_equality_and_pickle():
    a, b = make(), make()
    assert a == b and hash(a) == hash(b)
    assert make("maximum") != a and make(axis=(0,)) != a
    a.inner_graphs()
    back = pickle.loads(pickle.dumps(a))
    assert back == a and hash(back) == hash(a)
    assert "Sum" in T.debugprint(make()(T.matrix(), T.col()), file="str")


def test_build_time_errors():
    x, c = T.matrix("x"), T.col("c")
    with pytest.raises(TypeError, match="expected 2 inputs"):
        make()(x)
    with pytest.raises(TypeError, match="dimension"):
        make()(T.vector("v"), c)
    with pytest.raises(TypeError, match="dtype"):
        make()(T.matrix("i", dtype="int32"), c)
    with pytest.raises(TypeError, match="broadcastable pattern"):
        make()(x, x)
    with pytest.raises(ValueError, match="does not broadcast"):
        make(elem_shape=(None, 4))(T.TensorType("float64", shape=(None, 5))("s"), c)
    with pytest.raises(ValueError, match="axis must be sorted"):
        make(axis=(2,))(x, c)
    with pytest.raises(TypeError, match="reducer must be a CAReduce"):
        FusedReduce(exp_sum_program("float64"), (x.type, c.type), x.type, "sum")
    with pytest.raises(ValueError, match="input type"):
        FusedReduce(exp_sum_program("float64"), (x.type,), x.type, CAReduce("add", (0,)))
    with pytest.raises(TypeError, match="elem_type"):
        FusedReduce(exp_sum_program("float64"), (x.type, c.type), TensorType("float32", (None, None)),
                    CAReduce("add", (0,)))


def test_static_output_shape():
    x = T.TensorType("float64", shape=(3, None))("x")
    out = make(axis=(1,), elem_shape=(3, None))(x, T.col("c"))
    assert out.type.shape == (3,)


@pytest.mark.parametrize("axis", [(1,), (0, 1)])
def test_infer_shape(mode, rng, axis):
    x, c = T.matrix("x"), T.col("c")
    out = make("add", axis)(x, c)
    values = [rand(rng, (4, 6)), rand(rng, (4, 1))]
    check_infer_shape(mode, [x, c], out, values, np.sum(values[0], axis=axis).shape)


@pytest.mark.parametrize("kind,axis", [("add", (1,)), ("mul", (0,)), ("maximum", (0, 1)), ("minimum", (1,))])
def test_verify_grad(rng, kind, axis):
    xv, cv = rand(rng, (3, 4)) * 0.5, rand(rng, (3, 1)) * 0.5
    verify_grad(lambda x, c: make(kind, axis)(x, T.addbroadcast(c, 1)), [xv, cv], rng=rng)


def test_grad_of_repeated_input_and_int_input(rng):
    """An input used by several steps gets the sum of its partials; an integer input a zero
    float gradient."""
    i0 = ("i", 0)
    prog = (1, ((MUL, (i0, i0), "float64"), (ADD, (("s", 0), i0), "float64")), (1,))
    x = T.matrix("x")
    op = FusedReduce(prog, (x.type,), x.type, CAReduce("add", (0, 1)))
    verify_grad(lambda v: op(v), [rand(rng, (3, 2))], rng=rng)
    n = T.matrix("n", dtype="int32")
    cast_prog = (1, ((ps.Cast("float64"), (i0,), "float64"),), (0,))
    op_int = FusedReduce(cast_prog, (n.type,), x.type, CAReduce("add", (1,)))
    g = T.grad(op_int(n).sum() + (x ** 2).sum(), n, disconnected_inputs="ignore")
    np.testing.assert_array_equal(run("FAST_COMPILE", [n, x], g, np.ones((2, 3), "int32"), np.ones((2, 3))),
                                  np.zeros((2, 3)))


def test_R_op_matches_unfused(rng):
    x, c = T.matrix("x"), T.col("c")
    vx, vc = T.matrix("vx"), T.col("vc")
    fused = make("add", (1,))(x, c)
    plain = T.sum(T.exp(x - c) * 0.5, axis=1)
    values = [rand(rng, (3, 4)), rand(rng, (3, 1)), rand(rng, (3, 4)), rand(rng, (3, 1))]
    got = run("FAST_COMPILE", [x, c, vx, vc], T.Rop(fused, [x, c], [vx, vc]), *values)
    want = run("FAST_COMPILE", [x, c, vx, vc], T.Rop(plain, [x, c], [vx, vc]), *values)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    got_x = run("FAST_COMPILE", [x, c, vx], T.Rop(fused, [x], [vx]), *values[:3])
    want_x = run("FAST_COMPILE", [x, c, vx], T.Rop(plain, [x], [vx]), *values[:3])
    np.testing.assert_allclose(got_x, want_x, rtol=1e-12)


def test_vectorize_node(rng):
    x, c = T.matrix("x"), T.col("c")
    node = make("add", (1,))(x, c).owner
    xb = T.tensor3("xb")
    (out,) = node.op.vectorize_node(node, xb, c)
    assert isinstance(out.owner.op, FusedReduce) and out.owner.op.reducer.axis == (2,)
    xv, cv = rand(rng, (2, 3, 4)), rand(rng, (3, 1))
    got = run("FAST_COMPILE", [xb, c], out, xv, cv)
    np.testing.assert_allclose(got, reference("add", xv, cv[None], (2,)), rtol=1e-12)
    assert node.op.vectorize_node(node, x, c)[0].owner.op == node.op
