"""The memory plan of compiled schedules: an elementwise result written into a large
intermediate array that nothing reads afterwards (graph/interpreter.py ``reusable_inputs``,
backends/c/elemwise_thunk.py ``reuse_for_node``); never into a graph output, an input, or an
array a view of which is still alive."""
import numpy as np
import pytest

import symtensor as T
from symtensor.graph.interpreter import lazy_contexts, reusable_inputs
from symtensor.ifelse import ifelse


def plan_of(f) -> dict:
    ex = f.maker.executor
    return {str(ex.steps[i][0].op): k
            for i, k in reusable_inputs(ex.steps, ex.output_cells, lazy_contexts(ex.steps, ex.output_cells)).items()}


@pytest.fixture
def big(rng):
    return rng.standard_normal((512, 300)).astype("float32"), rng.standard_normal((300, 400)).astype("float32")


def test_a_dying_product_takes_the_elementwise_result(big):
    x, w = T.fmatrix("x"), T.fmatrix("w")
    f = T.function([x, w], T.tanh(T.dot(x, w)))
    assert plan_of(f) == {"Elemwise{tanh}": 0}
    a, b = big
    np.testing.assert_allclose(f(a, b), np.tanh(a @ b), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(f(a[:3], b), np.tanh(a[:3] @ b), rtol=1e-5, atol=1e-6)   # small: no reuse


def test_a_value_also_returned_is_not_overwritten(big):
    x, w = T.fmatrix("x"), T.fmatrix("w")
    h = T.dot(x, w)
    f = T.function([x, w], [h, T.tanh(h)])
    assert plan_of(f) == {}
    a, b = big
    got_h, got_t = f(a, b)
    np.testing.assert_allclose(got_h, a @ b, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(got_t, np.tanh(a @ b), rtol=1e-5, atol=1e-6)


def test_a_value_read_later_or_through_a_view_is_not_overwritten(big):
    x, w = T.fmatrix("x"), T.fmatrix("w")
    h = T.dot(x, w)
    f = T.function([x, w], [T.tanh(h), T.dot(h.T, x).sum()])
    assert "Elemwise{tanh}" not in plan_of(f)
    a, b = big
    got_t, got_s = f(a, b)
    np.testing.assert_allclose(got_t, np.tanh(a @ b), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_s, ((a @ b).T @ a).sum(), rtol=1e-3)


def test_inputs_are_never_overwritten(big):
    x = T.fmatrix("x")
    f = T.function([x], T.tanh(x) * 2)
    a, _ = big
    kept = a.copy()
    f(a)
    np.testing.assert_array_equal(a, kept)


def test_branches_read_in_code_order(big, rng):
    """A value read in a lazy branch emitted after the step that would overwrite it."""
    c, x, w = T.dscalar("c"), T.fmatrix("x"), T.fmatrix("w")
    h = T.dot(x, w)
    out = ifelse(T.gt(c, 0), h * 3, h - 1)
    f = T.function([c, x, w], [T.tanh(h), out])
    a, b = big
    for cv, want in [(1.0, (a @ b) * 3), (-1.0, (a @ b) - 1)]:
        got_t, got = f(cv, a, b)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(got_t, np.tanh(a @ b), rtol=1e-5, atol=1e-6)
