"""Philox4x32-10 and ``PhiloxDraw`` (ops/philox.py, codegen/c/philox.py, backends/c/philox_thunk.py).

The block function is checked against the Random123 known-answer vectors and a scalar
reference written from the paper; samples against the documented word layout; then, in every
mode: determinism, the counter advancing by one per call, the C kernel equal to the numpy
perform bit for bit (also above the OpenMP threshold), moments, zero sizes, errors that leave
the state unchanged, and the draw being a constant for the gradient.
"""
import numpy as np
import pytest

import symtensor as T
from symtensor.backends.c import toolchain
from symtensor.codegen.c import renderer_for
from symtensor.codegen.c.philox import render_philox
from symtensor.compile.shared import SharedVariable
from symtensor.ops import philox as P
from symtensor.ops.philox import PhiloxDraw, make_state, philox4x32, sample, state_type

CASES = [(d, t) for d in P.DISTRIBUTIONS for t in ("float32", "float64")]


def _reference_block(ctr, key):
    """Philox4x32-10 of one counter, in Python ints, straight from the paper."""
    c, (k0, k1) = list(ctr), key
    for _ in range(10):
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k0, p1 & 0xFFFFFFFF, (p0 >> 32) ^ c[3] ^ k1, p0 & 0xFFFFFFFF]
        k0, k1 = (k0 + 0x9E3779B9) & 0xFFFFFFFF, (k1 + 0xBB67AE85) & 0xFFFFFFFF
    return c


# --- the block function ------------------------------------------------------------------------
@pytest.mark.parametrize("ctr, key, want", [
    ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
    ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
    ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0],
     [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]),
])
def test_known_answers(ctr, key, want):
    got = philox4x32(np.array([ctr], dtype=np.uint32), key)
    assert got.dtype == np.uint32 and got[0].tolist() == want
    assert _reference_block(ctr, key) == want


def test_vectorized_equals_scalar_reference(rng):
    ctrs = rng.integers(0, 2 ** 32, size=(50, 4), dtype=np.uint64).astype(np.uint32)
    key = [int(k) for k in rng.integers(0, 2 ** 32, size=2)]
    got = philox4x32(ctrs, key)
    for c, g in zip(ctrs, got):
        assert g.tolist() == _reference_block([int(x) for x in c], key)


# --- word layout and index purity ------------------------------------------------------------
def test_uniform_word_layout():
    state = make_state([7, 9], call=(5 << 32) + 3)
    words = np.array([_reference_block([j, 0, 3, 5], [7, 9]) for j in range(3)], dtype=np.uint64)
    f32 = sample(state, "uniform", "float32", 10)
    np.testing.assert_array_equal(f32, (words.reshape(-1)[:10] >> 8).astype(np.float64) * 2.0 ** -24)
    f64 = sample(state, "uniform", "float64", 5)
    pairs = words.reshape(-1, 2)[:5]
    np.testing.assert_array_equal(f64, ((pairs[:, 0] >> 5) * 2.0 ** 26 + (pairs[:, 1] >> 6)) * 2.0 ** -53)


@pytest.mark.parametrize("dist, dtype", CASES)
def test_each_element_depends_only_on_its_index(dist, dtype):
    state = make_state(2024, call=11)
    full = sample(state, dist, dtype, 101)
    for n in (0, 1, 2, 5, 50):
        np.testing.assert_array_equal(sample(state, dist, dtype, n), full[:n])
    assert full.dtype == dtype
    other = sample(P.advanced(state), dist, dtype, 101)
    assert not np.array_equal(other, full)


def test_own_log_and_trig_are_accurate(rng):
    u = rng.random(100000)
    x = np.concatenate([u + 2.0 ** -53, [2.0 ** -53, 0.5, 1.0]])
    np.testing.assert_allclose(P.philox_log(x), np.log(x), rtol=1e-15, atol=1e-300)
    cos, sin = P.philox_cos_sin(u)
    np.testing.assert_allclose(cos, np.cos(2 * np.pi * u), rtol=0, atol=2e-15)
    np.testing.assert_allclose(sin, np.sin(2 * np.pi * u), rtol=0, atol=2e-15)


@pytest.mark.parametrize("dist, dtype", CASES)
def test_moments(dist, dtype):
    x = sample(make_state(99), dist, dtype, 100000).astype(np.float64)
    mean, var = {"uniform": (0.5, 1 / 12), "normal": (0.0, 1.0), "truncated_normal": (0.0, 0.7737413)}[dist]
    assert abs(x.mean() - mean) < 5 * np.sqrt(var / x.size)
    assert abs(x.var() - var) < 0.02 * var
    if dist == "uniform":
        assert x.min() >= 0 and x.max() < 1
    if dist == "truncated_normal":
        assert np.abs(x).max() <= 2
    if dist == "normal":
        assert abs(np.mean(x ** 4) - 3) < 0.1 and np.abs(x).max() > 3


# --- the op in every mode ------------------------------------------------------------------------
def _stream(dist, dtype, size, key=123, call=0, update=True):
    state = SharedVariable(state_type, make_state(key, call), name="philox_state")
    new_state, draw = PhiloxDraw(dist, dtype).make_node(state, *size).outputs
    if update:
        state.default_update = new_state
    return state, draw


