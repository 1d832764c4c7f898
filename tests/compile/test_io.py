"""In and Out: their options and how function() uses them."""
import numpy as np
import pytest

import symtensor as T


def test_in_attributes():
    x = T.dvector("x")
    i = T.In(x)
    assert i.variable is x and i.name == "x" and not i.has_default and i.update is None
    j = T.In(x, name="alias", value=np.zeros(2), strict=True, allow_downcast=False)
    assert j.name == "alias" and j.has_default and j.strict and j.allow_downcast is False
    assert T.In(x, autoname=False).name is None
    assert "alias" in repr(j)


def test_in_strict_refuses_any_conversion(mode):
    x = T.dvector("x")
    f = T.function([T.In(x, strict=True)], x + 1, mode=mode)
    np.testing.assert_array_equal(f(np.zeros(2)), [1.0, 1.0])
    with pytest.raises(TypeError, match=r"input 0 \('x'\).*numpy.ndarray of dtype float64, got list"):
        f([0.0, 1.0])
    with pytest.raises(TypeError, match=r"input 0 \('x'\).*expected dtype float64, got int32"):
        f(np.zeros(2, dtype="int32"))


def test_in_mutable_is_refused():
    with pytest.raises(NotImplementedError, match="mutable"):
        T.In(T.dvector(), mutable=True)


def test_in_update_type_is_checked():
    s = T.dscalar("s")
    with pytest.raises(TypeError, match="float32"):
        T.function([T.In(s, value=0.0, update=T.fscalar("f") * 1)], s)


def test_out_borrow_attributes_and_mixed_outputs(mode):
    x = T.dvector("x")
    o = T.Out(x * 2, borrow=True)
    assert o.borrow and "borrow=True" in repr(o)
    assert not T.Out(x).borrow
    f = T.function([x], [o, T.Out(x + 1), x - 1], mode=mode)
    a, b, c = f(np.ones(2))
    np.testing.assert_array_equal(a, [2.0, 2.0])
    np.testing.assert_array_equal(b, [2.0, 2.0])
    np.testing.assert_array_equal(c, [0.0, 0.0])
    single = T.function([x], T.Out(x * 3), mode=mode)(np.ones(2))
    assert isinstance(single, np.ndarray)
    np.testing.assert_array_equal(single, [3.0, 3.0])


def test_out_borrow_may_return_the_input_itself():
    x = T.dvector("x")
    a = np.arange(2.0)
    assert np.shares_memory(T.function([x], T.Out(x, borrow=True), mode="FAST_COMPILE")(a), a)
    assert not np.shares_memory(T.function([x], T.Out(x, borrow=False), mode="FAST_COMPILE")(a), a)
