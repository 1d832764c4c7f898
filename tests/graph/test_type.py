"""TensorType: dtype, static shape / broadcastable pattern, filter rules, identity."""
import numpy as np
import pytest

import symtensor as T
from symtensor.graph.type import TensorType, upcast


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "bool", "uint8"])
def test_dtype_and_broadcastable(dtype):
    t = TensorType(dtype, (False, True))
    assert t.dtype == dtype and t.ndim == 2
    assert t.broadcastable == (False, True)
    assert t.shape == (None, 1)
    v = t("v")
    assert v.type is t and v.dtype == dtype and v.broadcastable == (False, True) and v.name == "v"


def test_static_shape_and_floatx():
    t = TensorType("floatX", shape=(2, None, 1))
    assert t.dtype == T.config.floatX
    assert t.shape == (2, None, 1) and t.broadcastable == (False, False, True)
    assert TensorType("float64", (True, False), shape=(None, 3)).shape == (1, 3)


def test_equality_and_hash():
    a, b = TensorType("float32", (False, True)), TensorType("float32", (False, True))
    assert a == b and hash(a) == hash(b)
    assert len({a, b}) == 1
    assert a != TensorType("float64", (False, True))
    assert a != TensorType("float32", (False, False))
    assert a != TensorType("float32", (False,))
    assert TensorType("float32", shape=(None, 3)) != TensorType("float32", shape=(None, 4))


def test_is_super():
    general, specific = TensorType("float64", shape=(None, None)), TensorType("float64", shape=(2, 3))
    assert general.is_super(specific) and not specific.is_super(general)
    assert not general.is_super(TensorType("float32", shape=(2, 3)))


def test_bad_constructor_arguments():
    with pytest.raises(TypeError, match="unknown dtype 'foo'"):
        TensorType("foo", ())
    with pytest.raises(TypeError, match="broadcastable pattern or a shape"):
        TensorType("float64")
    with pytest.raises(ValueError, match=">= 0 or None"):
        TensorType("float64", shape=(-1,))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "bool"])
def test_filter_exact_dtype_passes_through(rng, dtype):
    t = TensorType(dtype, (False, False))
    value = np.zeros((2, 3), dtype=dtype)
    assert t.filter(value, strict=True) is value
    assert t.filter(value) is value


def test_filter_strict_rejects_other_dtypes_and_non_arrays():
    t = TensorType("float32", (False,))
    with pytest.raises(TypeError, match="expected dtype float32, got float64"):
        t.filter(np.zeros(3), strict=True)
    with pytest.raises(TypeError, match="numpy.ndarray of dtype float32, got list"):
        t.filter([1.0, 2.0], strict=True)


def test_filter_upcast_is_allowed_downcast_is_not():
    t32, t64 = TensorType("float32", (False,)), TensorType("float64", (False,))
    up = t64.filter(np.ones(3, dtype="float32"))
    assert up.dtype == np.float64
    np.testing.assert_array_equal(up, np.ones(3))
    with pytest.raises(TypeError, match="would lose precision.*allow_input_downcast"):
        t32.filter(np.ones(3))
    down = t32.filter(np.full(3, 0.1), allow_downcast=True)
    assert down.dtype == np.float32
    np.testing.assert_array_equal(down, np.full(3, 0.1, dtype="float32"))
    with pytest.raises(TypeError, match="lose precision"):
        TensorType("int32", (False,)).filter(np.ones(3, dtype="int64"))


def test_filter_python_data_is_accepted_when_lossless():
    """Theano's rule: non-ndarray data converts when no value changes."""
    assert TensorType("float32", ()).filter(1.5).dtype == np.float32
    np.testing.assert_array_equal(TensorType("int32", (False,)).filter([1.0, 2.0]), [1, 2])
    assert TensorType("int8", ()).filter(np.int64(100)) == 100
    for dtype, bad in [("float32", 0.1), ("int8", 1000), ("int32", 1.5), ("uint8", -1), ("int32", np.nan)]:
        with pytest.raises(TypeError, match=f"expected dtype {dtype}.*lose precision"):
            TensorType(dtype, ()).filter(bad)
    assert TensorType("int8", ()).filter(1000, allow_downcast=True).dtype == np.int8


