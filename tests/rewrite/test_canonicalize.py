"""Canonicalize rules: each one's before/after graph, unchanged results, and where it declines."""
import numpy as np
import pytest

import symtensor as T
from symtensor.graph.basic import Constant
from symtensor.graph.fg import FunctionGraph
from symtensor.rewrite import optimize
from symtensor.rewrite.canonicalize import (CANONICALIZE, combine_constants, constant_folding,
                                            double_negation, flatten_associative, lift_dimshuffle,
                                            merge_dimshuffles, neutral_operands)
from symtensor.rewrite.engine import GraphPass, NodePass
from symtensor.rewrite.canonicalize import merge_pass

from . import FLOATS, applied, op_types, rewrite_and_compare, scalar_op_names

ALL = CANONICALIZE


def only(*rules):
    return [NodePass("only", rules)]


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.mark.parametrize("dtype", FLOATS)
def test_constant_folding(rng, dtype):
    x = T.vector("x", dtype=dtype)
    c = T.exp(T.constant(np.linspace(0, 1, 8).astype(dtype))) * 2
    fg, log = rewrite_and_compare([x], x + c, rng, passes=only(constant_folding))
    assert "constant_folding" in applied(log)
    assert scalar_op_names(fg) == ["add"]
    node = fg.outputs[0].owner
    assert any(isinstance(i, Constant) for i in node.inputs)


def test_constant_folding_declines_large_and_failing():
    big = T.exp(T.constant(np.zeros(70000)))   # larger than the fold limit: stays computed
    fg = FunctionGraph([], [big])
    log = optimize(fg, excluded=["fuse"])
    assert "constant_folding" not in applied(log)
    assert scalar_op_names(fg) == ["exp"]


@pytest.mark.parametrize("dtype", FLOATS)
def test_merge_common_subexpressions(rng, dtype):
    x = T.vector("x", dtype=dtype)
    out = T.exp(x) * 2 + T.exp(x) * 2
    fg, log = rewrite_and_compare([x], out, rng, passes=[GraphPass("merge", merge_pass)])
    assert applied(log).count("merge") >= 2
    assert scalar_op_names(fg).count("exp") == 1
    assert scalar_op_names(fg).count("mul") == 1


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("build", [lambda x: x + -0.0, lambda x: -0.0 + x, lambda x: x * 1, lambda x: x - 0,
                                   lambda x: x / 1, lambda x: x ** 1, lambda x: 1 * x * 1])
def test_neutral_operands(rng, dtype, build):
    x = T.vector("x", dtype=dtype)
    fg, log = rewrite_and_compare([x], T.exp(build(x)), rng, passes=only(constant_folding, neutral_operands))
    assert "neutral_operands" in applied(log)
    assert scalar_op_names(fg) == ["exp"]


def test_float_plus_zero_is_kept_for_signed_zeros(rng):
    """-0.0 + 0.0 is +0.0 (numpy): dropping a +0.0 operand would change the sign of a zero."""
    x = T.vector("x")
    fg, log = rewrite_and_compare([x], x + 0, rng, passes=only(neutral_operands))
    assert "neutral_operands" not in applied(log)
    assert T.function([x], x + 0)(np.array([-0.0]))[0] == 0 and not np.signbit(
        T.function([x], x + 0)(np.array([-0.0]))[0])
    fg, log = rewrite_and_compare([x], x - (-0.0), rng, passes=only(neutral_operands))
    assert "neutral_operands" not in applied(log)


def test_neutral_operands_keeps_other_operands(rng):
    x, y = T.vectors("x", "y")
    fg, log = rewrite_and_compare([x, y], T.add(x, -0.0, y), rng, passes=only(neutral_operands))
    assert "neutral_operands" in applied(log)
    assert len(fg.outputs[0].owner.inputs) == 2


