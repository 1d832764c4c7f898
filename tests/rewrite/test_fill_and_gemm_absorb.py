"""``useless_fill`` (canonicalize) and ``gemm_absorb`` (specialize): the L2 gradient loses its
fill (so ``sum(w ** 2)`` fuses into one reduction) and an SGD step becomes one Gemm; values
equal numpy in every mode, and each rule declines where it must."""
from __future__ import annotations

import numpy as np

import symtensor as T
from symtensor.ops.elemwise import Elemwise
from symtensor.ops.fused import FusedElemwise
from symtensor.ops.fused_reduce import FusedReduce
from symtensor.ops.gemm import Gemm
from tests.helpers import rand


def ops_of(f):
    return [n.op for n in f.maker.fgraph.toposort()]


def scalar_names(f):
    """Names of every scalar op the compiled graph computes (inside fused nodes too)."""
    out = []
    for op in ops_of(f):
        if isinstance(op, Elemwise):
            out.append(op.scalar_op.name)
        elif isinstance(op, (FusedElemwise, FusedReduce)):
            out += [s[0].name for s in op.program[1]]
    return out


def test_l2_gradient_has_no_fill_and_fuses_its_sum(mode, rng):
    w = T.fmatrix("w")
    cost = 1e-4 * (w ** 2).sum()
    f = T.function([w], [cost, T.grad(cost, w)], mode=mode)
    wv = rand(rng, (30, 20), "float32")
    c, g = f(wv)
    np.testing.assert_allclose(c, 1e-4 * (wv.astype(np.float64) ** 2).sum(), rtol=1e-5)
    np.testing.assert_allclose(g, 2e-4 * wv, rtol=1e-5)
    if mode == "FAST_RUN":
        assert "second" not in scalar_names(f)
        assert any(isinstance(op, FusedReduce) for op in ops_of(f))


def test_fill_kept_when_no_operand_gives_its_shape(mode, rng):
    """second(x, s) * t with s and t scalars: only the fill makes the result x's shape."""
    x, s, t = T.fmatrix("x"), T.fscalar("s"), T.fscalar("t")
    f = T.function([x, s, t], T.fill(x, s) * t, mode=mode)
    np.testing.assert_allclose(f(np.zeros((3, 4), "float32"), 2.0, 3.0), np.full((3, 4), 6.0))


def test_fill_kept_when_shapes_may_differ(mode, rng):
    """second(x, b) * y where y is unrelated to x: the fill still checks x against y."""
    x, y, b = T.fmatrix("x"), T.fmatrix("y"), T.fscalar("b")
    f = T.function([x, y, b], T.fill(x, b) * y, mode=mode)
    yv = rand(rng, (3, 4), "float32")
    np.testing.assert_allclose(f(np.zeros((3, 4), "float32"), yv, 2.0), 2 * yv, rtol=1e-6)
    if mode == "FAST_RUN":
        assert "second" in scalar_names(f)


def test_sgd_step_is_one_gemm(mode, rng):
    """w - lr * (x.T @ g + l2 * w) -> gemm(w, -lr, x.T, g, 1 - lr * l2): nothing after it."""
    w, x, g = T.fmatrix("w"), T.fmatrix("x"), T.fmatrix("g")
    lr = np.float32(0.01)
    new = w - lr * (T.dot(x.T, g) + np.float32(2e-4) * w)
    f = T.function([w, x, g], new, mode=mode)
    wv, xv, gv = rand(rng, (40, 30), "float32"), rand(rng, (8, 40), "float32"), rand(rng, (8, 30), "float32")
    expect = wv - lr * (xv.T.astype(np.float64) @ gv + 2e-4 * wv)
    np.testing.assert_allclose(f(wv, xv, gv), expect, rtol=1e-5, atol=1e-6)
    if mode == "FAST_RUN":
        out = f.maker.fgraph.outputs[0]
        assert isinstance(out.owner.op, Gemm)
        assert out.owner.inputs[0] is f.maker.fgraph.inputs[0]   # z is w itself: no pass before


def test_gemm_absorb_with_another_term(mode, rng):
    """r - s * (x @ y + z): the other term r differs from z, so z becomes r - s*z."""
    r, z, x, y, s = T.dmatrix("r"), T.dmatrix("z"), T.dmatrix("x"), T.dmatrix("y"), T.dscalar("s")
    f = T.function([r, z, x, y, s], r - s * (T.dot(x, y) + z), mode=mode)
    rv, zv = rand(rng, (6, 5)), rand(rng, (6, 5))
    xv, yv = rand(rng, (6, 4)), rand(rng, (4, 5))
    np.testing.assert_allclose(f(rv, zv, xv, yv, 0.3), rv - 0.3 * (xv @ yv + zv), rtol=1e-10)
    if mode == "FAST_RUN":
        assert sum(isinstance(op, Gemm) for op in ops_of(f)) == 1
        assert f.maker.fgraph.outputs[0].owner.op.__class__ is Gemm


def test_gemm_absorb_declines_when_the_other_term_broadcasts_the_product(mode, rng):
    """b - (x @ y + z) with x @ y of one row: b (several rows) is larger than the product."""
    row = T.TensorType("float64", shape=(1, None))
    b, z, x, y = T.dmatrix("b"), row("z"), row("x"), T.dmatrix("y")
    f = T.function([b, z, x, y], b - (T.dot(x, y) + z), mode=mode)
    bv, zv, xv, yv = rand(rng, (4, 5)), rand(rng, (1, 5)), rand(rng, (1, 3)), rand(rng, (3, 5))
    np.testing.assert_allclose(f(bv, zv, xv, yv), bv - (xv @ yv + zv), rtol=1e-10)


def test_gemm_used_twice_is_not_absorbed(mode, rng):
    w, x, y = T.dmatrix("w"), T.dmatrix("x"), T.dmatrix("y")
    p = T.dot(x, y) + w
    f = T.function([w, x, y], [w - 0.5 * p, p], mode=mode)
    wv, xv, yv = rand(rng, (3, 3)), rand(rng, (3, 2)), rand(rng, (2, 3))
    a, b = f(wv, xv, yv)
    np.testing.assert_allclose(b, xv @ yv + wv, rtol=1e-10)
    np.testing.assert_allclose(a, wv - 0.5 * (xv @ yv + wv), rtol=1e-10)
