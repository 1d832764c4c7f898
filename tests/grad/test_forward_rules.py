"""Forward mode (Rop) and reverse mode (Lop) for every op family, against central differences.

Each case builds an expression of float inputs; ``Rop`` along random tangents must equal the
numeric directional derivative of the compiled expression, and ``Lop`` must be its adjoint
(<u, J v> == <J^T u, v>), in every mode.
"""
import logging

import numpy as np
import pytest

import symtensor as T
from symtensor.graph.basic import Apply, Op
from symtensor.grad.forward_rules import double_lop_r_op
from symtensor.grad.gradient import Lop, Rop
from symtensor.grad.rules import R_OP_RULES
from symtensor.ops.fused import FusedElemwise
from symtensor.ops import scalar as ps
from tests.helpers import run

EPS = 1e-6


def _vars(*shapes):
    return [T.TensorType("float64", shape=(None,) * len(s))(f"in{k}") for k, s in enumerate(shapes)]


def _ofg(a, b):
    p, q = T.dmatrix("p"), T.dmatrix("q")
    op = T.OpFromGraph([p, q], [T.tanh(p) * q + p ** 2])
    return op(a, b)


def _fused(a, b):
    """A FusedElemwise built by hand: exp(a) * b + sin(a), as the fusion rewrite would."""
    sop = ps.SCALAR_OPS
    steps = ((sop["exp"], (("i", 0),), "float64"),
             (sop["mul"], (("s", 0), ("i", 1)), "float64"),
             (sop["sin"], (("i", 0),), "float64"),
             (sop["add"], (("s", 1), ("s", 2)), "float64"))
    out_t = T.TensorType("float64", shape=(None, None))
    return FusedElemwise((2, steps, (3,)), (out_t,), (out_t, out_t))(a, b)


# name: (input shapes, builder); every input is float64 and differentiable
CASES = {
    "elemwise_unary": ([(3, 4)], lambda a: T.exp(T.sin(a)) + T.log1p(a ** 2) * T.arctan(a)),
    "elemwise_binary_broadcast": ([(3, 4), (4,)], lambda a, b: a * b + a / (b ** 2 + 1) - T.maximum(a, b)),
    "elemwise_pow_switch": ([(5,), (5,)], lambda a, b: T.switch(a > 0, abs(a) ** b, T.tanh(b) * a)),
    "dimshuffle": ([(2, 3)], lambda a: a.dimshuffle(1, "x", 0) * 2.0),
    "reduce_sum_mean": ([(3, 4)], lambda a: T.sum(a ** 2, axis=0) + T.mean(a, axis=0)),
    "reduce_prod": ([(3, 4)], lambda a: T.prod(a, axis=1)),
    "reduce_max_min": ([(3, 4)], lambda a: T.max(a, axis=1) - T.min(a, axis=0).sum()),
    "reduce_var_std": ([(3, 4)], lambda a: T.var(a, axis=1) + T.std(a)),
    "reshape_flatten": ([(2, 6)], lambda a: T.reshape(a, (3, 4)).T.flatten() * T.flatten(a)),
    "specify_shape": ([(3, 2)], lambda a: T.specify_shape(a, (3, 2)) ** 2),
    "alloc_zeros_like": ([(3,), ()], lambda a, s: T.alloc(a * s, 2, 3) + T.zeros_like(a) + T.ones_like(a) * s),
    "arange_float": ([(), ()], lambda start, step: T.arange(start, 5.0, step + 2.0) ** 2),
    "eye_times": ([(3, 3)], lambda a: T.eye(3) * a + T.identity_like(a)),
    "join": ([(2, 3), (1, 3)], lambda a, b: T.concatenate([a, b * 2, a ** 2], axis=0)),
    "stack": ([(3,), (3,)], lambda a, b: T.stack([a, b, a * b], axis=1)),
    "split": ([(5, 2)], lambda a: T.split(a, [2, 3], 2, axis=0)[1] ** 2),
    "repeat": ([(3, 2)], lambda a: T.repeat(a, 2, axis=0) + T.repeat(a, [1, 0, 2], axis=0).sum()),
    "tile": ([(2, 3)], lambda a: T.tile(a, (2, 3)) ** 2),
    "subtensor": ([(4, 5)], lambda a: a[1:3, ::2] * a[0, 1:4:1].sum()),
    "inc_set_subtensor": ([(4, 5), (2,)], lambda a, b: T.set_subtensor(a[1, 1:3], b ** 2)
                          + T.inc_subtensor(a[0, :2], b)),
    "advanced_subtensor": ([(4, 3)], lambda a: a[[0, 2, 2, 3]] ** 2 + a[[1, 1, 0, 3], [0, 1, 2, 2]].sum()),
    "boolean_mask": ([(6,)], lambda a: a[a > 0] ** 3),
    "advanced_inc": ([(4, 3), (3, 3)], lambda a, b: T.inc_subtensor(a[[0, 2, 0]], b * a[1])),
    "dot_family": ([(3, 4), (4,), (4, 2)], lambda a, v, m: T.dot(a, v) + T.dot(a, m).sum(axis=1)
                   + T.outer(T.dot(a, v), v).sum(axis=1)),
    "batched_dot": ([(2, 3, 4), (2, 4, 2)], lambda a, b: T.batched_dot(a, b) ** 2),
    "tensordot": ([(2, 3, 4), (4, 3)], lambda a, b: T.tensordot(a, b, axes=[[1, 2], [1, 0]])),
    "grad_clip": ([(3,)], lambda a: T.grad_clip(a, -10, 10) ** 2),
    "opfromgraph": ([(2, 3), (2, 3)], _ofg),
    "fused_elemwise": ([(2, 3), (2, 3)], _fused),
}


