"""Shared variables: construction from arrays and Python scalars, get_value/set_value borrow
semantics, type checks on set_value, and use from compiled functions."""
import numpy as np
import pytest

import symtensor as T
from tests.helpers import layouts


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "bool"])
def test_shared_of_arrays_keeps_dtype_and_copies(rng, dtype):
    for name, value in layouts(rng, (3, 2), dtype):
        s = T.shared(value, name="s")
        assert s.dtype == dtype and s.ndim == 2 and s.broadcastable == (False, False), name
        assert s.name == "s"
        assert not np.shares_memory(s.get_value(borrow=True), value) or value.size == 0
        np.testing.assert_array_equal(s.get_value(), value)


def test_shared_borrow_keeps_the_array():
    value = np.zeros(3)
    s = T.shared(value, borrow=True)
    assert s.get_value(borrow=True) is value
    value[0] = 5  # with borrow the caller accepted the aliasing
    assert s.get_value()[0] == 5


@pytest.mark.parametrize("value, dtype", [(3, "int64"), (2.5, "float64"), (True, "bool"),
                                          (np.float32(1.5), "float32"), (1 + 2j, "complex128")])
def test_shared_of_python_scalars(value, dtype):
    s = T.shared(value)
    assert s.dtype == dtype and s.ndim == 0
    assert s.get_value() == value


def test_shared_python_float_ignores_floatx():
    with T.config.change_flags(floatX="float32"):
        assert T.shared(0.5).dtype == "float64"  # as in Theano: a Python float is float64


def test_shared_broadcastable_and_lists():
    s = T.shared(np.zeros((1, 3)), broadcastable=(True, False))
    assert s.broadcastable == (True, False)
    assert T.shared([[1.0, 2.0]]).dtype == "float64"
    with pytest.raises(ValueError, match="broadcastable"):
        s.set_value(np.zeros((2, 3)))


def test_get_value_copies_unless_borrow():
    s = T.shared(np.arange(3.0))
    got = s.get_value()
    got[:] = -1
    np.testing.assert_array_equal(s.get_value(), np.arange(3.0))
    internal = s.get_value(borrow=True)
    assert internal is s.get_value(borrow=True)
    assert s.get_value() is not internal


def test_set_value_copies_unless_borrow():
    s = T.shared(np.zeros(3))
    new = np.arange(3.0)
    s.set_value(new)
    new[:] = 9
    np.testing.assert_array_equal(s.get_value(), np.arange(3.0))
    view = np.arange(6.0)[::2]
    s.set_value(view)
    assert not np.shares_memory(s.get_value(borrow=True), view)
    kept = np.ones(3)
    s.set_value(kept, borrow=True)
    assert s.get_value(borrow=True) is kept


def test_set_value_may_change_shape_but_not_ndim_or_dtype():
    s = T.shared(np.zeros((2, 2)), name="w")
    s.set_value(np.ones((4, 1)))
    assert s.get_value().shape == (4, 1)
    with pytest.raises(TypeError, match=r"set_value of shared variable w.*2 dimension"):
        s.set_value(np.ones(3))
    f32 = T.shared(np.zeros(2, dtype="float32"), name="v")
    with pytest.raises(TypeError, match=r"set_value of shared variable v.*float32"):
        f32.set_value(np.array([0.1, 0.2]))
    f32.set_value(np.array([1, 2], dtype="int8"))  # lossless conversion is fine
    assert f32.get_value().dtype == np.float32


def test_allow_downcast_and_strict_are_kept_for_set_value():
    loose = T.shared(np.zeros(2, dtype="float32"), allow_downcast=True)
    loose.set_value(np.array([0.1, 0.2]))
    np.testing.assert_allclose(loose.get_value(), [0.1, 0.2], rtol=1e-6)
    strict = T.shared(np.zeros(2), strict=True)
    with pytest.raises(TypeError, match="float64"):
        strict.set_value(np.zeros(2, dtype="int32"))


def test_bad_shared_values():
    with pytest.raises(TypeError, match="not a symbolic variable"):
        T.shared(T.dvector())
    with pytest.raises(TypeError):
        T.shared({"a": 1})
    with pytest.raises(TypeError):
        T.shared("text")


def test_function_reads_current_value(mode):
    s = T.shared(np.ones(2), name="s")
    x = T.dvector("x")
    f = T.function([x], x * s, mode=mode)
    np.testing.assert_array_equal(f(np.full(2, 3.0)), [3.0, 3.0])
    s.set_value(np.full(2, 2.0))
    np.testing.assert_array_equal(f(np.full(2, 3.0)), [6.0, 6.0])
    s.set_value(np.full(4, 2.0))  # a new shape serves the same function
    np.testing.assert_array_equal(f(np.ones(4)), np.full(4, 2.0))


def test_update_leaves_copies_alone_and_may_reuse_the_borrowed_array(mode):
    """A copy from get_value() never changes; as in Theano, an array taken with borrow=True
    may receive the update in place (compiled functions do that)."""
    s = T.shared(np.zeros(2), name="s")
    held = s.get_value(borrow=True)
    copied = s.get_value()
    f = T.function([], [], updates=[(s, s + 1)], mode=mode)
    f()
    np.testing.assert_array_equal(copied, [0.0, 0.0])
    np.testing.assert_array_equal(s.get_value(), [1.0, 1.0])
    if mode == "FAST_RUN":
        assert s.get_value(borrow=True) is held
        np.testing.assert_array_equal(held, [1.0, 1.0])


def test_shared_of_scalar_in_a_training_step(mode):
    w = T.shared(np.zeros(3), name="w")
    b = T.shared(0.0, name="b")
    x, y = T.dmatrix("x"), T.dvector("y")
    cost = ((T.dot(x, w) + b - y) ** 2).mean()
    gw, gb = T.grad(cost, [w, b])
    step = T.function([x, y], cost, updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)], mode=mode)
    xv = np.eye(3)
    yv = np.array([1.0, 2.0, 3.0])
    first = float(step(xv, yv))
    for _ in range(50):
        last = float(step(xv, yv))
    assert last < first / 10
    assert b.get_value().shape == () and b.dtype == "float64"


def test_clone_shares_storage_and_zero():
    s = T.shared(np.arange(3.0), name="s")
    c = s.clone()
    assert c is not s and c.type == s.type
    c.set_value(np.ones(3))
    np.testing.assert_array_equal(s.get_value(), np.ones(3))
    s.zero()
    np.testing.assert_array_equal(c.get_value(), np.zeros(3))
