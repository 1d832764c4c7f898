"""The compiled dispatcher of elementwise kernels: taken when the extension builds, same
results and errors as the Python fast path in every layout, no leaks, thread-safe, rebuilt
when its cache entry is damaged, and silently absent when it cannot be built."""
import gc
import os
import sys
import threading
import tracemalloc

import numpy as np
import pytest

import symtensor as T
from symtensor.backends.c import cache, dispatch, elemwise_thunk
from symtensor.graph.type import TensorType
from symtensor.ops import scalar as ps
from symtensor.ops.fused import FusedElemwise

from ...helpers import noncontiguous, rand, tol
from .conftest import needs_compiler, outcome, assert_same_outcome

pytestmark = [needs_compiler, pytest.mark.usefixtures("fresh_dispatch")]

VEC = TensorType("float64", shape=(None,))


@pytest.fixture
def python_only(monkeypatch):
    """Functions compiled inside this fixture use the generated Python fast path only."""
    monkeypatch.setattr(elemwise_thunk, "elemwise_call", lambda *args, **kwargs: None)


def directs(f) -> list:
    """The direct callable of each elementwise node of compiled function ``f``."""
    return [thunk.for_node(node) for node, thunk, *_ in f.maker.executor.steps if hasattr(thunk, "for_node")]


# --------------------------------------------------------------------------- the C path is used

def test_c_path_is_taken_for_the_common_call(ext, rng):
    x = T.dvector("x")
    f = T.function([x], T.exp(x) * 2 + 1, mode="FAST_RUN")
    (direct,) = directs(f)
    assert isinstance(direct, ext.ElemwiseCall)
    python_path, seen = direct.fallback, []
    direct.fallback = lambda *args: seen.append(args) or python_path(*args)
    a = rand(rng, (7,))
    np.testing.assert_allclose(f(a), np.exp(a) * 2 + 1, rtol=1e-15)
    assert seen == []                               # contiguous: handled in C
    view = noncontiguous(a)
    np.testing.assert_allclose(f(view), np.exp(a) * 2 + 1, rtol=1e-15)
    assert len(seen) == 1 and seen[0][0] is view    # strided: handed on unchanged


def test_fallback_must_be_callable(ext):
    x = T.dvector("x")
    (direct,) = directs(T.function([x], x + 1, mode="FAST_RUN"))
    with pytest.raises(TypeError, match="callable"):
        direct.fallback = 3


def test_constructor_rejects_bad_arguments(ext):
    with pytest.raises(ValueError, match="kernel"):
        ext.ElemwiseCall(0, 0, (12,), (12,), 1, (False,), (None,), (), print, None, 1)
    with pytest.raises(ValueError, match="one item per input"):
        ext.ElemwiseCall(1, 0, (12,), (12,), 1, (False, False), (None,), (), print, None, 1)
    with pytest.raises(ValueError, match="fixed dimension"):
        ext.ElemwiseCall(1, 0, (12,), (12,), 1, (False,), (None,), (3,), print, None, 1)


# --------------------------------------------------------------------------- results in every layout

def _cases(rng):
    """(name, input types, outputs builder, values) covering the checks of the first tier."""
    v, w = rand(rng, (6,)), rand(rng, (6,))
    m = rand(rng, (3, 4))
    return [
        ("contiguous", [T.dvector, T.dvector], lambda x, y: x * y + T.exp(x), [v, w]),
        ("strided", [T.dvector, T.dvector], lambda x, y: x * y + T.exp(x), [noncontiguous(v), w]),
        ("fortran", [T.dmatrix, T.dmatrix], lambda x, y: x - y, [np.asfortranarray(m), m]),
        ("broadcast row", [T.dmatrix, T.drow], lambda x, r: x - r, [m, rand(rng, (1, 4))]),
        ("broadcast scalar", [T.dmatrix, T.dscalar], lambda x, s: x * s, [m, np.float64(2.5)]),
        ("zero-size", [T.dvector, T.dvector], lambda x, y: x / (y + 3), [v[:0], w[:0]]),
        ("zero-size matrix", [T.dmatrix], lambda x: T.tanh(x), [np.zeros((0, 5))]),
        ("0-d", [T.dscalar, T.dscalar], lambda a, b: a * b - 1, [np.float64(1.5), np.float64(-2.0)]),
        ("0-d array", [T.dscalar], lambda a: a * 3, [np.array(4.0)]),
        ("float32", [T.fvector], lambda x: x + 1, [v.astype("float32")]),
        ("int", [T.lvector, T.lvector], lambda x, y: x * y - x, [np.arange(5), np.arange(5, 10)]),
        ("wrong dtype", [T.dvector], lambda x: x * 2, [np.arange(4, dtype="int32")]),
        ("list", [T.dvector], lambda x: x + 1, [[1.0, 2.0]]),
        ("misaligned", [T.dvector], lambda x: x + 1,
         [np.frombuffer(np.zeros(8 * 4 + 1, "u1").tobytes(), "f8", 4, 1)]),
        ("byteswapped", [T.dvector], lambda x: x - 1, [v.astype(">f8")]),
    ]


