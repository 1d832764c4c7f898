"""The compiled dispatcher of BLAS products (``BlasCall``): taken for the common Dot and Gemm
call, the same results and errors as the Python path in every layout (the kernel is the
same), a kernel status other than success handed to the Python path, no leaks, thread-safe."""
import gc
import sys
import threading
import tracemalloc

import numpy as np
import pytest

import symtensor as T
from symtensor.backends import c as cbackend
from symtensor.backends.c import blas_thunk, blaslib, dispatch, dispatch_blas, dispatch_source
from symtensor.backends.c.executor import CExecutor
from symtensor.codegen.c.blas import STATUS_TOO_LARGE, render_dot
from symtensor.graph.fg import FunctionGraph
from symtensor.graph.type import TensorType
from symtensor.ops.blas import Dot
from symtensor.ops.gemm import Gemm, gemm

from ...helpers import noncontiguous, rand, tol
from .conftest import needs_compiler, outcome

pytestmark = [needs_compiler, pytest.mark.usefixtures("fresh_dispatch"),
              pytest.mark.skipif(blaslib.locate() is None, reason="no BLAS library to link the kernels with")]


def var(shape, dtype="float64", name=None):
    return TensorType(dtype, shape=shape)(name)


def direct_of(inputs, output):
    """The direct callable of the graph's single BLAS node (built as given, no rewriting)."""
    ex = CExecutor(FunctionGraph(inputs, [output]))
    steps = [(node, fn) for node, fn, *_ in ex.steps if isinstance(node.op, (Dot, Gemm))]
    assert len(steps) == 1 and hasattr(steps[0][1], "for_node"), ex.steps
    node, fn = steps[0]
    return fn.for_node(node)


def _assert_same(got, want):
    assert got[0] == want[0], (got, want)
    if got[0] == "error":
        assert got[1] == want[1]
        return
    assert type(got[1]) is tuple and len(got[1]) == len(want[1]) == 1
    a, b = got[1][0], want[1][0]
    assert type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape
    assert a.flags.c_contiguous
    np.testing.assert_array_equal(a, b)   # one kernel, the same operands: bit for bit


def _checked(direct, *args):
    """The C call's outcome, checked against the Python path's; whether C completed it."""
    before = direct.calls
    got = outcome(direct, *args)
    _assert_same(got, outcome(direct.fallback, *args))
    return got, direct.calls - before


# --------------------------------------------------------------------------- the C path is used

def test_part_is_registered_under_the_module_name():
    assert dispatch_blas.PART in dispatch_source.PARTS
    assert dispatch_blas.MODULE_NAME == dispatch_source.MODULE_NAME


def test_c_path_is_taken_for_dot_and_gemm(ext, rng):
    x, y = var((None, None), name="x"), var((None, None), name="y")
    dot = direct_of([x, y], Dot()(x, y))
    assert isinstance(dot, ext.BlasCall)
    python_path, seen = dot.fallback, []
    dot.fallback = lambda *args: seen.append(args) or python_path(*args)
    a, b = rand(rng, (3, 4)), rand(rng, (4, 5))
    (out,) = dot(a, b)
    np.testing.assert_allclose(out, a @ b, **tol("float64"))
    assert seen == [] and dot.calls == 1
    view = noncontiguous(a)
    np.testing.assert_allclose(dot(view, b)[0], a @ b, **tol("float64"))
    assert seen == [] and dot.calls == 2                 # strided: still in C
    ints = np.arange(12).reshape(3, 4)
    np.testing.assert_allclose(dot(ints, b)[0], ints @ b, **tol("float64"))
    assert len(seen) == 1 and seen[0][0] is ints and dot.calls == 2   # converted by Python

    z = var((True, False), name="z")
    g = direct_of([z, x, y], gemm(z, 0.5, x, y, 2.0))
    assert isinstance(g, ext.BlasCall)
    bias = rand(rng, (1, 5))
    (out,) = g(bias, np.array(0.5), a, b, np.array(2.0))
    np.testing.assert_allclose(out, 0.5 * a @ b + 2.0 * bias, **tol("float64"))
    assert g.calls == 1


