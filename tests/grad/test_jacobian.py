"""jacobian, hessian and hessian_vector_product against central differences and closed forms."""
import numpy as np
import pytest

import symtensor as T
from symtensor.graph.basic import toposort
from symtensor.grad.gradient import DisconnectedInputError
from symtensor.grad.jacobian import JacobianInputError, hessian, hessian_vector_product, jacobian
from symtensor.grad.vectorize import PerSample
from tests.helpers import run

EPS = 1e-6


def _numeric_jacobian(f, xs, k):
    """d f / d xs[k] by central differences, shape f.shape + xs[k].shape."""
    x = xs[k]
    out = np.asarray(f(*xs))
    jac = np.zeros(out.shape + x.shape)
    for idx in np.ndindex(*x.shape):
        step = np.zeros_like(x)
        step[idx] = EPS
        plus = np.asarray(f(*[v + step if i == k else v for i, v in enumerate(xs)]))
        minus = np.asarray(f(*[v - step if i == k else v for i, v in enumerate(xs)]))
        jac[(Ellipsis,) + idx] = (plus - minus) / (2 * EPS)
    return jac


# vector expressions spanning the op families, as (input shapes, builder)
EXPRESSIONS = {
    "elemwise": ([(4,)], lambda x: T.tanh(x) * T.exp(-x) + x ** 3),
    "dot_matrix": ([(3, 4), (4,)], lambda W, x: T.tanh(T.dot(W, x)) * T.dot(x, W.T)),
    "reduce_axis": ([(3, 4)], lambda a: T.prod(a, axis=1) + T.max(a, axis=1) + T.mean(a ** 2, axis=1)),
    "shape_ops": ([(2, 3)], lambda a: T.flatten(a.T * T.reshape(a, (3, 2)))),
    "join_tile": ([(3,), (2,)], lambda a, b: T.concatenate([T.tile(a, 2), b * a[0], T.repeat(b, 2)])),
    "subtensor": ([(5,)], lambda a: T.set_subtensor(a[1:3], a[3:5] ** 2)[::-1] * a[[0, 0, 1, 2, 4]]),
    "batched_dot": ([(2, 3, 2), (2, 2)], lambda a, b: T.flatten(T.batched_dot(a, b) ** 2)),
    "alloc_arange": ([(3,)], lambda a: T.alloc(a.sum(), 2) * T.arange(2.0) + a[:2] * T.eye(2)[0]),
}


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_jacobian_against_central_differences(mode, rng, name):
    shapes, build = EXPRESSIONS[name]
    ins = [T.TensorType("float64", shape=(None,) * len(s))(f"in{k}") for k, s in enumerate(shapes)]
    expr = build(*ins)
    jacs = jacobian(expr, ins)
    assert isinstance(jacs, list) and len(jacs) == len(ins)
    assert not any(isinstance(n.op, PerSample) for n in toposort(jacs)), "the Jacobian graph has a loop"
    xs = [rng.standard_normal(s) for s in shapes]
    got = run(mode, ins, jacs, *xs)
    f = T.function(ins, expr, mode=mode)
    for k, g in enumerate(got):
        np.testing.assert_allclose(g, _numeric_jacobian(f, xs, k), rtol=1e-5, atol=1e-6)


def test_jacobian_of_a_matrix_variable_and_tuple_wrt(mode, rng):
    """The Jacobian with respect to a matrix has shape (n,) + W.shape; a tuple gives a tuple."""
    W, x = T.dmatrix("W"), T.dvector("x")
    y = T.tanh(T.dot(W, x))
    jW, jx = jacobian(y, (W, x))
    Wv, xv = rng.standard_normal((3, 4)), rng.standard_normal(4)
    got_W, got_x = run(mode, [W, x], [jW, jx], Wv, xv)
    d = 1 - np.tanh(Wv @ xv) ** 2
    expected_W = np.einsum("i,ij,k->ijk", d, np.eye(3), xv)
    np.testing.assert_allclose(got_W, expected_W, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got_x, d[:, None] * Wv, rtol=1e-12)
    assert isinstance(jacobian(y, (W, x)), tuple)
    assert not isinstance(jacobian(y, x), (list, tuple))


def test_jacobian_of_a_scalar_is_the_gradient(mode, rng):
    x = T.dvector("x")
    j = jacobian(T.sum(T.sin(x)), [x])
    xv = rng.standard_normal(5)
    np.testing.assert_allclose(run(mode, [x], j, xv)[0], np.cos(xv), rtol=1e-12)


def test_jacobian_refuses_a_matrix_expression():
    x = T.dmatrix("x")
    with pytest.raises(AssertionError, match="1 dimensional variable"):
        jacobian(x * 2, x)
    with pytest.raises(JacobianInputError, match="flatten"):
        jacobian(x * 2, x, vectorize=False)


def test_jacobian_disconnected_inputs(mode, rng):
    x, z = T.dvector("x"), T.dvector("z")
    with pytest.raises(DisconnectedInputError):
        jacobian(x ** 2, [x, z])
    jx, jz = jacobian(x ** 2, [x, z], disconnected_inputs="ignore")
    xv, zv = rng.standard_normal(3), rng.standard_normal(2)
    got_x, got_z = run(mode, [x, z], [jx, jz], xv, zv)
    np.testing.assert_allclose(got_x, np.diag(2 * xv), rtol=1e-12)
    np.testing.assert_array_equal(got_z, np.zeros((3, 2)))


