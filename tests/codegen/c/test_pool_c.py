"""Pool, MaxPoolGrad and AveragePoolGrad through their C kernels (codegen/c/pool.py,
backends/c/pool_thunk.py): equal to the numpy perform for every mode with windows, strides,
padding and ignore_border (clipped edge windows and whole interior ones, overlapping or not),
N-d inputs, non-contiguous and mixed-dtype operands, ties, NaN/Inf, zero-size fall-back."""
from __future__ import annotations

import numpy as np
import pytest

import symtensor as T
from symtensor.backends.c import pool_thunk, toolchain
from symtensor.ops.pool import Pool
from symtensor.ops.pool_grad import AveragePoolGrad, MaxPoolGrad
from symtensor.tensor.signal.pool import pool_2d
from tests.helpers import noncontiguous

pytestmark = pytest.mark.skipif(toolchain.find_compiler() is None, reason="no C compiler on PATH")

POOL_OPS = (Pool, MaxPoolGrad, AveragePoolGrad)
MODES = ["max", "sum", "average_inc_pad", "average_exc_pad"]
# (ws, stride, pad, ignore_border)
OPTIONS = [((2, 2), None, (0, 0), True), ((3, 2), (1, 2), (0, 0), True), ((3, 3), (2, 2), (1, 2), True),
           ((2, 3), (3, 1), (0, 0), False), ((3, 2), (2, 1), (0, 0), False), ((1, 1), (2, 2), (0, 0), True)]


def opt_id(o):
    return f"ws{o[0]}-st{o[1]}-pad{o[2]}-ib{o[3]}"


def build(opts, pool_mode, dtype="float64", ndim=4):
    """(inputs, [pooled, gradient of <pooled, gz>]) for the options."""
    ws, stride, pad, ignore_border = opts
    x = T.tensor(dtype, (False,) * ndim, name="x")
    gz = T.tensor(dtype, (False,) * ndim, name="gz")
    out = pool_2d(x, ws, ignore_border=ignore_border, stride=stride, pad=pad, mode=pool_mode)
    return [x, gz], [out, T.grad(None, x, known_grads={out: gz})]


def compare(inputs, outputs, vals, mode, rtol=1e-12):
    f = T.function(inputs, outputs, mode=mode)
    if mode == "FAST_RUN":
        assert not [n for n in f.maker.executor.fallbacks if isinstance(n.op, POOL_OPS)]
        assert any(isinstance(n.op, POOL_OPS) for n in f.maker.fgraph.toposort())
    got = f(*vals)
    want = T.function(inputs, outputs, mode="FAST_COMPILE")(*vals)
    for g, e in zip(got, want):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol, equal_nan=True)
    return got


def pooled_shape(opts, pool_mode, shape):
    ws, stride, pad, ignore_border = opts
    return Pool(ws, ignore_border, stride, pad, pool_mode).pooled_shape(shape)


@pytest.mark.parametrize("opts", OPTIONS, ids=opt_id)
@pytest.mark.parametrize("pool_mode", MODES)
def test_every_option_equals_perform(mode, rng, opts, pool_mode):
    if pool_mode == "average_inc_pad" and opts[2] == (0, 0) and opts[0] == (1, 1):
        pytest.skip("same as average_exc_pad")
    shape = (2, 3, 9, 11)
    xv = rng.standard_normal(shape)
    gv = rng.standard_normal(pooled_shape(opts, pool_mode, shape))
    compare(*build(opts, pool_mode), [xv, gv], mode)


@pytest.mark.parametrize("shape", [(7, 8), (2, 1, 3, 6, 5)])
def test_n_d_inputs_threads_and_float32(monkeypatch, rng, shape):
    """The leading axes merge into planes; threads split them; float32 kernels."""
    monkeypatch.setattr(pool_thunk, "PARALLEL_CELLS", 0)
    opts = ((2, 2), None, (1, 0), True)
    for pool_mode in MODES:
        xv = (rng.integers(-8, 9, shape) / 4).astype("float32")   # sums exact in float32
        gv = (rng.integers(-8, 9, pooled_shape(opts, pool_mode, shape)) / 4).astype("float32")
        compare(*build(opts, pool_mode, "float32", len(shape)), [xv, gv], "FAST_RUN", rtol=1e-6)


def test_ties_nan_inf_and_layouts(mode, rng):
    """Ties share the max gradient; NaN wins a max window; Inf as numpy; strided operands."""
    xv = rng.integers(0, 3, (2, 2, 6, 7)).astype("float64")      # many ties
    xv[0, 0, 1, 1], xv[1, 1, 4, 5], xv[0, 1, 0, 0] = np.nan, np.inf, -np.inf
    opts = ((2, 3), (1, 2), (0, 0), False)
    for pool_mode in MODES:
        gv = rng.standard_normal(pooled_shape(opts, pool_mode, xv.shape))
        gv[0, 0, 0, 0] = np.inf
        got = compare(*build(opts, pool_mode), [noncontiguous(xv), noncontiguous(gv)], mode)
        assert np.isnan(got[0]).any()


def test_mixed_dtypes_and_zero_size(mode, rng):
    """A float32 input with a float64 output gradient (a float64 MaxPoolGrad); empty inputs
    give empty results."""
    x, gz = T.ftensor4("x"), T.dtensor4("gz")
    out = pool_2d(x, (2, 2), ignore_border=True)
    inputs, outputs = [x, gz], [out, T.grad(None, x, known_grads={out: gz})]
    xv = rng.standard_normal((2, 3, 4, 6)).astype("float32")
    compare(inputs, outputs, [xv, rng.standard_normal((2, 3, 2, 3))], mode)
    got = compare(inputs, outputs, [xv[:0], np.zeros((0, 3, 2, 3))], mode)
    assert got[0].shape == (0, 3, 2, 3) and got[1].shape == (0, 3, 4, 6)


def test_errors_are_the_ops(mode):
    x = T.dtensor4("x")
    f = T.function([x], pool_2d(x, (3, 3), ignore_border=True), mode=mode)
    with pytest.raises(ValueError, match="larger than the input"):
        f(np.zeros((1, 1, 2, 5)))