def test_compiled_function_uses_the_c_path(ext, rng):
    """Through T.function (rewrites included): the MLP's layer, tanh(x @ W + b)."""
    x, w, b = T.fmatrix("x"), T.fmatrix("w"), T.fvector("b")
    f = T.function([x, w, b], T.tanh(T.dot(x, w) + b), mode="FAST_RUN")
    calls = [fn.for_node(node) for node, fn, *_ in f.maker.executor.steps
             if isinstance(node.op, (Dot, Gemm)) and hasattr(fn, "for_node")]
    assert calls and all(isinstance(c, ext.BlasCall) for c in calls)
    xv, wv, bv = rand(rng, (2, 3), "float32"), rand(rng, (3, 4), "float32"), rand(rng, (4,), "float32")
    np.testing.assert_allclose(f(xv, wv, bv), np.tanh(xv @ wv + bv), **tol("float32"))
    assert sum(c.calls for c in calls) == 1


def test_fallback_must_be_callable(ext):
    x, y = var((None, None)), var((None, None))
    dot = direct_of([x, y], Dot()(x, y))
    with pytest.raises(TypeError, match="callable"):
        dot.fallback = 3


def test_constructor_rejects_bad_arguments(ext):
    with pytest.raises(ValueError, match="kernel"):
        ext.BlasCall(0, False, 12, 2, 2, (), print, None, 1.0)
    with pytest.raises(ValueError, match="float32 or float64"):
        ext.BlasCall(1, False, 7, 2, 2, (), print, None, 1.0)
    with pytest.raises(ValueError, match="rank 1 or 2"):
        ext.BlasCall(1, False, 12, 3, 2, (), print, None, 1.0)
    with pytest.raises(ValueError, match="z_bcast"):
        ext.BlasCall(1, True, 12, 2, 2, (), print, None, 1.0)
    with pytest.raises(ValueError, match="callable"):
        ext.BlasCall(1, False, 12, 2, 2, (), 3, None, 1.0)


def test_no_c_dispatch_for_a_python_kernel(ext, rng):
    """A kernel that is not a C function (a test double) keeps the Python path."""
    import cffi
    x, y = var((None, None)), var((None, None))
    node = Dot()(x, y).owner
    thunk = blas_thunk.blas_thunk(render_dot(node), lambda *args: STATUS_TOO_LARGE, cffi.FFI())
    direct = thunk.for_node(node)
    assert type(direct).__name__ == "function"
    a, b = rand(rng, (2, 3)), rand(rng, (3, 2))
    np.testing.assert_allclose(direct(a, b)[0], a @ b, **tol("float64"))   # perform's


# --------------------------------------------------------------------------- results in every layout

def _layouts(value):
    """(name, array) pairs holding ``value`` in the layouts the C path meets."""
    out = [("C", np.ascontiguousarray(value)), ("strided", noncontiguous(value)),
           ("reversed", value[::-1].copy()[::-1])]
    if value.ndim == 2:
        out += [("F (transposed)", np.asfortranarray(value)), ("negative both", value[::-1, ::-1].copy()[::-1, ::-1])]
    return out


RANKS = [(2, 2), (2, 1), (1, 2), (1, 1)]


