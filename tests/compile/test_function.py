"""function(): binding inputs, In/Out, the kinds of outputs, updates, givens, unused inputs,
downcasting, trust_input, and the rule that results never alias the caller's or shared memory."""
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import symtensor as T
from tests.helpers import layouts, rand, tol


# --- inputs and outputs -----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64"])
def test_positional_inputs_every_layout(mode, rng, dtype):
    x = T.TensorType(dtype, (False, False))("x")
    y = T.TensorType(dtype, (False, False))("y")
    f = T.function([x, y], x * 2 + y, mode=mode)
    for name, a in layouts(rng, (3, 4), dtype):
        b = rand(rng, a.shape, dtype)
        a_before, b_before = a.copy(), b.copy()
        out = f(a, b)
        assert out.dtype == np.dtype(dtype), name
        np.testing.assert_allclose(out, a * 2 + b, **tol(dtype) if dtype.startswith("f") else {})
        np.testing.assert_array_equal(a, a_before)
        np.testing.assert_array_equal(b, b_before)


def test_broadcasting_inputs(mode, rng):
    r, m = T.drow("r"), T.dmatrix("m")
    f = T.function([r, m], r + m, mode=mode)
    a, b = rand(rng, (1, 4)), rand(rng, (3, 4))
    np.testing.assert_allclose(f(a, b), a + b)
    with pytest.raises(ValueError, match=r"input 0 \('r'\).*dimension 0 must be broadcastable"):
        f(rand(rng, (3, 4)), b)


def test_named_inputs_by_keyword(mode):
    x, y = T.dvector("x"), T.dvector("y")
    f = T.function([x, y], x - y, mode=mode)
    a, b = np.arange(3.0), np.ones(3)
    np.testing.assert_array_equal(f(y=b, x=a), a - b)
    np.testing.assert_array_equal(f(a, y=b), a - b)


def test_in_default_and_name(mode):
    x, s = T.dvector("x"), T.dscalar("s")
    f = T.function([x, T.In(s, value=2.0, name="scale")], x * s, mode=mode)
    a = np.arange(3.0)
    np.testing.assert_array_equal(f(a), a * 2)
    np.testing.assert_array_equal(f(a, 5.0), a * 5)
    np.testing.assert_array_equal(f(a, scale=3.0), a * 3)
    with pytest.raises(TypeError, match="unknown keyword argument 's'"):
        f(a, s=3.0)  # In(name=) replaces the variable's own name


def test_in_default_array_is_not_written(mode):
    x, y = T.dvector("x"), T.dvector("y")
    default = np.ones(3)
    f = T.function([x, T.In(y, value=default)], y, mode=mode, on_unused_input="ignore")
    out = f(np.zeros(3))
    out[:] = 7
    np.testing.assert_array_equal(default, np.ones(3))
    np.testing.assert_array_equal(f(np.zeros(3)), np.ones(3))


def test_in_update_replaces_the_default_after_each_call(mode):
    x, acc = T.dscalar("x"), T.dscalar("acc")
    f = T.function([x, T.In(acc, value=0.0, update=acc + x)], acc, mode=mode)
    assert float(f(1.0)) == 0.0
    assert float(f(2.0)) == 1.0
    assert float(f(0.0)) == 3.0
    assert float(f(0.0, 10.0)) == 10.0  # an explicit value is used, then updated
    assert float(f(0.0)) == 10.0


def test_in_update_without_value_raises():
    s = T.dscalar("s")
    with pytest.raises(ValueError, match="has an update but no default value"):
        T.function([T.In(s, update=s + 1)], s)


def test_one_output_is_an_array_list_and_tuple_give_lists(mode):
    x = T.dvector("x")
    a = np.arange(3.0)
    single = T.function([x], x + 1, mode=mode)(a)
    assert isinstance(single, np.ndarray)
    np.testing.assert_array_equal(single, a + 1)
    for outputs in ([x + 1, x * 2], (x + 1, x * 2)):
        res = T.function([x], outputs, mode=mode)(a)
        assert isinstance(res, list) and len(res) == 2
        np.testing.assert_array_equal(res[0], a + 1)
        np.testing.assert_array_equal(res[1], a * 2)
    one = T.function([x], [x + 1], mode=mode)(a)
    assert isinstance(one, list) and len(one) == 1


