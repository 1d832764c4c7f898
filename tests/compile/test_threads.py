"""Calling compiled functions from several threads: a call that reads and replaces shared
values (explicit updates, random streams' default updates, ``In(update=)`` defaults) is
atomic with respect to other calls touching the same shared variables."""
import threading

import numpy as np
import pytest

import symtensor as T

THREADS = 8


def _in_threads(work, n=THREADS):
    """Run ``work(k)`` in ``n`` threads started together; re-raise the first failure."""
    barrier = threading.Barrier(n)
    errors = []

    def body(k):
        try:
            barrier.wait()
            work(k)
        except BaseException as err:   # reported in the main thread
            errors.append(err)

    threads = [threading.Thread(target=body, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


@pytest.mark.parametrize("mode", ["FAST_RUN", "FAST_COMPILE"])
def test_concurrent_updates_are_not_lost(mode):
    s = T.shared(np.float64(0))
    inc = T.function([], s, updates=[(s, s + 1)], mode=mode)
    _in_threads(lambda k: [inc() for _ in range(500)])
    assert s.get_value() == THREADS * 500


def test_two_functions_updating_the_same_shared_variables():
    """Different functions (and the general calling path) share the variables' locks; both
    variables are updated together, so every call sees a == b."""
    a, b = T.shared(np.int64(0), name="a"), T.shared(np.int64(0), name="b")
    step = T.iscalar("step")
    add = T.function([step], a - b, updates=[(a, a + step), (b, b + step)])
    sub = T.function([], b - a, updates=[(b, b - 1), (a, a - 1)])
    seen = []

    def work(k):
        for _ in range(300):
            seen.append(add(2) if k % 2 else sub())   # an int: the general path
    _in_threads(work)
    assert {int(v) for v in seen} == {0}
    assert a.get_value() == b.get_value() == (THREADS // 2) * 300 * (2 - 1)


def test_function_with_many_shared_variables():
    """More locks than a ``with`` statement may name still work."""
    vs = [T.shared(np.zeros(2)) for _ in range(30)]
    f = T.function([], [], updates=[(v, v + 1) for v in vs])
    _in_threads(lambda k: [f() for _ in range(100)])
    for v in vs:
        np.testing.assert_array_equal(v.get_value(), [THREADS * 100] * 2)


def test_random_draws_are_distinct_across_threads():
    u = T.function([], T.RandomStreams(0).uniform((1000,)))
    draws = [[] for _ in range(THREADS)]
    _in_threads(lambda k: draws[k].extend(u() for _ in range(50)))
    flat = np.concatenate([d for per_thread in draws for d in per_thread])
    assert flat.size == THREADS * 50 * 1000
    assert np.unique(flat).size == flat.size


def test_input_update_defaults_are_not_lost():
    acc = T.dscalar("acc")
    x = T.dscalar("x")
    f = T.function([x, T.In(acc, value=0.0, update=acc + x)], acc)
    _in_threads(lambda k: [f(1.0) for _ in range(300)])
    assert f(0.0) == THREADS * 300


def test_concurrent_calls_without_updates_give_each_thread_its_own_results():
    x = T.dvector("x")
    f = T.function([x], (x * 2).sum())
    results = [[] for _ in range(THREADS)]
    _in_threads(lambda k: results[k].extend(f(np.full(50, float(k))) for _ in range(200)))
    for k, res in enumerate(results):
        assert {float(r) for r in res} == {100.0 * k}


def test_shared_variable_pickles_with_a_fresh_lock():
    import pickle
    s = T.shared(np.arange(3.0), name="s")
    s2 = pickle.loads(pickle.dumps(s))
    np.testing.assert_array_equal(s2.get_value(), [0, 1, 2])
    assert s2.container.lock is not s.container.lock
    inc = T.function([], [], updates=[(s2, s2 + 1)])
    inc()
    np.testing.assert_array_equal(s2.get_value(), [1, 2, 3])
