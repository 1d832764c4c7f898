"""grad(): consider_constant, disconnected inputs, known_grads, int paths, second derivatives."""
import warnings

import numpy as np
import pytest

import symtensor as T
from symtensor.graph.basic import Apply, Op
from symtensor.graph.null import DisconnectedType, grad_undefined, is_disconnected, is_null


def _eval(inputs, outputs, *values, mode="FAST_COMPILE"):
    return T.function(inputs, outputs, mode=mode, on_unused_input="ignore")(*values)


def test_grad_matches_numpy(mode, rng):
    x = T.dvector("x")
    W = T.dmatrix("W")
    cost = (T.tanh(T.dot(W, x)) ** 2).sum()
    gW, gx = T.grad(cost, [W, x])
    Wv, xv = rng.standard_normal((3, 4)), rng.standard_normal(4)
    h = np.tanh(Wv @ xv)
    dh = 2 * h * (1 - h ** 2)
    got_W, got_x = _eval([W, x], [gW, gx], Wv, xv, mode=mode)
    np.testing.assert_allclose(got_W, np.outer(dh, xv))
    np.testing.assert_allclose(got_x, Wv.T @ dh)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_grad_keeps_the_input_dtype(dtype):
    x = T.vector("x", dtype=dtype)
    g = T.grad((x * 2).sum(), x)
    assert g.dtype == dtype and g.type.broadcastable == (False,)


def test_grad_wrt_list_and_tuple_keeps_the_container():
    x, y = T.dscalar("x"), T.dscalar("y")
    cost = x * y
    assert isinstance(T.grad(cost, [x, y]), list)
    assert isinstance(T.grad(cost, (x, y)), tuple)
    gx = T.grad(cost, x)
    assert not isinstance(gx, (list, tuple))
    assert _eval([x, y], T.grad(cost, [x, y]), 2.0, 5.0) == [5.0, 2.0]


def test_grad_of_a_non_scalar_cost_errors():
    x = T.dvector("x")
    with pytest.raises(TypeError, match="cost must be a scalar.*1 dimension"):
        T.grad(x * 2, x)


def test_bad_arguments_are_rejected():
    x = T.dvector("x")
    with pytest.raises(TypeError, match=r"wrt\[0\] is a ndarray"):
        T.grad(x.sum(), np.zeros(3))
    with pytest.raises(ValueError, match="disconnected_inputs must be"):
        T.grad(x.sum(), x, disconnected_inputs="maybe")
    with pytest.raises(ValueError, match="return_disconnected must be"):
        T.grad(x.sum(), x, return_disconnected="nothing")
    with pytest.raises(ValueError, match="give a cost or known_grads"):
        T.grad(None, x)
    with pytest.raises(ValueError, match="known_grads for x has 0 dimension"):
        T.grad(None, x, known_grads={x: T.dscalar()})


def test_consider_constant(rng):
    x = T.dvector("x")
    z = x * 3
    cost = (z * x).sum()
    xv = rng.standard_normal(4)
    np.testing.assert_allclose(_eval([x], T.grad(cost, x), xv), 6 * xv)
    np.testing.assert_allclose(_eval([x], T.grad(cost, x, consider_constant=[z]), xv), 3 * xv)


def test_disconnected_inputs_modes():
    x, y = T.dvector("x"), T.dvector("y")
    cost = (x ** 2).sum()
    with pytest.raises(T.DisconnectedInputError, match=r"does not depend on wrt\[1\] \(y\)"):
        T.grad(cost, [x, y])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        T.grad(cost, [x, y], disconnected_inputs="warn")
    assert len(caught) == 1 and "wrt[1] (y)" in str(caught[0].message)
    assert caught[0].filename == __file__  # the warning points at the user's call
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gx, gy = T.grad(cost, [x, y], disconnected_inputs="ignore")
    np.testing.assert_array_equal(_eval([x, y], gy, np.ones(2), np.ones(3)), np.zeros(3))


