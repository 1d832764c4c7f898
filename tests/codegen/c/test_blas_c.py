"""Dot and Gemm through the C backend's BLAS kernels (codegen/c/blas.py, backends/c/blas_thunk.py,
backends/c/blaslib.py): every rank combination and operand layout (C- and F-contiguous, row
gaps, strided, negative and zero strides, size-1 and zero-size dimensions) against a float64
numpy reference, the library and its flags, the fall-backs to ``perform`` (no library,
integer operands, sizes beyond 32-bit BLAS), and the kernel's contract (out not read when
beta is 0)."""
from __future__ import annotations

import numpy as np
import pytest

import symtensor as T
from symtensor.backends.c import blas_thunk, blaslib, build, toolchain
from symtensor.backends.c.executor import MODULE_FLAGS, CExecutor
from symtensor.codegen.c.blas import (STATUS_OK, STATUS_TOO_LARGE, BlasKernel, blas_link,
                                      render_dot, render_gemm)
from symtensor.graph.fg import FunctionGraph
from symtensor.graph.type import TensorType
from symtensor.ops.blas import Dot
from symtensor.ops.gemm import Gemm, gemm
from tests.helpers import noncontiguous, rand, tol

pytestmark = [pytest.mark.skipif(toolchain.find_compiler() is None, reason="no C compiler on PATH"),
              pytest.mark.skipif(blaslib.locate() is None, reason="scipy-openblas32 is not installed")]

FLOATS = ["float32", "float64"]


def var(ndim, dtype, name):
    return TensorType(dtype, shape=(None,) * ndim)(name)


def executor(inputs, outputs):
    """A C executor of the graph as built (no rewriting), checked to have no BLAS fall-back."""
    ex = CExecutor(FunctionGraph(inputs, outputs))
    assert not [n for n in ex.fallbacks if isinstance(n.op, (Dot, Gemm))], ex.fallbacks
    return ex


def reference(x, y):
    """The product computed in float64 from the same values."""
    return np.dot(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))


def matrix_layouts(value):
    """(name, array) pairs holding ``value`` in the layouts BLAS meets."""
    value = np.asarray(value)
    out = [("C", np.ascontiguousarray(value)), ("F", np.asfortranarray(value)),
           ("strided", noncontiguous(value)), ("reversed", value[::-1].copy()[::-1])]
    if value.ndim == 2:
        wide = np.zeros((value.shape[0], value.shape[1] + 3), value.dtype)
        wide[:, :value.shape[1]] = value
        tall = np.zeros((value.shape[0] + 2, value.shape[1]), value.dtype, order="F")
        tall[:value.shape[0]] = value
        out += [("row gap", wide[:, :value.shape[1]]), ("column gap", tall[:value.shape[0]]),
                ("negative both", value[::-1, ::-1].copy()[::-1, ::-1])]
    return out


RANKS = [(2, 2), (2, 1), (1, 2), (1, 1)]


@pytest.mark.parametrize("dtype", FLOATS)
def test_dot_all_ranks_and_layouts(rng, dtype):
    """Each rank combination with every layout of each operand, in one compiled function."""
    pairs = [(var(a, dtype, f"x{a}{b}"), var(b, dtype, f"y{a}{b}")) for a, b in RANKS]
    ex = executor([v for p in pairs for v in p], [Dot()(x, y) for x, y in pairs])
    shapes = {2: {"x": (5, 7), "y": (7, 6)}, 1: {"x": (7,), "y": (7,)}}
    base = {}
    for a, b in RANKS:
        base[(a, b)] = (rand(rng, shapes[a]["x"], dtype), rand(rng, shapes[b]["y"], dtype))
    layouts = {k: (matrix_layouts(x), matrix_layouts(y)) for k, (x, y) in base.items()}
    n_cases = max(len(lx) for lx, _ in layouts.values())
    for i in range(n_cases):
        for j in range(n_cases):
            args = []
            for k in RANKS:
                lx, ly = layouts[k]
                args += [lx[i % len(lx)][1], ly[j % len(ly)][1]]
            before = [a.copy() for a in args]
            got = ex(args)
            for k, (x, y), g in zip(RANKS, base.values(), got):
                want = reference(x, y)
                assert g.dtype == dtype and g.shape == want.shape, (k, g.shape, want.shape)
                np.testing.assert_allclose(g, want, err_msg=f"ranks {k}, layouts {i}, {j}", **tol(dtype))
            for b, a in zip(before, args):
                np.testing.assert_array_equal(b, a)


