"""Shared-variable updates written into the old arrays (backends/c/inplace.py): same numbers
as the numpy reference, the old array reused, and every case where writing in place would be
wrong (aliasing arguments, views returned as outputs, updates reading each other, strided
values, a failing call) computed out of place or leaving the shared values unchanged."""
import threading

import numpy as np
import pytest

import symtensor as T
from symtensor.ops.gemm import Gemm


def _sgd(mode):
    rng = np.random.default_rng(0)
    W = T.shared(rng.standard_normal((6, 4)), name="W")
    b = T.shared(np.zeros(4), name="b")
    x, y = T.dmatrix("x"), T.dmatrix("y")
    cost = ((T.dot(x, W) + b - y) ** 2).sum()
    gW, gb = T.grad(cost, [W, b])
    f = T.function([x, y], cost, updates=[(W, W - 0.01 * gW), (b, b - 0.01 * gb)], mode=mode)
    return f, W, b, rng


def test_training_updates_run_in_place_and_match_the_reference():
    f, W, b, rng = _sgd("FAST_RUN")
    g, W0, b0, _ = _sgd("FAST_COMPILE")
    nodes = f.maker.executor.inplace_nodes
    assert any(isinstance(n.op, Gemm) for n in nodes) and len(nodes) == 2
    held_W, held_b = W.get_value(borrow=True), b.get_value(borrow=True)
    for _ in range(5):
        x, y = rng.standard_normal((3, 6)), rng.standard_normal((3, 4))
        np.testing.assert_allclose(f(x, y), g(x, y), rtol=1e-12)
    np.testing.assert_allclose(W.get_value(), W0.get_value(), rtol=1e-12)
    np.testing.assert_allclose(b.get_value(), b0.get_value(), rtol=1e-12)
    assert W.get_value(borrow=True) is held_W and b.get_value(borrow=True) is held_b


def test_a_failed_call_leaves_every_shared_value_unchanged():
    a, c = T.shared(np.zeros(3), name="a"), T.shared(np.zeros(3), name="c")
    x, y = T.dvector("x"), T.dvector("y")
    f = T.function([x, y], [], updates=[(a, a + x), (c, c + y)])
    assert len(f.maker.executor.inplace_nodes) == 2
    with pytest.raises(ValueError):
        f(np.ones(3), np.ones(4))          # the second update's shapes do not fit
    np.testing.assert_array_equal(a.get_value(), np.zeros(3))
    np.testing.assert_array_equal(c.get_value(), np.zeros(3))
    f(np.ones(3), np.full(3, 2.0))
    np.testing.assert_array_equal(c.get_value(), np.full(3, 2.0))


def test_the_shared_array_passed_as_an_argument_is_not_written():
    s = T.shared(np.arange(3.0), name="s")
    x = T.dvector("x")
    f = T.function([x], [], updates=[(s, s + x)])
    mine = s.get_value(borrow=True)
    f(mine)                                # the argument is the shared array itself
    np.testing.assert_array_equal(s.get_value(), [0.0, 2.0, 4.0])
    np.testing.assert_array_equal(mine, [0.0, 1.0, 2.0])


def test_an_output_that_views_the_old_value_keeps_the_old_value():
    s = T.shared(np.arange(6.0).reshape(2, 3), name="s")
    f = T.function([], s.T, updates=[(s, s * 2)])
    assert f.maker.executor.inplace_nodes == []
    np.testing.assert_array_equal(f(), np.arange(6.0).reshape(2, 3).T)
    np.testing.assert_array_equal(s.get_value(), 2 * np.arange(6.0).reshape(2, 3))


def test_updates_reading_each_other_use_the_old_values():
    a, c = T.shared(np.ones(2), name="a"), T.shared(np.full(2, 10.0), name="c")
    f = T.function([], [], updates=[(a, a + c), (c, c - a)])
    f()
    np.testing.assert_array_equal(a.get_value(), [11.0, 11.0])
    np.testing.assert_array_equal(c.get_value(), [9.0, 9.0])


def test_a_strided_or_read_only_value_is_updated_out_of_place():
    s = T.shared(np.zeros(3), name="s")
    f = T.function([], [], updates=[(s, s + 1)])
    strided = np.zeros(6)[::2]
    s.set_value(strided, borrow=True)
    f()
    np.testing.assert_array_equal(s.get_value(), np.ones(3))
    np.testing.assert_array_equal(strided, np.zeros(3))
    frozen = np.zeros(3)
    frozen.flags.writeable = False
    s.set_value(frozen, borrow=True)
    f()
    np.testing.assert_array_equal(s.get_value(), np.ones(3))
    np.testing.assert_array_equal(frozen, np.zeros(3))


def test_a_value_of_another_shape_is_updated_in_its_own_array():
    s = T.shared(np.zeros(3), name="s")
    x = T.dvector("x")
    f = T.function([x], [], updates=[(s, s + x)])
    s.set_value(np.zeros(5))
    held = s.get_value(borrow=True)
    f(np.ones(5))
    assert s.get_value(borrow=True) is held
    np.testing.assert_array_equal(held, np.ones(5))
    with pytest.raises(ValueError):
        f(np.ones(3))
    np.testing.assert_array_equal(s.get_value(), np.ones(5))


def test_readers_never_see_a_half_written_update():
    s = T.shared(np.zeros(200_000), name="s")
    bump = T.function([], [], updates=[(s, s + 1)])
    spread = T.function([], s.max() - s.min())
    assert bump.maker.executor.inplace_nodes
    seen, stop = [], threading.Event()

    def read():
        while not stop.is_set():
            seen.append(float(spread()))

    reader = threading.Thread(target=read)
    reader.start()
    for _ in range(200):
        bump()
    stop.set()
    reader.join()
    assert seen and max(seen) == 0.0
    np.testing.assert_array_equal(s.get_value()[:3], [200.0] * 3)