@pytest.mark.parametrize("dist, dtype", CASES)
def test_draws_equal_the_reference_and_advance(mode, dist, dtype):
    state, draw = _stream(dist, dtype, (3, 7), call=(1 << 32) - 1)
    f = T.function([], draw, mode=mode)
    for call in ((1 << 32) - 1, 1 << 32):
        before = state.get_value()
        assert before.tolist() == make_state(123, call).tolist()
        got = f()
        assert got.dtype == dtype and got.shape == (3, 7)
        np.testing.assert_array_equal(got, sample(before, dist, dtype, 21).reshape(3, 7))
    assert state.get_value().tolist() == make_state(123, (1 << 32) + 1).tolist()   # the carry into call_hi


@pytest.mark.parametrize("dist, dtype", CASES)
def test_without_update_the_same_numbers(mode, dist, dtype):
    state, draw = _stream(dist, dtype, (5,), update=False)
    f = T.function([], draw, mode=mode)
    np.testing.assert_array_equal(f(), f())
    assert state.get_value().tolist() == make_state(123).tolist()


@pytest.mark.parametrize("shape", [(0,), (0, 3), (4, 0)])
def test_zero_size(mode, shape):
    state, draw = _stream("normal", "float64", shape)
    out = T.function([], draw, mode=mode)()
    assert out.shape == shape
    assert state.get_value().tolist() == make_state(123, 1).tolist()


def test_failed_call_leaves_the_state_unchanged(mode):
    k = T.lscalar("k")
    state, draw = _stream("uniform", "float64", (k, 2))
    f = T.function([k], draw, mode=mode)
    with pytest.raises(ValueError, match="size must not hold negative entries"):
        f(-1)
    assert state.get_value().tolist() == make_state(123).tolist()
    assert f(3).shape == (3, 2)


def test_errors():
    state = SharedVariable(state_type, make_state(1))
    with pytest.raises(ValueError, match="unknown distribution"):
        PhiloxDraw("gamma", "float64")
    with pytest.raises(TypeError, match="float32 or float64"):
        PhiloxDraw("uniform", "int64")
    with pytest.raises(TypeError, match="Philox state variable"):
        PhiloxDraw("uniform", "float64")(T.dvector("v"), 3)
    with pytest.raises(ValueError, match="size\\[0\\] must be >= 0"):
        PhiloxDraw("uniform", "float64")(state, -2)
    with pytest.raises(TypeError, match="size\\[0\\] must be an integer"):
        PhiloxDraw("uniform", "float64")(state, T.dscalar())
    with pytest.raises(ValueError, match="uint32 array of shape \\(4,\\)"):
        state.set_value(np.zeros(3, dtype=np.uint32))
    with pytest.raises(ValueError, match="must be in \\[0, 2\\*\\*32\\)"):
        state.set_value(np.array([0, -1, 0, 0]))
    state.set_value(np.array([1, 2, 3, 4]))            # other integer dtypes convert
    assert state.get_value().dtype == np.uint32


def test_draws_are_constants_for_the_gradient(mode):
    state, z = _stream("normal", "float64", (4,), update=False)
    avg, std = T.dvector("avg"), T.dscalar("std")
    cost = ((avg + std * z) ** 2).sum()
    f = T.function([avg, std], [z] + T.grad(cost, [avg, std]), mode=mode)
    a, s = np.arange(4.0), 1.5
    zv, g_avg, g_std = f(a, s)
    np.testing.assert_allclose(g_avg, 2 * (a + s * zv), rtol=1e-12)
    np.testing.assert_allclose(g_std, np.sum(2 * (a + s * zv) * zv), rtol=1e-12)
    assert z.owner.op.connection_pattern(z.owner) == [[False, False]] * 2


# --- the C kernel ---------------------------------------------------------------------------------
needs_cc = pytest.mark.skipif(toolchain.find_compiler() is None, reason="no C compiler on PATH")


@needs_cc
@pytest.mark.parametrize("dist, dtype", CASES)
@pytest.mark.parametrize("n", [1, 7, 1001, 200001])
def test_c_kernel_equals_numpy_bit_for_bit(dist, dtype, n):
    """200001 elements are above the OpenMP threshold: threads split the loop."""
    state, draw = _stream(dist, dtype, (n,), key=[0xDEADBEEF, 0x12345678], call=77, update=False)
    assert renderer_for(draw.owner) is render_philox
    f = T.function([], draw, mode="FAST_RUN")
    assert not [node for node in f.maker.executor.fallbacks if isinstance(node.op, PhiloxDraw)]
    got = f()
    want = sample(make_state([0xDEADBEEF, 0x12345678], 77), dist, dtype, n)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got.view(f"u{got.itemsize}"), want.view(f"u{want.itemsize}"))


def test_rendering_is_per_distribution_and_dtype():
    state = SharedVariable(state_type, make_state(1))
    kernels = {render_philox(PhiloxDraw(d, t)(state, 3).owner).name for d, t in CASES}
    assert len(kernels) == len(CASES)