def _compile_jvp_vjp(mode, ins, out):
    """A function of (inputs, tangents, cotangent) giving (out, J v, J^T u)."""
    tangents = [i.type(f"d{i.name}") for i in ins]
    u = out.type("u")
    jvp = Rop(out, ins, tangents)
    vjp = Lop(out, ins, u, disconnected_inputs="ignore")
    fn = T.function(ins + tangents + [u], [out, jvp] + list(vjp), mode=mode, on_unused_input="ignore")
    return fn, T.function(ins, out, mode=mode)


@pytest.mark.parametrize("name", sorted(CASES))
def test_rop_and_lop_against_central_differences(mode, rng, name):
    shapes, build = CASES[name]
    ins = _vars(*shapes)
    out = T.as_tensor_variable(build(*ins))
    fn, f = _compile_jvp_vjp(mode, ins, out)
    xs = [rng.standard_normal(s) + (0.5 if name == "arange_float" else 0.0) for s in shapes]
    if name == "arange_float":
        xs[1] = np.asarray(0.3)   # step + 2 = 2.3: a fixed length under the perturbation
    vs = [rng.standard_normal(s) for s in shapes]
    value = np.asarray(f(*xs))
    u = rng.standard_normal(value.shape)
    got = fn(*xs, *vs, u)
    np.testing.assert_allclose(got[0], value, rtol=1e-12)
    plus = np.asarray(f(*[x + EPS * v for x, v in zip(xs, vs)]))
    minus = np.asarray(f(*[x - EPS * v for x, v in zip(xs, vs)]))
    numeric = (plus - minus) / (2 * EPS)
    np.testing.assert_allclose(got[1], numeric, rtol=1e-5, atol=1e-6)
    # the adjoint identity ties Lop to the same Jacobian
    left = float(np.sum(u * got[1]))
    right = sum(float(np.sum(g * v)) for g, v in zip(got[2:], vs))
    np.testing.assert_allclose(left, right, rtol=1e-8, atol=1e-9)


def test_rop_of_integer_valued_ops_is_zero(mode, rng):
    """Argmax, shapes and comparisons carry no tangent: Rop gives zeros of the output's shape."""
    a = T.dmatrix("a")
    da = T.dmatrix("da")
    outs = [T.argmax(a, axis=1), a.shape, T.gt(a, 0)]
    jvps = Rop(outs, a, da)
    av = rng.standard_normal((3, 4))
    got = run(mode, [a, da], jvps, av, rng.standard_normal((3, 4)))
    for g, shape in zip(got, [(3,), (2,), (3, 4)]):
        np.testing.assert_array_equal(g, np.zeros(shape))