def test_jacobian_zero_length_expression(mode):
    x = T.dvector("x")
    j = jacobian(x[:0] * 3, x)
    got = run(mode, [x], j, np.arange(4.0))
    assert got.shape == (0, 4)


def test_scan_construction_matches_the_vectorized_one(mode, rng):
    """vectorize=False builds Theano's scan loop; without scan, a clear NotImplementedError."""
    x = T.dvector("x")
    y = T.exp(x) * x[::-1]
    try:
        from symtensor.ops.scan import scan  # noqa: F401
    except ImportError:
        with pytest.raises(NotImplementedError, match="scan"):
            jacobian(y, x, vectorize=False)
        with pytest.raises(NotImplementedError, match="vectorize=True"):
            hessian(T.sum(y ** 2), x, vectorize=False)
        return
    xv = rng.standard_normal(4)
    looped, vectorized = run(mode, [x], [jacobian(y, x, vectorize=False), jacobian(y, x)], xv)
    np.testing.assert_allclose(looped, vectorized, rtol=1e-12)
    h_loop, h_vec = run(mode, [x], [hessian(T.sum(y ** 2), x, vectorize=False), hessian(T.sum(y ** 2), x)], xv)
    np.testing.assert_allclose(h_loop, h_vec, rtol=1e-12)


def test_hessian_of_a_quadratic_form_and_a_list(mode, rng):
    x, y = T.dvector("x"), T.dvector("y")
    A = rng.standard_normal((3, 3))
    cost = T.dot(x, T.dot(T.constant(A), x)) + T.sum(T.exp(y) * T.sum(x))
    hx, hy = hessian(cost, [x, y])
    xv, yv = rng.standard_normal(3), rng.standard_normal(2)
    got_x, got_y = run(mode, [x, y], [hx, hy], xv, yv)
    np.testing.assert_allclose(got_x, A + A.T, rtol=1e-12)
    np.testing.assert_allclose(got_y, np.diag(np.exp(yv) * xv.sum()), rtol=1e-12)


def test_hessian_against_central_differences_of_the_gradient(mode, rng):
    x = T.dvector("x")
    cost = T.sum(T.tanh(x) * x[::-1]) + T.prod(x) + T.max(x ** 2)
    h = hessian(cost, x)
    g = T.function([x], T.grad(cost, x), mode=mode)
    xv = rng.standard_normal(4)
    got = run(mode, [x], h, xv)
    np.testing.assert_allclose(got, _numeric_jacobian(g, [xv], 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got, got.T, rtol=1e-10, atol=1e-12)


def test_hessian_of_a_linear_cost_is_zero_and_bad_inputs(mode, rng):
    x, m = T.dvector("x"), T.dmatrix("m")
    h = hessian(T.sum(3 * x), x)
    np.testing.assert_array_equal(run(mode, [x], h, rng.standard_normal(3)), np.zeros((3, 3)))
    with pytest.raises(AssertionError, match="1 dimensional variable as `wrt`"):
        hessian(T.sum(m), m)
    with pytest.raises(AssertionError, match="0 dimensional variable as `cost`"):
        hessian(x, x)


@pytest.mark.parametrize("method", ["rop", "lop"])
def test_hessian_vector_product(mode, rng, method):
    """H v by both methods, against the explicit Hessian (cross terms included for a list)."""
    x, W, v, dW = T.dvector("x"), T.dmatrix("W"), T.dvector("v"), T.dmatrix("dW")
    cost = T.sum(T.tanh(T.dot(W, x)) ** 2) + T.sum(x ** 3)
    hv_x = hessian_vector_product(cost, x, v, method=method)
    hv_x_full, hv_W_full = hessian_vector_product(cost, [x, W], [v, dW], method=method)
    Wv, xv, vv, dWv = (rng.standard_normal(s) for s in [(3, 4), (4,), (4,), (3, 4)])
    got, got_x, got_W = run(mode, [x, W, v, dW], [hv_x, hv_x_full, hv_W_full], xv, Wv, vv, dWv)
    H = run(mode, [x, W], hessian(cost, x), xv, Wv)
    np.testing.assert_allclose(got, H @ vv, rtol=1e-10, atol=1e-12)
    # the full product: directional derivative of the gradient along (v, dW)
    g = T.function([x, W], T.grad(cost, [x, W]), mode=mode)
    plus, minus = g(xv + EPS * vv, Wv + EPS * dWv), g(xv - EPS * vv, Wv - EPS * dWv)
    np.testing.assert_allclose(got_x, (plus[0] - minus[0]) / (2 * EPS), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_W, (plus[1] - minus[1]) / (2 * EPS), rtol=1e-5, atol=1e-6)


def test_hessian_vector_product_bad_method():
    x = T.dvector("x")
    with pytest.raises(ValueError, match="method"):
        hessian_vector_product(T.sum(x ** 2), x, x, method="fd")
    with pytest.raises(ValueError, match="1 wrt variables but 2"):
        hessian_vector_product(T.sum(x ** 2), [x], [x, x])
