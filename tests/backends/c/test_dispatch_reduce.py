"""The compiled dispatcher of reduction kernels: taken when the extension builds, same results
and errors as the Python direct path in every layout, its plan cache bounded and correct when
layouts cycle, no leaks, thread-safe, and silently absent when it cannot be built."""
import gc
import sys
import threading
import tracemalloc

import numpy as np
import pytest

import symtensor as T
from symtensor.backends.c import dispatch, dispatch_reduce, reduce_thunk
from symtensor.ops.fused_reduce import FusedReduce
from symtensor.ops.reduce import CAReduce

from ...helpers import noncontiguous, rand, tol
from .conftest import needs_compiler, outcome, assert_same_outcome

pytestmark = [needs_compiler, pytest.mark.usefixtures("fresh_dispatch")]


@pytest.fixture
def python_only(monkeypatch):
    """Functions compiled inside this fixture use the Python direct path only."""
    monkeypatch.setattr(reduce_thunk, "reduce_call", lambda *args, **kwargs: None)


def reducers(f) -> list:
    """The direct callable of each reduction node of compiled function ``f``."""
    return [thunk.for_node(node) for node, thunk, *_ in f.maker.executor.steps
            if hasattr(thunk, "for_node") and isinstance(node.op, (CAReduce, FusedReduce))]


def _only(f):
    (direct,) = reducers(f)
    return direct


# --------------------------------------------------------------------------- the C path is used

def test_c_path_is_taken_for_the_common_call(ext, rng):
    x = T.dmatrix("x")
    f = T.function([x], T.sum(x, axis=1), mode="FAST_RUN")
    direct = _only(f)
    assert isinstance(direct, ext.ReduceCall) and direct.hits == 0
    python_path, seen = direct.fallback, []
    direct.fallback = lambda *args: seen.append(args) or python_path(*args)
    a = rand(rng, (5, 7))
    for value in (a, noncontiguous(a), a.T.copy().T, a[::-1]):   # any strides: planned, run in C
        np.testing.assert_allclose(f(value), value.sum(axis=1), **tol("float64"))
    assert seen == [] and direct.hits == 4 and direct.planned == 4
    wrong = a.astype("float32")
    np.testing.assert_allclose(direct(wrong)[0], wrong.astype("float64").sum(axis=1), **tol("float64"))
    assert len(seen) == 1 and seen[0][0] is wrong and direct.hits == 4   # handed on unchanged


def test_python_layouts_are_remembered_and_handed_on(ext):
    """Layouts whose plan is the Python path's (an empty output, max over nothing) go to the
    fallback, unchanged, without planning them again."""
    x = T.dmatrix("x")
    direct = _only(T.function([x], T.max(x, axis=0), mode="FAST_RUN"))
    python_path, seen = direct.fallback, []
    direct.fallback = lambda *args: seen.append(args) or python_path(*args)
    empty = np.zeros((3, 0))
    for _ in range(3):
        (out,) = direct(empty)
        assert out.shape == (0,)
        with pytest.raises(ValueError):
            direct(np.zeros((0, 3)))
    assert len(seen) == 6 and direct.hits == 0 and direct.planned == 2


def test_fallback_must_be_callable(ext):
    x = T.dvector("x")
    direct = _only(T.function([x], T.sum(x), mode="FAST_RUN"))
    with pytest.raises(TypeError, match="callable"):
        direct.fallback = None


def test_constructor_rejects_bad_arguments(ext):
    with pytest.raises(ValueError, match="kernel"):
        ext.ReduceCall(0, (12,), 12, print, print, None, 1)
    with pytest.raises(ValueError, match="inputs"):
        ext.ReduceCall(1, (), 12, print, print, None, 1)
    with pytest.raises(ValueError, match="callable"):
        ext.ReduceCall(1, (12,), 12, None, print, None, 1)
    with pytest.raises(TypeError):
        ext.ReduceCall(1, [12], 12, print, print, None, 1)


@pytest.mark.parametrize("planned", [
    (1, 2, 3),
    ((3,), 0, 2, 0, (3,), (1, 1), (1,), (0,), None),       # kd = 2 but its arrays are too short
    ((3,), 0, 1, 1, (3,), (1, 1), (4,), (4,), (0, 0)),     # one offset per input expected
    ((), 1, 0, 1, (), (), (12,), (1,), None),               # the arrays hold one item at least
    (("a",), 0, 1, 1, (3,), (1, 1), (4,), (4,), None),
])
def test_malformed_plans_are_refused(ext, planned):
    """A planner returning something malformed raises a clear error (the kernel, here a
    null-like address, is never called)."""
    call = ext.ReduceCall(1, (12,), 12, lambda *args: planned, print, None, 1)
    with pytest.raises((ValueError, TypeError), match="plan|int|str"):
        call(np.ones((3, 4)))
    assert call.hits == 0


