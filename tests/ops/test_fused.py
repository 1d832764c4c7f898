"""FusedElemwise: equality and hashing by program, pickling, infer_shape, inner-graph
printing and perform against numpy."""
import pickle

import numpy as np
import pytest

import symtensor as T
from symtensor.graph.type import TensorType
from symtensor.ops import scalar as ps
from symtensor.ops.fused import FusedElemwise, evaluate_program, program_graph, program_of

ADD, EXP, MUL = ps.get("add"), ps.get("exp"), ps.get("mul")
# exp(i0 + i1) * 2
PROGRAM = (2, ((ADD, (("i", 0), ("i", 1)), "float64"), (EXP, (("s", 0),), "float64"),
               (MUL, (("s", 1), ("c", "float64", 2.0)), "float64")), (2,))
MAT = TensorType("float64", shape=(None, None))
ROW = TensorType("float64", shape=(1, None))


def make(in_types=(ROW, MAT)):
    return FusedElemwise(PROGRAM, (MAT,), in_types)


def test_equal_programs_are_equal_ops():
    a, b = make(), FusedElemwise(tuple(PROGRAM), (MAT,), (ROW, MAT))
    assert a == b and hash(a) == hash(b)
    other = (2, PROGRAM[1][:2] + ((MUL, (("s", 1), ("c", "float64", 3.0)), "float64"),), (2,))
    assert FusedElemwise(other, (MAT,), (ROW, MAT)) != a


def test_pickle_roundtrip():
    op = make()
    op.inner_graphs()                      # the cached inner graph is not pickled
    back = pickle.loads(pickle.dumps(op))
    assert back == op and hash(back) == hash(op)
    assert back.inner_graphs()[0].outputs[0].dtype == "float64"


def test_perform_against_numpy():
    rng = np.random.default_rng(0)
    r, m = T.row("r"), T.matrix("m")
    out = make()(r, m)
    rv, mv = rng.standard_normal((1, 4)), rng.standard_normal((3, 4))
    got = T.function([r, m], out, mode="FAST_COMPILE")(rv, mv)
    np.testing.assert_allclose(got, np.exp(rv + mv) * 2, rtol=1e-12)
    assert evaluate_program(PROGRAM, [rv, mv])[0].shape == (3, 4)


def test_perform_expands_broadcast_only_results():
    op = FusedElemwise(PROGRAM, (ROW,), (ROW, ROW))
    r, s = T.row("r"), T.row("s")
    got = T.function([r, s], op(r, s), mode="FAST_COMPILE")(np.zeros((1, 3)), np.zeros((1, 3)))
    np.testing.assert_array_equal(got, np.full((1, 3), 2.0))


def test_runtime_broadcast_mismatch_raises():
    m, n = T.matrix("m"), T.matrix("n")
    f = T.function([m, n], make((MAT, MAT))(m, n), mode="FAST_COMPILE")
    with pytest.raises(ValueError, match="does not broadcast"):
        f(np.ones((1, 4)), np.ones((3, 4)))


def test_infer_shape():
    r, m = T.row("r"), T.matrix("m")
    node = make()(r, m).owner
    shapes = node.op.infer_shape(node, [(1, "a"), ("b", "c")])
    assert shapes == [("b", "a")]


def test_make_node_checks_inputs():
    m = T.matrix("m")
    with pytest.raises(TypeError, match="expected 2 inputs"):
        make()(m)
    with pytest.raises(TypeError, match="dimension"):
        make()(T.vector("v"), m)
    with pytest.raises(TypeError, match="dtype"):
        make()(T.matrix("i", dtype="int32"), m)
    with pytest.raises(ValueError, match="input type"):
        FusedElemwise(PROGRAM, (MAT,), (MAT,))


def test_inner_graph_prints_through_debugprint():
    r, m = T.row("r"), T.matrix("m")
    text = T.debugprint(make()(r, m), file="str")
    assert "inner graph of FusedElemwise{add|exp|mul}" in text
    assert "Elemwise{exp}" in text
    inner = program_graph(PROGRAM, (MAT,), (ROW, MAT))
    assert inner.inputs[0].type == ROW


def test_program_of_plain_elemwise():
    x = T.vector("x")
    node = T.exp(x).owner
    n_in, steps, outs = program_of(node)
    assert n_in == 1 and steps[0][0] == EXP and outs == (0,)
