"""The integer-target cross-entropies (CrossentropyCategorical1Hot, its gradient, and
CrossentropySoftmax1Hot) through their C kernels (codegen/c/xent.py, backends/c/xent_thunk.py):
equal to the numpy perform for float32/float64, N-d inputs, every integer target dtype,
threads, non-contiguous operands, huge logits, NaN/Inf, zero-size inputs, and out-of-range
targets raising perform's error."""
from __future__ import annotations

import numpy as np
import pytest

import symtensor as T
from symtensor.backends.c import toolchain
from symtensor.codegen.c import renderer_for
from symtensor.codegen.c.xent import render_xent
from symtensor.ops.nnet import softmax
from symtensor.ops.nnet_xent import (CrossentropyCategorical1Hot, CrossentropyCategorical1HotGrad,
                                     CrossentropySoftmax1Hot, categorical_crossentropy,
                                     crossentropy_categorical_1hot, crossentropy_categorical_1hot_grad,
                                     crossentropy_softmax_1hot)
from tests.helpers import noncontiguous

pytestmark = pytest.mark.skipif(toolchain.find_compiler() is None, reason="no C compiler on PATH")

XENT_OPS = (CrossentropyCategorical1Hot, CrossentropyCategorical1HotGrad, CrossentropySoftmax1Hot)


def build(dtype="float64", ndim=2, tdtype="int64"):
    x = T.tensor(dtype, (False,) * ndim, name="x")
    p = T.tensor(dtype, (False,) * ndim, name="p")
    g = T.tensor(dtype, (False,) * (ndim - 1), name="g")
    t = T.tensor(tdtype, (False,) * (ndim - 1), name="t")
    return [x, p, g, t], [crossentropy_softmax_1hot(x, t), crossentropy_categorical_1hot(p, t),
                          crossentropy_categorical_1hot_grad(g, p, t)]


def compare(inputs, outputs, vals, mode, rtol=1e-12, atol=None, kernels=True):
    f = T.function(inputs, outputs, mode=mode)
    if mode == "FAST_RUN" and kernels:
        assert not [n for n in f.maker.executor.fallbacks if isinstance(n.op, XENT_OPS)]
        assert any(isinstance(n.op, XENT_OPS) for n in f.maker.fgraph.toposort())
    got = f(*vals)
    want = T.function(inputs, outputs, mode="FAST_COMPILE")(*vals)
    for g, e in zip(got, want):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol if atol is None else atol, equal_nan=True)
    return got


def values(rng, shape, dtype="float64", tdtype="int64", scale=3.0):
    x = (rng.standard_normal(shape) * scale).astype(dtype)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    p = (e / e.sum(axis=-1, keepdims=True)).astype(dtype)
    g = rng.standard_normal(shape[:-1]).astype(dtype)
    t = rng.integers(0, shape[-1], size=shape[:-1]).astype(tdtype)
    return [x, p, g, t]


def test_rendered_for_float_and_index_dtypes():
    ins, outs = build()
    for out in outs:
        assert renderer_for(out.owner) is render_xent
        assert render_xent(out.owner) is not None
    h = T.tensor("float16", (False, False))
    assert render_xent(crossentropy_softmax_1hot(h, T.lvector()).owner) is None
    u = T.tensor("uint64", (False,))
    assert render_xent(crossentropy_softmax_1hot(T.matrix(), u).owner) is None


@pytest.mark.parametrize("shape", [(5, 7), (3, 1), (1, 300), (4,), (2, 3, 9)])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_equals_perform(mode, rng, shape, dtype):
    rtol = 1e-12 if dtype == "float64" else 2e-6
    compare(*build(dtype, len(shape)), values(rng, shape, dtype), mode, rtol=rtol)


@pytest.mark.parametrize("tdtype", ["int8", "int16", "int32", "uint8", "uint16", "uint32", "uint64"])
def test_target_dtypes(mode, rng, tdtype):
    """uint64 targets (not exactly int64) run through perform; the rest through the kernels."""
    compare(*build("float64", 2, tdtype), values(rng, (6, 5), "float64", tdtype), mode,
            kernels=tdtype != "uint64")


def test_threads_and_long_rows(rng):
    for shape in [(4096, 300), (3, 70000)]:
        for dtype, rtol, atol in (("float64", 1e-11, 1e-12), ("float32", 1e-5, 1e-5)):
            compare(*build(dtype), values(rng, shape, dtype), "FAST_RUN", rtol=rtol, atol=atol)