def test_planner_errors_propagate(ext):
    def planner(*args):
        raise KeyError("no plan")
    call = ext.ReduceCall(1, (12,), 12, planner, print, None, 1)
    with pytest.raises(KeyError, match="no plan"):
        call(np.ones(3))


# --------------------------------------------------------------------------- results in every layout

def _cases(rng):
    """(name, input types, output builder, values) covering the checks and the plans."""
    m, c = rand(rng, (4, 6)), rand(rng, (3, 4, 5))
    return [
        ("contiguous rows", [T.dmatrix], lambda x: T.sum(x, axis=1), [m]),
        ("contiguous cols", [T.dmatrix], lambda x: T.sum(x, axis=0), [m]),
        ("all", [T.dmatrix], lambda x: T.sum(x), [m]),
        ("strided", [T.dmatrix], lambda x: T.max(x, axis=1), [noncontiguous(m)]),
        ("transposed", [T.dmatrix], lambda x: T.sum(x, axis=0), [m.T]),
        ("reversed", [T.dmatrix], lambda x: T.sum(x, axis=1), [m[:, ::-1]]),
        ("3-d middle", [T.dtensor3], lambda x: T.prod(x, axis=1), [c]),
        ("3-d outer", [T.dtensor3], lambda x: T.min(x, axis=(0, 2)), [np.transpose(c, (2, 0, 1))]),
        ("fused", [T.dmatrix], lambda x: T.sum(x * x, axis=0), [noncontiguous(m)]),
        ("fused broadcast row", [T.dmatrix, T.drow], lambda x, r: T.sum(x * r, axis=0),
         [m, rand(rng, (1, 6))]),
        ("fused broadcast vector", [T.dmatrix, T.dvector], lambda x, v: T.sum(x - v, axis=1),
         [m.T, rand(rng, (4,))]),
        ("zero-size reduced", [T.dmatrix], lambda x: T.sum(x, axis=1), [np.zeros((3, 0))]),
        ("zero-size output", [T.dmatrix], lambda x: T.sum(x, axis=0), [np.zeros((3, 0))]),
        ("fused 0-d operand", [T.dmatrix, T.dscalar], lambda x, s: T.sum(x * s, axis=1), [m, np.array(1.5)]),
        ("float32", [T.fmatrix], lambda x: T.sum(x, axis=1), [m.astype("float32")]),
        ("int", [T.lmatrix], lambda x: T.max(x, axis=0), [np.arange(24).reshape(4, 6)]),
        ("wrong dtype", [T.dmatrix], lambda x: T.sum(x, axis=1), [np.arange(6, dtype="int32").reshape(2, 3)]),
        ("list", [T.dmatrix], lambda x: T.sum(x, axis=0), [[[1.0, 2.0], [3.0, 4.0]]]),
        ("misaligned", [T.dvector], lambda x: T.sum(x),
         [np.frombuffer(np.zeros(8 * 4 + 1, "u1").tobytes(), "f8", 4, 1)]),
        ("byteswapped", [T.dmatrix], lambda x: T.sum(x, axis=1), [m.astype(">f8")]),
    ]


N_CASES = 20


def _numpy(name, values):
    """numpy's result for the cases whose oracle is simple to state (None otherwise)."""
    a = np.asarray(values[0], dtype="float64") if name not in ("int", "float32") else np.asarray(values[0])
    return {"contiguous rows": lambda: a.sum(axis=1), "contiguous cols": lambda: a.sum(axis=0),
            "all": lambda: a.sum(), "strided": lambda: a.max(axis=1), "transposed": lambda: a.sum(axis=0),
            "reversed": lambda: a.sum(axis=1), "3-d middle": lambda: a.prod(axis=1),
            "3-d outer": lambda: a.min(axis=(0, 2)), "fused": lambda: (a * a).sum(axis=0),
            "fused broadcast row": lambda: (a * values[1]).sum(axis=0),
            "fused broadcast vector": lambda: (a - values[1]).sum(axis=1),
            "fused 0-d operand": lambda: (a * values[1]).sum(axis=1),
            "float32": lambda: a.sum(axis=1), "int": lambda: a.max(axis=0)}.get(name, lambda: None)()


def test_case_count(rng):
    assert len(_cases(rng)) == N_CASES


