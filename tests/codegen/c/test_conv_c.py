"""Conv2d, Conv2dGradInputs and Conv2dGradWeights through their C kernels (codegen/c/conv.py,
backends/c/conv_thunk.py): im2col + BLAS gemm equals the numpy perform on every option
(border modes, strides, dilation, groups, flip), in one chunk and in many, with one thread
and with threads splitting the batch; non-contiguous and mixed-dtype operands; NaN/Inf;
zero-size fall-back; the ops' own errors."""
from __future__ import annotations

import numpy as np
import pytest

import symtensor as T
from symtensor.backends.c import blaslib, conv_thunk, toolchain
from symtensor.ops.conv import Conv2d
from symtensor.ops.conv_grad import Conv2dGradInputs, Conv2dGradWeights
from symtensor.tensor.nnet import conv2d, conv2d_grad_wrt_inputs, conv2d_grad_wrt_weights
from tests.helpers import noncontiguous

pytestmark = [pytest.mark.skipif(toolchain.find_compiler() is None, reason="no C compiler on PATH"),
              pytest.mark.skipif(blaslib.locate() is None, reason="scipy-openblas32 is not installed")]

CONV_OPS = (Conv2d, Conv2dGradInputs, Conv2dGradWeights)

# (input shape, filter shape, options)
CASES = [
    ((3, 4, 9, 8), (5, 4, 3, 2), {}),
    ((2, 3, 7, 7), (4, 3, 3, 3), {"border_mode": "full", "filter_flip": False}),
    ((2, 3, 8, 9), (4, 3, 3, 3), {"border_mode": "half", "subsample": (2, 3)}),
    ((2, 4, 9, 10), (6, 2, 2, 3), {"border_mode": ((1, 2), (0, 3)), "num_groups": 2}),
    ((3, 2, 11, 9), (3, 2, 3, 2), {"filter_dilation": (2, 3), "subsample": (1, 2), "border_mode": 1}),
    ((4, 1, 6, 6), (2, 1, 6, 6), {}),
]


def case_id(case):
    return f"{case[0]}*{case[1]}-" + "-".join(f"{k}={v}" for k, v in case[2].items())


def graphs(case, dtype="float32"):
    """(inputs, [forward, input gradient, filter gradient]) for a case."""
    xshape, kshape, opts = case
    x, w = T.tensor4("x", dtype=dtype), T.tensor4("w", dtype=dtype)
    out = conv2d(x, w, **opts)
    gz = T.tensor4("gz", dtype=dtype)
    gx = conv2d_grad_wrt_inputs(gz, w, xshape, **opts)
    gw = conv2d_grad_wrt_weights(x, gz, kshape, **opts)
    return [x, w, gz], [out, gx, gw]


def values(rng, case, dtype="float32"):
    """Random operands: float64 normal; float32 quarter-integers, whose products and sums are
    exact in float32, so any summation order gives the reference's result exactly."""
    xshape, kshape, opts = case
    op = Conv2d(**opts)
    oshape = (xshape[0], kshape[0]) + op.out_size(xshape[2:], kshape[2:])
    if dtype == "float32":
        return [(rng.integers(-8, 9, s) / 4).astype(dtype) for s in (xshape, kshape, oshape)]
    return [rng.standard_normal(s).astype(dtype) for s in (xshape, kshape, oshape)]


def compiled(inputs, outputs, mode):
    f = T.function(inputs, outputs, mode=mode, on_unused_input="ignore")
    if mode == "FAST_RUN":
        rendered = [n for n in f.maker.fgraph.toposort() if isinstance(n.op, CONV_OPS)]
        assert rendered and not [n for n in f.maker.executor.fallbacks if isinstance(n.op, CONV_OPS)]
    return f


def check(case, vals, mode, dtype, rtol):
    inputs, outputs = graphs(case, dtype)
    got = compiled(inputs, outputs, mode)(*vals)
    want = T.function(inputs, outputs, mode="FAST_COMPILE")(*vals)
    for g, e in zip(got, want):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol * max(1.0, np.abs(e).max()))