def test_return_disconnected():
    x, y = T.dvector("x"), T.ivector("y")
    cost = (x ** 2).sum()
    _, zero = T.grad(cost, [x, y], disconnected_inputs="ignore", return_disconnected="zero")
    assert zero.dtype == T.config.floatX and zero.ndim == 1
    _, none = T.grad(cost, [x, y], disconnected_inputs="ignore", return_disconnected="None")
    assert none is None
    _, disc = T.grad(cost, [x, y], disconnected_inputs="ignore", return_disconnected="Disconnected")
    assert is_disconnected(disc) and isinstance(disc.type, DisconnectedType)


def test_known_grads_without_cost(rng):
    x = T.dvector("x")
    z = T.exp(x)
    gz = T.dvector("gz")
    g = T.grad(None, x, known_grads={z: gz})
    xv, gv = rng.standard_normal(3), rng.standard_normal(3)
    np.testing.assert_allclose(_eval([x, gz], g, xv, gv), np.exp(xv) * gv)


def test_known_grads_replace_what_the_cost_sends_back(rng):
    """As in Theano, a known gradient is the gradient of that variable, not a summand."""
    x = T.dvector("x")
    z = x * 3
    cost = (z * x).sum()
    g = T.grad(cost, x, known_grads={z: T.ones_like(z) * 10})
    xv = rng.standard_normal(3)
    np.testing.assert_allclose(_eval([x], g, xv), 30 + 3 * xv)


def test_grad_through_int_ops_is_zero(rng):
    x = T.dvector("x")
    i = T.ivector("i")
    cost = (x * T.cast(i, "float64")).sum() + T.cast((i * 2).sum(), "float64")
    gx, gi = T.grad(cost, [x, i])
    assert gi.dtype == T.config.floatX
    xv, iv = rng.standard_normal(3), np.array([1, -2, 3], dtype="int32")
    got_x, got_i = _eval([x, i], [gx, gi], xv, iv)
    np.testing.assert_allclose(got_x, iv)
    np.testing.assert_array_equal(got_i, np.zeros(3))
    # rounding through an integer cast: the path contributes nothing, x*x still does
    cost2 = (T.cast(T.cast(x, "int64"), "float64") + x * x).sum()
    np.testing.assert_allclose(_eval([x], T.grad(cost2, x), xv), 2 * xv)


def test_second_derivative(rng):
    x = T.dvector("x")
    g = T.grad((x ** 3).sum(), x)
    h = T.grad(g.sum(), x)
    xv = rng.standard_normal(4)
    np.testing.assert_allclose(_eval([x], h, xv), 6 * xv)
    # mixed second derivative of sum(x*y*y)
    y = T.dvector("y")
    gx = T.grad((x * y * y).sum(), x)
    np.testing.assert_allclose(_eval([x, y], T.grad(gx.sum(), y), xv, xv + 1), 2 * (xv + 1))


def test_grad_of_the_cost_itself_and_names():
    x = T.dscalar("x")
    assert _eval([x], T.grad(x, x), 3.0) == 1.0
    cost = (x * 2)
    cost.name = "c"
    assert T.grad(cost, x).name == "(dc/dx)"


class _Floor(Op):
    """A test op with an undefined gradient."""

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, out):
        out[0][0] = np.floor(inputs[0])

    def grad(self, inputs, output_grads):
        return [grad_undefined(self, 0, inputs[0], "floor is flat")]


def test_undefined_gradient_raises_naming_the_op():
    x = T.dvector("x")
    with pytest.raises(T.NullTypeGradError, match="_Floor's gradient with respect to input 0 is undefined"):
        T.grad(_Floor()(x).sum(), x)
    g = T.grad(_Floor()(x).sum(), x, null_gradients="return")
    assert is_null(g)


def test_lop_matches_transposed_jacobian(rng):
    W, x, v = T.dmatrix("W"), T.dvector("x"), T.dvector("v")
    out = T.tanh(T.dot(W, x))
    lx = T.Lop(out, x, v)
    Wv, xv, vv = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal(3)
    jac = (1 - np.tanh(Wv @ xv) ** 2)[:, None] * Wv
    np.testing.assert_allclose(_eval([W, x, v], lx, Wv, xv, vv), vv @ jac)
    with pytest.raises(ValueError, match="2 outputs but 1 eval points"):
        T.Lop([out, out], x, [v])
