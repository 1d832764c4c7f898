"""Elementwise fusion: chains, diamonds, shared intermediates, graph outputs, broadcasting,
dtypes and inlined constants."""
import numpy as np
import pytest

import symtensor as T
from symtensor.graph.fg import FunctionGraph
from symtensor.graph.interpreter import Interpreter
from symtensor.ops.fused import FusedElemwise
from symtensor.rewrite.fuse import FUSE

from . import FLOATS, applied, op_types, rewrite_and_compare, scalar_op_names


@pytest.fixture
def rng():
    return np.random.default_rng(3)


def fused_nodes(fg):
    return [n for n in fg.toposort() if isinstance(n.op, FusedElemwise)]


@pytest.mark.parametrize("dtype", FLOATS)
def test_chain(rng, dtype):
    x, y = T.vectors("x", "y", dtype=dtype)
    fg, log = rewrite_and_compare([x, y], T.tanh(T.exp(x) * y) + x, rng, passes=FUSE)
    assert "fuse_elemwise" in applied(log)
    assert op_types(fg) == ["FusedElemwise"]
    assert scalar_op_names(fg) == ["exp", "mul", "tanh", "add"]
    assert fg.outputs[0].owner.op.n_inputs == 2      # x is one operand, used twice


def test_diamond_shares_the_intermediate(rng):
    x = T.vector("x")
    a = T.exp(x)
    fg, log = rewrite_and_compare([x], (a + 1) * (a * 2), rng, passes=FUSE)
    assert op_types(fg) == ["FusedElemwise"]
    assert scalar_op_names(fg).count("exp") == 1     # computed once inside the loop


def test_intermediate_used_outside_is_not_fused_away(rng):
    x, y = T.vectors("x", "y")
    a = T.exp(x) * y
    fg, log = rewrite_and_compare([x, y], [T.tanh(a) + 1, T.sum(a)], rng, passes=FUSE)
    names = scalar_op_names(fg)
    assert names.count("mul") == 1 and names.count("exp") == 1   # nothing computed twice
    sum_node = fg.outputs[1].owner
    assert isinstance(sum_node.inputs[0].owner.op, FusedElemwise)   # exp*y kept for the sum
    assert len(fused_nodes(fg)) == 2


def test_graph_output_intermediate_is_kept(rng):
    x = T.vector("x")
    a = T.exp(x) + 1
    fg, log = rewrite_and_compare([x], [a, T.log(a) * 3], rng, passes=FUSE)
    assert fg.outputs[0].owner is not None
    assert scalar_op_names(fg).count("exp") == 1
    assert "log" in scalar_op_names(fg)


@pytest.mark.parametrize("dtype", FLOATS)
def test_row_plus_matrix_broadcasting(rng, dtype):
    r = T.row("r", dtype=dtype)
    m = T.matrix("m", dtype=dtype)
    fg, log = rewrite_and_compare([r, m], T.exp(r + m) * r, rng,
                                  values=[rng.standard_normal((1, 5)).astype(dtype),
                                          rng.standard_normal((4, 5)).astype(dtype)], passes=FUSE)
    assert op_types(fg) == ["FusedElemwise"]
    out = Interpreter(fg)([np.ones((1, 5), dtype), np.ones((4, 5), dtype)])[0]
    assert out.shape == (4, 5)


def test_runtime_broadcast_check_still_raises():
    m, n = T.matrices("m", "n")
    fg = FunctionGraph([m, n], [T.exp(m + n) * 2])
    rewrite_and_compare([m, n], T.exp(m + n) * 2, np.random.default_rng(0), passes=FUSE)
    from symtensor.rewrite.engine import Phase, Pipeline
    Pipeline([Phase("f", FUSE)]).run(fg)
    assert op_types(fg) == ["FusedElemwise"]
    with pytest.raises(ValueError, match="size-1 dimension that is not marked broadcastable"):
        Interpreter(fg)([np.ones((1, 5)), np.ones((4, 5))])


@pytest.mark.parametrize("dtypes", [("int8", "float32"), ("int32", "float64"), ("int64", "int64"),
                                    ("uint8", "float32"), ("bool", "float64")])
def test_mixed_dtypes(rng, dtypes):
    a = T.vector("a", dtype=dtypes[0])
    b = T.vector("b", dtype=dtypes[1])
    out = (a + b) * 3 - b
    fg, log = rewrite_and_compare([a, b], out, rng, passes=FUSE, specials=False)
    assert op_types(fg) == ["FusedElemwise"]
    assert fg.outputs[0].dtype == out.dtype


def test_small_int_exp_matches_elemwise():
    i = T.vector("i", dtype="int8")      # exp(int8) is computed in float32, not float16
    fg, log = rewrite_and_compare([i], T.exp(i) * 1.5 + 1, values=[np.arange(-100, 100, 7, dtype="int8")],
                                  passes=FUSE)
    assert op_types(fg) == ["FusedElemwise"]


def test_bitwise_int_program_and_its_inner_graph(rng):
    a, b = T.vectors("a", "b", dtype="int32")
    fg, log = rewrite_and_compare([a, b], T.xor(T.and_(a, b), 5) * a, rng, passes=FUSE)
    assert op_types(fg) == ["FusedElemwise"]
    text = T.debugprint(fg.outputs[0], file="str")
    assert "xor" in text and "and_" in text


def test_constants_are_inlined(rng):
    x = T.vector("x", dtype="float32")
    fg, log = rewrite_and_compare([x], T.exp(x * 2.5) + np.float32(1), rng, passes=FUSE)
    op = fg.outputs[0].owner.op
    assert op.n_inputs == 1
    consts = [a for _, args, _ in op.program[1] for a in args if a[0] == "c"]
    assert sorted(c[2] for c in consts) == [1.0, 2.5]
    assert all(c[1] == "float32" for c in consts)


def test_array_constant_is_an_operand(rng):
    x = T.vector("x")
    c = np.linspace(0, 1, 8)
    fg, log = rewrite_and_compare([x], T.exp(x) * c + 1, rng, passes=FUSE)
    assert fg.outputs[0].owner.op.n_inputs == 2


def test_single_nodes_and_different_ranks_are_not_fused(rng):
    x = T.vector("x")
    m = T.matrix("m")
    fg, log = rewrite_and_compare([x], T.exp(x), rng, passes=FUSE)
    assert "fuse_elemwise" not in applied(log)
    fg, log = rewrite_and_compare([x, m], T.exp(T.sum(T.exp(x))) + m, rng, passes=FUSE)
    assert op_types(fg).count("FusedElemwise") == 0 or all(
        len(n.op.program[1]) >= 2 for n in fused_nodes(fg))


def test_fusion_is_linear_in_chain_length():
    def fused_program_length(n):
        x, y = T.vectors("x", "y")
        out = x
        for _ in range(n):
            out = T.tanh(out) * y
        fg = FunctionGraph([x, y], [out])
        from symtensor.rewrite.engine import Phase, Pipeline
        Pipeline([Phase("f", FUSE)]).run(fg)
        return len(fg.outputs[0].owner.op.program[1])
    assert fused_program_length(300) == 600