@pytest.mark.parametrize("dtype", FLOATS)
def test_dot_odd_strides_and_sizes(rng, dtype):
    """Zero strides (broadcast views), single rows/columns cut from larger arrays, size-1 and
    zero-size dimensions, and transposed views of a 1-row matrix."""
    x, y = var(2, dtype, "x"), var(2, dtype, "y")
    v, w = var(1, dtype, "v"), var(1, dtype, "w")
    ex = executor([x, y, v, w], [Dot()(x, y), Dot()(x, v), Dot()(w, y), Dot()(w, v)])
    big = rand(rng, (9, 9), dtype)
    cases = [
        (np.broadcast_to(rand(rng, (1, 4), dtype), (3, 4)), np.broadcast_to(rand(rng, (4, 1), dtype), (4, 5))),
        (big[2:3, :4], big[:4, 5:6]),             # a single row and a single column of a larger array
        (big[:4, 2:3], big[2:3, :6]),             # k == 1
        (big[:4, :5].T[:1], big[:4, :5].T[:3].T),   # a row of a transposed view, an F-ordered view
        (rand(rng, (0, 4), dtype), rand(rng, (4, 3), dtype)),
        (rand(rng, (3, 0), dtype), rand(rng, (0, 5), dtype)),
        (rand(rng, (3, 4), dtype), rand(rng, (4, 0), dtype)),
    ]
    for xv, yv in cases:
        k = xv.shape[1]
        vv = np.broadcast_to(rand(rng, (1,), dtype), (k,)) if k else rand(rng, (0,), dtype)
        wv = big[0, :k] if k <= 9 else None
        got = ex([xv, yv, vv, wv])
        for g, (a, b) in zip(got, [(xv, yv), (xv, vv), (wv, yv), (wv, vv)]):
            want = reference(a, b)
            assert g.shape == want.shape and g.dtype == dtype
            np.testing.assert_allclose(g, want, **tol(dtype))


def test_dot_large_enough_for_threads(rng):
    """A product big enough that OpenBLAS splits it across threads and blocks."""
    x, y = var(2, "float32", "x"), var(2, "float32", "y")
    ex = executor([x, y], [Dot()(x.T, y)])
    xv, yv = rand(rng, (300, 260), "float32"), rand(rng, (300, 270), "float32")
    np.testing.assert_allclose(ex([xv, yv])[0], reference(xv.T, yv), rtol=1e-4, atol=1e-3)


def test_dot_runtime_shape_error(rng):
    x, y = var(2, "float64", "x"), var(1, "float64", "y")
    ex = executor([x, y], [Dot()(x, y)])
    with pytest.raises(ValueError, match=r"shapes \(3, 4\) and \(5,\) are not aligned"):
        ex([rand(rng, (3, 4)), rand(rng, (5,))])


def test_non_native_operands_are_converted(rng):
    """Byte-swapped and misaligned values are read through a converted copy."""
    x, y = var(2, "float64", "x"), var(2, "float64", "y")
    ex = executor([x, y], [Dot()(x, y)])
    xv, yv = rand(rng, (3, 4)), rand(rng, (4, 2))
    swapped = xv.astype(xv.dtype.newbyteorder())
    raw = np.zeros(yv.size * 8 + 1, np.uint8)
    misaligned = raw[1:].view(np.float64).reshape(yv.shape)
    misaligned[...] = yv
    np.testing.assert_allclose(ex([swapped, misaligned])[0], reference(xv, yv), **tol("float64"))


def test_integer_and_mixed_dots_run_perform(rng):
    """Only float32 x float32 and float64 x float64 are rendered; others stay exact in numpy."""
    xi, yi = var(2, "int64", "xi"), var(2, "int64", "yi")
    x32, y64 = var(2, "float32", "x32"), var(2, "float64", "y64")
    nodes = [Dot()(xi, yi), Dot()(x32, y64)]
    assert render_dot(nodes[0].owner) is None and render_dot(nodes[1].owner) is None
    f = T.function([xi, yi, x32, y64], nodes, mode="FAST_RUN")
    a, b = rng.integers(-2**40, 2**40, (3, 4)), rng.integers(-5, 5, (4, 2))
    c, d = rand(rng, (3, 4), "float32"), rand(rng, (4, 2))
    got = f(a, b, c, d)
    np.testing.assert_array_equal(got[0], a @ b)
    np.testing.assert_allclose(got[1], reference(c, d), **tol("float64"))


def test_missing_library_falls_back_to_perform(rng, monkeypatch):
    monkeypatch.setattr(blaslib, "locate", lambda: None)
    assert blas_link() is None
    x, y, b = var(2, "float32", "x"), var(2, "float32", "y"), var(1, "float32", "b")
    out = T.tanh(T.dot(x, y) + b)
    f = T.function([x, y, b], out, mode="FAST_RUN")
    ops = [type(n.op) for n in f.maker.executor.fallbacks]
    assert Gemm in ops
    vals = [rand(rng, (3, 4), "float32"), rand(rng, (4, 5), "float32"), rand(rng, (5,), "float32")]
    np.testing.assert_allclose(f(*vals), np.tanh(reference(vals[0], vals[1]) + vals[2]), **tol("float32"))


