"""Softmax-family stabilize rules: the graph before and after, unchanged results on ordinary
values (infinities and NaN included where the rule promises it), finite results and gradients
where the original overflows, the cases where each rule declines, and the rules' place in the
FAST_RUN pipeline."""
import numpy as np
import pytest

import symtensor as T
from symtensor.graph.fg import FunctionGraph
from symtensor.graph.interpreter import Interpreter
from symtensor.ops.nnet import LogSoftmax, Softmax, SoftmaxGrad, StableMax, softmax, softmax_grad
from symtensor.ops.nnet_xent import (CrossentropyCategorical1Hot, CrossentropyCategorical1HotGrad,
                                     CrossentropySoftmax1Hot, categorical_crossentropy)
from symtensor.rewrite import optimize
from symtensor.rewrite.canonicalize import CANONICALIZE
from symtensor.rewrite.nnet_rules import NNET_STABILIZE
from symtensor.rewrite.pipeline import known_names

from . import FLOATS, applied, op_types, rewrite_and_compare

STAB = CANONICALIZE + NNET_STABILIZE


def interp(fg, *values):
    return Interpreter(fg)([np.copy(v) for v in values])


# --- log(softmax(x)) -> logsoftmax(x) ----------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOATS)
def test_log_softmax_becomes_logsoftmax(rng, dtype):
    x = T.matrix("x", dtype=dtype)
    vals = [rng.standard_normal((4, 5)).astype(dtype)]
    fg, log = rewrite_and_compare([x], T.log(softmax(x)), values=vals, passes=STAB)
    assert "logsoftmax" in applied(log)
    assert op_types(fg) == ["LogSoftmax"]
    got = interp(fg, np.array([[1000.0, 0.0]], dtype))[0]       # log(softmax) gives [0, -inf]
    np.testing.assert_allclose(got, [[0.0, -1000.0]])


def test_logsoftmax_keeps_infinities_and_nan():
    x = T.matrix("x")
    vals = [np.array([[np.inf, 1.0], [-np.inf, 1.0], [np.nan, 0.0], [-np.inf, -np.inf]])]
    fg, log = rewrite_and_compare([x], T.log(softmax(x)), values=vals, passes=STAB)
    assert "logsoftmax" in applied(log)


def test_log_softmax_gradient_closed_form(rng):
    """grad(log(softmax(x))) built by hand through softmax_grad(g / sm, sm) -> g - sum(g) * sm."""
    x, g = T.matrix("x"), T.matrix("g")
    sm = softmax(x)
    out = softmax_grad(g / sm, sm)
    vals = [rng.standard_normal((3, 4)), rng.standard_normal((3, 4))]
    fg, log = rewrite_and_compare([x, g], out, values=vals, passes=STAB)
    assert "softmax_grad_closed_form" in applied(log)
    assert "SoftmaxGrad" not in op_types(fg)
    got = interp(fg, np.array([[1000.0, 0.0, -1000.0]]), np.ones((1, 3)))[0]
    np.testing.assert_allclose(got, [[-2.0, 1.0, 1.0]])          # the unrewritten graph gives NaN


# --- crossentropy(softmax(x), t) -> crossentropy_softmax_1hot(x, t) ------------------------------------
@pytest.mark.parametrize("dtype", FLOATS)
def test_crossentropy_of_softmax_is_fused(rng, dtype):
    x, t = T.matrix("x", dtype=dtype), T.ivector("t")
    vals = [rng.standard_normal((6, 4)).astype(dtype), rng.integers(0, 4, 6).astype("int32")]
    fg, log = rewrite_and_compare([x, t], categorical_crossentropy(softmax(x), t), values=vals, passes=STAB)
    assert "crossentropy_softmax" in applied(log)
    assert op_types(fg) == ["CrossentropySoftmax1Hot"]
    got = interp(fg, np.array([[1e4, 0.0, -1e4], [0.0, 0.0, 0.0]], dtype), np.array([2, 0], "int32"))[0]
    np.testing.assert_allclose(got, [2e4, np.log(3)], rtol=1e-6)   # unrewritten: inf