def test_neutral_operands_declines_when_the_type_would_change(rng):
    r = T.row("r")
    ones = np.ones((3, 1))                # x * 1 where the 1 broadcasts x to a bigger shape
    fg, log = rewrite_and_compare([r], r * ones, rng, passes=only(neutral_operands))
    assert "neutral_operands" not in applied(log)
    i = T.vector("i", dtype="int32")       # int / 1 is a float: the type differs from i
    fg, log = rewrite_and_compare([i], i / 1, rng, passes=only(neutral_operands))
    assert "neutral_operands" not in applied(log)
    f = T.vector("f", dtype="float32")     # float32 * float64(1) is float64
    fg, log = rewrite_and_compare([f], f * T.constant(np.float64(1)), rng, passes=only(neutral_operands))
    assert "neutral_operands" not in applied(log)


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_neutral_operands_on_ints(rng, dtype):
    x = T.vector("x", dtype=dtype)
    fg, log = rewrite_and_compare([x], T.neg(x * 1 + 0), rng, passes=only(neutral_operands))
    assert scalar_op_names(fg) == ["neg"]


@pytest.mark.parametrize("dtype", FLOATS + ["int8", "int64"])
def test_double_negation(rng, dtype):
    x = T.vector("x", dtype=dtype)
    fg, log = rewrite_and_compare([x], T.abs(-(-x)), rng, passes=only(double_negation))
    assert "double_negation" in applied(log)
    assert scalar_op_names(fg) == ["abs"]


@pytest.mark.parametrize("dtype", FLOATS)
def test_flatten_associative(rng, dtype):
    x, y, z, w = (T.vector(n, dtype=dtype) for n in "xyzw")
    fg, log = rewrite_and_compare([x, y, z, w], ((x + y) + z) + T.exp(w), rng,
                                  passes=only(flatten_associative))
    assert "flatten_associative" in applied(log)
    assert scalar_op_names(fg) == ["exp", "add"]
    assert len(fg.outputs[0].owner.inputs) == 4
    fg, log = rewrite_and_compare([x, y, z], x * (y * z), rng, passes=only(flatten_associative))
    assert scalar_op_names(fg) == ["mul"]


def test_flatten_associative_chain_is_rewritten_once(rng):
    ins = [T.vector(f"y{k}") for k in range(51)]
    out = ins[0]
    for v in ins[1:]:
        out = out + v
    fg = FunctionGraph(ins, [out])
    log = optimize(fg, excluded=["fuse"])
    assert log.count("flatten_associative") == 1
    assert len(fg.outputs[0].owner.inputs) == 51


def test_flatten_associative_declines(rng):
    x, y, z = T.vectors("x", "y", "z")
    inner = x + y                           # the intermediate has another client
    fg, log = rewrite_and_compare([x, y, z], [inner + z, T.exp(inner)], rng, passes=only(flatten_associative))
    assert "flatten_associative" not in applied(log)
    a, b = T.vectors("a", "b", dtype="int8")   # int8 wrap-around inside, float outside: kept
    f = T.vector("f")
    fg, log = rewrite_and_compare([a, b, f], (a + b) + f, rng, passes=only(flatten_associative))
    assert "flatten_associative" not in applied(log)


@pytest.mark.parametrize("dtype", FLOATS + ["int32"])
def test_combine_constants(rng, dtype):
    x = T.vector("x", dtype=dtype)
    fg, log = rewrite_and_compare([x], 2 * x * 3, rng, passes=ALL)
    assert "combine_constants" in applied(log)
    node = fg.outputs[0].owner
    assert scalar_op_names(fg) == ["mul"] and len(node.inputs) == 2
    assert float(np.asarray(node.inputs[0].data).reshape(-1)[0]) == 6
    fg, log = rewrite_and_compare([x], 1 + x + 2, rng, passes=ALL)
    assert "combine_constants" in applied(log)
    assert len(fg.outputs[0].owner.inputs) == 2


def test_combine_constants_declines_on_mixed_dtypes(rng):
    a = T.vector("a", dtype="int8")
    c = T.constant(np.float32(0.5))
    out = T.mul(a, np.int8(100), c)          # a * 100 wraps in int8 before the float multiply
    fg, log = rewrite_and_compare([a], out, rng, passes=only(combine_constants))
    assert "combine_constants" not in applied(log)


