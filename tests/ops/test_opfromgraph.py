"""OpFromGraph: the inner-graph interface (perform, grad, Rop, printing, pickling)."""
import pickle

import numpy as np
import pytest

import symtensor as T
from symtensor.graph.fg import iter_inner_graphs


def _op():
    x, y = T.dmatrix("x"), T.dmatrix("y")
    return T.OpFromGraph([x, y], [T.tanh(x) * y + x, (x * y).sum()], name="block")


def test_perform_matches_numpy(mode, rng):
    op = _op()
    a, b = T.dmatrix("a"), T.dmatrix("b")
    out, total = op(a, b)
    f = T.function([a, b], [out, total], mode=mode)
    av, bv = rng.random((2, 3)), rng.random((2, 3))
    r_out, r_total = f(av, bv)
    np.testing.assert_allclose(r_out, np.tanh(av) * bv + av)
    np.testing.assert_allclose(r_total, (av * bv).sum())


def test_grad_through_inner_graph(rng):
    op = _op()
    T.verify_grad(lambda p, q: op(p, q)[0], [rng.random((2, 3)), rng.random((2, 3))], rng=rng)
    T.verify_grad(lambda p, q: op(p, q)[1], [rng.random((2, 3)), rng.random((2, 3))], rng=rng)


def test_rop_through_inner_graph(rng):
    op = _op()
    a, b = T.dmatrix("a"), T.dmatrix("b")
    out = op(a, b)[0]
    va = T.dmatrix("va")
    jvp = T.Rop(out, a, va)
    av, bv, vv = rng.random((2, 3)), rng.random((2, 3)), rng.random((2, 3))
    got = T.function([a, b, va], jvp)(av, bv, vv)
    np.testing.assert_allclose(got, ((1 - np.tanh(av) ** 2) * bv + 1) * vv)


def test_inner_graphs_interface_and_printing():
    op = _op()
    a, b = T.dmatrix("a"), T.dmatrix("b")
    f = T.function([a, b], op(a, b)[0])
    seen = []
    iter_inner_graphs(f.maker.fgraph, seen.append)
    assert seen == [op.fgraph]
    text = T.debugprint(op(a, b)[0], file="str")
    assert "inner graph of block" in text and "Elemwise{tanh}" in text


def test_ops_are_equal_only_to_themselves():
    assert _op() != _op()


def test_wrong_input_type_is_rejected():
    op = _op()
    with pytest.raises(TypeError, match="input 0"):
        op(T.dvector("v"), T.dmatrix("m"))


def test_pickle_roundtrip(rng):
    op = _op()
    a, b = T.dmatrix("a"), T.dmatrix("b")
    f = pickle.loads(pickle.dumps(T.function([a, b], op(a, b)[1])))
    av, bv = rng.random((2, 3)), rng.random((2, 3))
    np.testing.assert_allclose(f(av, bv), (av * bv).sum())