def test_crossentropy_gradient_becomes_softmax_minus_onehot(rng):
    x, t, g = T.matrix("x"), T.ivector("t"), T.vector("g")
    sm = softmax(x)
    dy = CrossentropyCategorical1HotGrad()(g, sm, t)
    vals = [rng.standard_normal((5, 3)), rng.integers(0, 3, 5).astype("int32"), rng.standard_normal(5)]
    fg, log = rewrite_and_compare([x, t, g], softmax_grad(dy, sm), values=vals, passes=STAB)
    assert "softmax_grad_closed_form" in applied(log)
    assert "SoftmaxGrad" not in op_types(fg) and "CrossentropyCategorical1HotGrad" not in op_types(fg)
    big = np.array([[1000.0, 0.0, -1000.0]])
    got = interp(fg, big, np.array([2], "int32"), np.array([3.0]))[0]
    np.testing.assert_allclose(got, [[3.0, 0.0, -3.0]])


def test_closed_form_splits_a_sum_of_cotangents(rng):
    """softmax_grad(xent_grad + other, sm): the cross-entropy term in closed form, the rest through
    softmax_grad (it is linear in dy)."""
    x, t, g, other = T.matrix("x"), T.ivector("t"), T.vector("g"), T.matrix("o")
    sm = softmax(x)
    dy = CrossentropyCategorical1HotGrad()(g, sm, t) + other
    vals = [rng.standard_normal((4, 3)), rng.integers(0, 3, 4).astype("int32"), rng.standard_normal(4),
            rng.standard_normal((4, 3))]
    fg, log = rewrite_and_compare([x, t, g, other], softmax_grad(dy, sm), values=vals, passes=STAB)
    assert "softmax_grad_closed_form" in applied(log)
    assert "CrossentropyCategorical1HotGrad" not in op_types(fg)
    assert op_types(fg).count("SoftmaxGrad") == 1


def test_crossentropy_rules_decline(rng):
    p, t, s = T.matrix("p"), T.ivector("t"), T.matrix("s")
    vals = [rng.random((3, 4)) + 0.1, np.array([0, 3, 1], "int32")]
    fg, log = rewrite_and_compare([p, t], categorical_crossentropy(p, t), values=vals, passes=STAB)
    assert "crossentropy_softmax" not in applied(log)             # not a softmax
    assert op_types(fg) == ["CrossentropyCategorical1Hot"]
    x = T.matrix("x")
    vals = [rng.standard_normal((3, 4)), rng.standard_normal((3, 4))]
    fg, log = rewrite_and_compare([x, s], softmax_grad(s, softmax(x)), values=vals, passes=STAB)
    assert "softmax_grad_closed_form" not in applied(log)        # dy does not divide by sm
    fg, log = rewrite_and_compare([x, s], softmax_grad(s / T.exp(x), T.exp(x)), values=vals, passes=STAB)
    assert "softmax_grad_closed_form" not in applied(log)        # sm is not a softmax


# --- log(sum(exp(x))) -> m + log(sum(exp(x - m))) ------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("axis, keepdims", [(1, False), (0, False), ((0, 1), False), (-1, True), (None, False)])
def test_logsumexp_is_shifted(rng, dtype, axis, keepdims):
    x = T.matrix("x", dtype=dtype)
    out = T.log(T.sum(T.exp(x), axis=axis, keepdims=keepdims))
    vals = [rng.standard_normal((4, 5)).astype(dtype) * 3]
    fg, log = rewrite_and_compare([x], out, values=vals, passes=STAB)
    assert log.count("logsumexp") == 1                             # applied once, not again on its output
    assert "StableMax" in op_types(fg)
    big = np.array([[1000.0, 0.0, -5.0, 2.0, 999.0]] * 4, dtype=dtype)
    got = interp(fg, big)[0]
    m = np.max(big.astype("float64"), axis=axis if axis is not None else (0, 1), keepdims=True)
    ref = m + np.log(np.sum(np.exp(big - m), axis=axis if axis is not None else (0, 1), keepdims=True))
    np.testing.assert_allclose(got, ref.reshape(got.shape), rtol=1e-6)
    assert np.all(np.isfinite(got))