def test_zero_grad_stops_both_modes(mode, rng):
    """zero_grad(x) is x, but no derivative flows through it, forward (Theano) or reverse."""
    a, da, u = T.dvector("a"), T.dvector("da"), T.dvector("u")
    out = T.zero_grad(a) * a
    av, dav, uv = (rng.standard_normal(4) for _ in range(3))
    jvp, vjp = run(mode, [a, da, u], [Rop(out, a, da), Lop(out, a, u)], av, dav, uv)
    np.testing.assert_allclose(jvp, av * dav, rtol=1e-12)
    np.testing.assert_allclose(vjp, av * uv, rtol=1e-12)


def test_disconnected_grad_stops_only_reverse_mode(mode, rng):
    """disconnected_grad(x) blocks gradients but is the identity for forward mode (Theano)."""
    a, da, u = T.dvector("a"), T.dvector("da"), T.dvector("u")
    out = T.disconnected_grad(a) * a
    av, dav, uv = (rng.standard_normal(4) for _ in range(3))
    jvp, vjp = run(mode, [a, da, u], [Rop(out, a, da), Lop(out, a, u)], av, dav, uv)
    np.testing.assert_allclose(jvp, 2 * av * dav, rtol=1e-12)
    np.testing.assert_allclose(vjp, av * uv, rtol=1e-12)


class _SquareNoRop(Op):
    """x ** 2 with a reverse rule and no forward rule (as a new op family might be)."""

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0] ** 2

    def L_op(self, inputs, outputs, output_grads):
        return [2 * inputs[0] * output_grads[0]]


def test_an_op_without_r_op_gets_two_reverse_passes(mode, rng, caplog):
    x, v = T.dvector("x"), T.dvector("v")
    y = T.sin(_SquareNoRop()(T.exp(x)))
    with caplog.at_level(logging.DEBUG, logger="symtensor.grad.forward_rules"):
        jvp = Rop(y, x, v)
    assert "_SquareNoRop has no forward rule" in caplog.text
    xv, vv = rng.standard_normal(4), rng.standard_normal(4)
    got = run(mode, [x, v], jvp, xv, vv)
    e = np.exp(xv)
    np.testing.assert_allclose(got, np.cos(e ** 2) * 2 * e * e * vv, rtol=1e-12)


def test_double_lop_rule_equals_the_direct_rule(mode, rng):
    """The generic rule agrees with Dot's own forward rule."""
    a, b, da, db = T.dmatrix("a"), T.dmatrix("b"), T.dmatrix("da"), T.dmatrix("db")
    direct = T.dot(a, b).owner.op.R_op([a, b], [da, db])[0]
    generic = double_lop_r_op(T.dot(a, b).owner.op, [a, b], [da, db])[0]
    vals = [rng.standard_normal(s) for s in [(2, 3), (3, 4), (2, 3), (3, 4)]]
    d, g = run(mode, [a, b, da, db], [direct, generic], *vals)
    np.testing.assert_allclose(g, d, rtol=1e-12)


def test_every_op_family_has_a_forward_rule():
    """Each op class of the listed families defines R_op or has a registered rule."""
    import importlib
    families = ["elemwise", "reduce", "shape", "alloc", "join", "tile", "subtensor", "advanced_subtensor",
                "blas", "misc", "opfromgraph", "fused"]
    missing = []
    for fam in families:
        mod = importlib.import_module(f"symtensor.ops.{fam}")
        for obj in vars(mod).values():
            if isinstance(obj, type) and issubclass(obj, Op) and obj.__module__ == mod.__name__ \
                    and not obj.__name__.startswith("_"):
                if obj.R_op is Op.R_op and obj not in R_OP_RULES:
                    missing.append(obj.__name__)
    assert not missing, f"op classes without a forward rule: {missing}"