@pytest.mark.parametrize("index", range(15))
def test_results_match_fast_compile(index, mode, rng):
    name, makers, build, values = _cases(rng)[index]
    xs = [mk(f"x{k}") for k, mk in enumerate(makers)]
    out = build(*xs)
    want = T.function(xs, out, mode="FAST_COMPILE")(*values)
    got = T.function(xs, out, mode=mode)(*values)
    np.testing.assert_allclose(got, want, **tol(want.dtype))
    assert got.dtype == want.dtype and got.shape == want.shape


@pytest.mark.parametrize("index", range(15))
def test_direct_call_matches_python_path(index, ext, python_only, rng):
    """The kernel's callable itself, called with unchecked values (as ``trust_input`` lets
    through): results and errors are those of the generated Python path."""
    name, makers, build, values = _cases(rng)[index]
    xs = [mk(f"x{k}") for k, mk in enumerate(makers)]
    out = build(*xs)
    f_py = T.function(xs, out, mode="FAST_RUN")
    elemwise_thunk.elemwise_call = dispatch.elemwise_call   # the fixture's patch is undone next
    f_c = T.function(xs, out, mode="FAST_RUN")
    assert any(isinstance(d, ext.ElemwiseCall) for d in directs(f_c))
    assert not any(isinstance(d, ext.ElemwiseCall) for d in directs(f_py))
    f_c.trust_input = f_py.trust_input = True
    assert_same_outcome(outcome(f_c, *values), outcome(f_py, *values))


BAD_CALLS = [
    ("shape mismatch", [np.ones(3), np.ones(4)]),
    ("rank", [np.ones((2, 3)), np.ones(3)]),
    ("0-d for a vector", [np.array(1.0), np.ones(3)]),
    ("too few", [np.ones(3)]),
    ("too many", [np.ones(3), np.ones(3), np.ones(3)]),
    ("not an array", ["abc", np.ones(3)]),
]


@pytest.mark.parametrize("name,values", BAD_CALLS, ids=[b[0] for b in BAD_CALLS])
def test_errors_are_those_of_the_python_path(name, values, ext, python_only):
    x, y = T.dvector("x"), T.dvector("y")
    (py_direct,) = directs(T.function([x, y], x * y, mode="FAST_RUN"))
    elemwise_thunk.elemwise_call = dispatch.elemwise_call
    (c_direct,) = directs(T.function([x, y], x * y, mode="FAST_RUN"))
    assert isinstance(c_direct, ext.ElemwiseCall)
    got, want = outcome(c_direct, *values), outcome(py_direct, *values)
    assert got[0] == want[0] == "error"
    assert got[1] == want[1]


def test_keyword_arguments_go_to_the_python_path(ext):
    """Keywords (right or wrong) are the Python path's business."""
    x = T.dvector("x")
    (direct,) = directs(T.function([x], x + 1, mode="FAST_RUN"))
    assert_same_outcome(outcome(lambda: direct(np.ones(2), a1=np.ones(1))),
                 outcome(lambda: direct.fallback(np.ones(2), a1=np.ones(1))))
    assert_same_outcome(outcome(lambda: direct(np.ones(2), a2=np.ones(1))),
                 outcome(lambda: direct.fallback(np.ones(2), a2=np.ones(1))))
    assert_same_outcome(outcome(lambda: direct(a0=np.ones(2), a1=np.ones(1))),
                 outcome(lambda: direct.fallback(a0=np.ones(2), a1=np.ones(1))))


