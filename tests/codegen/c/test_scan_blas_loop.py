"""Scan bodies with BLAS products (dot, gemv, gemm), reductions, views, joins and increments
run as one C loop whose shapes are read at run time (``codegen/c/scan_dyn.py``).

numpy loops are the reference in every mode (DebugMode compares the compiled scan with
``perform``). In FAST_RUN the tests also check that the C loop ran (``RUNS``), so they fail
if the loop falls back to Python; covered: RNN steps in float32/float64, BPTT through grad,
one compiled function for several batch sizes and lengths, zero steps, non-contiguous and
reversed sequences, transposed non-sequences, matrix-vector and vector-vector products,
states that keep only their last entries, and operands the loop refuses (same errors as
``perform``).
"""
from __future__ import annotations

import numpy as np
import pytest

import symtensor as T
from symtensor.backends.c import toolchain
from symtensor.backends.c.scan_dyn_thunk import RUNS
from symtensor.codegen.c.blas import blas_link
from symtensor.codegen.c.scan import render_scan
from symtensor.codegen.c.scan_dyn import DynLayout
from symtensor.ops.scan_op import Scan
from tests.helpers import noncontiguous

pytestmark = [pytest.mark.skipif(toolchain.find_compiler() is None, reason="no C compiler on PATH"),
              pytest.mark.skipif(blas_link() is None, reason="no BLAS library to link")]


def scan_nodes(f) -> list:
    return [n for n in f.maker.fgraph.toposort() if isinstance(n.op, Scan)]


def assert_c_loops(f, mode) -> None:
    """Every Scan of ``f`` renders as a run-time-shape C loop."""
    nodes = scan_nodes(f)
    assert nodes
    for node in nodes:
        assert isinstance(render_scan(node).loop, DynLayout), str(node.op)


class CLoopRuns:
    """Counts the C-loop and Python-loop runs between entering and leaving (FAST_RUN only:
    the other modes run ``perform`` too)."""

    def __init__(self, mode, c_loops: int, python_loops: int = 0):
        self.mode, self.c_loops, self.python_loops = mode, c_loops, python_loops

    def __enter__(self):
        self.before = dict(RUNS)
        return self

    def __exit__(self, *exc):
        if exc[0] is None and self.mode == "FAST_RUN":
            assert RUNS["c_loop"] - self.before.get("c_loop", 0) == self.c_loops
            assert RUNS["python_loop"] - self.before.get("python_loop", 0) == self.python_loops


def rnn_numpy(xs, h0, Wx, Wh, bh):
    hs, h = [], h0
    for x in xs:
        h = np.tanh(x @ Wx + h @ Wh + bh)
        hs.append(h)
    return np.array(hs).reshape((len(xs),) + h0.shape)


def rnn_graph(dtype):
    xs, h0 = T.tensor3("xs", dtype=dtype), T.matrix("h0", dtype=dtype)
    Wx, Wh, bh = T.matrix("Wx", dtype=dtype), T.matrix("Wh", dtype=dtype), T.vector("bh", dtype=dtype)
    hs, _ = T.scan(lambda x, h, Wx, Wh, bh: T.tanh(T.dot(x, Wx) + T.dot(h, Wh) + bh),
                   sequences=xs, outputs_info=h0, non_sequences=[Wx, Wh, bh])
    return [xs, h0, Wx, Wh, bh], hs


def rnn_values(rng, dtype, length=6, batch=3, n_in=4, hidden=5):
    return [rng.standard_normal(s).astype(dtype) * sc for s, sc in
            (((length, batch, n_in), 1.0), ((batch, hidden), 1.0), ((n_in, hidden), 0.5),
             ((hidden, hidden), 0.5), ((hidden,), 1.0))]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rnn_forward_is_a_c_loop(mode, rng, dtype):
    inputs, hs = rnn_graph(dtype)
    f = T.function(inputs, hs, mode=mode)
    assert_c_loops(f, mode)
    vals = rnn_values(rng, dtype)
    with CLoopRuns(mode, 1):
        got = f(*vals)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == "float32" else dict(rtol=1e-12)
    np.testing.assert_allclose(got, rnn_numpy(*vals), **tol)
    assert got.dtype == dtype