def test_outputs_none_applies_updates_and_returns_empty_list(mode):
    s = T.shared(np.zeros(2), name="s")
    f = T.function([], updates=[(s, s + 1)], mode=mode)
    assert f() == []
    np.testing.assert_array_equal(s.get_value(), np.ones(2))


def test_python_lists_and_scalars_as_inputs(mode):
    x, k = T.dmatrix("x"), T.iscalar("k")
    f = T.function([x, k], x * k, mode=mode)
    np.testing.assert_array_equal(f([[1, 2], [3, 4]], 3), np.array([[3.0, 6.0], [9.0, 12.0]]))
    v = T.fvector("v")
    g = T.function([v], v + 1, mode=mode)
    out = g([1, 2, 3])  # Python ints that fit convert without loss
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [2, 3, 4])


def test_function_with_only_constants_and_name(mode):
    f = T.function([], T.constant(np.arange(3.0)) * 2, mode=mode, name="doubler")
    np.testing.assert_array_equal(f(), [0.0, 2.0, 4.0])
    assert f.name == "doubler" and "doubler" in repr(f)
    assert f.maker.fgraph.outputs[0].ndim == 1


# --- updates -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["pairs", "tuple", "dict", "OrderedDict"])
def test_update_containers(mode, kind):
    a = T.shared(np.zeros(2), name="a")
    b = T.shared(np.ones(2), name="b")
    pairs = [(a, a + 1), (b, b * 3)]
    updates = {"pairs": pairs, "tuple": tuple(pairs), "dict": dict(pairs), "OrderedDict": OrderedDict(pairs)}[kind]
    f = T.function([], [], updates=updates, mode=mode)
    f()
    f()
    np.testing.assert_array_equal(a.get_value(), [2.0, 2.0])
    np.testing.assert_array_equal(b.get_value(), [9.0, 9.0])


def test_updates_applied_after_every_output(mode):
    a = T.shared(np.array([1.0, 2.0]), name="a")
    b = T.shared(np.array([10.0, 20.0]), name="b")
    f = T.function([], [a * 1, b * 1, a + b], updates=[(a, b), (b, a)], mode=mode)
    out_a, out_b, total = f()
    np.testing.assert_array_equal(out_a, [1.0, 2.0])  # outputs see the values before any update
    np.testing.assert_array_equal(out_b, [10.0, 20.0])
    np.testing.assert_array_equal(total, [11.0, 22.0])
    np.testing.assert_array_equal(a.get_value(), [10.0, 20.0])  # both updates saw the old values
    np.testing.assert_array_equal(b.get_value(), [1.0, 2.0])


def test_failed_call_leaves_shared_variables_unchanged(mode):
    s = T.shared(np.zeros(3), name="s")
    x = T.dvector("x")
    # the update is fine for any length; the second output fails on a length other than 3
    f = T.function([x], [x.sum(), x + np.ones(3)], updates=[(s, s + x.sum())], mode=mode)
    f(np.ones(3))
    np.testing.assert_array_equal(s.get_value(), [3.0, 3.0, 3.0])
    with pytest.raises(ValueError):
        f(np.ones(4))
    np.testing.assert_array_equal(s.get_value(), [3.0, 3.0, 3.0])
    f(np.ones(3))  # and the function still works afterwards
    np.testing.assert_array_equal(s.get_value(), [6.0, 6.0, 6.0])


def test_update_with_broadcastable_expression_is_accepted(mode):
    s = T.shared(np.zeros((2, 3)), name="s")
    r = T.drow("r")
    f = T.function([r], [], updates=[(s, s + r)], mode=mode)
    f(np.ones((1, 3)))
    np.testing.assert_array_equal(s.get_value(), np.ones((2, 3)))


