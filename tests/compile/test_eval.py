"""Variable.eval: compile once per set of inputs, cached on the variable; bad arguments name
what was expected."""
import numpy as np
import pytest

import symtensor as T


def test_eval_with_inputs_and_lists():
    x, y = T.dvector("x"), T.dscalar("y")
    z = x * y + 1
    np.testing.assert_array_equal(z.eval({x: np.arange(3.0), y: 2.0}), [1.0, 3.0, 5.0])
    np.testing.assert_array_equal(z.eval({y: 1.0, x: [1, 2]}), [2.0, 3.0])  # any key order, lists convert


def test_eval_without_inputs_reads_shared_and_constants():
    s = T.shared(np.array([1.0, 2.0]), name="s")
    expr = s * 2 + T.constant(1.0)
    np.testing.assert_array_equal(expr.eval(), [3.0, 5.0])
    s.set_value(np.zeros(2))
    np.testing.assert_array_equal(expr.eval(), [1.0, 1.0])  # the cached function reads the new value


def test_eval_caches_the_compiled_function():
    x = T.dvector("x")
    z = T.exp(x)
    z.eval({x: np.zeros(1)})
    cache = z.__dict__["_eval_cache"]
    assert len(cache) == 1
    compiled = next(iter(cache.values()))
    z.eval({x: np.ones(4)})
    assert len(cache) == 1 and next(iter(cache.values())) is compiled


def test_eval_ignores_unused_inputs_and_never_aliases():
    x, unused = T.dvector("x"), T.dvector("u")
    a = np.arange(2.0)
    out = x.eval({x: a, unused: np.ones(1)})
    np.testing.assert_array_equal(out, a)
    assert not np.shares_memory(out, a)


def test_eval_bad_arguments():
    x = T.dvector("x")
    with pytest.raises(TypeError, match="expected a dict"):
        (x + 1).eval([np.ones(2)])
    with pytest.raises(TypeError, match="the key 'x' is not a symbolic variable"):
        (x + 1).eval({"x": np.ones(2)})
    with pytest.raises(T.MissingInputError, match="variable x is needed"):
        (x + 1).eval()
    with pytest.raises(TypeError, match=r"input 0 \('x'\).*1 dimension"):
        (x + 1).eval({x: np.ones((2, 2))})
