"""Reduction kernels through the C backend: every kind (sum prod max min all any) for float,
int and bool dtypes over every axis form, in every layout (contiguous, Fortran-ordered,
strided, reversed, zero-size), the three loops (rows, columns, general) and their threaded
forms, float32 summation accuracy, NaN/Inf, numpy's dtype and accumulator rules, fused
elementwise producers with broadcast inputs, and that no kernel writes into its inputs.

numpy is the reference; each test compiles one graph holding many cases (one compiler run).
"""
from __future__ import annotations

import cffi
import numpy as np
import pytest

import symtensor as T
from symtensor.backends.c import toolchain
from symtensor.backends.c.executor import CExecutor
from symtensor.backends.c.reduce_thunk import COLS, GENERAL, ROWS, _make_plan
from symtensor.codegen.c.reduce import render_reduce
from symtensor.graph.fg import FunctionGraph
from symtensor.ops.fused_reduce import FusedReduce
from symtensor.ops.reduce import CAReduce
from symtensor.rewrite import optimize

pytestmark = pytest.mark.skipif(toolchain.find_compiler() is None, reason="no C compiler on PATH")

FNS = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min, "all": np.all, "any": np.any}
AXES = [None, 0, 1, 2, -1, (0, 2), (1, 2), (0, 1), ()]


def compile_c(inputs, outputs, rewrite=False):
    """A C executor for the graph; every reduction must have a kernel."""
    fg = FunctionGraph(inputs, outputs)
    if rewrite:
        optimize(fg)
    ex = CExecutor(fg)
    assert not [n for n in ex.fallbacks if isinstance(n.op, (CAReduce, FusedReduce))], ex.fallbacks
    return ex


def run_checked(ex, values):
    """Call ``ex`` and check that no input array was modified."""
    before = [np.array(v, copy=True) for v in values]
    got = ex(list(values))
    for b, v in zip(before, values):
        np.testing.assert_array_equal(b, v, err_msg="a kernel wrote into its input")
    return got


def assert_reduced(got, want, x=None, axis=None, what=""):
    """Equal dtype and shape; ints and bools exactly, floats to rounding. A float sum may add
    in another order than numpy: its error is bounded by the sum of the magnitudes."""
    want = np.asarray(want)
    assert got.dtype == want.dtype, (what, got.dtype, want.dtype)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    if want.dtype.kind != "f":
        np.testing.assert_array_equal(got, want, err_msg=what)
        return
    eps = np.finfo(want.dtype).eps
    atol = 0.0
    if x is not None:
        atol = 8 * eps * np.sum(np.abs(x.astype("float64")), axis=axis) + np.finfo(want.dtype).tiny
    np.testing.assert_allclose(got, want, rtol=64 * eps, atol=np.max(atol, initial=0.0), equal_nan=True,
                               err_msg=what)


def values_for(rng, dtype, shape):
    """Values whose products stay finite: around 1 for floats, small for integers."""
    kind = np.dtype(dtype).kind
    if kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    if kind in "iu":
        return rng.integers(0 if kind == "u" else -3, 4, size=shape).astype(dtype)
    return (rng.uniform(0.6, 1.4, size=shape) * rng.choice([-1, 1], size=shape)).astype(dtype)


def layouts(a):
    """The same values as C-contiguous, Fortran-ordered, strided and reversed arrays."""
    big = np.zeros(tuple(2 * s for s in a.shape), a.dtype)
    strided = big[::2, ::2, ::2]
    strided[...] = a
    rev = np.ascontiguousarray(a[::-1, :, ::-1])[::-1, :, ::-1]
    return {"C": a, "F": np.asfortranarray(a), "strided": strided, "reversed": rev}


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int8", "uint8", "bool"])
def test_every_kind_axis_and_layout(rng, dtype):
    x = T.tensor3("x", dtype=dtype)
    cases, outs = [], []
    for name in FNS:
        for axis in AXES:
            keep = axis == 1
            outs.append(getattr(T, name)(x, axis=axis, keepdims=keep))
            cases.append((name, axis, keep))
    ex = compile_c([x], outs)
    value = values_for(rng, dtype, (5, 6, 7))
    for layout, v in layouts(value).items():
        for (name, axis, keep), got in zip(cases, run_checked(ex, [v])):
            want = FNS[name](value, axis=axis, keepdims=keep)
            assert_reduced(got, want, value if name == "sum" else None, axis, f"{name} {axis} {layout}")


