"""zero_grad, disconnected_grad, grad_clip: identity forward, altered backward."""
import numpy as np
import pytest

import symtensor as T
from symtensor.ops.misc import GradClip
from tests.helpers import check_infer_shape, layouts, run

OPS = {
    "zero_grad": T.zero_grad,
    "disconnected_grad": T.disconnected_grad,
    "grad_clip": lambda v: T.grad_clip(v, -1.0, 1.0),
}


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "bool"])
def test_forward_is_the_identity(mode, rng, name, dtype):
    x = T.matrix("x", dtype=dtype)
    y = OPS[name](x)
    assert y.type == x.type
    f = T.function([x], y, mode=mode)
    for layout, value in layouts(rng, (3, 4), dtype):
        before = value.copy()
        got = f(value)
        assert got.dtype == value.dtype, layout
        np.testing.assert_array_equal(got, value, err_msg=layout)
        np.testing.assert_array_equal(value, before)  # the caller's array is untouched


@pytest.mark.parametrize("name", sorted(OPS))
def test_broadcastable_input_and_infer_shape(mode, rng, name):
    x = T.TensorType("float64", (True, False))("x")
    y = OPS[name](x)
    assert y.broadcastable == (True, False)
    value = rng.standard_normal((1, 5))
    np.testing.assert_array_equal(run(mode, [x], y, value), value)
    check_infer_shape(mode, [x], y, [value], (1, 5))


def test_zero_grad(rng):
    x = T.dvector("x")
    xv = rng.standard_normal(4)
    g = T.grad((T.zero_grad(x) * x).sum(), x)
    np.testing.assert_allclose(run("FAST_COMPILE", [x], g, xv), xv)
    # zero_grad keeps the variable connected: no DisconnectedInputError
    np.testing.assert_array_equal(run("FAST_COMPILE", [x], T.grad(T.zero_grad(x).sum(), x), xv), np.zeros(4))
    T.verify_grad(lambda a: T.zero_grad(a) * 0 + a ** 2, [xv], rng=rng)


def test_disconnected_grad(rng):
    x = T.dvector("x")
    xv = rng.standard_normal(4)
    g = T.grad((T.disconnected_grad(x) * x).sum(), x)
    np.testing.assert_allclose(run("FAST_COMPILE", [x], g, xv), xv)
    with pytest.raises(T.DisconnectedInputError, match="does not depend on wrt"):
        T.grad(T.disconnected_grad(x).sum(), x)
    g = T.grad(T.disconnected_grad(x).sum(), x, disconnected_inputs="ignore")
    np.testing.assert_array_equal(run("FAST_COMPILE", [x], g, xv), np.zeros(4))


def test_grad_clip(rng):
    x = T.dvector("x")
    xv = np.array([0.1, 2.0, -3.0, 0.0])
    g = T.grad((T.grad_clip(x, -1.0, 1.0) * 5 * x).sum(), x)
    # the clipped path sends clip(5x, -1, 1); the unclipped path sends 5x
    np.testing.assert_allclose(run("FAST_COMPILE", [x], g, xv), np.clip(5 * xv, -1, 1) + 5 * xv)
    T.verify_grad(lambda a: T.grad_clip(a, -100.0, 100.0) * 2, [xv], rng=rng)


def test_grad_clip_props_and_bad_bounds():
    assert GradClip(-1, 1) == GradClip(-1.0, 1.0) and hash(GradClip(-1, 1)) == hash(GradClip(-1.0, 1.0))
    assert GradClip(-1, 1) != GradClip(-2, 1)
    with pytest.raises(ValueError, match="lower bound 2.0 exceeds upper bound 1.0"):
        T.grad_clip(T.dvector(), 2.0, 1.0)


def test_rop(rng):
    x, v = T.dvector("x"), T.dvector("v")
    xv, vv = rng.standard_normal(3), rng.standard_normal(3)
    clip = T.Rop(T.grad_clip(x, -1, 1) * 2, x, v)
    np.testing.assert_allclose(run("FAST_COMPILE", [x, v], clip, xv, vv), 2 * vv)
    zero = T.Rop(T.zero_grad(x) * 2, x, v)
    np.testing.assert_array_equal(run("FAST_COMPILE", [x, v], zero, xv, vv), np.zeros(3))