def _multi_output_function(mode):
    add, mul, exp = ps.get("add"), ps.get("mul"), ps.get("exp")
    steps = ((add, (("i", 0), ("i", 1)), "float64"), (mul, (("i", 0), ("i", 1)), "float64"),
             (exp, (("s", 0),), "float64"))
    x, y = T.dvector("x"), T.dvector("y")
    outs = FusedElemwise((2, steps, (1, 2)), (VEC, VEC), (VEC, VEC))(x, y)
    return T.function([x, y], list(outs), mode=mode)


def test_multi_output_fused_kernel(ext, rng):
    f = _multi_output_function("FAST_RUN")
    calls = [d for d in directs(f) if isinstance(d, ext.ElemwiseCall)]
    nodes = [node for node, thunk, *_ in f.maker.executor.steps if hasattr(thunk, "for_node")]
    assert calls and any(len(n.outputs) == 2 for n in nodes)
    for a, b in [(rand(rng, (9,)), rand(rng, (9,))), (np.ones(0), np.ones(0)),
                 (noncontiguous(rand(rng, (5,))), rand(rng, (5,)))]:
        got = f(a, b)
        want = _multi_output_function("FAST_COMPILE")(a, b)
        assert len(got) == 2 and got[0] is not got[1]
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-15)


def test_pinned_constant_and_large_call(ext, rng):
    """A constant broadcast operand is read in place; a call above the GIL threshold runs
    with the GIL released (the kernel may use threads) and still matches numpy."""
    x = T.fvector("x")
    f = T.function([x], x * np.float32(1.5) + np.float32(2), mode="FAST_RUN")
    for size in (1, 10, dispatch.NOGIL_MIN_ELEMENTS * 3 + 7):
        a = rand(rng, (size,), "float32")
        np.testing.assert_allclose(f(a), a * np.float32(1.5) + np.float32(2), rtol=1e-6)


# --------------------------------------------------------------------------- leaks, threads

def test_no_reference_or_memory_leak(ext):
    x, y = T.dvector("x"), T.dvector("y")
    f = T.function([x, y], x * y, mode="FAST_RUN")
    (direct,) = directs(f)
    assert isinstance(direct, ext.ElemwiseCall)
    a, b = np.ones(10), np.full(10, 2.0)
    strided = noncontiguous(np.ones(10))
    args = (a, b)
    direct(*args)
    gc.collect()
    before = [sys.getrefcount(v) for v in (a, b, strided, direct)]
    tracemalloc.start()
    try:
        for _ in range(2000):                     # warm up both paths, the allocator and caches
            direct(*args)
            direct(strided, b)
        gc.collect()
        start = tracemalloc.take_snapshot()
        for _ in range(100_000):
            direct(*args)
        for _ in range(2000):
            direct(strided, b)
        gc.collect()
        end = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    # only what these calls allocated (other threads of the test process allocate too)
    ours = [tracemalloc.Filter(True, __file__), tracemalloc.Filter(True, elemwise_thunk.__file__),
            tracemalloc.Filter(True, "<elemwise*")]
    diffs = end.filter_traces(ours).compare_to(start.filter_traces(ours), "traceback")
    # counted in blocks: a leak adds about one per call, while a cache or table of the
    # process that happens to grow during the loop adds one (large) block
    grown = sum(d.count_diff for d in diffs)
    assert [sys.getrefcount(v) for v in (a, b, strided, direct)] == before
    assert grown < 1000, f"{grown} more memory blocks after 10^5 calls: {[str(d) for d in diffs[:3]]}"
    out = direct(*args)[0]
    assert sys.getrefcount(out) == 2   # only ``out`` and the call's argument


def test_calls_from_eight_threads(ext, rng):
    x, y = T.dvector("x"), T.dvector("y")
    f = T.function([x, y], [T.exp(x) - y, x * y], mode="FAST_RUN")
    assert any(isinstance(d, ext.ElemwiseCall) for d in directs(f))
    sizes = [3, 17, 1000, dispatch.NOGIL_MIN_ELEMENTS * 2]
    data = [(rand(rng, (s,)), rand(rng, (s,))) for s in sizes]
    expected = [f(a, b) for a, b in data]   # one thread: the reference, bit for bit
    for (a, b), (d, p) in zip(data, expected):
        np.testing.assert_allclose(d, np.exp(a) - b, **tol("float64"))
        np.testing.assert_array_equal(p, a * b)
    errors = []

    def work(k):
        try:
            for i in range(300):
                j = (k + i) % len(data)
                for got, want in zip(f(*data[j]), expected[j]):
                    np.testing.assert_array_equal(got, want)
        except BaseException as err:   # reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


