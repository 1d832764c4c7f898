"""The fast call paths (generated per function, per schedule and per elementwise node) give the
same results and raise the same errors as the general paths they short-cut."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import symtensor as T
from symtensor.backends.c import toolchain
from symtensor.backends.c.executor import CExecutor
from symtensor.graph.fg import FunctionGraph
from symtensor.graph.interpreter import Interpreter

from tests.helpers import noncontiguous

needs_compiler = pytest.mark.skipif(toolchain.find_compiler() is None, reason="no C compiler on PATH")


def _error(call):
    """(exception type, message) raised by ``call()``."""
    with pytest.raises(Exception) as info:
        call()
    return type(info.value), str(info.value)


def _unaligned(value: np.ndarray) -> np.ndarray:
    """The same values in a C-contiguous array whose data is not aligned for its dtype."""
    raw = np.zeros(value.nbytes + 1, dtype=np.uint8)[1:]
    out = raw.view(value.dtype).reshape(value.shape)
    out[...] = value
    assert not out.flags.aligned
    return out


class Sub(np.ndarray):
    """An ndarray subclass: the fast path leaves it to the general one."""


# --- Function: positional fast path vs keyword (general) path ------------------------------------------
@pytest.mark.parametrize("trust", [False, True])
def test_fast_and_general_calls_agree_on_every_layout(mode, rng, trust):
    x, y = T.fvector("x"), T.fvector("y")
    f = T.function([x, y], [T.exp(x) * y + 1, x - y], mode=mode, trust_input=trust)
    a = rng.standard_normal(6).astype("float32")
    b = rng.standard_normal(6).astype("float32")
    values = [("contiguous", a), ("strided", noncontiguous(a)), ("unaligned", _unaligned(a)),
              ("subclass", a.view(Sub)), ("byteswapped", a.astype(">f4")), ("zero-size", a[:0])]
    for name, v in values:
        w = b[:len(v)]
        fast, general = f(v, w), f(x=v, y=w)
        for got, ref in zip(fast, general):
            np.testing.assert_allclose(got, ref, rtol=1e-6, err_msg=name)
        np.testing.assert_allclose(fast[1], np.asarray(v, "float32") - w, rtol=1e-6, err_msg=name)


@pytest.mark.parametrize("bad", [np.ones((2, 2), "float32"), np.ones(3, "float64"), "text", None,
                                 np.ones(4, "float32")])
def test_fast_and_general_calls_raise_the_same_error(mode, bad):
    x = T.TensorType("float32", shape=(3,))("x")
    f = T.function([x], x * 2, mode=mode)
    fast, general = _error(lambda: f(bad)), _error(lambda: f(x=bad))
    assert fast == general
    assert "input 0 ('x')" in fast[1]


def test_argument_count_errors_are_unchanged(mode):
    x, y = T.dvector("x"), T.dvector("y")
    f = T.function([x, T.In(y, value=np.ones(2))], x + y, mode=mode)
    np.testing.assert_array_equal(f(np.zeros(2)), [1.0, 1.0])      # default: general path
    with pytest.raises(TypeError, match="takes 2 argument"):
        f(np.zeros(2), np.zeros(2), np.zeros(2))
    with pytest.raises(TypeError, match="unknown keyword"):
        f(np.zeros(2), z=1)


def test_allow_input_downcast_still_converts(mode):
    x = T.fvector("x")
    f = T.function([x], x + 1, mode=mode, allow_input_downcast=True)
    out = f(np.array([0.5, 1.5]))             # float64: converted by the general path
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [1.5, 2.5])
    with pytest.raises(TypeError, match="input 0 \\('x'\\)"):
        T.function([x], x + 1, mode=mode)(np.array([0.5, 1.5]))


# --- outputs: fresh, distinct, never the caller's arrays ----------------------------------------------
def test_fast_outputs_never_alias_inputs_or_each_other(mode):
    x = T.dvector("x")
    y = x * 2
    a = np.arange(3.0)
    f = T.function([x], [y, y, x, x + 0], mode=mode)
    outs = f(a)
    for k, o in enumerate(outs):
        assert not np.shares_memory(o, a), k
        for p in outs[k + 1:]:
            assert not np.shares_memory(o, p)
    np.testing.assert_array_equal(outs[0], outs[1])
    single = T.function([x], T.exp(x), mode=mode)
    first, second = single(a), single(a)
    assert first is not second and not np.shares_memory(first, second)


def test_borrowed_and_fresh_outputs_together(mode):
    x = T.dvector("x")
    a = np.arange(3.0)
    f = T.function([x], [T.Out(x * 3, borrow=True), x + 1], mode=mode)
    three, plus = f(a)
    np.testing.assert_array_equal(three, a * 3)
    np.testing.assert_array_equal(plus, a + 1)
    assert not np.shares_memory(plus, a)


# --- shared variables and updates ----------------------------------------------------------------------
def test_shared_inputs_and_updates_take_the_general_finish(mode):
    w = T.shared(np.ones(3), name="w")
    x = T.dvector("x")
    f = T.function([x], w * x, updates=[(w, w + x)], mode=mode)
    a = np.arange(3.0)
    out = f(a)
    np.testing.assert_array_equal(out, a)
    np.testing.assert_array_equal(w.get_value(), 1 + a)
    assert not np.shares_memory(w.get_value(borrow=True), a)
    before = w.get_value()
    with pytest.raises(ValueError):
        f(np.ones(4))                       # a shape error: nothing is stored
    np.testing.assert_array_equal(w.get_value(), before)


def test_shared_value_read_at_each_call(mode):
    w = T.shared(np.float64(2.0), name="w")
    x = T.dvector("x")
    f = T.function([x], x * w, mode=mode)
    np.testing.assert_array_equal(f(np.ones(2)), [2.0, 2.0])
    w.set_value(np.float64(5.0))
    np.testing.assert_array_equal(f(np.ones(2)), [5.0, 5.0])


# --- trust_input ---------------------------------------------------------------------------------------
def test_trust_input_toggles_the_checks(mode):
    x = T.dvector("x")
    f = T.function([x], x + 1, mode=mode, trust_input=True)
    np.testing.assert_array_equal(f(np.array([1.0, 2.0])), [2.0, 3.0])
    f.trust_input = False
    with pytest.raises(TypeError, match="input 0"):
        f(np.ones((2, 2)))
    f.trust_input = True
    assert f.trust_input


def test_trusted_value_of_the_wrong_rank_is_refused_not_read_out_of_bounds():
    x, y = T.dvector("x"), T.dvector("y")
    f = T.function([x, y], x * y, mode="FAST_RUN", trust_input=True)
    with pytest.raises(ValueError):
        f(np.ones((3, 3)), np.ones(3))
    with pytest.raises(ValueError):
        f(np.ones(3), np.ones(4))


# --- the interpreter's generated schedule --------------------------------------------------------------
def test_generated_schedule_matches_the_checked_loop(rng):
    x, y = T.dvector("x"), T.dvector("y")
    fg = FunctionGraph([x, y], [T.exp(x) * y + x, x, T.constant(np.float64(2.0)), (x * y).sum()])
    values = [rng.standard_normal(4), rng.standard_normal(4)]
    plain, checked = Interpreter(fg), Interpreter(fg, check_outputs=True)
    for got, ref in zip(plain(values), checked(values)):
        np.testing.assert_allclose(got, ref)
    assert plain.plan()[1] == (False, False, False, False)   # perform outputs are not known fresh
    with pytest.raises(TypeError, match="takes 2 value"):
        plain([values[0]])


def test_replacing_steps_regenerates_the_schedule():
    x = T.dvector("x")
    run = Interpreter(FunctionGraph([x], [x * 2]))
    np.testing.assert_array_equal(run([np.ones(2)]), [[2.0, 2.0]])

    def negate(node, inputs, out):
        out[0][0] = -inputs[0]
    run.steps = [(node, negate, ins, outs) for node, _, ins, outs in run.steps]
    np.testing.assert_array_equal(run([np.ones(2)]), [[-1.0, -1.0]])


# --- the elementwise kernel's fast path ----------------------------------------------------------------
@needs_compiler
def test_elemwise_fast_path_matches_general_path(rng):
    x = T.TensorType("float64", shape=(None, None))("x")
    b = T.TensorType("float64", shape=(1, None))("b")
    fg = FunctionGraph([x, b], [T.exp(x) * b + T.constant(np.full((1, 1), 1.5))])
    ex = CExecutor(fg)
    assert ex.n_kernels == 3 and ex.plan()[1] == (True,)
    xv, bv = rng.standard_normal((3, 4)), rng.standard_normal((1, 4))
    for xin, bin_ in [(xv, bv), (noncontiguous(xv), bv), (xv, noncontiguous(bv)), (_unaligned(xv), bv),
                      (xv.astype(">f8"), bv), (xv[:0], bv)]:
        np.testing.assert_allclose(ex([xin, bin_])[0], np.exp(xin) * bin_ + 1.5, rtol=1e-12)
    # the step of (exp(x) * b) + 1.5, whose second operand is a constant
    node, thunk, ins, _ = next(s for s in ex.steps if type(s[2][-1]) is not list)
    direct = thunk.for_node(node)
    prod = np.exp(xv) * bv
    np.testing.assert_allclose(direct(prod, ins[1])[0], prod + 1.5, rtol=1e-12)
    # a value other than the node's constant takes the general path
    np.testing.assert_allclose(direct(prod, np.full((1, 1), 2.5))[0], prod + 2.5, rtol=1e-12)
    with pytest.raises(ValueError, match="does not fit its type"):
        direct(prod, np.full((1, 2), 2.5))


@needs_compiler
def test_elemwise_fast_path_errors_match_general_path():
    x = T.TensorType("float64", shape=(None, None))("x")
    y = T.TensorType("float64", shape=(None, None))("y")
    b = T.TensorType("float64", shape=(1, None))("b")
    ex = CExecutor(FunctionGraph([x, y, b], [x * y + b]))
    node, thunk, _, _ = ex.steps[0]
    for bad in ([np.ones((2, 3)), np.ones((2, 3)), np.ones((2, 3))],    # b not broadcastable
                [np.ones((2, 3)), np.ones(3), np.ones((1, 3))],          # rank
                [np.ones((2, 3)), np.ones((3, 3)), np.ones((1, 3))]):    # sizes
        contiguous = _error(lambda: ex(bad))
        strided = _error(lambda: ex([noncontiguous(v) for v in bad]))
        assert contiguous[0] is strided[0] is ValueError
        assert contiguous[1].split(";")[0].split("(")[0] == strided[1].split(";")[0].split("(")[0]
        assert "while computing" in contiguous[1]


@needs_compiler
def test_concurrent_calls_do_not_share_pointer_arrays(rng):
    x, y = T.dvector("x"), T.dvector("y")
    f = T.function([x, y], T.exp(x) * y, mode="FAST_RUN")
    data = [(rng.standard_normal(50 + k), rng.standard_normal(50 + k)) for k in range(8)]
    errors = []

    def work(a, b):
        for _ in range(300):
            if not np.allclose(f(a, b), np.exp(a) * b):
                errors.append(len(a))

    threads = [threading.Thread(target=work, args=pair) for pair in data]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