def test_default_update_and_no_default_updates(mode):
    counter = T.shared(np.int64(0), name="counter")
    counter.default_update = counter + 1
    f = T.function([], counter * 10, mode=mode)
    assert [int(f()) for _ in range(3)] == [0, 10, 20]
    assert int(counter.get_value()) == 3
    g = T.function([], counter * 10, mode=mode, no_default_updates=True)
    g()
    h = T.function([], counter * 10, mode=mode, no_default_updates=[counter])
    h()
    assert int(counter.get_value()) == 3
    explicit = T.function([], counter * 1, mode=mode, updates=[(counter, counter + 5)])
    explicit()
    assert int(counter.get_value()) == 8  # an explicit update wins over the default one


# --- givens --------------------------------------------------------------------------------------
@pytest.mark.parametrize("as_pairs", [False, True])
def test_givens(mode, as_pairs):
    x, y = T.dvector("x"), T.dvector("y")
    givens = [(y, x * 2)] if as_pairs else {y: x * 2}
    f = T.function([x], x + y, givens=givens, mode=mode)
    np.testing.assert_array_equal(f(np.arange(3.0)), np.arange(3.0) * 3)


def test_givens_replace_a_shared_variable_and_apply_to_updates(mode):
    data = T.shared(np.arange(10.0), name="data")
    total = T.shared(np.float64(0), name="total")
    i = T.lscalar("i")
    batch = T.dvector("batch")
    f = T.function([i], batch.sum(), updates=[(total, total + batch.sum())],
                   givens={batch: data[i * 2:(i + 1) * 2]}, mode=mode)
    assert float(f(0)) == 1.0
    assert float(f(2)) == 9.0
    assert float(total.get_value()) == 10.0


# --- unused inputs ---------------------------------------------------------------------------------
def test_on_unused_input(mode):
    x, y = T.dvector("x"), T.dvector("y")
    with pytest.raises(T.UnusedInputError, match=r"input 1 \(y\) is not used"):
        T.function([x, y], x * 2, mode=mode)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f = T.function([x, y], x * 2, mode=mode, on_unused_input="warn")
    assert any("input 1 (y) is not used" in str(w.message) and w.filename == __file__ for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = T.function([x, y], x * 2, mode=mode, on_unused_input="ignore")
    for fn in (f, g):
        np.testing.assert_array_equal(fn(np.ones(2), np.zeros(2)), [2.0, 2.0])


def test_on_unused_input_from_config():
    x, y = T.dvector("x"), T.dvector("y")
    with T.config.change_flags(on_unused_input="ignore"):
        f = T.function([x, y], x)
    np.testing.assert_array_equal(f(np.ones(1), np.ones(1)), [1.0])


# --- downcasting ---------------------------------------------------------------------------------
def test_allow_input_downcast(mode):
    x = T.fvector("x")
    a64 = np.array([1.5, 2.25])
    strict = T.function([x], x * 2, mode=mode)
    with pytest.raises(TypeError, match=r"input 0 \('x'\).*expected dtype float32, got float64"):
        strict(a64)
    loose = T.function([x], x * 2, mode=mode, allow_input_downcast=True)
    out = loose(a64)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [3.0, 4.5])


def test_allow_input_downcast_per_input_and_python_floats(mode):
    x, y = T.fvector("x"), T.fvector("y")
    f = T.function([T.In(x, allow_downcast=True), y], x + y, mode=mode)
    a64, a32 = np.ones(2), np.ones(2, dtype="float32")
    np.testing.assert_array_equal(f(a64, a32), [2.0, 2.0])
    with pytest.raises(TypeError, match=r"input 1 \('y'\)"):
        f(a32, a64)
    s = T.fscalar("s")
    with T.config.change_flags(floatX="float32"):
        g = T.function([s], s * 2, mode=mode)
        assert g(1.5).dtype == np.float32  # a Python float goes to floatX when downcast is None
    h = T.function([s], s * 2, mode=mode, allow_input_downcast=False)
    with T.config.change_flags(floatX="float32"):
        with pytest.raises(TypeError, match="input 0 \\('s'\\)"):
            h(0.1)  # not exactly representable in float32


