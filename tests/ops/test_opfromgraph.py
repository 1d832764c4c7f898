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


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_perform_layouts_and_dtypes(mode, rng, dtype):
    from tests.helpers import layouts, tol
    x = T.matrix("x", dtype=dtype)
    op = T.OpFromGraph([x], [T.exp(x) * 2 + x])
    a = T.matrix("a", dtype=dtype)
    f = T.function([a], op(a), mode=mode)
    for name, value in layouts(rng, (3, 4), dtype):
        got = f(value)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, np.exp(value) * 2 + value, err_msg=name, **tol(dtype))


def test_infer_shape(mode, rng):
    from tests.helpers import check_infer_shape
    op = _op()
    a, b = T.dmatrix("a"), T.dmatrix("b")
    out, total = op(a, b)
    values = [rng.random((2, 5)), rng.random((2, 5))]
    check_infer_shape(mode, [a, b], out, values, (2, 5))
    check_infer_shape(mode, [a, b], total, values, ())


def test_second_derivative_through_inner_graph(rng):
    x = T.dvector("x")
    op = T.OpFromGraph([x], [(T.exp(x) * x).sum()])
    a = T.dvector("a")
    hess_diag = T.grad(T.grad(op(a), a).sum(), a)
    av = rng.standard_normal(3)
    np.testing.assert_allclose(T.function([a], hess_diag)(av), np.exp(av) * (av + 2))


def test_shared_variables_are_implicit_inputs(mode, rng):
    x = T.dmatrix("x")
    s = T.shared(np.full((2, 3), 2.0), name="s")
    op = T.OpFromGraph([x], [x * s + 1.0])
    assert op.shared_inputs == [s]
    a = T.dmatrix("a")
    f = T.function([a], op(a), mode=mode)
    av = rng.random((2, 3))
    np.testing.assert_allclose(f(av), av * 2 + 1)
    s.set_value(np.full((2, 3), 3.0))  # the function reads the current value
    np.testing.assert_allclose(f(av), av * 3 + 1)
    ga, gs = T.grad(op(a).sum(), [a, s])
    got_a, got_s = T.function([a], [ga, gs], mode=mode)(av)
    np.testing.assert_allclose(got_a, np.full((2, 3), 3.0))
    np.testing.assert_allclose(got_s, av)


def test_free_variable_that_is_not_an_input_is_rejected():
    x, y = T.dmatrix("x"), T.dmatrix("y")
    with pytest.raises(TypeError, match="depend on y, which is not among the inputs"):
        T.OpFromGraph([x], [x + y])
    with pytest.raises(TypeError, match="input 0 must be a free symbolic variable"):
        T.OpFromGraph([x * 2], [x])


def test_wrong_number_of_inputs():
    op = _op()
    with pytest.raises(TypeError, match="expected 2 inputs, got 1"):
        op(T.dmatrix("a"))