def test_layouts(mode, rng):
    """Non-contiguous, transposed and read-only operands are copied to rows first."""
    vals = values(rng, (6, 5))
    compare(*build(), [noncontiguous(v) for v in vals], mode)
    compare(*build(), [np.asfortranarray(v) for v in vals], mode)
    for v in vals:
        v.setflags(write=False)
    compare(*build(), vals, mode)


def test_broadcast_gz(mode, rng):
    p = T.matrix("p")
    t = T.lvector("t")
    g = T.tensor("float64", (True,), name="g")
    pv, tv = rng.random((4, 3)), np.array([0, 2, 1, 2])
    compare([g, p, t], [crossentropy_categorical_1hot_grad(g, p, t)], [np.array([1.5]), pv, tv], mode)


def test_huge_logits_nan_inf(mode):
    inf, nan = np.inf, np.nan
    for dtype in ("float64", "float32"):
        x = np.array([[1000, 0, -1000, 5], [nan, 1, 2, 3], [inf, 1, 2, 3], [-inf] * 4,
                      [inf, inf, 0, 1], [-inf, 0, 1, -inf], [3e38, -3e38, 0, 1]], dtype=dtype)
        p = np.array([[0.5, 0.5, 0, 0], [0.25] * 4, [nan, 0, 0, 1], [inf, 0, 0, 0], [1, 0, 0, 0],
                      [0, 0.5, -0.5, 0], [0.1, 0.2, 0.3, 0.4]], dtype=dtype)
        g = np.array([1, nan, inf, 0, -1, 2, 0], dtype=dtype)
        t = np.array([0, 1, 0, 2, 3, 0, 1])
        with np.errstate(all="ignore"):
            got = compare(*build(dtype), [x, p, g, t], mode, rtol=1e-12 if dtype == "float64" else 2e-6)
        assert got[0][0] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("shape", [(0, 4), (2, 0, 3), (0, 2, 0)])
def test_zero_size(mode, shape):
    vals = [np.zeros(shape), np.zeros(shape), np.zeros(shape[:-1]), np.zeros(shape[:-1], dtype="int64")]
    compare(*build("float64", len(shape)), vals, mode)


@pytest.mark.parametrize("bad", [-1, 5, 100])
def test_out_of_range_targets_raise(mode, rng, bad):
    ins, outs = build()
    vals = values(rng, (4, 5))
    vals[3][2] = bad
    for i, name in enumerate(["crossentropy_softmax_1hot", "categorical_crossentropy",
                              "crossentropy_categorical_1hot_grad"]):
        f = T.function(ins, outs[i], mode=mode, on_unused_input="ignore")
        with pytest.raises(ValueError, match=f"{name}: target {bad} at index \\(2,\\) is out of range"):
            f(*vals)


def test_no_classes_raises(mode):
    """Rows of zero classes: every target is out of range (perform's error)."""
    ins, outs = build()
    vals = [np.zeros((3, 0)), np.zeros((3, 0)), np.zeros(3), np.zeros(3, dtype="int64")]
    f = T.function(ins, outs[0], mode=mode, on_unused_input="ignore")
    with pytest.raises(ValueError, match="out of range for 0 classes"):
        f(*vals)


def test_shape_mismatch_raises(mode, rng):
    ins, outs = build()
    vals = values(rng, (4, 5))
    vals[3] = vals[3][:3]
    f = T.function(ins, outs[0], mode=mode, on_unused_input="ignore")
    with pytest.raises(ValueError, match="crossentropy_softmax_1hot"):
        f(*vals)


def test_training_gradient(mode, rng):
    """The loss and gradient of categorical_crossentropy(softmax(x), t) match FAST_COMPILE."""
    x = T.matrix("x")
    t = T.lvector("t")
    p = T.matrix("p")
    loss = T.mean(categorical_crossentropy(softmax(x), t))
    loss2 = T.sum(categorical_crossentropy(p, t))
    xv, pv = rng.standard_normal((8, 10)), rng.random((8, 10)) + 0.1
    tv = rng.integers(0, 10, 8)
    compare([x, p, t], [loss, T.grad(loss, x), loss2, T.grad(loss2, p)], [xv, pv, tv], mode, rtol=1e-11)