def test_merge_dimshuffles(rng):
    m = T.matrix("m")
    out = T.exp(m.dimshuffle(1, "x", 0).dimshuffle(2, 0))
    fg, log = rewrite_and_compare([m], out, rng, passes=only(merge_dimshuffles))
    assert "merge_dimshuffles" in applied(log)
    assert op_types(fg) == ["Elemwise"]      # transposed twice: the identity


def test_lift_dimshuffle(rng):
    m, n = T.matrices("m", "n")
    out = T.exp((m + n).T) * n
    fg, log = rewrite_and_compare([m, n], out, rng, passes=ALL)
    assert "lift_dimshuffle" in applied(log)
    ops = op_types(fg)
    assert ops.index("Elemwise") > max(i for i, o in enumerate(ops) if o == "DimShuffle")
    fg = FunctionGraph([m, n], [out])
    optimize(fg)
    assert [o for o in op_types(fg) if o != "DimShuffle"] == ["FusedElemwise"]


def test_lift_dimshuffle_declines_with_other_clients(rng):
    m, n = T.matrices("m", "n")
    s = m + n
    fg, log = rewrite_and_compare([m, n], [s.T, s], rng, passes=only(lift_dimshuffle))
    assert "lift_dimshuffle" not in applied(log)


def test_combine_constants_declines_where_folding_could_overflow():
    """(x * c) * c with c near the float range's end: c * c overflows, so folding would turn
    0 * c * c (= 0) into 0 * inf (= NaN)."""
    x = T.vector("x")
    c = -1.797e308
    f = T.function([x], (x * c) * c)
    with np.errstate(over="ignore", invalid="ignore"):
        want = (np.array([0.0, 1e-300]) * c) * c
    np.testing.assert_array_equal(f(np.array([0.0, 1e-300])), want)


# --- shape_of_elementwise -------------------------------------------------------------------
def test_shape_of_elementwise_reads_the_inputs_and_lets_the_mean_fuse(rng, mode):
    x, y = T.fmatrix("x"), T.fmatrix("y")
    out = ((x - y) ** 2).mean()
    fg = FunctionGraph([x, y], [out])
    log = optimize(fg, "fast_run")
    assert "shape_of_elementwise" in applied(log)
    assert "FusedReduce" in op_types(fg) and "Elemwise" not in [t for t in op_types(fg)[:2]]
    f = T.function([x, y], out, mode=mode)
    for shape in [(3, 4), (1, 5), (0, 2)]:
        a, b = rng.standard_normal(shape).astype("float32"), rng.standard_normal(shape).astype("float32")
        with np.errstate(invalid="ignore"):
            expected = ((a - b) ** 2).mean() if a.size else np.float32("nan")
        np.testing.assert_allclose(f(a, b), expected, rtol=1e-6)


def test_shape_of_elementwise_broadcast_and_dimshuffle(rng):
    x = T.fmatrix("x")
    row = T.TensorType("float32", (True, False))("row")
    outs = [(x + row).shape[0], (row * 2).shape[0], x.T.shape[0], x.dimshuffle(0, "x", 1).shape[1]]
    fg = FunctionGraph([x, row], outs)
    optimize(fg, "fast_run")
    assert not [n for n in fg.toposort() if type(n.op).__name__ in ("Elemwise", "DimShuffle", "FusedElemwise")]
    f = T.function([x, row], outs)
    a, r = rng.standard_normal((3, 4)).astype("float32"), rng.standard_normal((1, 4)).astype("float32")
    assert [int(v) for v in f(a, r)] == [3, 1, 4, 1]


def test_shape_of_elementwise_is_excludable():
    x = T.fmatrix("x")
    fg = FunctionGraph([x], [(x * 2).shape[0]])
    assert "shape_of_elementwise" not in applied(optimize(fg, "fast_run", ["shape_of_elementwise"]))
