"""Variable, Constant, Apply, Op identity, graph walking and build-time errors."""
import numpy as np
import pytest

import symtensor as T
from symtensor.graph.basic import (Apply, Constant, Op, ancestors, clone_graph, clone_replace, graph_inputs,
                                   toposort)
from symtensor.graph.type import TensorType


class Scale(Op):
    """A test op: ``x * factor``; ``factor`` is its one prop."""

    __props__ = ("factor",)

    def __init__(self, factor):
        self.factor = factor

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        if x.dtype[0] != "f":
            raise TypeError(f"Scale needs a float input, got {x.dtype}")
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, out):
        out[0][0] = inputs[0] * self.factor


def test_variable_attributes():
    x = T.dmatrix("x")
    assert x.owner is None and x.index is None and x.name == "x"
    assert x.type == TensorType("float64", (False, False)) and x.ndim == 2 and x.dtype == "float64"
    y = T.exp(x)
    assert y.owner.inputs == [x] and y.owner.outputs == [y] and y.index == 0
    assert str(x) == "x" and "exp" in str(y)


def test_variable_clone_is_fresh_and_ownerless():
    x = T.dvector("x")
    y = T.exp(x)
    c = y.clone()
    assert c is not y and c.owner is None and c.type == y.type and c.name == y.name


def test_constant_value_is_read_only_and_signature():
    c = T.constant(np.arange(3.0))
    assert isinstance(c, Constant) and c.owner is None
    np.testing.assert_array_equal(c.data, [0.0, 1.0, 2.0])
    with pytest.raises(ValueError):
        c.data[0] = 5
    assert c.signature() == T.constant(np.arange(3.0)).signature()
    assert c.signature() != T.constant(np.arange(3.0) + 1).signature()
    assert str(T.constant(2.0)) == "2.0"
    cc = c.clone()
    assert cc is not c and np.array_equal(cc.data, c.data)


def test_constant_rejects_bad_data():
    with pytest.raises(TypeError, match="expected dtype int8"):
        Constant(TensorType("int8", ()), 1000)


def test_apply_links_outputs_and_checks_inputs():
    x = T.dvector("x")
    node = Scale(2.0).make_node(x)
    out = node.outputs[0]
    assert out.owner is node and out.index == 0 and node.nin == 1 and node.nout == 1 and node.out is out
    with pytest.raises(TypeError, match="input 0 is ndarray, expected a Variable"):
        Apply(Scale(2.0), [np.zeros(3)], [x.type()])
    with pytest.raises(ValueError, match="already belongs to another node"):
        Apply(Scale(2.0), [x], [out])


def test_apply_clone_with_new_inputs():
    x, y = T.dvector("x"), T.dvector("y")
    node = Scale(3.0).make_node(x)
    new = node.clone_with_new_inputs([y])
    assert new.inputs == [y] and new.op == node.op and new.outputs[0] is not node.outputs[0]
    with pytest.raises(TypeError, match="new input 0 has type"):
        node.clone_with_new_inputs([T.fvector("f")])
    with pytest.raises(ValueError, match="expected 1 inputs, got 2"):
        node.clone_with_new_inputs([x, y])


def test_op_equality_and_hash_from_props():
    assert Scale(2.0) == Scale(2.0) and hash(Scale(2.0)) == hash(Scale(2.0))
    assert Scale(2.0) != Scale(3.0)
    assert len({Scale(2.0), Scale(2.0), Scale(3.0)}) == 2
    assert str(Scale(2.0)) == "Scale{factor=2.0}"
    x = T.dmatrix("x")
    # the library's own ops: two identical ops compare equal
    assert T.exp(x).owner.op == T.exp(x).owner.op
    assert T.sum(x, axis=0).owner.op == T.sum(x, axis=0).owner.op
    assert T.sum(x, axis=0).owner.op != T.sum(x, axis=1).owner.op
    assert hash(T.sum(x, axis=1).owner.op) == hash(T.sum(x, axis=1).owner.op)


def test_op_call_records_the_user_line():
    x = T.dvector("x")
    y = Scale(2.0)(x)
    filename, lineno, func, text = y.owner.tag.trace
    assert filename == __file__ and func == "test_op_call_records_the_user_line"
    assert text == "y = Scale(2.0)(x)"


def test_op_make_node_error_names_the_user_line():
    with pytest.raises(TypeError) as info:
        Scale(2.0)(T.ivector("i"))  # LINE-MARK-1
    msg = str(info.value)
    assert "Scale needs a float input, got int32" in msg
    assert "while building Scale{factor=2.0}" in msg and "LINE-MARK-1" in msg and __file__ in msg


def test_shape_mismatch_of_constants_raises_at_build_time():
    a, b = T.constant(np.ones(3)), T.constant(np.ones(4))
    with pytest.raises(ValueError) as info:
        a + b  # LINE-MARK-2
    msg = str(info.value)
    assert "(3,)" in msg and "(4,)" in msg and "LINE-MARK-2" in msg and __file__ in msg


def test_dot_of_mismatched_static_shapes_raises_at_build_time():
    m = TensorType("float64", shape=(2, 3))("m")
    n = TensorType("float64", shape=(4, 5))("n")
    with pytest.raises(ValueError) as info:
        T.dot(m, n)  # LINE-MARK-3
    msg = str(info.value)
    assert "not aligned" in msg and "LINE-MARK-3" in msg and __file__ in msg


def test_graph_walking():
    x, y = T.dvector("x"), T.dvector("y")
    a = T.exp(x)
    b = a * y
    c = b + a
    nodes = toposort([c])
    assert nodes == [a.owner, b.owner, c.owner]
    for k, node in enumerate(nodes):  # every node comes after the producers of its inputs
        assert all(i.owner is None or nodes.index(i.owner) < k for i in node.inputs)
    assert set(graph_inputs([c])) == {x, y}
    assert set(graph_inputs([c], blockers=[a])) == {a, y}
    assert toposort([c], blockers=[b]) == [a.owner, c.owner]
    assert set(ancestors([b])) == {b, a, x, y}


def test_clone_replace_substitutes_without_touching_the_original(rng):
    x, y, z = T.dvector("x"), T.dvector("y"), T.dvector("z")
    out = T.exp(x) * y
    (new,) = clone_replace([out], {x: z})
    assert set(graph_inputs([new])) == {z, y} and set(graph_inputs([out])) == {x, y}
    zv, yv = rng.standard_normal(3), rng.standard_normal(3)
    np.testing.assert_allclose(T.function([z, y], new)(zv, yv), np.exp(zv) * yv)


def test_clone_graph_copies_every_node():
    x = T.dvector("x")
    out = T.exp(x) + 1
    (nx,), (nout,), memo = clone_graph([x], [out])
    assert nx is not x and nout is not out and memo[x] is nx
    assert set(graph_inputs([nout])) - {v for v in graph_inputs([nout]) if isinstance(v, Constant)} == {nx}
    assert not set(toposort([nout])) & set(toposort([out]))