@pytest.mark.parametrize("dtype", FLOATS)
def test_gemm_kernel_with_broadcast_z(rng, dtype):
    z_row = TensorType(dtype, shape=(1, None))("zr")
    z_full = var(2, dtype, "z")
    x, y = var(2, dtype, "x"), var(2, dtype, "y")
    a = TensorType(dtype, shape=())("a")
    ex = executor([z_row, z_full, a, x, y], [gemm(z_row, a, x, y, 1.0), gemm(z_full, 2.0, x.T, y, a)])
    zr, zf = rand(rng, (1, 6), dtype), rand(rng, (4, 6), dtype)
    xv, yv = rand(rng, (5, 4), dtype), rand(rng, (5, 6), dtype)
    for xl, yl in [(xv, yv), (np.asfortranarray(xv), noncontiguous(yv))]:
        x1 = xl[:4]          # (4, 4): the first product uses x as it is, the second x.T
        got = ex([zr, noncontiguous(zf), np.asarray(0.5, dtype), x1, yl[:4]])
        np.testing.assert_allclose(got[0], 0.5 * reference(x1, yv[:4]) + zr, **tol(dtype))
        np.testing.assert_allclose(got[1], 2.0 * reference(x1.T, yv[:4]) + 0.5 * zf, **tol(dtype))


def _kernel_module(dtype):
    """The product function of ``dtype``, built on its own, and its cffi handle."""
    node = Dot()(var(2, dtype, "x"), var(2, dtype, "y")).owner
    kernel = render_dot(node)
    assert isinstance(kernel, BlasKernel) and kernel.dtype == dtype
    module = build(kernel.source, kernel.cdef, name="blas_test", flags=MODULE_FLAGS + kernel.flags)
    return getattr(module.lib, kernel.name), module.ffi


@pytest.mark.parametrize("dtype", FLOATS)
def test_kernel_does_not_read_out_when_beta_is_zero(rng, dtype):
    """np.empty may hold NaN: with beta 0 every path (gemm, both gemv, dot) overwrites it."""
    fn, ffi = _kernel_module(dtype)
    for (m, k), (_, n) in [((3, 4), (4, 5)), ((3, 4), (4, 1)), ((1, 4), (4, 5)), ((1, 4), (4, 1)),
                           ((3, 0), (0, 5))]:
        x, y = rand(rng, (m, k), dtype), rand(rng, (k, n), dtype)
        out = np.full((m, n), np.nan, dtype)
        size = out.itemsize
        status = fn(m, n, k, ffi.from_buffer(x), x.strides[0] // size, x.strides[1] // size,
                    ffi.from_buffer(y), y.strides[0] // size, y.strides[1] // size,
                    ffi.from_buffer(out), 1.0, 0.0)
        assert status == STATUS_OK
        np.testing.assert_allclose(out, reference(x, y), **tol(dtype))


def test_kernel_refuses_sizes_beyond_32_bits():
    fn, ffi = _kernel_module("float64")
    dummy = np.zeros(1)
    p = ffi.from_buffer(dummy)
    assert fn(2, 2, 2**31, p, 0, 0, p, 0, 0, p, 1.0, 0.0) == STATUS_TOO_LARGE


def test_thunk_falls_back_when_kernel_refuses(rng):
    """A kernel status of 'too large' runs the op's perform instead."""
    x, y = var(2, "float64", "x"), var(2, "float64", "y")
    node = Dot()(x, y).owner
    kernel = render_dot(node)
    thunk = blas_thunk.blas_thunk(kernel, lambda *args: STATUS_TOO_LARGE, _kernel_module("float64")[1])
    xv, yv = rand(rng, (3, 4)), rand(rng, (4, 2))
    cell = [[None]]
    thunk(node, [xv, yv], cell)
    np.testing.assert_allclose(cell[0][0], xv @ yv)


def test_library_location_and_flags():
    lib = blaslib.locate()
    link = lib.link()
    assert link.prefix == "scipy_cblas_" and link.header == "cblas.h"
    assert f"-l:{lib.filename}" in link.flags and f"-Wl,-rpath,{lib.lib_dir}" in link.flags
    assert f"-L{lib.lib_dir}" in link.flags and f"-I{lib.include_dir}" in link.flags
    assert render_gemm(gemm(var(2, "float32", "z"), 1.0, var(2, "float32", "x"),
                            var(2, "float32", "y"), 1.0).owner).flags == link.flags
    assert blaslib.core_name()


def test_core_type_is_set_only_on_avx512_and_never_overrides(monkeypatch):
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    monkeypatch.setattr(blaslib, "_cpu_has_avx512", lambda: False)
    assert blaslib.set_core_type() is None
    monkeypatch.setattr(blaslib, "_cpu_has_avx512", lambda: True)
    assert blaslib.set_core_type() == "SkylakeX"
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    assert blaslib.set_core_type() == "Haswell"
