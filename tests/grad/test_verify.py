"""verify_grad passes on correct gradients and fails with a clear report on a wrong one."""
import numpy as np
import pytest

import symtensor as T
from symtensor.graph.basic import Apply, Op


class BadSquare(Op):
    """x ** 2 with a deliberately wrong gradient (3x instead of 2x)."""

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, out):
        out[0][0] = inputs[0] ** 2

    def grad(self, inputs, output_grads):
        return [output_grads[0] * inputs[0] * 3]


class OneBadElement(BadSquare):
    """x ** 2 whose gradient is right except at flat index 4."""

    def grad(self, inputs, output_grads):
        mask = np.ones((2, 3))
        mask.flat[4] = 1.5
        return [output_grads[0] * inputs[0] * 2 * T.constant(mask)]


def test_passes_on_correct_gradients(rng):
    T.verify_grad(lambda a, b: T.tanh(T.dot(a, b)), [rng.standard_normal((2, 3)), rng.standard_normal((3, 4))],
                  rng=rng)
    T.verify_grad(lambda a: (a ** 3).sum(), [rng.standard_normal(4)], rng=rng)


def test_accepts_legacy_random_state():
    T.verify_grad(lambda a: T.exp(a), [np.linspace(-1, 1, 5)], rng=np.random.RandomState(0))


def test_fails_on_a_wrong_gradient_with_a_clear_report(rng):
    with pytest.raises(T.GradientError) as info:
        T.verify_grad(lambda a: BadSquare()(a), [rng.standard_normal((2, 3))], rng=rng)
    msg = str(info.value)
    assert "input 0" in msg and "disagrees with finite differences" in msg
    assert "analytic" in msg and "numeric" in msg and "np.float64" not in msg
    assert "6 of 6 elements out of tolerance" in msg
    assert isinstance(info.value, AssertionError)


def test_report_names_the_worst_element(rng):
    x = np.array([[0.5, -1.0, 2.0], [1.0, 3.0, -0.5]])
    with pytest.raises(T.GradientError) as info:
        T.verify_grad(lambda a: OneBadElement()(a), [x], rng=rng)
    msg = str(info.value)
    assert "element (1, 1)" in msg and "1 of 6 elements" in msg
    analytic = float(msg.split("analytic ")[1].split(",")[0])
    numeric = float(msg.split("numeric ")[1].split(",")[0])
    assert analytic == pytest.approx(numeric * 1.5, rel=1e-4)


def test_tolerances_can_be_loosened(rng):
    x = np.full((2, 3), 1.0)
    T.verify_grad(lambda a: BadSquare()(a), [x], rng=rng, abs_tol=10.0, rel_tol=10.0)


def test_float32_point_uses_looser_defaults(rng):
    T.verify_grad(lambda a: T.sin(a) * a, [rng.standard_normal(5).astype("float32")], rng=rng)


def test_bad_arguments(rng):
    with pytest.raises(TypeError, match="point 0 has dtype int64; gradients need float inputs"):
        T.verify_grad(lambda a: a * 2, [np.arange(3)])
    with pytest.raises(TypeError, match="fun must return a single variable"):
        T.verify_grad(lambda a: [a, a], [rng.standard_normal(3)])


def test_verify_grad_in_a_compile_mode(mode, rng):
    from symtensor.grad.verify import verify_grad
    verify_grad(lambda a, b: a * T.exp(b), [rng.standard_normal(3), rng.standard_normal(3)], rng=rng, mode=mode)
    with pytest.raises(T.GradientError):
        verify_grad(lambda a: BadSquare()(a), [rng.standard_normal(3)], rng=rng, mode=mode)