def test_one_function_serves_any_batch_and_length(mode, rng):
    inputs, hs = rnn_graph("float64")
    f = T.function(inputs, hs, mode=mode)
    with CLoopRuns(mode, 4):
        for length, batch in ((6, 3), (2, 1), (9, 7), (1, 3)):
            vals = rnn_values(rng, "float64", length=length, batch=batch)
            np.testing.assert_allclose(f(*vals), rnn_numpy(*vals), rtol=1e-12)


def test_zero_steps(mode, rng):
    inputs, hs = rnn_graph("float64")
    f = T.function(inputs, hs, mode=mode)
    vals = rnn_values(rng, "float64", length=0)
    with CLoopRuns(mode, 0, python_loops=1):
        got = f(*vals)
    assert got.shape == (0, 3, 5) and got.dtype == np.float64


def test_noncontiguous_reversed_and_transposed_operands(mode, rng):
    """Strided sequence entries, a sequence walked backwards (negative stride) and a
    transposed weight matrix are read in place, with numpy's results."""
    inputs, hs = rnn_graph("float64")
    f = T.function(inputs, hs, mode=mode)
    xs, h0, Wx, Wh, bh = rnn_values(rng, "float64", length=7)
    strided = [noncontiguous(xs), noncontiguous(h0), noncontiguous(Wx), np.ascontiguousarray(Wh.T).T,
               noncontiguous(bh)]
    with CLoopRuns(mode, 2):
        np.testing.assert_allclose(f(*strided), rnn_numpy(xs, h0, Wx, Wh, bh), rtol=1e-12)
        np.testing.assert_allclose(f(xs[::-1], h0, Wx, Wh, bh), rnn_numpy(xs[::-1], h0, Wx, Wh, bh), rtol=1e-12)


def test_go_backwards_with_transposed_products(mode, rng):
    """``go_backwards`` and products of transposed step values (a gemm with a transposed x)."""
    xs, W, a0 = T.dtensor3("xs"), T.dmatrix("W"), T.dmatrix("a0")
    out, _ = T.scan(lambda x, a, W: a + T.dot(x.T, T.tanh(T.dot(x, W))), sequences=xs, outputs_info=a0,
                    non_sequences=W, go_backwards=True)
    f = T.function([xs, W, a0], out, mode=mode)
    assert_c_loops(f, mode)
    xv, wv, av = rng.standard_normal((5, 3, 4)), rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    want, a = [], av
    for x in xv[::-1]:
        a = a + x.T @ np.tanh(x @ wv)
        want.append(a)
    with CLoopRuns(mode, 1):
        np.testing.assert_allclose(f(xv, wv, av), np.array(want), rtol=1e-12)


def test_gemv_dot_and_mapped_outputs(mode, rng):
    """Matrix-vector products on a vector state, a vector-vector product and a row sum as
    mapped outputs, and a constant matrix in the body."""
    h0, W, v = T.fvector("h0"), T.fmatrix("W"), T.fvector("v")
    c = np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -0.5], [0.25, 0.75, 1.0]], "float32")

    def step(h, W, v):
        new = T.tanh(T.dot(W, h) + T.dot(c, h))
        return new, T.dot(new, v), T.outer(new, v).sum(axis=1)

    (hs, ds, ss), _ = T.scan(step, outputs_info=[h0, None, None], non_sequences=[W, v], n_steps=5)
    f = T.function([h0, W, v], [hs, ds, ss], mode=mode)
    hv = rng.standard_normal(3).astype("float32")
    wv, vv = rng.standard_normal((3, 3)).astype("float32") * 0.5, rng.standard_normal(3).astype("float32")
    want_h, want_d, want_s, h = [], [], [], hv
    for _ in range(5):
        h = np.tanh(wv @ h + c @ h)
        want_h.append(h)
        want_d.append(h @ vv)
        want_s.append(np.outer(h, vv).sum(axis=1))
    with CLoopRuns(mode, 1):
        got = f(hv, wv, vv)
    for g, w in zip(got, (want_h, want_d, want_s)):
        np.testing.assert_allclose(g, np.array(w), rtol=1e-5, atol=1e-5)
    assert got[1].shape == (5,)
    assert_c_loops(f, mode)