def test_filter_python_float_into_floatx():
    with T.change_flags(floatX="float32"):
        assert TensorType("float32", ()).filter(0.1).dtype == np.float32
        with pytest.raises(TypeError, match="lose precision"):
            TensorType("float32", ()).filter(0.1, allow_downcast=False)


def test_filter_checks_ndim_and_broadcastable_dims():
    t = TensorType("float64", (False, True))
    with pytest.raises(TypeError, match="2 dimension.*got one with 1"):
        t.filter(np.zeros(3))
    with pytest.raises(ValueError, match="dimension 1 must be broadcastable"):
        t.filter(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="dimension 0 must be of size 4"):
        TensorType("float64", shape=(4,)).filter(np.zeros(3))
    assert t.filter(np.zeros((0, 1))).shape == (0, 1)


def test_filter_rejects_non_numeric():
    t = TensorType("float64", (False,))
    for bad in ["abc", None, {"a": 1}]:
        with pytest.raises(TypeError, match="expected array-like data"):
            t.filter(bad)
    with pytest.raises(TypeError, match="cannot convert"):
        t.filter([object()])
    assert not t.is_valid_value(np.zeros((2, 2))) and t.is_valid_value(np.zeros(2))


def test_values_eq():
    t = TensorType("float64", (False,))
    assert t.values_eq(np.array([1.0, np.nan]), np.array([1.0, np.nan]))
    assert not t.values_eq(np.zeros(2), np.zeros(3))
    assert t.values_eq_approx(np.ones(2), np.ones(2) + 1e-12)
    assert not t.values_eq_approx(np.ones(2), np.ones(2) + 1e-3)


def test_upcast():
    assert upcast("int32", "float32") == "float64"
    assert upcast("int8", "int16") == "int16"
    assert upcast("float32", "float32") == "float32"


def test_filter_accepts_what_numpy_asarray_accepts():
    """range, array.array, buffers: any sequence np.asarray reads, with the usual dtype rules."""
    import array
    t = TensorType("float64", (False,))
    for value, expected in [(range(4), [0, 1, 2, 3]), (array.array("d", [1.5, 2.5]), [1.5, 2.5]),
                            (memoryview(np.arange(3.0)), [0, 1, 2]), ((1, 2), [1, 2])]:
        out = t.filter(value)
        assert out.dtype == np.float64
        np.testing.assert_array_equal(out, expected)
    ints = TensorType("int8", (False,))
    np.testing.assert_array_equal(ints.filter(range(3)), [0, 1, 2])
    with pytest.raises(TypeError, match="lose precision"):
        ints.filter(range(200, 203))   # 200 does not fit in int8
    np.testing.assert_array_equal(ints.filter(range(200, 202), allow_downcast=True),
                                  np.array([200, 201]).astype("int8"))


def test_filter_rejects_non_numeric_sequences_with_type_error():
    t = TensorType("float64", (False,))
    for bad in [[1.5, "x"], [[1.0], [1.0, 2.0]], iter([1.0, 2.0]), {1.0, 2.0}, b"ab", object()]:
        with pytest.raises(TypeError, match="cannot convert|expected array-like"):
            t.filter(bad)


def test_function_accepts_range_and_names_the_expected_type_once():
    a = T.dvector("a")
    f = T.function([a], a * 2)
    np.testing.assert_array_equal(f(range(5)), [0, 2, 4, 6, 8])
    for bad in ["abc", np.zeros((2, 2)), [1.0, "x"]]:
        with pytest.raises(TypeError) as info:
            f(bad)
        assert str(info.value).count(str(a.type)) == 1, str(info.value)