@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_option_equals_perform(mode, rng, case, dtype):
    check(case, values(rng, case, dtype), mode, dtype, 1e-5 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize("case", CASES[:4], ids=case_id)
@pytest.mark.parametrize("chunk_bytes,work", [(1, 0), (1 << 30, 0), (1, 1 << 60)])
def test_chunks_and_threads(monkeypatch, rng, case, chunk_bytes, work):
    """One image per chunk or the whole batch in one; threads splitting the batch or not
    (the filter gradient then sums per-thread partial results)."""
    monkeypatch.setattr(conv_thunk, "COL_BYTES", chunk_bytes)
    monkeypatch.setattr(conv_thunk, "PARALLEL_WORK", work)
    xshape, kshape, opts = case
    big = ((7,) + xshape[1:], kshape, opts)
    check(big, values(rng, big), "FAST_RUN", "float32", 1e-5)


def test_noncontiguous_and_mixed_dtypes(mode, rng):
    """Strided operands are read correctly; float32 input with float64 filters gives float64."""
    x, w = T.ftensor4("x"), T.dtensor4("w")
    f = compiled([x, w], conv2d(x, w, border_mode="half"), mode)
    xv = noncontiguous(rng.standard_normal((3, 2, 6, 7)).astype("float32"))
    wv = rng.standard_normal((4, 2, 3, 3))[:, :, ::-1]
    got = f(xv, wv)
    want = T.function([x, w], conv2d(x, w, border_mode="half"), mode="FAST_COMPILE")(xv, wv)
    assert got.dtype == "float64"
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_and_inf_as_numpy(mode, rng):
    """NaN and Inf propagate as in the reference, including inf times a padded zero (NaN)."""
    case = ((2, 2, 5, 5), (3, 2, 3, 3), {"border_mode": "full"})
    xv, wv, gv = values(rng, case)
    xv[0, 1, 2, 3], xv[1, 0, 0, 0] = np.nan, np.inf
    wv[2, 0, 1, 1] = -np.inf
    gv[1, 2, 0, 0] = np.inf
    inputs, outputs = graphs(case)
    got = compiled(inputs, outputs, mode)(xv, wv, gv)
    want = T.function(inputs, outputs, mode="FAST_COMPILE")(xv, wv, gv)
    assert np.isnan(want[0]).any() and np.isnan(want[2]).any() and np.isinf(want[1]).any()
    for g, e in zip(got, want):
        np.testing.assert_array_equal(np.isnan(g), np.isnan(e))
        np.testing.assert_array_equal(np.isinf(g), np.isinf(e))
        finite = np.isfinite(e)
        np.testing.assert_allclose(g[finite], e[finite], rtol=1e-5, atol=1e-4)


def test_zero_batch_and_errors(mode, rng):
    """An empty batch gives empty / zero results (through perform); bad shapes raise the op's errors."""
    case = ((0, 3, 6, 6), (4, 3, 3, 3), {})
    inputs, outputs = graphs(case)
    f = compiled(inputs, outputs, mode)
    out, gx, gw = f(*values(rng, case))
    assert out.shape == (0, 4, 4, 4) and gx.shape == (0, 3, 6, 6)
    np.testing.assert_array_equal(gw, np.zeros((4, 3, 3, 3), "float32"))
    x, w = T.ftensor4("x"), T.ftensor4("w")
    g = compiled([x, w], conv2d(x, w), mode)
    with pytest.raises(ValueError, match="channels"):
        g(np.zeros((1, 3, 5, 5), "float32"), np.zeros((2, 2, 3, 3), "float32"))
    with pytest.raises(ValueError, match="larger than the input"):
        g(np.zeros((1, 2, 2, 5), "float32"), np.zeros((2, 2, 3, 3), "float32"))