def rnn_cost_graph():
    inputs, hs = rnn_graph("float64")
    ys = T.dtensor3("ys")
    Wy = T.dmatrix("Wy")
    cost = ((T.dot(hs, Wy) - ys) ** 2).mean()
    return inputs + [ys, Wy], cost


def rnn_bptt_numpy(xs, h0, Wx, Wh, bh, ys, Wy):
    hs = rnn_numpy(xs, h0, Wx, Wh, bh)
    err = hs @ Wy - ys
    gy = 2 * err / err.size
    gh_out = gy @ Wy.T
    gWx, gWh, gbh, carry = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(bh), np.zeros_like(h0)
    for t in range(len(xs) - 1, -1, -1):
        ga = (gh_out[t] + carry) * (1 - hs[t] ** 2)
        gWx += xs[t].T @ ga
        gWh += (hs[t - 1] if t else h0).T @ ga
        gbh += ga.sum(0)
        carry = ga @ Wh.T
    return gWx, gWh, gbh, carry


def test_bptt_gradient_is_a_c_loop(mode, rng):
    """The backward scan of an RNN (Dot, Gemm with transposed step values, Join,
    IncSubtensor and a reduction in its body) matches hand-written BPTT, for two batch sizes
    with one compiled function."""
    inputs, cost = rnn_cost_graph()
    xs, h0, Wx, Wh, bh, ys, Wy = inputs
    grads = T.grad(cost, [Wx, Wh, bh, h0])
    f = T.function(inputs, grads, mode=mode)
    assert_c_loops(f, mode)
    with CLoopRuns(mode, 4):
        for length, batch in ((6, 3), (4, 2)):
            vals = rnn_values(rng, "float64", length=length, batch=batch)
            vals += [rng.standard_normal((length, batch, 2)), rng.standard_normal((5, 2))]
            for got, want in zip(f(*vals), rnn_bptt_numpy(*vals)):
                np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_bptt_verify_grad(mode, rng):
    def fun(xs, h0, Wx, Wh):
        hs, _ = T.scan(lambda x, h: T.tanh(T.dot(x, Wx) + T.dot(h, Wh)), sequences=xs, outputs_info=h0)
        return hs
    pt = [rng.standard_normal((4, 2, 3)), rng.standard_normal((2, 3)), rng.standard_normal((3, 3)) * 0.5,
          rng.standard_normal((3, 3)) * 0.5]
    T.verify_grad(fun, pt, rng=rng, mode=mode)


def test_state_shape_mismatch_raises_as_perform(mode, rng):
    """A state whose shape does not fit the product runs the Python loop: perform's error."""
    inputs, hs = rnn_graph("float64")
    f = T.function(inputs, hs, mode=mode)
    xs, h0, Wx, Wh, bh = rnn_values(rng, "float64")
    with pytest.raises(ValueError):
        f(xs, h0[:, :4], Wx, Wh, bh)
    with pytest.raises(ValueError):
        f(xs, h0, Wx[:3], Wh, bh)


