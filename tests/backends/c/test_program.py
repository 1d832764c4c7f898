"""Whole-function execution: a compiled function's schedule run by one ``ProgramRun`` call
(backends/c/dispatch_program.py). Same results as the numpy reference for every kind of step
(compiled kernels, ``perform`` ops, lazy branches, the in-place update tail), errors named with
their node, values released after their last use, no leaks, thread safety, and the Python
schedule when the extension is missing."""
import gc
import sys
import threading
import tracemalloc

import numpy as np
import pytest

import symtensor as T
from symtensor.backends.c import dispatch
from symtensor.ifelse import ifelse

from .conftest import needs_compiler


pytestmark = [needs_compiler, pytest.mark.usefixtures("ext")]


def is_program(f) -> bool:
    return type(f.maker.executor.run).__name__ == "ProgramRun"


def _training_step(rng, mode):
    W = T.shared(np.random.default_rng(0).standard_normal((6, 4)), name="W")
    b = T.shared(np.zeros(4), name="b")
    x, y = T.dmatrix("x"), T.lvector("y")
    p = T.nnet.softmax(T.dot(x, W) + b)
    cost = -T.log(p[T.arange(y.shape[0]), y]).mean() + 1e-3 * (W ** 2).sum()
    gW, gb = T.grad(cost, [W, b])
    return T.function([x, y], cost, updates=[(W, W - 0.1 * gW), (b, b - 0.1 * gb)], mode=mode), W


def test_a_training_step_runs_as_one_program(rng):
    f, W = _training_step(rng, "FAST_RUN")
    ref, W_ref = _training_step(rng, "FAST_COMPILE")
    assert is_program(f)
    for _ in range(3):
        xv, yv = rng.standard_normal((5, 6)), rng.integers(0, 4, 5)
        np.testing.assert_allclose(f(xv, yv), ref(xv, yv), rtol=1e-10)
    np.testing.assert_allclose(W.get_value(), W_ref.get_value(), rtol=1e-10)


def test_perform_ops_views_and_constants(rng):
    x = T.dmatrix("x")
    outs = [T.sort(x, axis=1), x.T * 2, (x + np.arange(3.0)).reshape((3, -1)), T.constant(5.0) + 0 * x.sum(), x]
    f = T.function([x], outs)
    g = T.function([x], outs, mode="FAST_COMPILE")
    assert is_program(f)
    v = rng.standard_normal((4, 3))
    for a, b in zip(f(v), g(v)):
        np.testing.assert_allclose(a, b)


def test_lazy_branches_and_nesting(rng):
    a, b, x = T.dscalar("a"), T.dscalar("b"), T.dvector("x")
    inner = ifelse(T.gt(b, 0), T.exp(x) + 1, x[10:11] * x)    # x[10:11] * x raises if computed
    out = ifelse(T.gt(a, 0), inner, T.exp(x) - 2)
    f = T.function([a, b, x], out)
    assert is_program(f)
    v = rng.standard_normal(3)
    np.testing.assert_allclose(f(1, 1, v), np.exp(v) + 1)
    np.testing.assert_allclose(f(-1, -1, v), np.exp(v) - 2)
    with pytest.raises(ValueError, match="while computing"):
        f(1, -1, v)


def test_errors_name_the_node_and_the_source_line():
    x, y = T.dvector("x"), T.dvector("y")
    f = T.function([x, y], T.exp(x) + y)
    assert is_program(f)
    f.trust_input = True
    with pytest.raises(ValueError) as info:
        f(np.ones(3), np.ones(4))
    assert "while computing" in str(info.value) and "test_program.py" in str(info.value)


