"""FunctionGraph: clients, validated replace, toposort, clone, integrity, missing inputs."""
import numpy as np
import pytest

import symtensor as T
from symtensor.graph.fg import OUTPUT, FunctionGraph, InconsistencyError, MissingInputError, used_inputs


def _graph():
    x, y = T.dvector("x"), T.dvector("y")
    a = T.exp(x)
    b = a * y
    return x, y, FunctionGraph([x, y], [b + a])


def _nodes(fg):
    out = fg.outputs[0].owner
    mul = out.inputs[0].owner
    return mul.inputs[0].owner, mul, out  # exp, mul, add


def test_clone_keeps_inputs_but_copies_nodes():
    x, y = T.dvector("x"), T.dvector("y")
    out = T.exp(x) * y
    fg = FunctionGraph([x, y], [out])
    assert fg.inputs == [x, y] and fg.outputs[0] is not out
    assert not fg.apply_nodes & {out.owner, out.owner.inputs[0].owner}
    fg2 = FunctionGraph([x, y], [out], clone=False)
    assert fg2.outputs[0] is out and out.owner in fg2.apply_nodes


def test_clients():
    x, y, fg = _graph()
    exp, mul, add = _nodes(fg)
    assert fg.clients[x] == [(exp, 0)]
    assert fg.clients[y] == [(mul, 1)]
    assert sorted(fg.clients[exp.outputs[0]], key=lambda c: c[1]) == [(mul, 0), (add, 1)]
    assert fg.clients[fg.outputs[0]] == [(OUTPUT, 0)]
    assert fg.apply_nodes == {exp, mul, add}
    fg.check_integrity()


def test_toposort_orders_producers_first():
    x, y, fg = _graph()
    order = fg.toposort()
    assert order == list(_nodes(fg))
    for k, node in enumerate(order):
        assert all(i.owner is None or order.index(i.owner) < k for i in node.inputs)


def test_replace_rewires_clients_and_prunes(rng):
    x, y, fg = _graph()
    exp, mul, add = _nodes(fg)
    log = T.log(x)
    fg.replace(exp.outputs[0], log, reason="test")
    fg.check_integrity()
    assert exp not in fg.apply_nodes and log.owner in fg.apply_nodes
    assert mul.inputs[0] is log and add.inputs[1] is log
    assert fg.clients[x] == [(log.owner, 0)]
    xv, yv = rng.random(3) + 0.5, rng.random(3)
    from symtensor.graph.interpreter import Interpreter
    (got,) = Interpreter(fg)([xv, yv])
    np.testing.assert_allclose(got, np.log(xv) * yv + np.log(xv))


def test_replace_output():
    x, y, fg = _graph()
    fg.replace(fg.outputs[0], y)
    fg.check_integrity()
    assert fg.outputs == [y] and fg.apply_nodes == set() and fg.clients[y] == [(OUTPUT, 0)]


def test_replace_validates_types():
    x, y, fg = _graph()
    exp = _nodes(fg)[0]
    with pytest.raises(TypeError, match=r"cannot replace .* with .*float64, \(False, False\).*my-rule"):
        fg.replace(exp.outputs[0], T.dmatrix(), reason="my-rule")
    with pytest.raises(TypeError, match="float32"):
        fg.replace(exp.outputs[0], T.fvector())
    with pytest.raises(ValueError, match="not in this graph"):
        fg.replace(T.dvector("q"), y)
    fg.check_integrity()
    # a more specific static shape is compatible
    fg.replace(exp.outputs[0], T.specify_shape(T.exp(x), (3,)))
    fg.check_integrity()


def test_missing_input_error():
    x, y = T.dvector("x"), T.dvector("y")
    with pytest.raises(MissingInputError, match="variable y is needed by Elemwise{mul}.*not an input"):
        FunctionGraph([x], [x * y])
    with pytest.raises(MissingInputError, match="output y is a free variable"):
        FunctionGraph([x], [y])
    with pytest.raises(ValueError, match="inputs must be free variables"):
        FunctionGraph([T.exp(x)], [x])
    assert issubclass(MissingInputError, ValueError)


def test_failed_replace_leaves_graph_unchanged():
    x, y, fg = _graph()
    before_out, before_nodes = list(fg.outputs), set(fg.apply_nodes)
    z = T.dvector("z")
    with pytest.raises(MissingInputError, match="variable z"):
        fg.replace(_nodes(fg)[0].outputs[0], T.exp(z))
    with pytest.raises(MissingInputError, match="output z"):
        fg.replace(fg.outputs[0], z)
    assert fg.outputs == before_out and fg.apply_nodes == before_nodes
    fg.check_integrity()


def test_clone_is_independent():
    x, y, fg = _graph()
    fg2 = fg.clone()
    assert not fg2.apply_nodes & fg.apply_nodes and fg2.inputs == fg.inputs
    fg2.replace(fg2.outputs[0], y)
    assert fg.outputs[0].owner is not None and len(fg.apply_nodes) == 3
    fg.check_integrity()
    fg2.check_integrity()


def test_check_integrity_detects_corruption():
    x, y, fg = _graph()
    exp = _nodes(fg)[0]
    fg.apply_nodes.discard(exp)
    with pytest.raises(InconsistencyError, match="apply_nodes"):
        fg.check_integrity()
    x, y, fg = _graph()
    fg.clients[x].clear()
    with pytest.raises(InconsistencyError, match="missing client entry"):
        fg.check_integrity()


def test_features_are_notified():
    events = []

    class Recorder:
        def on_attach(self, fg):
            events.append("attach")

        def on_change_input(self, fg, node, i, old, new):
            events.append(("change", i))

        def on_prune(self, fg, node):
            events.append(("prune", str(node.op)))

    x, y, fg = _graph()
    fg.attach_feature(Recorder())
    fg.replace(fg.outputs[0], y)
    assert events[0] == "attach" and ("change", 0) in events
    assert sum(1 for e in events if e[0] == "prune") == 3


def test_used_inputs():
    x, y, z = T.dvector("x"), T.dvector("y"), T.dvector("z")
    assert used_inputs([x, y, z], [T.exp(x) + z]) == {x, z}
