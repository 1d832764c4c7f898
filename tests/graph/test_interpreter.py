"""The numpy interpreter: runs a FunctionGraph; a failing op names the node and the user's line."""
import numpy as np
import pytest

import symtensor as T
from symtensor.graph.basic import Apply, Op
from symtensor.graph.fg import FunctionGraph
from symtensor.graph.interpreter import Interpreter, annotate_error
from tests.helpers import layouts, tol


class Failing(Op):
    """An op whose perform raises: the error must come back naming it."""

    def __init__(self, exc=ValueError):
        self.exc = exc

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, out):
        raise self.exc("kaboom")


class WrongDtype(Op):
    """An op whose perform returns float32 for a float64 output."""

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, out):
        out[0][0] = inputs[0].astype("float32")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_interpreter_matches_numpy(rng, dtype):
    x, y = T.vector("x", dtype=dtype), T.vector("y", dtype=dtype)
    fg = FunctionGraph([x, y], [T.exp(x) * y + x, T.constant(np.float64(2.0))])
    run = Interpreter(fg)
    for name, xv in layouts(rng, (4,), dtype):
        yv = np.ones_like(xv)
        out, two = run([xv, yv])
        np.testing.assert_allclose(out, np.exp(xv) * yv + xv, **tol(dtype), err_msg=name)
        assert two == 2.0
    # the storage is cleared after a call: nothing keeps the caller's arrays alive
    assert all(cell[0] is None for cell in run.input_cells + run.intermediate_cells)


def test_interpreter_output_that_is_an_input(rng):
    x = T.dvector("x")
    xv = rng.random(3)
    (out,) = Interpreter(FunctionGraph([x], [x]))([xv])
    np.testing.assert_array_equal(out, xv)


def test_error_names_node_and_user_line(mode):
    x = T.dvector("x")
    y = Failing()(x) * 2  # LINE-MARK-FAIL
    f = T.function([x], y, mode=mode)
    with pytest.raises(ValueError) as info:
        f(np.ones(3))
    msg = str(info.value)
    assert "kaboom" in msg and "while computing Failing" in msg
    assert "LINE-MARK-FAIL" in msg and __file__ in msg


def test_error_class_with_unusual_constructor_becomes_runtime_error():
    class Odd(Exception):
        def __init__(self, a, b):
            super().__init__(f"{a}{b}")

    node = Failing().make_node(T.dvector("x"))
    err = annotate_error(Odd("ka", "boom"), node)
    assert isinstance(err, RuntimeError) and "kaboom" in str(err) and "while computing Failing" in str(err)
    assert annotate_error(err, node) is err  # annotated once only


def test_check_outputs_catches_a_wrong_perform():
    x = T.dvector("x")
    fg = FunctionGraph([x], [WrongDtype()(x)])
    assert Interpreter(fg)([np.ones(2)])[0].dtype == np.float32
    with pytest.raises(TypeError, match="WrongDtype.perform returned a value that does not match"):
        Interpreter(fg, check_outputs=True)([np.ones(2)])