@pytest.mark.parametrize("index", range(N_CASES))
def test_results_match_fast_compile_and_numpy(index, mode, rng):
    name, makers, build, values = _cases(rng)[index]
    xs = [mk(f"x{k}") for k, mk in enumerate(makers)]
    out = build(*xs)
    want = T.function(xs, out, mode="FAST_COMPILE")(*values)
    f = T.function(xs, out, mode=mode)
    for _ in range(2):   # the second call hits the stored plan
        got = f(*values)
        np.testing.assert_allclose(got, want, **tol(want.dtype))
        assert got.dtype == want.dtype and got.shape == want.shape
    expected = _numpy(name, values)
    if expected is not None:
        np.testing.assert_allclose(got, expected, **tol(want.dtype))


@pytest.mark.parametrize("index", range(N_CASES))
def test_direct_call_matches_python_path(index, ext, python_only, rng):
    """The node's callable itself, called with unchecked values (as ``trust_input`` lets
    through): results and errors are those of the Python direct path, bit for bit."""
    name, makers, build, values = _cases(rng)[index]
    xs = [mk(f"x{k}") for k, mk in enumerate(makers)]
    out = build(*xs)
    f_py = T.function(xs, out, mode="FAST_RUN")
    reduce_thunk.reduce_call = dispatch_reduce.reduce_call   # the fixture's patch is undone next
    f_c = T.function(xs, out, mode="FAST_RUN")
    assert any(isinstance(d, ext.ReduceCall) for d in reducers(f_c))
    assert not any(isinstance(d, ext.ReduceCall) for d in reducers(f_py))
    f_c.trust_input = f_py.trust_input = True
    for _ in range(2):
        assert_same_outcome(outcome(f_c, *values), outcome(f_py, *values))


BAD_CALLS = [
    ("rank", lambda x, y: T.sum(x, axis=1), [np.ones(3)]),
    ("fused shape mismatch", lambda x, y: T.sum(x * y, axis=1), [np.ones((2, 3)), np.ones((2, 4))]),
    ("max over nothing", lambda x, y: T.max(x, axis=0), [np.ones((0, 3))]),
    ("too few", lambda x, y: T.sum(x * y, axis=0), [np.ones((2, 3))]),
    ("too many", lambda x, y: T.sum(x * y, axis=0), [np.ones((2, 3))] * 3),
    ("not an array", lambda x, y: T.sum(x * y, axis=0), ["abc", np.ones((2, 3))]),
]


@pytest.mark.parametrize("name,build,values", BAD_CALLS, ids=[b[0] for b in BAD_CALLS])
def test_errors_are_those_of_the_python_path(name, build, values, ext, python_only):
    x, y = T.dmatrix("x"), T.dmatrix("y")
    out = build(x, y)
    py_direct = _only(T.function([x, y], out, mode="FAST_RUN", on_unused_input="ignore"))
    reduce_thunk.reduce_call = dispatch_reduce.reduce_call
    c_direct = _only(T.function([x, y], out, mode="FAST_RUN", on_unused_input="ignore"))
    assert isinstance(c_direct, ext.ReduceCall)
    for _ in range(2):   # the second time from the remembered layout
        got, want = outcome(c_direct, *values), outcome(py_direct, *values)
        assert got[0] == want[0] == "error"
        assert got[1] == want[1]


def test_keyword_arguments_go_to_the_python_path(ext):
    x = T.dmatrix("x")
    direct = _only(T.function([x], T.sum(x, axis=0), mode="FAST_RUN"))
    for kwargs in ({"a0": np.ones((2, 2))}, {"x": 1}):
        assert_same_outcome(outcome(lambda: direct(**kwargs)), outcome(lambda: direct.fallback(**kwargs)))
    assert_same_outcome(outcome(lambda: direct(np.ones((2, 2)), z=1)),
                 outcome(lambda: direct.fallback(np.ones((2, 2)), z=1)))


def test_cycling_layouts_beyond_the_cache(ext, rng):
    """More layouts than plan slots, in turn: each miss replaces a plan, every result is right."""
    x = T.dmatrix("x")
    f = T.function([x], T.sum(x * x, axis=0), mode="FAST_RUN")
    direct = _only(f)
    base = rand(rng, (6, 5))
    layouts = [base, base.T.copy().T, noncontiguous(base), base[::-1], base[:, ::-1], base[1:], base[:, :3]]
    assert len(layouts) > dispatch_reduce.PLAN_SLOTS
    for _ in range(3):
        for a in layouts:
            np.testing.assert_allclose(f(a), (a * a).sum(axis=0), **tol("float64"))
    assert direct.planned == dispatch_reduce.PLAN_SLOTS and direct.hits == 3 * len(layouts)