def test_zero_size_identities_and_empty_outputs(rng):
    x = T.tensor3("x")
    outs = [T.sum(x, axis=1), T.prod(x, axis=(0, 1)), T.any(x, axis=1), T.all(x), T.sum(x, axis=2),
            T.max(x, axis=2), T.sum(x, axis=1, dtype="int32")]
    ex = compile_c([x], outs)
    v = np.zeros((4, 0, 3))
    got = run_checked(ex, [v])
    for g, w in zip(got, [v.sum(1), v.prod((0, 1)), v.any(1), v.all(), v.sum(2), np.zeros((4, 0)),
                          v.sum(1, dtype="int32")]):
        assert_reduced(g, w)


@pytest.mark.parametrize("kind", ["max", "min"])
def test_max_of_nothing_raises_perform_error(kind):
    x = T.matrix("x")
    out = getattr(T, kind)(x, axis=0)
    ex = compile_c([x], [out])
    with pytest.raises(ValueError) as c_err:
        ex([np.zeros((0, 3))])
    with pytest.raises(ValueError) as ref_err:
        T.function([x], out, mode="FAST_COMPILE")(np.zeros((0, 3)))
    assert f"cannot take the {kind} over a zero-size axis (input shape (0, 3))" in str(c_err.value)
    assert str(c_err.value).splitlines()[0] == str(ref_err.value).splitlines()[0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nan_and_inf_in_every_loop(dtype):
    """max/min propagate NaN whichever loop runs (rows, columns, general, threads splitting
    one output); inf - inf in a sum is NaN; NaN counts as true for all/any."""
    x = T.tensor3("x", dtype=dtype)
    outs = [T.max(x, axis=2), T.min(x, axis=0), T.max(x, axis=1), T.max(x), T.min(x),
            T.sum(x, axis=2), T.all(x, axis=2), T.any(x, axis=0)]
    ex = compile_c([x], outs)
    for shape in [(3, 4, 5), (40, 50, 60)]:          # the second is large enough for threads
        v = np.arange(np.prod(shape), dtype=dtype).reshape(shape) % 7 - 3
        v[1, 2, 3] = np.nan
        v[2, 0, 0], v[2, 0, 1] = np.inf, -np.inf
        for layout, a in [("C", v), ("F", np.asfortranarray(v))]:
            got = run_checked(ex, [a])
            with np.errstate(invalid="ignore"):    # inf - inf
                wants = [v.max(2), v.min(0), v.max(1), v.max(), v.min(), v.sum(2), v.all(2), v.any(0)]
            for k, (g, w) in enumerate(zip(got, wants)):
                assert_reduced(g, w, what=f"output {k} {shape} {layout}")


def test_large_arrays_take_threaded_loops(rng):
    """Big enough for threads in the rows, columns and split loops: float32 sums compared with
    the exact (float64) sum within the error of a different summation order."""
    x = T.matrix("x", dtype="float32")
    outs = [T.sum(x, axis=1), T.sum(x, axis=0), T.sum(x), T.max(x, axis=0), T.prod(x * 0 + 1, axis=1)]
    ex = compile_c([x], outs, rewrite=True)
    v = rng.standard_normal((700, 300)).astype("float32")
    for a in [v, v.T.copy().T, v[:, ::-1]]:
        s1, s0, s, m0, p1 = run_checked(ex, [a])
        exact = a.astype("float64")
        assert_reduced(s1, a.sum(1), a, 1)
        np.testing.assert_allclose(s1, exact.sum(1), atol=float(1e-6 * np.abs(exact).sum(1).max()))
        np.testing.assert_allclose(s0, exact.sum(0), atol=float(1e-6 * np.abs(exact).sum(0).max()))
        np.testing.assert_allclose(s, exact.sum(), atol=float(1e-6 * np.abs(exact).sum()))
        np.testing.assert_array_equal(m0, a.max(0))
        np.testing.assert_array_equal(p1, np.ones(700, "float32"))


def test_float32_full_sum_is_pairwise_accurate(rng):
    """2**21 values in [0, 1): a naive float32 loop drifts by ~1e-4 relative; block sums
    combined pairwise stay within a few float32 ulps of the exact result."""
    x = T.vector("x", dtype="float32")
    ex = compile_c([x], [T.sum(x)])
    v = rng.random(2 ** 21).astype("float32")
    (got,) = run_checked(ex, [v])
    exact = v.astype("float64").sum()
    assert abs(float(got) - exact) <= 4e-7 * exact


def test_dtype_and_accumulator_rules(rng):
    """numpy's rules: small ints sum in int64, an int8 accumulator wraps, a bool output sums
    as logical or, a float64 accumulator under a float32 output, max keeps uint8."""
    i8 = T.matrix("i8", dtype="int8")
    f32 = T.matrix("f32", dtype="float32")
    u8 = T.matrix("u8", dtype="uint8")
    b = T.matrix("b", dtype="bool")
    outs = [T.sum(i8, axis=1), T.sum(i8, axis=1, dtype="int8"), T.prod(i8, axis=0),
            T.sum(f32, axis=0, dtype="bool"), T.sum(f32, axis=1, acc_dtype="float64"),
            T.sum(f32, dtype="float64"), T.max(u8, axis=1), T.min(u8), T.sum(b, axis=0), T.prod(b, axis=1),
            T.max(b, axis=0), T.mean(f32, axis=1)]
    ex = compile_c([i8, f32, u8, b], outs)
    iv = rng.integers(-128, 128, size=(9, 70)).astype("int8")
    fv = rng.standard_normal((9, 70)).astype("float32")
    fv[:, 3] = 0
    uv = rng.integers(0, 256, size=(9, 70)).astype("uint8")
    bv = rng.integers(0, 2, size=(9, 70)).astype(bool)
    got = run_checked(ex, [iv, fv, uv, bv])
    wants = [iv.sum(1), iv.sum(1, dtype="int8"), iv[:4].prod(0) * 0 + iv.prod(0), fv.sum(0, dtype=bool),
             fv.sum(1, dtype="float64").astype("float32"), fv.sum(dtype="float64"), uv.max(1), uv.min(),
             bv.sum(0), bv.prod(1), bv.max(0), fv.mean(1)]
    for k, (g, w) in enumerate(zip(got, wants)):
        assert_reduced(g, w, what=f"output {k}")


def test_fused_producers_with_broadcast_inputs(rng):
    """FusedReduce kernels: row and column operands (one value per output or per reduced
    index), every axis form, strided operands; equal to the unfused numpy reference."""
    m, r, c = T.matrix("m"), T.row("r"), T.col("c")
    def body(k):    # a distinct producer per reduction: a shared one is not fused away
        return T.exp(m * r - c) + T.sqr(c) * k
    outs = [T.sum(body(1), axis=1), T.sum(body(2), axis=0), T.sum(body(3)), T.max(body(4), axis=1),
            T.min(T.tanh(r * c), axis=0), T.prod(1 + 0.01 * (m - c), axis=0), T.any(T.gt(m, c), axis=1)]
    ex = compile_c([m, r, c], outs, rewrite=True)
    assert sum(isinstance(n.op, FusedReduce) for n in ex.nodes) == len(outs)
    ref = T.function([m, r, c], outs, mode="FAST_COMPILE")
    mv, rv, cv = rng.standard_normal((33, 40)), rng.standard_normal((1, 40)), rng.standard_normal((33, 1))
    big = np.zeros((66, 80))
    strided = big[::2, ::2]
    strided[...] = mv
    for values in ([mv, rv, cv], [strided, rv, cv], [np.asfortranarray(mv), rv, cv]):
        for k, (g, w) in enumerate(zip(run_checked(ex, values), ref(*values))):
            assert_reduced(g, w, what=f"output {k}")


def test_runtime_shape_errors():
    m, n = T.matrices("m", "n")
    ex = compile_c([m, n], [T.sum(m * n, axis=0)], rewrite=True)
    with pytest.raises(ValueError, match="does not broadcast"):
        ex([np.ones((3, 4)), np.ones((3, 1))])


def test_loop_choice():
    """Trailing reduced axes of a C-contiguous array take the rows loop, leading ones the
    columns loop (also for a transposed array: dims are ordered by stride, and a reduced dim
    walked backwards is flipped), others the general loop."""
    ffi = cffi.FFI()
    a = np.zeros((4, 5, 6), "float32")
    expected = [((2,), a, ROWS), ((1, 2), a, ROWS), ((0, 1, 2), a, ROWS), ((0,), a, COLS), ((0, 1), a, COLS),
                ((1,), a, GENERAL), ((0,), np.asfortranarray(a), ROWS), ((0, 1), np.asfortranarray(a), ROWS),
                ((2,), a[:, :, ::-1], ROWS), ((0,), a[::-1], COLS),
                ((2,), np.zeros((4, 5, 12), "float32")[:, :, ::2], GENERAL)]
    f2 = np.asfortranarray(np.zeros((4, 5), "float32"))
    expected += [((1,), f2, COLS), ((0,), f2, ROWS)]
    for axis, value, path in expected:
        node = CAReduce("add", axis)(T.tensor(dtype="float32", shape=(None,) * value.ndim)).owner
        kernel = render_reduce(node)
        plan = _make_plan(kernel, node, [value], np.dtype("float32"), ffi)
        assert plan.path == path, (axis, value.strides, plan.path)


def test_renderer_declines_types_without_c_form():
    """complex and float16 reductions run through perform (no C rendering)."""
    for dtype in ["complex128", "float16"]:
        x = T.matrix("x", dtype=dtype)
        assert render_reduce(T.sum(x, axis=0).owner) is None
