"""Softmax, LogSoftmax and SoftmaxGrad through their C kernels (codegen/c/nnet.py,
backends/c/nnet_thunk.py): equal to the numpy perform for float32/float64, N-d inputs,
threads, non-contiguous and transposed operands, huge logits, NaN/Inf rows, zero-size inputs."""
from __future__ import annotations

import numpy as np
import pytest

import symtensor as T
from symtensor.backends.c import toolchain
from symtensor.codegen.c import renderer_for
from symtensor.codegen.c.nnet import render_nnet
from symtensor.ops.nnet import LogSoftmax, Softmax, SoftmaxGrad, logsoftmax, softmax, softmax_grad
from tests.helpers import noncontiguous

pytestmark = pytest.mark.skipif(toolchain.find_compiler() is None, reason="no C compiler on PATH")

NNET_OPS = (Softmax, LogSoftmax, SoftmaxGrad)


def build(dtype="float64", ndim=2):
    x = T.tensor(dtype, (False,) * ndim, name="x")
    dy = T.tensor(dtype, (False,) * ndim, name="dy")
    sm = T.tensor(dtype, (False,) * ndim, name="sm")
    return [x, dy, sm], [softmax(x), logsoftmax(x), softmax_grad(dy, sm)]


def compare(inputs, outputs, vals, mode, rtol=1e-12, atol=None):
    f = T.function(inputs, outputs, mode=mode)
    if mode == "FAST_RUN":
        assert not [n for n in f.maker.executor.fallbacks if isinstance(n.op, NNET_OPS)]
        assert any(isinstance(n.op, NNET_OPS) for n in f.maker.fgraph.toposort())
    got = f(*vals)
    want = T.function(inputs, outputs, mode="FAST_COMPILE")(*vals)
    for g, e in zip(got, want):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol if atol is None else atol, equal_nan=True)
    return got


def values(rng, shape, dtype="float64", scale=3.0):
    x = (rng.standard_normal(shape) * scale).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return [x, dy, (e / e.sum(axis=-1, keepdims=True)).astype(dtype)]


def test_rendered_for_float_only():
    x = T.tensor("float64", (False, False))
    for out in (softmax(x), logsoftmax(x), softmax_grad(x, x)):
        assert renderer_for(out.owner) is render_nnet
        assert render_nnet(out.owner) is not None
    h = T.tensor("float16", (False, False))
    assert render_nnet(softmax(h).owner) is None


@pytest.mark.parametrize("shape", [(5, 7), (3, 1), (1, 300), (4,), (2, 3, 9)])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_equals_perform(mode, rng, shape, dtype):
    rtol = 1e-12 if dtype == "float64" else 2e-6
    compare(*build(dtype, len(shape)), values(rng, shape, dtype), mode, rtol=rtol)


def test_threads_and_long_rows(rng):
    """Rows beyond ST_OMP_THRESHOLD elements split across threads; long rows sum accurately."""
    for shape in [(512, 300), (3, 70000)]:
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


def test_huge_logits_nan_inf(mode):
    """Max-shifted: finite for huge logits; NaN, +inf and all -inf rows as numpy."""
    inf, nan = np.inf, np.nan
    for dtype in ("float64", "float32"):
        x = np.array([[1000, 0, -1000, 5], [nan, 1, 2, 3], [inf, 1, 2, 3], [-inf] * 4,
                      [inf, inf, 0, 1], [-inf, 0, 1, -inf], [3e38, -3e38, 0, 1]], dtype=dtype)
        dy = np.array([[1, 2, 3, 4], [1, nan, 0, 0], [inf, 0, 1, 0], [0] * 4, [1] * 4, [-inf, 0, 1, 2],
                       [0, 1, 0, 1]], dtype=dtype)
        sm = np.array([[0.5, 0.5, 0, 0], [0.25] * 4, [nan, 0, 0, 1], [inf, 0, 0, 0], [1, 0, 0, 0],
                       [0, 0.5, 0.5, 0], [0.1, 0.2, 0.3, 0.4]], dtype=dtype)
        with np.errstate(all="ignore"):
            got = compare(*build(dtype), [x, dy, sm], mode, rtol=1e-12 if dtype == "float64" else 2e-6)
        np.testing.assert_allclose(got[1][0], np.array([0, -1000, -2000, -995], dtype)
                                   - np.log1p(np.exp(np.array(-995.0))), rtol=1e-6)


@pytest.mark.parametrize("shape", [(0, 4), (3, 0), (0,), (2, 0, 3)])
def test_zero_size(mode, shape):
    vals = [np.zeros(shape), np.zeros(shape), np.zeros(shape)]
    compare(*build("float64", len(shape)), vals, mode)


def test_softmax_grad_shape_mismatch_raises(mode):
    dy, sm = T.matrix("dy"), T.matrix("sm")
    f = T.function([dy, sm], softmax_grad(dy, sm), mode=mode)
    with pytest.raises(ValueError, match="softmax_grad"):
        f(np.zeros((2, 3)), np.zeros((2, 4)))


def test_training_gradient(mode, rng):
    """The gradient of a softmax/log-softmax loss runs through the kernels and matches numpy."""
    x = T.matrix("x")
    w = T.matrix("w")
    loss = T.sum(softmax(x) * w) + T.sum(logsoftmax(x) * w)
    g = T.grad(loss, x)
    xv, wv = rng.standard_normal((8, 10)), rng.standard_normal((8, 10))
    compare([x, w], [loss, g], [xv, wv], mode, rtol=1e-11)