# --- trust_input -----------------------------------------------------------------------------------
def test_trust_input_skips_conversion(mode):
    x = T.dvector("x")
    f = T.function([x], x * 2, mode=mode, trust_input=True)
    assert f.trust_input
    np.testing.assert_array_equal(f(np.arange(3.0)), [0.0, 2.0, 4.0])
    f.trust_input = False
    with pytest.raises(TypeError, match="input 0"):
        f(np.arange(3.0, dtype="float32").reshape(3, 1))
    f.trust_input = True
    np.testing.assert_array_equal(f(x=np.ones(2)), [2.0, 2.0])  # keywords still bind


# --- aliasing ----------------------------------------------------------------------------------------
def test_outputs_do_not_alias_inputs_unless_borrowed(mode):
    x = T.dvector("x")
    a = np.arange(3.0)
    out = T.function([x], x, mode=mode)(a)
    assert not np.shares_memory(out, a)
    out[:] = -1
    np.testing.assert_array_equal(a, np.arange(3.0))
    out_view = T.function([x], x[::-1], mode=mode)(a)
    assert not np.shares_memory(out_view, a)
    borrowed = T.function([x], T.Out(x, borrow=True), mode="FAST_COMPILE")(a)
    np.testing.assert_array_equal(borrowed, a)


def test_outputs_do_not_alias_each_other(mode):
    x = T.dvector("x")
    y = x * 2
    out1, out2 = T.function([x], [y, y], mode=mode)(np.ones(3))
    assert not np.shares_memory(out1, out2)
    out1[:] = 0
    np.testing.assert_array_equal(out2, [2.0, 2.0, 2.0])


def test_outputs_do_not_alias_shared_storage(mode):
    s = T.shared(np.arange(3.0), name="s")
    out = T.function([], s, mode=mode)()
    out[:] = 9
    np.testing.assert_array_equal(s.get_value(), np.arange(3.0))
    new = s + 1
    f = T.function([], new, updates=[(s, new)], mode=mode)
    res = f()
    res[:] = -5
    np.testing.assert_array_equal(s.get_value(), [1.0, 2.0, 3.0])


def test_updates_do_not_alias_inputs_or_other_shared(mode):
    a = T.shared(np.zeros(3), name="a")
    b = T.shared(np.arange(3.0), name="b")
    x = T.dvector("x")
    arr = np.ones(3)
    T.function([x], [], updates=[(a, x)], mode=mode)(arr)
    arr[:] = 99
    np.testing.assert_array_equal(a.get_value(), np.ones(3))
    T.function([], [], updates=[(a, b)], mode=mode)()
    assert not np.shares_memory(a.get_value(borrow=True), b.get_value(borrow=True))
    T.function([], [], updates=[(a, T.constant(np.full(3, 4.0)))], mode=mode)()
    a.get_value(borrow=True)[:] = 5  # the stored value is writable, not a read-only constant
    np.testing.assert_array_equal(a.get_value(), np.full(3, 5.0))


def test_results_are_fresh_on_every_call(mode):
    x = T.dvector("x")
    f = T.function([x], x + 1, mode=mode)
    first = f(np.zeros(2))
    second = f(np.ones(2))
    np.testing.assert_array_equal(first, [1.0, 1.0])
    np.testing.assert_array_equal(second, [2.0, 2.0])


def test_copy_shares_state_and_can_swap_or_drop_updates(mode):
    a = T.shared(np.float64(0), name="a")
    b = T.shared(np.float64(100), name="b")
    f = T.function([], a * 1, updates=[(a, a + 1)], mode=mode, name="inc")
    g = f.copy()
    f()
    g()
    assert float(a.get_value()) == 2.0
    h = f.copy(swap={a: b}, name="inc_b")
    assert float(h()) == 100.0 and float(b.get_value()) == 101.0 and h.name == "inc_b"
    frozen = f.copy(delete_updates=True)
    assert float(frozen()) == 2.0 and float(a.get_value()) == 2.0
    with pytest.raises(TypeError, match="swap"):
        f.copy(swap={a: T.shared(np.zeros(2))})
