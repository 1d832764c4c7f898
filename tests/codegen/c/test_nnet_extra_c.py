"""StableMax, and AdvancedSubtensor / AdvancedIncSubtensor indexed by two integer vectors,
through their C kernels (codegen/c/nnet_extra.py, backends/c/nnet_extra_thunk.py): exactly
equal to the numpy perform, NaN/Inf rows, negative and out-of-range indices, repeated
indices, broadcast indices and values, other layouts, zero sizes; other cases fall back."""
from __future__ import annotations

import numpy as np
import pytest

import symtensor as T
from symtensor.backends.c import toolchain
from symtensor.codegen.c import renderer_for
from symtensor.codegen.c.nnet_extra import render_nnet_extra
from symtensor.ops.advanced_subtensor import AdvancedIncSubtensor, AdvancedSubtensor
from symtensor.ops.nnet import StableMax, stable_max
from tests.helpers import noncontiguous

pytestmark = pytest.mark.skipif(toolchain.find_compiler() is None, reason="no C compiler on PATH")

OPS = (StableMax, AdvancedSubtensor, AdvancedIncSubtensor)


def run(inputs, outputs, vals, mode, exact=True):
    f = T.function(inputs, outputs, mode=mode)
    if mode == "FAST_RUN":
        assert not [n for n in f.maker.executor.fallbacks if isinstance(n.op, OPS)]
        assert any(isinstance(n.op, OPS) for n in f.maker.fgraph.toposort())
    got = f(*vals)
    want = T.function(inputs, outputs, mode="FAST_COMPILE")(*vals)
    for g, e in zip(got, want):
        assert g.dtype == e.dtype and g.shape == e.shape
        if exact:
            np.testing.assert_array_equal(g, e)
        else:   # other ops' kernels (fused elemwise, sums) may round differently
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-7)
    return got


def graph(dtype="float64", idx="int64"):
    x = T.tensor(dtype, (False, False), name="x")
    i = T.tensor(idx, (False,), name="i")
    j = T.tensor(idx, (False,), name="j")
    y = T.tensor(dtype, (False,), name="y")
    return [x, i, j, y], [stable_max(x, (1,)), x[i, j], T.inc_subtensor(x[i, j], y)]


def test_rendered_common_case_only():
    (x, i, j, y), outs = graph()
    for o in outs:
        assert renderer_for(o.owner) is render_nnet_extra
        assert render_nnet_extra(o.owner) is not None
    assert render_nnet_extra(T.set_subtensor(x[i, j], y).owner) is None
    assert render_nnet_extra(x[i].owner) is None
    assert render_nnet_extra(stable_max(x, (0,)).owner) is None
    h = T.tensor("float16", (False, False))
    assert render_nnet_extra(stable_max(h, (1,)).owner) is None
    assert render_nnet_extra(h[i, j].owner) is None
    u = T.tensor("uint64", (False,))
    assert render_nnet_extra(x[u, j].owner) is None


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("idx", ["int64", "int32"])
def test_equals_perform(mode, rng, dtype, idx):
    inputs, outputs = graph(dtype, idx)
    x = rng.standard_normal((7, 5)).astype(dtype)
    x[1] = np.nan
    x[2, 3] = np.nan
    x[3] = -np.inf
    x[4, 0] = np.inf
    x[5, 1] = -np.inf
    i = np.array([0, 6, -1, 3, 3, 3, -7, 2], idx)      # repeats, negatives
    j = np.array([4, 0, -5, 1, 1, 1, 2, -1], idx)
    yv = rng.standard_normal(8).astype(dtype)
    sm, took, inc = run(inputs, outputs, [x, i, j, yv], mode)
    assert sm[1, 0] == 0 and sm[2, 0] == 0 and sm[3, 0] == 0 and sm[4, 0] == 0


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_layouts_and_broadcasts(mode, rng, dtype):
    inputs, outputs = graph(dtype)
    x = noncontiguous(rng.standard_normal((6, 4)).astype(dtype)).T
    i = noncontiguous(np.array([0, 1, 3, 1], "int64"))
    run(inputs, outputs, [x, i, np.array([2], "int64"), rng.standard_normal(4).astype(dtype)], mode)
    run(inputs, outputs, [x, np.array([-2], "int64"), i, rng.standard_normal(4).astype(dtype)], mode)


def test_scalar_y_and_upcast(mode, rng):
    x = T.dmatrix("x")
    i, j = T.lvector("i"), T.lvector("j")
    s = T.fscalar("s")
    v = T.fvector("v")
    outs = [T.inc_subtensor(x[i, j], s), T.inc_subtensor(x[i, j], v)]
    run([x, i, j, s, v], outs, [rng.standard_normal((3, 3)), np.array([0, 0, 2]), np.array([1, 1, -1]),
                                np.float32(0.1), np.array([0.1, 0.2, 0.3], "float32")], mode)


def test_zero_size(mode):
    inputs, outputs = graph()
    e = np.zeros(0, "int64")
    run(inputs, outputs, [np.zeros((3, 0)), e, e, np.zeros(0)], mode)
    run(inputs, outputs, [np.ones((2, 3)), e, e, np.zeros(0)], mode)


@pytest.mark.parametrize("which", [1, 2])
@pytest.mark.parametrize("bad", [(3, 0), (-4, 0), (0, 3), (0, -4)])
def test_out_of_range_raises_as_perform(mode, which, bad):
    inputs, outputs = graph()
    vals = [np.ones((3, 3)), np.array([0, bad[0]]), np.array([1, bad[1]]), np.ones(2)]
    with pytest.raises(IndexError) as want:
        T.function(inputs, outputs[which], mode="FAST_COMPILE", on_unused_input="ignore")(*vals)
    with pytest.raises(IndexError) as got:
        T.function(inputs, outputs[which], mode=mode, on_unused_input="ignore")(*vals)
    assert str(got.value) == str(want.value)


def test_mismatched_lengths_fall_back(mode):
    inputs, outputs = graph()
    vals = [np.ones((3, 3)), np.array([0, 1]), np.array([1, 1, 2]), np.ones(2)]
    for k in (1, 2):
        with pytest.raises(IndexError):
            T.function(inputs, outputs[k], mode=mode, on_unused_input="ignore")(*vals)
    with pytest.raises(Exception):
        T.function(inputs, outputs[2], mode=mode)(np.ones((3, 3)), np.array([0, 1]), np.array([1, 1]), np.ones(3))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_nll_gradient(mode, rng, dtype):
    z = T.tensor(dtype, (False, False), name="z")
    y = T.lvector("y")
    sh = z - stable_max(z, (1,))
    logp = sh - T.log(T.exp(sh).sum(axis=1, keepdims=True))
    cost = -logp[T.arange(y.shape[0]), y].mean()
    g = T.grad(cost, z)
    run([z, y], [cost, g], [rng.standard_normal((9, 4)).astype(dtype), np.array([0, 3, 3, 1, 2, 0, 1, 3, -1])],
        mode, exact=False)
