"""Scan through the C backend: bodies made of elementwise kernels on fixed shapes run as one
C loop (bodies with BLAS products: ``test_scan_blas_loop.py``); other bodies run their
rewritten, compiled body in a Python loop. numpy loops are the
reference, in every mode (DebugMode compares the compiled scan with ``perform``), covering
taps, offsets, mapped outputs, constants, NaN/Inf, zero steps, errors, and values the C loop
cannot take (which run the Python loop with the same results and errors).
"""
from __future__ import annotations

import numpy as np
import pytest

import symtensor as T
from symtensor.backends.c import toolchain
from symtensor.codegen.c.scan import render_scan
from symtensor.ops.scan_op import Scan

pytestmark = pytest.mark.skipif(toolchain.find_compiler() is None, reason="no C compiler on PATH")


def scan_kernel(f):
    """The kernel the C backend renders for the (only) Scan node of ``f``."""
    nodes = [n for n in f.maker.fgraph.toposort() if isinstance(n.op, Scan)]
    assert len(nodes) == 1
    return render_scan(nodes[0])


def test_scalar_recurrence_is_a_c_loop(mode):
    a, b, x0 = T.dscalar("a"), T.dscalar("b"), T.dscalar("x0")
    xs, _ = T.scan(lambda x, a, b: a * x + b, outputs_info=x0, non_sequences=[a, b], n_steps=50)
    f = T.function([a, b, x0], xs, mode=mode)
    want, x = [], 1.0
    for _ in range(50):
        x = 0.9 * x + 0.5
        want.append(x)
    np.testing.assert_allclose(f(0.9, 0.5, 1.0), want, rtol=1e-14)
    assert scan_kernel(f).loop is not None


def test_taps_offsets_mapped_outputs_and_constants(mode, rng):
    """Fibonacci-like taps (-2, -1), a sequence read at two offsets, a mapped output and a
    constant vector in the body, all on float32 vectors of fixed length."""
    seq = T.tensor("float32", shape=(None, 3), name="seq")
    init = T.tensor("float32", shape=(2, 3), name="init")
    c = np.array([0.5, -1.0, 2.0], "float32")

    def step(s0, s2, xm2, xm1):
        new = T.tanh(xm1 * np.float32(0.5) + xm2 * c) + s0 * s2
        return new, T.exp(-new) * s2

    (xs, ys), _ = T.scan(step, sequences=dict(input=seq, taps=[0, 2]),
                         outputs_info=[dict(initial=init, taps=[-2, -1]), None])
    f = T.function([seq, init], [xs, ys], mode=mode)
    sv = rng.standard_normal((9, 3)).astype("float32")
    iv = rng.standard_normal((2, 3)).astype("float32")
    buf, ys_want = [iv[0], iv[1]], []
    for t in range(7):
        new = np.tanh(buf[-1] * np.float32(0.5) + buf[-2] * c) + sv[t] * sv[t + 2]
        buf.append(new)
        ys_want.append(np.exp(-new) * sv[t + 2])
    got_x, got_y = f(sv, iv)
    np.testing.assert_allclose(got_x, np.array(buf[2:]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_y, np.array(ys_want), rtol=1e-5, atol=1e-6)
    assert got_x.dtype == got_y.dtype == np.float32
    assert scan_kernel(f).loop is not None


def test_nan_inf_zero_steps_and_errors(mode):
    x0, n = T.dscalar("x0"), T.lscalar("n")
    xs, _ = T.scan(lambda x: T.log(x) * x, outputs_info=x0, n_steps=n)
    f = T.function([x0, n], xs, mode=mode)
    with np.errstate(all="ignore"):
        for start in (np.inf, -1.0, 0.0, np.nan):
            want, x = [], np.float64(start)
            for _ in range(3):
                x = np.log(x) * x
                want.append(x)
            np.testing.assert_array_equal(f(start, 3), np.array(want))
    empty = f(2.0, 0)
    assert empty.shape == (0,) and empty.dtype == np.float64
    with pytest.raises(ValueError, match="number of steps must be >= 0"):
        f(2.0, -1)


def test_sequence_too_short_raises_as_perform(mode):
    s = T.tensor("float64", shape=(None, 2), name="s")
    ys, _ = T.scan(lambda a, b: a - b, sequences=dict(input=s, taps=[0, 3]))
    f = T.function([s], ys, mode=mode)
    v = np.arange(10.0).reshape(5, 2)
    np.testing.assert_array_equal(f(v), v[:2] - v[3:])
    with pytest.raises(ValueError, match="taps need at least 3"):
        f(v[:2])


def test_operands_the_loop_cannot_take_run_the_python_loop(mode):
    """A non-contiguous sequence and a state given as a list give numpy's results."""
    x0 = T.dvector("x0")
    v = T.tensor("float64", shape=(None, 2), name="v")
    ys, _ = T.scan(lambda a, x: x * 2.0 + a, sequences=v, outputs_info=T.specify_shape(x0, (2,)))
    f = T.function([v, x0], ys, mode=mode)
    sv = np.arange(12.0).reshape(6, 2)[::2]                      # strided rows
    want, x = [], np.array([1.0, -1.0])
    for row in sv:
        x = x * 2.0 + row
        want.append(x)
    np.testing.assert_array_equal(f(sv, [1.0, -1.0]), np.array(want))
    assert scan_kernel(f).loop is not None


def test_body_without_c_loop_runs_compiled_body(mode, rng):
    """A perform-only op (a sort) in the body: the loop stays in Python, the body is compiled."""
    W = T.dmatrix("W")
    h0 = T.dmatrix("h0")
    hs, _ = T.scan(lambda h, W: T.sort(T.tanh(T.dot(h, W)), axis=1), outputs_info=h0, non_sequences=W,
                   n_steps=4)
    f = T.function([h0, W], hs, mode=mode)
    hv, wv = rng.standard_normal((3, 4)), rng.standard_normal((4, 4))
    want, h = [], hv
    for _ in range(4):
        h = np.sort(np.tanh(h @ wv), axis=1)
        want.append(h)
    np.testing.assert_allclose(f(hv, wv), np.array(want), rtol=1e-12)
    kernel = scan_kernel(f)
    assert kernel.loop is None and kernel.inner is not None


def test_bptt_gradient_through_compiled_scan(mode, rng):
    """The backward scan of an RNN (Gemm, Join, IncSubtensor, reductions in its body) gives
    the finite-difference-free closed form numpy computes."""
    x = T.dtensor3("x")
    Wh = T.dmatrix("Wh")
    h0 = T.dmatrix("h0")
    hs, _ = T.scan(lambda xt, h: T.tanh(xt + T.dot(h, Wh)), sequences=x, outputs_info=h0)
    g = T.grad(hs[-1].sum(), Wh)
    f = T.function([x, Wh, h0], g, mode=mode)
    xv = rng.standard_normal((5, 2, 3))
    wv = rng.standard_normal((3, 3)) * 0.5
    hv = rng.standard_normal((2, 3))
    states = [hv]
    for t in range(5):
        states.append(np.tanh(xv[t] + states[-1] @ wv))
    carry, gw = np.ones((2, 3)), np.zeros((3, 3))
    for t in range(5, 0, -1):
        ga = carry * (1 - states[t] ** 2)
        gw += states[t - 1].T @ ga
        carry = ga @ wv.T
    np.testing.assert_allclose(f(xv, wv, hv), gw, rtol=1e-10)