def _shape(rank, first):
    if rank == 1:
        return (4,)
    return (3, 4) if first else (4, 5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("ranks", RANKS, ids=[f"{a}x{b}" for a, b in RANKS])
def test_dot_layouts_match_python_path_and_numpy(ranks, dtype, ext, rng):
    x, y = var((None,) * ranks[0], dtype, "x"), var((None,) * ranks[1], dtype, "y")
    dot = direct_of([x, y], Dot()(x, y))
    a, b = rand(rng, _shape(ranks[0], True), dtype), rand(rng, _shape(ranks[1], False), dtype)
    for (na, va) in _layouts(a):
        for (nb, vb) in _layouts(b):
            got, in_c = _checked(dot, va, vb)
            assert got[0] == "ok" and in_c == 1, (na, nb)
            np.testing.assert_allclose(got[1][0], np.dot(a, b), **tol(dtype))


ODD_DOT_CALLS = [
    # name, x, y, taken in C
    ("zero rows", np.zeros((0, 4)), np.ones((4, 5)), True),
    ("zero inner", np.zeros((3, 0)), np.ones((0, 5)), True),
    ("zero columns", np.ones((3, 4)), np.zeros((4, 0)), True),
    ("size-1 dims", np.ones((1, 4)), np.ones((4, 1)), True),
    ("broadcast (stride 0)", np.broadcast_to(np.arange(4.0), (3, 4)), np.ones((4, 5)), True),
    ("wrong dtype float32", np.ones((3, 4), "float32"), np.ones((4, 5)), False),
    ("wrong dtype int", np.arange(12).reshape(3, 4), np.ones((4, 5)), False),
    ("byteswapped", np.ones((3, 4), ">f8"), np.ones((4, 5)), False),
    ("misaligned", np.frombuffer(np.zeros(8 * 12 + 1, "u1").tobytes(), "f8", 12, 1).reshape(3, 4),
     np.ones((4, 5)), False),
    ("list", [[1.0, 2.0, 3.0, 4.0]], np.ones((4, 5)), False),
    ("subclass", np.ones((3, 4)).view(type("Sub", (np.ndarray,), {})), np.ones((4, 5)), False),
    ("not aligned shapes", np.ones((3, 4)), np.ones((3, 5)), False),
    ("vector for a matrix", np.ones(4), np.ones((4, 5)), False),
    ("0-d", np.array(2.0), np.ones((4, 5)), False),
    ("not an array", "abc", np.ones((4, 5)), False),
]


@pytest.mark.parametrize("name,a,b,in_c", ODD_DOT_CALLS, ids=[c[0] for c in ODD_DOT_CALLS])
def test_dot_odd_calls_match_python_path(name, a, b, in_c, ext):
    x, y = var((None, None), name="x"), var((None, None), name="y")
    dot = direct_of([x, y], Dot()(x, y))
    got, completed = _checked(dot, a, b)
    assert completed == (1 if in_c else 0)
    if in_c:
        np.testing.assert_allclose(got[1][0], np.dot(a, b), **tol("float64"))


def test_dot_arity_and_keywords_go_to_the_python_path(ext):
    x, y = var((None, None)), var((None, None))
    dot = direct_of([x, y], Dot()(x, y))
    a, b = np.ones((2, 3)), np.ones((3, 2))
    for args, kwargs in [((a,), {}), ((a, b, b), {}), ((a,), {"y": b}), ((), {"x": a, "y": b})]:
        _assert_same(outcome(dot, *args, **kwargs), outcome(dot.fallback, *args, **kwargs))
    assert dot.calls == 0


def _gemm_direct(z_shape=(None, None)):
    z, x, y = var(z_shape, name="z"), var((None, None), name="x"), var((None, None), name="y")
    alpha, beta = T.dscalar("alpha"), T.dscalar("beta")
    return direct_of([z, alpha, x, y, beta], Gemm()(z, alpha, x, y, beta))


def _gemm_ref(z, alpha, x, y, beta):
    return float(beta) * np.asarray(z, dtype="float64") + float(alpha) * (np.asarray(x, "float64")
                                                                          @ np.asarray(y, "float64"))


@pytest.mark.parametrize("z_shape", [(None, None), (True, False), (False, True), (True, True)],
                         ids=["full", "row", "column", "scalar"])
def test_gemm_layouts_and_broadcast_z(z_shape, ext, rng):
    g = _gemm_direct(z_shape)
    a, b = rand(rng, (3, 4)), rand(rng, (4, 5))
    zv = rand(rng, tuple(1 if bc else s for bc, s in zip(z_shape, (3, 5))))
    for (nz, vz) in _layouts(zv):
        for (na, va) in _layouts(a)[:4]:
            got, in_c = _checked(g, vz, np.array(0.5), va, b.T.copy().T, np.array(-1.5))
            assert got[0] == "ok" and in_c == 1, (nz, na)
            np.testing.assert_allclose(got[1][0], _gemm_ref(zv, 0.5, a, b, -1.5), **tol("float64"))
    if z_shape != (None, None):   # the full shape is accepted too
        got, in_c = _checked(g, rand(rng, (3, 5)), 1.0, a, b, 1.0)
        assert got[0] == "ok" and in_c == 1


ODD_GEMM_CALLS = [
    # name, (z, alpha, x, y, beta), taken in C
    ("python floats", (np.ones((3, 5)), 2.0, np.ones((3, 4)), np.ones((4, 5)), 3.0), True),
    ("numpy scalars", (np.ones((3, 5)), np.float64(2), np.ones((3, 4)), np.ones((4, 5)), np.float32(3)), True),
    ("float32 0-d scalars", (np.ones((3, 5)), np.array(0.1, "float32"), np.ones((3, 4)), np.ones((4, 5)),
                             np.array(0.3, "float32")), True),
    ("nan alpha", (np.ones((3, 5)), np.nan, np.ones((3, 4)), np.ones((4, 5)), 1.0), True),
    ("zero-size", (np.ones((0, 5)), 1.0, np.ones((0, 4)), np.ones((4, 5)), 1.0), True),
    ("zero inner", (np.ones((3, 5)), 1.0, np.ones((3, 0)), np.ones((0, 5)), 2.0), True),
    ("alpha zero", (np.ones((3, 5)), 0.0, np.full((3, 4), np.nan), np.ones((4, 5)), 1.0), False),
    ("beta zero", (np.full((3, 5), np.nan), 1.0, np.ones((3, 4)), np.ones((4, 5)), 0.0), False),
    ("int scalars", (np.ones((3, 5)), 2, np.ones((3, 4)), np.ones((4, 5)), np.array(3)), False),
    ("1-element alpha", (np.ones((3, 5)), np.ones(1), np.ones((3, 4)), np.ones((4, 5)), 1.0), False),
    ("wrong dtype z", (np.ones((3, 5), "float32"), 1.0, np.ones((3, 4)), np.ones((4, 5)), 1.0), False),
    ("wrong dtype x", (np.ones((3, 5)), 1.0, np.ones((3, 4), "int32"), np.ones((4, 5)), 1.0), False),
    ("z does not broadcast", (np.ones((1, 5)), 1.0, np.ones((3, 4)), np.ones((4, 5)), 1.0), False),
    ("z of another shape", (np.ones((3, 6)), 1.0, np.ones((3, 4)), np.ones((4, 5)), 1.0), False),
    ("not aligned", (np.ones((3, 5)), 1.0, np.ones((3, 4)), np.ones((3, 5)), 1.0), False),
    ("vector x", (np.ones((3, 5)), 1.0, np.ones(4), np.ones((4, 5)), 1.0), False),
    ("string alpha", (np.ones((3, 5)), "x", np.ones((3, 4)), np.ones((4, 5)), 1.0), False),
]


@pytest.mark.parametrize("name,args,in_c", ODD_GEMM_CALLS, ids=[c[0] for c in ODD_GEMM_CALLS])
def test_gemm_odd_calls_match_python_path(name, args, in_c, ext):
    g = _gemm_direct()
    got, completed = _checked(g, *args)
    assert completed == (1 if in_c else 0)
    if in_c:
        np.testing.assert_allclose(got[1][0], _gemm_ref(*args), **tol("float64"))


def test_gemm_arity_and_keywords_go_to_the_python_path(ext):
    g = _gemm_direct()
    z, x, y = np.ones((2, 2)), np.ones((2, 3)), np.ones((3, 2))
    for args, kwargs in [((z, 1.0, x, y), {}), ((z, 1.0, x, y, 1.0, 1.0), {}),
                         ((z, 1.0, x, y), {"beta": 1.0})]:
        _assert_same(outcome(g, *args, **kwargs), outcome(g.fallback, *args, **kwargs))
    assert g.calls == 0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_results_match_fast_compile(dtype, mode, rng):
    """Rewritten graphs (Dot, bias Gemm) in every mode against FAST_COMPILE and numpy, on
    transposed and strided inputs."""
    x, w, b = var((None, None), dtype, "x"), var((None, None), dtype, "w"), var((None,), dtype, "b")
    outs = [T.dot(x, w) + b, T.dot(x, w.T.T), T.dot(w.T, x.T).T * 2 - T.dot(x, w)]
    values = [rand(rng, (5, 3), dtype), np.asfortranarray(rand(rng, (3, 4), dtype)), rand(rng, (4,), dtype)]
    for vals in (values, [noncontiguous(v) for v in values], [np.zeros((0, 3), dtype)] + values[1:]):
        want = T.function([x, w, b], outs, mode="FAST_COMPILE")(*vals)
        got = T.function([x, w, b], outs, mode=mode)(*vals)
        ref = np.asarray(vals[0], "float64") @ np.asarray(vals[1], "float64")
        np.testing.assert_allclose(want[0], ref + vals[2], **tol(dtype))
        for g, w_ in zip(got, want):
            assert g.dtype == w_.dtype and g.shape == w_.shape
            np.testing.assert_allclose(g, w_, **tol(dtype))


# --------------------------------------------------------------------------- kernel status

CDEF = ("int st_status_two(int64_t m, int64_t n, int64_t k, const void *xp, int64_t xs0, int64_t xs1, "
        "const void *yp, int64_t ys0, int64_t ys1, void *outp, double alpha, double beta);\n"
        "int st_status_ok(int64_t m, int64_t n, int64_t k, const void *xp, int64_t xs0, int64_t xs1, "
        "const void *yp, int64_t ys0, int64_t ys1, void *outp, double alpha, double beta);")
SOURCE = """
ST_EXPORT int st_status_two(int64_t m, int64_t n, int64_t k, const void *xp, int64_t xs0, int64_t xs1,
                  const void *yp, int64_t ys0, int64_t ys1, void *outp, double alpha, double beta)
{ return 2; }
ST_EXPORT int st_status_ok(int64_t m, int64_t n, int64_t k, const void *xp, int64_t xs0, int64_t xs1,
                 const void *yp, int64_t ys0, int64_t ys1, void *outp, double alpha, double beta)
{   /* out[i, j] = alpha * m + 10 * n + 100 * k + beta + the strides, to see what was passed */
    double *out = (double *)outp;
    for (int64_t i = 0; i < m * n; i++)
        out[i] += alpha * (double)m + 10.0 * (double)n + 100.0 * (double)k
                  + 1000.0 * (double)(xs0 + 2 * xs1 + 3 * ys0 + 4 * ys1) + beta;
    return 0;
}
"""


def test_kernel_status_other_than_ok_goes_to_the_python_path(ext):
    mod = cbackend.build([SOURCE], CDEF, "status")
    seen = []
    fallback = lambda *args: seen.append(args) or ("python",)   # noqa: E731
    two = ext.BlasCall(int(mod.ffi.cast("uintptr_t", mod.lib.st_status_two)), False, np.dtype("f8").num,
                       2, 2, (), fallback, mod, 0.0)
    a, b = np.ones((2, 3)), np.ones((3, 4))
    assert two(a, b) == ("python",) and len(seen) == 1 and seen[0][0] is a and two.calls == 0
    ok = ext.BlasCall(int(mod.ffi.cast("uintptr_t", mod.lib.st_status_ok)), True, np.dtype("f8").num,
                      2, 2, (True, False), fallback, mod, 1e300)
    z = np.zeros((1, 2))
    (out,) = ok(z, 2.0, a, b[:, ::2].copy(), 3.0)   # z broadcast over 2 rows, y 3 x 2
    assert out.shape == (2, 2) and ok.calls == 1 and len(seen) == 1
    # m=2, n=2, k=3, x strides (3, 1), y strides (2, 1), alpha 2, beta 3
    np.testing.assert_array_equal(out, np.full((2, 2), 2 * 2 + 10 * 2 + 100 * 3 + 1000 * (3 + 2 + 6 + 4) + 3))


# --------------------------------------------------------------------------- leaks, threads

def test_no_reference_or_memory_leak(ext):
    g = _gemm_direct((True, False))
    dot = direct_of(*(lambda x, y: ([x, y], Dot()(x, y)))(var((None, None)), var((None,))))
    assert isinstance(g, ext.BlasCall) and isinstance(dot, ext.BlasCall)
    z, x, y, v = np.ones((1, 5)), np.ones((3, 4)), np.full((4, 5), 2.0), np.ones(4)
    alpha, beta = np.array(0.5), np.array(2.0)
    strided = noncontiguous(np.ones((3, 4))).astype("float32")   # converted by the Python path
    args = (z, alpha, x, y, beta)
    g(*args)
    dot(x, v)
    gc.collect()
    tracked = (z, x, y, v, alpha, beta, strided, g, dot)
    before = [sys.getrefcount(o) for o in tracked]
    tracemalloc.start()
    try:
        for _ in range(2000):                     # warm up both paths, the allocator and caches
            g(*args)
            dot(x, v)
            g(z, alpha, strided, y, beta)
        gc.collect()
        start = tracemalloc.take_snapshot()
        for _ in range(100_000):
            g(*args)
            dot(x, v)
        for _ in range(2000):
            g(z, alpha, strided, y, beta)
        gc.collect()
        end = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    ours = [tracemalloc.Filter(True, __file__), tracemalloc.Filter(True, blas_thunk.__file__)]
    diffs = end.filter_traces(ours).compare_to(start.filter_traces(ours), "traceback")
    grown = sum(d.count_diff for d in diffs)
    assert [sys.getrefcount(o) for o in tracked] == before
    assert grown < 1000, f"{grown} more memory blocks after 10^5 calls: {[str(d) for d in diffs[:3]]}"
    out = g(*args)[0]
    assert sys.getrefcount(out) == 2   # only ``out`` and the call's argument
    assert g.calls >= 102_000 and dot.calls >= 102_000


def test_calls_from_eight_threads(ext, rng):
    g = _gemm_direct((True, False))
    x, y = var((None, None)), var((None, None))
    dot = direct_of([x, y], Dot()(x, y))
    big = int(np.ceil(dispatch_blas.NOGIL_MIN_FLOPS ** (1 / 3))) + 8   # releases the GIL
    shapes = [(1, 3, 2), (4, 5, 6), (20, 30, 10), (big, big, big)]
    data = [(rand(rng, (1, n)), rand(rng, (m, k)), rand(rng, (k, n))) for m, k, n in shapes]
    expected = [(g(z, 0.5, a, b, 2.0)[0], dot(a, b)[0]) for z, a, b in data]
    for (z, a, b), (ge, de) in zip(data, expected):
        np.testing.assert_allclose(ge, 0.5 * a @ b + 2.0 * z, **tol("float64"))
        np.testing.assert_allclose(de, a @ b, **tol("float64"))
    errors = []

    def work(k):
        try:
            for i in range(300):
                j = (k + i) % len(data)
                z, a, b = data[j]
                np.testing.assert_array_equal(g(z, 0.5, a, b, 2.0)[0], expected[j][0])
                np.testing.assert_array_equal(dot(a, b)[0], expected[j][1])
        except BaseException as err:   # reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert g.calls == dot.calls == len(data) + 8 * 300


def test_unavailable_extension_keeps_the_python_path(monkeypatch, rng):
    monkeypatch.setattr(dispatch, "extension", lambda wait=True: None)
    x, y = var((None, None)), var((None, None))
    dot = direct_of([x, y], Dot()(x, y))
    assert type(dot).__name__ == "function"
    a, b = rand(rng, (2, 3)), rand(rng, (3, 2))
    np.testing.assert_allclose(dot(a, b)[0], a @ b, **tol("float64"))