def test_large_call_releases_the_gil(ext, rng):
    x = T.fmatrix("x")
    f = T.function([x], T.sum(x, axis=1), mode="FAST_RUN")
    for rows in (1, 3, dispatch.NOGIL_MIN_ELEMENTS // 4 + 5):
        a = rand(rng, (rows, 9), "float32")
        np.testing.assert_allclose(f(a), a.sum(axis=1), rtol=1e-5, atol=1e-5)
    assert _only(f).hits == 3


# --------------------------------------------------------------------------- leaks, threads

def test_no_reference_or_memory_leak(ext):
    x, y = T.dmatrix("x"), T.dmatrix("y")
    f = T.function([x, y], T.sum(x * y, axis=1), mode="FAST_RUN")
    direct = _only(f)
    assert isinstance(direct, ext.ReduceCall)
    a, b = np.ones((4, 10)), np.full((4, 10), 2.0)
    others = [noncontiguous(np.ones((4, 10))), np.ones((4, 10)).T.copy().T, np.ones((4, 10))[::-1],
              np.ones((5, 10)), np.ones((6, 10)), np.ones((4, 10), "float32")]   # misses and fallbacks
    args = (a, b)

    def misses():   # plans stored and dropped on every call, and the Python path
        for o in others:
            direct(o, b if o.shape == b.shape else np.ones(o.shape))

    direct(*args)
    gc.collect()
    before = [sys.getrefcount(v) for v in (a, b, direct, *others)]
    tracemalloc.start()
    try:
        for _ in range(2000):                     # warm up both paths, the allocator and caches
            direct(*args)
            misses()
        gc.collect()
        start = tracemalloc.take_snapshot()
        for _ in range(100_000):
            direct(*args)
        for _ in range(2000):
            misses()
        gc.collect()
        end = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    ours = [tracemalloc.Filter(True, __file__), tracemalloc.Filter(True, reduce_thunk.__file__)]
    diffs = end.filter_traces(ours).compare_to(start.filter_traces(ours), "traceback")
    grown = sum(d.count_diff for d in diffs)
    assert [sys.getrefcount(v) for v in (a, b, direct, *others)] == before
    assert grown < 1000, f"{grown} more memory blocks after 10^5 calls: {[str(d) for d in diffs[:3]]}"
    out = direct(*args)[0]
    assert sys.getrefcount(out) == 2   # only ``out`` and the call's argument


def test_calls_from_eight_threads(ext, rng):
    """Eight threads, each cycling through more layouts than the plan slots (plans replaced
    while other threads run kernels from them, some with the GIL released)."""
    x = T.dmatrix("x")
    f = T.function([x], T.sum(x * x, axis=1), mode="FAST_RUN")
    assert isinstance(_only(f), ext.ReduceCall)
    big = rand(rng, (dispatch.NOGIL_MIN_ELEMENTS // 8 + 3, 16))
    small = rand(rng, (5, 7))
    data = [small, noncontiguous(small), small[::-1], small.T.copy().T, big, big[::2], big[:, ::-1],
            np.zeros((4, 0))]
    expected = [f(a) for a in data]   # one thread: the reference, bit for bit
    for a, want in zip(data, expected):
        np.testing.assert_allclose(want, (a * a).sum(axis=1), **tol("float64"))
    errors = []

    def work(k):
        try:
            for i in range(200):
                j = (k + i) % len(data)
                np.testing.assert_array_equal(f(data[j]), expected[j])
        except BaseException as err:   # reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


# --------------------------------------------------------------------------- without the extension

def test_unbuildable_extension_falls_back_silently(compiledir, monkeypatch, recwarn):
    monkeypatch.setattr(dispatch, "_include_dirs", lambda: None)
    assert dispatch.extension() is None
    x = T.dmatrix("x")
    f = T.function([x], T.sum(x, axis=0), mode="FAST_RUN")
    assert all(type(d).__name__ == "function" for d in reducers(f)) and reducers(f)
    np.testing.assert_array_equal(f(np.ones((3, 2))), [3.0, 3.0])
    assert not [w for w in recwarn if "dispatch" in str(w.message)]


def test_part_is_registered():
    from symtensor.backends.c import dispatch_source
    assert dispatch_reduce.PART in dispatch_source.PARTS
    assert "st_register_reduce(m)" in dispatch_source.SOURCE
