"""vectorize_graph and vmap against a Python loop over the samples, for every op family."""
import logging

import numpy as np
import pytest

import symtensor as T
from symtensor.graph.basic import Apply, Op, toposort
from symtensor.ops import scalar as ps
from symtensor.ops.blas import CheckContraction
from symtensor.ops.fused import FusedElemwise
from symtensor.ops.tile import RepeatGrad
from symtensor.grad.gradient import Lop, Rop
from symtensor.grad.jacobian import jacobian
from symtensor.grad.vectorize import PerSample, vectorize_graph, vmap
from tests.helpers import run

B = 3  # batch size


def _per_sample_var(shape, name):
    return T.TensorType("float64", shape=(None,) * len(shape))(name)


def _ofg(a):
    p = T.dvector("p")
    return T.OpFromGraph([p], [T.exp(p) * p.sum()])(a)


def _fused(a):
    """exp(a) * a as a hand-built FusedElemwise (what the fusion rewrite produces)."""
    sop = ps.SCALAR_OPS
    steps = ((sop["exp"], (("i", 0),), "float64"), (sop["mul"], (("s", 0), ("i", 0)), "float64"))
    t = T.TensorType("float64", shape=(None,))
    return FusedElemwise((1, steps, (1,)), (t,), (t,))(a)


