"""Bad arguments to function() and to a compiled function raise a clear TypeError/ValueError
naming the input (name and position) and what was expected; build-time errors name the
user's source line. A failed call never writes into the caller's arrays."""
import numpy as np
import pytest

import symtensor as T


@pytest.fixture
def f(mode):
    x, y = T.fmatrix("x"), T.fvector("y")
    return T.function([x, y], x + y, mode=mode)


def _ok():
    return np.ones((2, 3), dtype="float32"), np.ones(3, dtype="float32")


def test_too_many_arguments(f):
    a, b = _ok()
    with pytest.raises(TypeError, match=r"takes 2 argument\(s\) \(x, y\) but 3 were given"):
        f(a, b, b)


def test_missing_argument(f):
    a, _ = _ok()
    with pytest.raises(TypeError, match=r"input 1 \('y'\) is missing.*float32"):
        f(a)


def test_unknown_keyword(f):
    a, b = _ok()
    with pytest.raises(TypeError, match=r"unknown keyword argument 'z'; named inputs: 'x', 'y'"):
        f(a, b, z=b)


def test_argument_given_twice(f):
    a, b = _ok()
    with pytest.raises(TypeError, match=r"input 0 \('x'\) was given twice"):
        f(a, b, x=a)


def test_ambiguous_keyword(mode):
    x1, x2 = T.dvector("x"), T.dvector("x")
    g = T.function([x1, x2], x1 + x2, mode=mode)
    np.testing.assert_array_equal(g(np.ones(1), np.ones(1)), [2.0])
    with pytest.raises(TypeError, match="'x' is ambiguous"):
        g(np.ones(1), x=np.ones(1))


def test_wrong_ndim(f):
    a, b = _ok()
    with pytest.raises(TypeError, match=r"input 1 \('y'\).*expected an array with 1 dimension\(s\), got one with 2"):
        f(a, a)


@pytest.mark.parametrize("bad", [np.ones(3), np.ones(3, dtype="int64"), np.ones(3, dtype="complex64")])
def test_wrong_dtype(f, bad):
    a, _ = _ok()
    with pytest.raises(TypeError, match=rf"input 1 \('y'\).*expected dtype float32, got {bad.dtype}"):
        f(a, bad)


def test_unnamed_input_named_by_position(mode):
    x = T.dvector()
    g = T.function([x], x * 2, mode=mode)
    with pytest.raises(TypeError, match=r"function: input 0: bad value.*1 dimension"):
        g(np.ones((2, 2)))


def test_named_function_in_message(mode):
    x = T.dvector("x")
    g = T.function([x], x * 2, mode=mode, name="double")
    with pytest.raises(TypeError, match=r"double: input 0 \('x'\)"):
        g("not an array")


def test_unconvertible_values(f):
    _, b = _ok()
    with pytest.raises(TypeError, match=r"input 0 \('x'\)"):
        f(object(), b)
    with pytest.raises((TypeError, ValueError), match=r"input 0 \('x'\)"):
        f([[1, 2], [3]], b)  # ragged


def test_shape_error_at_run_time_names_the_node_and_keeps_caller_arrays(f):
    a = np.ones((2, 3), dtype="float32")
    b = np.ones(4, dtype="float32")
    before = a.copy(), b.copy()
    with pytest.raises(ValueError, match="while computing"):
        f(a, b)
    np.testing.assert_array_equal(a, before[0])
    np.testing.assert_array_equal(b, before[1])


# --- bad arguments to function() --------------------------------------------------------------------
def _raises_here(exc, match):
    """pytest.raises that also checks the message points at this test file."""
    return pytest.raises(exc, match=rf"(?s){match}.*test_bad_input\.py")


def test_inputs_must_be_a_list():
    x = T.dvector("x")
    with _raises_here(TypeError, "inputs must be a list"):
        T.function(x, x)


def test_input_not_a_variable():
    x = T.dvector("x")
    with _raises_here(TypeError, r"input 0 is a ndarray, expected a symbolic variable"):
        T.function([np.ones(2)], x)


def test_input_is_shared_constant_or_computed():
    x = T.dvector("x")
    s = T.shared(np.ones(2), name="s")
    with _raises_here(TypeError, "shared variable"):
        T.function([s], s * 2)
    with _raises_here(TypeError, "is a constant"):
        T.function([T.constant(np.ones(2))], x)
    with _raises_here(TypeError, "computed from other variables"):
        T.function([x * 2], x)


def test_duplicate_input():
    x = T.dvector("x")
    with _raises_here(ValueError, r"input 1 \(x\) appears more than once"):
        T.function([x, x], x)


def test_missing_input():
    x, y = T.dvector("x"), T.dvector("y")
    with _raises_here(T.MissingInputError, "variable y is needed"):
        T.function([x], x + y)


def test_output_not_a_variable():
    x = T.dvector("x")
    with _raises_here(TypeError, "output 0 is a str"):
        T.function([x], "x + 1")


def test_bad_updates():
    s = T.shared(np.zeros(2), name="s")
    x = T.dvector("x")
    with _raises_here(TypeError, "x is not a shared variable"):
        T.function([x], [], updates=[(x, x + 1)])
    with _raises_here(TypeError, "must be a .shared_variable, new_expression. pair"):
        T.function([], [], updates=[s])
    with _raises_here(TypeError, "has dtype float32, but the variable has dtype float64"):
        T.function([], [], updates=[(s, T.fvector("v") * 1)])
    with _raises_here(TypeError, "has 2 dimension.s., the variable has 1"):
        T.function([], [], updates=[(s, T.dmatrix("m"))])
    with _raises_here(ValueError, "updated twice"):
        T.function([], [], updates=[(s, s + 1), (s, s + 2)])
    with _raises_here(TypeError, "updates must be a list"):
        T.function([], [], updates=5)


def test_bad_givens():
    x, y = T.dvector("x"), T.dvector("y")
    with _raises_here(TypeError, "cannot be replaced by"):
        T.function([x], x + y, givens={y: T.fvector("z")})
    with _raises_here(TypeError, "the key 'y' is not a symbolic variable"):
        T.function([x], x, givens={"y": x})


def test_bad_on_unused_input_and_mode():
    x = T.dvector("x")
    with _raises_here(ValueError, "on_unused_input must be"):
        T.function([x], x, on_unused_input="sometimes")
    with _raises_here(ValueError, "unknown mode 'FASTEST'"):
        T.function([x], x, mode="FASTEST")
    with _raises_here(TypeError, "mode must be None, a mode name or a Mode"):
        T.function([x], x, mode=3)


def test_in_and_out_need_variables():
    with pytest.raises(TypeError, match="In: expected a symbolic variable, got ndarray"):
        T.In(np.ones(2))
    with pytest.raises(TypeError, match="Out: expected a symbolic variable, got int"):
        T.Out(3)