def test_logsumexp_unchanged_for_infinities_nan_and_empty():
    x = T.matrix("x")
    out = T.log(T.sum(T.exp(x), axis=1))
    vals = [np.array([[np.inf, 1.0], [-np.inf, 1.0], [-np.inf, -np.inf], [np.nan, 2.0], [0.0, -0.0]])]
    fg, log = rewrite_and_compare([x], out, values=vals, passes=STAB)
    assert "logsumexp" in applied(log)
    fg, log = rewrite_and_compare([x], out, values=[np.zeros((3, 0))], passes=STAB)   # log(0) = -inf
    np.testing.assert_array_equal(interp(fg, np.zeros((3, 0)))[0], [-np.inf] * 3)


def test_logsumexp_shift_is_constant_for_the_gradient(rng):
    """Differentiating the rewritten graph: the shift has no gradient, the result is still
    softmax(x) (the shift cancels)."""
    x = T.matrix("x")
    fg = FunctionGraph([x], [T.log(T.sum(T.exp(x), axis=1))])
    optimize(fg, "stabilize")
    rewritten = fg.outputs[0]
    assert any(isinstance(n.op, StableMax) for n in fg.toposort())
    g = T.grad(rewritten.sum(), fg.inputs[0])
    a = np.array([[1000.0, 0.0], [1.0, 2.0]])
    got = T.function([fg.inputs[0]], g, mode="FAST_COMPILE")(a)
    e = np.exp(a - a.max(axis=1, keepdims=True))
    np.testing.assert_allclose(got, e / e.sum(axis=1, keepdims=True))


def test_logsumexp_declines(rng):
    x = T.matrix("x")
    vals = [rng.standard_normal((3, 4))]
    for out in (T.log(T.sum(T.exp(x), axis=1) + 1), T.log(T.prod(T.exp(x), axis=1)),
                T.log(T.sum(T.sqr(x), axis=1))):
        fg, log = rewrite_and_compare([x], out, values=vals, passes=STAB)
        assert "logsumexp" not in applied(log)
    i = T.imatrix("i")                                             # exp of integers: left alone
    fg, log = rewrite_and_compare([i], T.log(T.sum(T.exp(i), axis=1)),
                                  values=[np.array([[1, 2], [3, 4]], "int32")], passes=STAB)
    assert "logsumexp" not in applied(log)


# --- the rules in the compiled pipeline ------------------------------------------------------------------
def test_rules_run_in_fast_run_and_can_be_excluded(rng):
    for name in ("nnet_stabilize", "logsoftmax", "crossentropy_softmax", "softmax_grad_closed_form",
                 "logsumexp"):
        assert name in known_names()
    x, t = T.matrix("x"), T.ivector("t")
    cost = categorical_crossentropy(softmax(x), t).mean()
    outs = [cost, T.grad(cost, x), T.log(softmax(x))]
    f = T.function([x, t], outs, mode="FAST_RUN")
    kinds = {type(n.op) for n in f.maker.fgraph.toposort()}
    assert CrossentropySoftmax1Hot in kinds and LogSoftmax in kinds
    assert CrossentropyCategorical1Hot not in kinds and SoftmaxGrad not in kinds
    a = np.array([[1e4, 0.0, -1e4], [0.0, 1.0, 2.0]])
    c, g, lsm = f(a, np.array([2, 0], "int32"))
    assert np.isfinite(c) and np.all(np.isfinite(g)) and np.all(np.isfinite(lsm))
    f_ex = T.function([x, t], outs[0], mode=T.Mode().excluding("crossentropy_softmax"))
    kinds = {type(n.op) for n in f_ex.maker.fgraph.toposort()}
    assert CrossentropyCategorical1Hot in kinds and Softmax in kinds