@pytest.mark.skipif(not hasattr(Scan, "with_store_last"), reason="Scan has no store_last")
@pytest.mark.parametrize("keep", [1, 2, 4])
@pytest.mark.parametrize("product", [True, False])
def test_store_last_keeps_a_ring(mode, rng, keep, product):
    """A state keeping only its last ``keep`` entries (taps -2, -1) gives the trajectory's end,
    with a product in the body or an elementwise body on fixed shapes (which the fixed-shape
    loop leaves to this one)."""
    shape = (2, 3)
    xs, W = T.tensor("float64", shape=(None,) + shape, name="xs"), T.dmatrix("W")
    init = T.tensor("float64", shape=(2,) + shape, name="init")

    def step(x, a, b, W):
        return T.tanh((T.dot(b, W) if product else b * 0.7) + x) - 0.5 * a

    out, _ = T.scan(step, sequences=xs, outputs_info=dict(initial=init, taps=[-2, -1]), non_sequences=W)
    node = out.owner
    ring = node.op.with_store_last((keep,))(*node.inputs)
    f = T.function([xs, W, init], ring, mode=mode, on_unused_input="ignore")
    runs = CLoopRuns(mode, 2, python_loops=1)     # no step: the Python loop
    runs.__enter__()
    for length in (5, 1, 0):
        xv, wv = rng.standard_normal((length,) + shape), rng.standard_normal((3, 3)) * 0.5
        iv = rng.standard_normal((2,) + shape)
        buf = [iv[0], iv[1]]
        for x in xv:
            buf.append(np.tanh((buf[-1] @ wv if product else buf[-1] * 0.7) + x) - 0.5 * buf[-2])
        want = np.array(buf[2:]).reshape((length,) + shape)[-keep:] if length else np.zeros((0,) + shape)
        np.testing.assert_allclose(f(xv, wv, iv), want, rtol=1e-12)
    runs.__exit__(None, None, None)
    assert_c_loops(f, mode)


def test_views_set_inc_join_and_reduction_in_the_body(mode, rng):
    """Row and column views, set_subtensor, inc_subtensor with a broadcast row, a join and a
    column sum around a product, on varying shapes, including non-contiguous states."""
    h0, W = T.dmatrix("h0"), T.dmatrix("W")

    def step(h, W):
        a = T.dot(h, W)
        b = T.set_subtensor(a[0], h[1] * 2.0)
        c = T.inc_subtensor(b[:, 1:], -h[:, :-1])
        d = T.concatenate([c[:1], T.tanh(c[1:])], axis=0)
        return d - d.sum(axis=0) * 0.1

    def numpy_step(h, w):
        a = h @ w
        a[0] = h[1] * 2.0
        a[:, 1:] += -h[:, :-1]
        d = np.concatenate([a[:1], np.tanh(a[1:])], axis=0)
        return d - d.sum(axis=0) * 0.1

    hs, _ = T.scan(step, outputs_info=h0, non_sequences=W, n_steps=4)
    f = T.function([h0, W], hs, mode=mode)
    assert_c_loops(f, mode)
    with CLoopRuns(mode, 3):
        for rows, cols in ((3, 4), (5, 2), (2, 6)):
            hv, wv = rng.standard_normal((rows, cols)), rng.standard_normal((cols, cols)) * 0.5
            want, h = [], hv
            for _ in range(4):
                h = numpy_step(h, wv)
                want.append(h)
            np.testing.assert_allclose(f(noncontiguous(hv), wv), np.array(want), rtol=1e-12)


@pytest.mark.skipif(not hasattr(Scan, "with_store_last"), reason="Scan has no store_last")
@pytest.mark.parametrize("keep", [0, 1, 3])
def test_gemm_accumulator_in_place(mode, rng, keep):
    """A gradient-like accumulator ``acc + x.T @ x`` is a Gemm computed into the state's new
    entry, also in a ring whose new entry is the tap's own (``keep`` 1), for lengths around
    ``keep``."""
    xs, a0 = T.dtensor3("xs"), T.dmatrix("a0")
    out, _ = T.scan(lambda x, acc: acc + T.dot(x.T, x), sequences=xs, outputs_info=a0)
    node = out.owner
    ring = node.op.with_store_last((keep,))(*node.inputs)
    f = T.function([xs, a0], ring, mode=mode)
    (scan,) = scan_nodes(f)
    loop = render_scan(scan).loop
    assert isinstance(loop, DynLayout) and list(loop.direct.values()) == [0]
    with CLoopRuns(mode, 4):
        for length in (1, 2, 3, 6):
            xv, av = rng.standard_normal((length, 4, 3)), rng.standard_normal((3, 3))
            acc, want = av, []
            for x in xv:
                acc = acc + x.T @ x
                want.append(acc)
            np.testing.assert_allclose(f(xv, av), np.array(want)[-keep if keep else 0:], rtol=1e-12)
