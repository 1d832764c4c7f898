"""Fusion of elementwise producers into reductions: what is fused (single Elemwise, fused
chains, the softmax denominator, inlined constants, bool/int programs, acc_dtype kept), what
is not (intermediates used elsewhere or returned, excluded by name), and results through the
whole FAST_RUN pipeline against numpy."""
import numpy as np
import pytest

import symtensor as T
from symtensor.graph.fg import FunctionGraph
from symtensor.ops.fused import FusedElemwise
from symtensor.ops.fused_reduce import FusedReduce
from symtensor.ops.reduce import CAReduce
from symtensor.rewrite.engine import Phase, Pipeline
from symtensor.rewrite.fuse import FUSE

from . import FLOATS, applied, op_types, rewrite_and_compare


@pytest.fixture
def rng():
    return np.random.default_rng(5)


def fused_reduces(fg):
    return [n for n in fg.toposort() if isinstance(n.op, FusedReduce)]


@pytest.mark.parametrize("dtype", FLOATS)
def test_square_sum_is_one_node(rng, dtype):
    x = T.matrix("x", dtype=dtype)
    fg, log = rewrite_and_compare([x], (x ** 2).sum(axis=1), rng, passes=FUSE)
    assert "fuse_reduce" in applied(log)
    assert op_types(fg) == ["FusedReduce"]
    op = fg.outputs[0].owner.op
    assert op.n_inputs == 1 and op.reducer == CAReduce("add", (1,))


def test_softmax_denominator(rng):
    z = T.matrix("z", dtype="float32")
    out = T.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1)
    fg, log = rewrite_and_compare([z], out, rng, passes=FUSE)
    (node,) = fused_reduces(fg)
    assert [s[0].name for s in node.op.program[1]] == ["sub", "exp"]
    assert node.inputs[0] is z and node.inputs[1].broadcastable == (False, True)
    assert isinstance(node.inputs[1].owner.inputs[0].owner.op, CAReduce)   # the max stays a reduction
    assert not any(isinstance(n.op, FusedElemwise) for n in fg.toposort())


def test_fused_chain_is_absorbed_whole(rng):
    x, y = T.matrices("x", "y")
    out = T.sum(T.tanh(x * y) + T.exp(x) - 2.0, axis=0)
    fg, log = rewrite_and_compare([x, y], out, rng, passes=FUSE)
    assert op_types(fg) == ["FusedReduce"]
    op = fg.outputs[0].owner.op
    assert op.n_inputs == 2 and len(op.program[1]) == 5


def test_single_elemwise_constants_are_inlined(rng):
    x = T.vector("x", dtype="float32")
    fg, log = rewrite_and_compare([x], T.sum(x * np.float32(2.5)), rng, passes=FUSE)
    op = fg.outputs[0].owner.op
    assert isinstance(op, FusedReduce) and op.n_inputs == 1
    consts = [a for _, args, _ in op.program[1] for a in args if a[0] == "c"]
    assert consts == [("c", "float32", 2.5)]


def test_bool_program_and_int_accumulator(rng):
    x = T.matrix("x")
    out = T.sum(T.gt(x, 0), axis=1)
    fg, log = rewrite_and_compare([x], out, rng, passes=FUSE)
    assert op_types(fg) == ["FusedReduce"] and fg.outputs[0].dtype == "int64"
    a = T.vector("a", dtype="int8")
    fg, log = rewrite_and_compare([a], T.any(T.eq(a * 3, 6)), rng, passes=FUSE)
    assert op_types(fg) == ["FusedReduce"] and fg.outputs[0].dtype == "bool"


def test_dtype_and_acc_dtype_are_kept(rng):
    x = T.matrix("x", dtype="float32")
    out = T.sum(x * x, axis=0, dtype="float64", acc_dtype="float64")
    fg, log = rewrite_and_compare([x], out, rng, passes=FUSE)
    op = fg.outputs[0].owner.op
    assert op.reducer == out.owner.op and fg.outputs[0].dtype == "float64"


def test_intermediate_used_elsewhere_is_not_fused(rng):
    x = T.matrix("x")
    e = T.exp(x)
    fg, log = rewrite_and_compare([x], e / e.sum(axis=1, keepdims=True), rng, passes=FUSE)
    assert "fuse_reduce" not in applied(log)
    assert sum(isinstance(n.op, CAReduce) for n in fg.toposort()) == 1


def test_returned_intermediate_is_not_fused(rng):
    x = T.vector("x")
    e = T.exp(x) + 1
    fg, log = rewrite_and_compare([x], [e, e.sum()], rng, passes=FUSE)
    assert not fused_reduces(fg)
    assert fg.outputs[1].owner.inputs[0] is fg.outputs[0]


def test_reduction_of_an_input_or_another_reduction_is_left(rng):
    x = T.matrix("x")
    fg, log = rewrite_and_compare([x], x.sum(axis=0).max(), rng, passes=FUSE)
    assert "fuse_reduce" not in applied(log)
    assert op_types(fg) == ["CAReduce", "CAReduce"]


def test_excluded_by_name(rng):
    x = T.matrix("x")
    out = (x ** 2).sum()
    fg = FunctionGraph([x], [out])
    Pipeline([Phase("f", FUSE)]).run(fg, excluded=["fuse_reduce"])
    assert op_types(fg)[-2:] == ["Elemwise", "CAReduce"]
    f = T.function([x], out, mode=T.Mode(optimizer="fast_run").excluding("fuse_reduce"))
    assert not any(isinstance(n.op, FusedReduce) for n in f.maker.fgraph.toposort())


def test_nested_reductions_each_fused(rng):
    x = T.matrix("x")
    out = T.sqrt(T.sum(T.sqr(x - T.mean(x, axis=1, keepdims=True)), axis=1)).sum()
    fg, log = rewrite_and_compare([x], out, rng, passes=FUSE)
    assert len(fused_reduces(fg)) == 2     # the square sum, and the sum of its square roots


@pytest.mark.parametrize("mode", ["FAST_RUN", "DebugMode"])
def test_whole_pipeline_against_numpy(rng, mode):
    x = T.matrix("x", dtype="float32")
    outs = [T.exp(x - x.max(axis=1, keepdims=True)).sum(axis=1), (x ** 2).sum(), T.abs_(x).max(axis=0),
            T.sum(T.gt(x, 0.5), axis=0), T.prod(1 + x * 0.01, axis=1), T.all(T.lt(x, 10), axis=1)]
    f = T.function([x], outs, mode=mode)
    assert sum(isinstance(n.op, FusedReduce) for n in f.maker.fgraph.toposort()) == 6
    xv = rng.standard_normal((37, 53)).astype("float32")
    want = [np.exp(xv - xv.max(axis=1, keepdims=True)).sum(axis=1), (xv ** 2).sum(), np.abs(xv).max(axis=0),
            np.sum(xv > 0.5, axis=0), np.prod(1 + xv * np.float32(0.01), axis=1), np.all(xv < 10, axis=1)]
    for got, w in zip(f(xv), want):
        assert got.dtype == w.dtype and got.shape == w.shape
        np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-5)