def test_a_large_intermediate_is_released_after_its_last_use():
    """Four 8 MB temporaries in sequence, each dead after the next step: the program holds at
    most two at once (16 MB), where keeping every value to the end would need 32 MB."""
    x = T.dvector("x")
    out = T.sort(T.exp(x)).sum() + T.sort(x * 3).sum()
    f = T.function([x], out)
    assert is_program(f)
    v = np.random.default_rng(0).standard_normal(1_000_000)
    f(v)
    tracemalloc.start()
    got = f(v)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_allclose(got, np.exp(v).sum() + (3 * v).sum(), rtol=1e-9)
    assert peak < 24_000_000, peak


def test_no_reference_or_memory_leak(rng):
    x = T.dvector("x")
    f = T.function([x], [T.exp(x).sum(), T.sort(x)])
    v = rng.standard_normal(5)
    for _ in range(1000):
        f(v)
    gc.collect()
    before = sys.getrefcount(v)
    tracemalloc.start()
    snap = tracemalloc.take_snapshot()
    for _ in range(20_000):
        f(v)
    gc.collect()
    grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(snap, "filename") if s.size_diff > 0)
    tracemalloc.stop()
    assert sys.getrefcount(v) == before
    assert grown < 200_000


def test_threads_get_their_own_values(rng):
    x = T.dvector("x")
    f = T.function([x], T.tanh(x) * 2 + T.sort(x))
    assert is_program(f)
    values = [rng.standard_normal(50) for _ in range(8)]
    want = [np.tanh(v) * 2 + np.sort(v) for v in values]
    errors = []

    def work(k):
        try:
            for _ in range(300):
                np.testing.assert_allclose(f(values[k]), want[k])
        except BaseException as err:   # reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_without_the_extension_the_python_schedule_runs(monkeypatch):
    monkeypatch.setattr(dispatch, "extension", lambda wait=True: None)
    x = T.dvector("x")
    f = T.function([x], T.exp(x) + 1)
    assert not is_program(f)
    np.testing.assert_allclose(f(np.zeros(3)), np.full(3, 2.0))


def test_malformed_programs_are_refused(ext):
    with pytest.raises(ValueError):
        ext.ProgramRun(1, 2, ((0, len, (5,), (1,), (), 0, 0),), (1,), (), lambda s, e: e)
    with pytest.raises(TypeError):
        ext.ProgramRun(1, 2, ((0, 3, (0,), (1,), (), 0, 0),), (1,), (), lambda s, e: e)
    run = ext.ProgramRun(1, 2, ((0, lambda a: (a * 2,), (0,), (1,), (), 0, 0),), (1, 0), (), lambda s, e: e)
    assert run(3) == [6, 3]
    with pytest.raises(TypeError):
        run(1, 2)
    bad = ext.ProgramRun(1, 2, ((0, lambda a: a, (0,), (1,), (), 0, 0),), (1,), (), lambda s, e: e)
    with pytest.raises(TypeError, match="tuple"):
        bad(1)


def _boom(a):
    raise ValueError("boom")


def test_a_broken_annotate_keeps_the_original_error(ext):
    for annotate in (lambda s, e: "not an exception", lambda s, e: 1 / 0):
        run = ext.ProgramRun(1, 2, ((0, _boom, (0,), (1,), (), 0, 0),), (1,), (), annotate)
        with pytest.raises(ValueError, match="boom"):
            run(1)


def test_interrupts_are_not_annotated(ext):
    def interrupt(a):
        raise KeyboardInterrupt()
    run = ext.ProgramRun(1, 2, ((0, interrupt, (0,), (1,), (), 0, 0),), (1,), (),
                         lambda s, e: RuntimeError("annotated"))
    with pytest.raises(KeyboardInterrupt) as info:
        run(1)
    assert "annotated" not in str(info.value)


def test_backward_jumps_and_uncallable_annotate_are_refused(ext):
    with pytest.raises(ValueError):
        ext.ProgramRun(1, 1, ((2, None, (), (), (), 0, 0),), (0,), (), lambda s, e: e)
    with pytest.raises(TypeError):
        ext.ProgramRun(1, 1, (), (0,), (), None)