# per-sample functions of a vector ``a`` (length 4) and a matrix ``m`` (4 x 2)
FUNCTIONS = {
    "elemwise_broadcast": lambda a, m: T.tanh(a) * 2 + m.T * a ** 2,
    "reduce": lambda a, m: T.sum(m, axis=0) * T.max(a) + T.prod(m, axis=1).sum() + T.argmax(a),
    "shape_reshape": lambda a, m: T.reshape(m, (2, 4)) * a + T.flatten(m)[:4] + a.shape[0],
    "alloc_like": lambda a, m: T.alloc(a.sum(), 2, 3) + T.zeros_like(m).sum() + T.ones_like(a)[0],
    "join_split": lambda a, m: T.concatenate([a, m[:, 0], T.split(a, [1, 3], 2)[1]]),
    "stack_tile_repeat": lambda a, m: T.stack([a, a * 2]).sum(0) + T.tile(a, 2)[:4] + T.repeat(a, 2)[::2],
    "subtensor_inc": lambda a, m: T.inc_subtensor(m[1:3, 0], a[:2]) + T.set_subtensor(a[1], 5.0)[:2],
    "advanced": lambda a, m: a[[3, 0, 0]] + m[[1, 2, 2], [0, 1, 1]] + T.inc_subtensor(a[[0, 0]], 1.0)[:3],
    "dot_family": lambda a, m: T.dot(a, m) + T.dot(m.T, a) + T.tensordot(m, m, [[0], [0]]).sum(0),
    "batched_dot": lambda a, m: T.batched_dot(m, m)[:2] + T.outer(a, a).sum(0)[:2],
    "opfromgraph": lambda a, m: _ofg(a) + m.sum(),
    "misc": lambda a, m: T.zero_grad(a) * T.grad_clip(a, -1, 1),
    "fused_elemwise": lambda a, m: _fused(a) + m[:, 1],
    "grad_of_repeat": lambda a, m: T.grad(T.sum(T.repeat(a, [1, 0, 2, 1]) ** 2 * m.sum()), a),
    "tensordot_two_axes": lambda a, m: T.tensordot(m, T.reshape(a, (4, 1)) * m, [[0, 1], [0, 1]]) + a,
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_vmap_equals_a_loop_over_samples(mode, rng, name, caplog):
    a, m = _per_sample_var((4,), "a"), _per_sample_var((4, 2), "m")
    A, M = T.dmatrix("A"), T.dtensor3("M")
    with caplog.at_level(logging.WARNING, logger="symtensor.grad.vectorize"):
        batched = vmap(FUNCTIONS[name])(A, M)
    assert "PerSample" not in caplog.text
    ops = {type(n.op) for n in toposort([batched])}
    assert PerSample not in ops
    expected_op = {"grad_of_repeat": RepeatGrad, "tensordot_two_axes": CheckContraction}.get(name)
    assert expected_op is None or expected_op in {type(n.op) for n in toposort([FUNCTIONS[name](a, m)])}
    Av, Mv = rng.standard_normal((B, 4)), rng.standard_normal((B, 4, 2))
    f = T.function([a, m], FUNCTIONS[name](a, m), mode=mode, on_unused_input="ignore")
    expected = np.stack([f(Av[i], Mv[i]) for i in range(B)])
    np.testing.assert_allclose(run(mode, [A, M], batched, Av, Mv), expected, rtol=1e-12, atol=1e-12)


def test_vmap_in_axes_and_unmapped_arguments(mode, rng):
    """in_axes picks the mapped axis per argument; None passes an argument unchanged; an
    output that ignores the mapped argument is repeated; tuples come back as tuples."""
    X, W = T.dmatrix("X"), T.dmatrix("W")
    fn = vmap(lambda x, w: (T.dot(w, x), w.sum()), in_axes=(1, None))
    out, const = fn(X, W)
    Xv, Wv = rng.standard_normal((4, B)), rng.standard_normal((2, 4))
    got, got_c = run(mode, [X, W], [out, const], Xv, Wv)
    np.testing.assert_allclose(got, (Wv @ Xv).T, rtol=1e-12)
    np.testing.assert_allclose(got_c, np.full(B, Wv.sum()), rtol=1e-12)
    with pytest.raises(ValueError, match="in_axes has 1 entries for 2"):
        vmap(lambda x, w: x, in_axes=[0])(X, W)
    with pytest.raises(ValueError, match="out of range"):
        vmap(lambda x: x, in_axes=2)(X)
    with pytest.raises(ValueError, match="no argument is mapped"):
        vmap(lambda x: x, in_axes=None)(X)


def test_vectorize_graph_substitutes_and_batches(mode, rng):
    x, y = T.dvector("x"), T.dvector("y")
    out = T.exp(x) * y.sum()
    X, y2 = T.dmatrix("X"), T.dvector("y2")
    new = vectorize_graph(out, {x: X, y: y2})
    both = vectorize_graph([out, y * 2], {x: X})
    assert isinstance(both, list) and both[1] is not None
    Xv, yv = rng.standard_normal((B, 4)), rng.standard_normal(4)
    np.testing.assert_allclose(run(mode, [X, y2], new, Xv, yv), np.exp(Xv) * yv.sum(), rtol=1e-12)
    with pytest.raises(ValueError, match="one leading batch axis"):
        vectorize_graph(out, {x: T.dtensor3()})


def test_missing_batching_rule_falls_back_per_sample(mode, rng, caplog):
    """Indexing with a batched index has no batching rule: a logged, exact per-sample loop,
    whose gradient and forward derivative also work."""
    a, i = T.dvector("a"), T.lscalar("i")
    A, I = T.dmatrix("A"), T.lvector("I")
    with caplog.at_level(logging.WARNING, logger="symtensor.grad.vectorize"):
        out = vmap(lambda x, k: x[k] * x.sum())(A, I)
    assert "Subtensor" in caplog.text and "PerSample" in caplog.text
    Av, Iv = rng.standard_normal((B, 4)), np.array([0, 3, 1])
    dA = T.dmatrix("dA")
    grads = T.grad(T.sum(out ** 2), A)
    jvp = Rop(out, A, dA)
    dAv = rng.standard_normal((B, 4))
    got, g, j = run(mode, [A, I, dA], [out, grads, jvp], Av, Iv, dAv)
    rows = np.arange(B)
    np.testing.assert_allclose(got, Av[rows, Iv] * Av.sum(1), rtol=1e-12)
    expected_g = 2 * (got * Av.sum(1))[:, None] * np.eye(4)[Iv] + 2 * (got * Av[rows, Iv])[:, None]
    np.testing.assert_allclose(g, expected_g, rtol=1e-10)
    np.testing.assert_allclose(j, dAv[rows, Iv] * Av.sum(1) + Av[rows, Iv] * dAv.sum(1), rtol=1e-10)


class _Cube(Op):
    """x ** 3 with derivative rules but no batching rule."""

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0] ** 3

    def L_op(self, inputs, outputs, output_grads):
        return [3 * inputs[0] ** 2 * output_grads[0]]

    def R_op(self, inputs, eval_points):
        return [3 * inputs[0] ** 2 * eval_points[0]]