# --------------------------------------------------------------------------- cache and fallbacks

def _replace(path, data):
    """Swap in new contents as a new file: never rewrite a library that may be mapped."""
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)


@pytest.fixture
def compiles(monkeypatch):
    calls = []
    real = dispatch._compile

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(dispatch, "_compile", counting)
    return calls


def test_warm_cache_is_reused(compiledir, compiles):
    if dispatch.ensure_built() is None:
        pytest.skip("no Python or numpy headers")
    assert dispatch.extension() is not None and len(compiles) == 1


@pytest.mark.parametrize("damage", ["truncated", "junk with a valid manifest"])
def test_corrupt_cached_extension_is_rebuilt(compiledir, compiles, damage):
    paths = dispatch.ensure_built()
    if paths is None:
        pytest.skip("no Python or numpy headers")
    directory = os.path.realpath(compiledir)
    key = os.path.basename(paths["so"])[1:-3]
    if damage == "truncated":
        data = open(paths["so"], "rb").read()
        _replace(paths["so"], data[: len(data) // 2])
        assert cache.verify_entry(directory, key) is None
    else:
        scratch = cache.scratch_dir(directory)
        junk = {"so": os.path.join(scratch, "m.so"), "py": os.path.join(scratch, "m.py")}
        with open(junk["so"], "wb") as f:
            f.write(b"\x7fELF" + b"\0" * 60)
        with open(junk["py"], "w") as f:
            f.write("# junk\n")
        cache.publish(directory, key, junk, {})   # a manifest that vouches for the junk
        assert cache.verify_entry(directory, key) == paths
    module = dispatch.extension()
    assert module is not None and len(compiles) == 2
    assert cache.verify_entry(directory, key) == paths
    x = T.dvector("x")
    f = T.function([x], x + 1, mode="FAST_RUN")
    assert isinstance(directs(f)[0], module.ElemwiseCall)
    np.testing.assert_array_equal(f(np.arange(3.0)), np.arange(3.0) + 1)


@pytest.mark.parametrize("failure", ["no headers", "compile error"])
def test_unbuildable_extension_falls_back_silently(compiledir, monkeypatch, failure, recwarn):
    if failure == "no headers":
        monkeypatch.setattr(dispatch, "_include_dirs", lambda: None)
    else:
        monkeypatch.setattr(dispatch, "SOURCE", "#error this extension does not compile\n")
    assert dispatch.extension() is None
    x = T.dvector("x")
    f = T.function([x], x * 2, mode="FAST_RUN")
    assert all(callable(d) and type(d).__name__ == "function" for d in directs(f))
    np.testing.assert_array_equal(f(np.arange(4.0)), np.arange(4.0) * 2)
    assert not [w for w in recwarn if "dispatch" in str(w.message)]


# --------------------------------------------------------------------------- the inlined schedule

def test_kernel_errors_in_a_call_name_the_node(mode):
    """The schedule runs inlined in the function's call: a failing node is still named."""
    x, y = T.dvector("x"), T.dvector("y")
    f = T.function([x, y], x * y + 1, mode=mode)
    f.trust_input = True
    with pytest.raises(ValueError, match="while computing"):
        f(np.ones(3), np.ones(4))


def test_shared_updates_through_the_inlined_schedule(mode):
    x = T.dvector("x")
    acc = T.shared(np.zeros(3), name="acc")
    f = T.function([x], [x * 2, acc + x], updates=[(acc, acc + x)], mode=mode)
    for k in range(1, 4):
        doubled, before = f(np.full(3, float(k)))
        np.testing.assert_array_equal(doubled, np.full(3, 2.0 * k))
        np.testing.assert_array_equal(before, np.full(3, k * (k + 1) / 2.0))
    np.testing.assert_array_equal(acc.get_value(), np.full(3, 6.0))


def test_checked_interpreter_is_not_inlined():
    from symtensor.graph.fg import FunctionGraph
    from symtensor.graph.interpreter import Interpreter
    x = T.dvector("x")
    ex = Interpreter(FunctionGraph([x], [T.exp(x)]), check_outputs=True)
    assert ex.plan_code(["a0"]) is None
    plain = Interpreter(FunctionGraph([x], [T.exp(x)]))
    code = plain.plan_code(["a0"])
    assert code.results and code.body and code.fresh == plain.plan()[1]