def test_per_sample_fallback_with_a_shared_input(mode, rng, caplog):
    """A shared (unbatched) input of a per-sample node gets the sum over the batch."""
    w = T.dvector("w")
    X = T.dmatrix("X")
    with caplog.at_level(logging.WARNING, logger="symtensor.grad.vectorize"):
        out = vmap(lambda x: _Cube()(x * w), in_axes=0)(X)
    assert "_Cube" in caplog.text
    Xv, wv = rng.standard_normal((B, 3)), rng.standard_normal(3)
    gw, gX = T.grad(T.sum(out), [w, X])
    got, got_gw, got_gX = run(mode, [X, w], [out, gw, gX], Xv, wv)
    np.testing.assert_allclose(got, (Xv * wv) ** 3, rtol=1e-12)
    np.testing.assert_allclose(got_gw, (3 * (Xv * wv) ** 2 * Xv).sum(0), rtol=1e-12)
    np.testing.assert_allclose(got_gX, 3 * (Xv * wv) ** 2 * wv, rtol=1e-12)
    empty = run(mode, [X, w], out, np.zeros((0, 3)), wv)
    assert empty.shape[0] == 0


def test_vmap_of_lop_and_rop(mode, rng):
    """Per-sample vector-Jacobian and Jacobian-vector products of a batch."""
    W = T.dmatrix("W")

    def f(x):
        return T.tanh(T.dot(W, x))

    X, U, V = T.dmatrix("X"), T.dmatrix("U"), T.dmatrix("V")
    vjp = vmap(lambda x, u: Lop(f(x), x, u))(X, U)
    jvp = vmap(lambda x, v: Rop(f(x), x, v))(X, V)
    Wv, Xv = rng.standard_normal((2, 3)), rng.standard_normal((B, 3))
    Uv, Vv = rng.standard_normal((B, 2)), rng.standard_normal((B, 3))
    got_l, got_r = run(mode, [W, X, U, V], [vjp, jvp], Wv, Xv, Uv, Vv)
    d = 1 - np.tanh(Xv @ Wv.T) ** 2
    np.testing.assert_allclose(got_l, (Uv * d) @ Wv, rtol=1e-12)
    np.testing.assert_allclose(got_r, d * (Vv @ Wv.T), rtol=1e-12)


def test_per_sample_jacobian_of_a_tanh_mlp(mode, rng):
    """vmap(jacobian) of a two-layer tanh network on a batch equals the closed form
    diag(1 - o^2) W2 diag(1 - h^2) W1 for every sample, with no loop in the graph."""
    W1, b1, W2, b2 = T.dmatrix("W1"), T.dvector("b1"), T.dmatrix("W2"), T.dvector("b2")
    X = T.dmatrix("X")

    def mlp(x):
        return T.tanh(T.dot(W2, T.tanh(T.dot(W1, x) + b1)) + b2)

    J = vmap(lambda x: jacobian(mlp(x), x))(X)
    assert not any(isinstance(n.op, PerSample) for n in toposort([J]))
    W1v, b1v = rng.standard_normal((5, 4)), rng.standard_normal(5)
    W2v, b2v = rng.standard_normal((3, 5)), rng.standard_normal(3)
    Xv = rng.standard_normal((6, 4))
    H = np.tanh(Xv @ W1v.T + b1v)
    O = np.tanh(H @ W2v.T + b2v)
    expected = np.einsum("bi,ij,bj,jk->bik", 1 - O ** 2, W2v, 1 - H ** 2, W1v)
    got = run(mode, [W1, b1, W2, b2, X], J, W1v, b1v, W2v, b2v, Xv)
    assert got.shape == (6, 3, 4)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)
