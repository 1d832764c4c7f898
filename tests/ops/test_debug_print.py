"""Print: an identity op that prints Theano's ``message attr = value`` lines when its output is
computed, in every mode; gradients and tangents pass through; it is not constant-folded."""
import numpy as np
import pytest

import symtensor as T
from symtensor.grad import verify_grad
from symtensor.ops.debug_print import Print
from tests.helpers import check_infer_shape, rand, run


def test_prints_message_and_value_and_returns_the_input(mode, rng, capsys):
    x = T.vector("x")
    out = Print("x is")(x) * 2
    a = np.array([1.5, -2.0])
    got = run(mode, [x], out, a)
    np.testing.assert_array_equal(got, a * 2)
    lines = capsys.readouterr().out.splitlines()
    assert lines, "Print printed nothing"
    assert set(lines) == {f"x is __str__ = {a}"}   # DebugMode computes it twice, identically


def test_custom_attrs_and_global_fn(mode, rng, capsys):
    x = T.matrix("x")
    a = rand(rng, (2, 3))
    run(mode, [x], Print("m", attrs=("shape", "sum"))(x), a)
    lines = set(capsys.readouterr().out.splitlines())
    assert lines == {"m shape = (2, 3)", f"m sum = {a.sum()}"}
    seen = []
    run(mode, [x], Print("cb", global_fn=lambda op, v: seen.append((op.message, v.copy())))(x), a)
    assert seen and seen[0][0] == "cb"
    np.testing.assert_array_equal(seen[0][1], a)


def test_prints_at_run_time_even_for_a_constant(mode, capsys):
    f = T.function([], Print("c")(T.constant(np.array([1.0, 2.0]))), mode=mode)
    capsys.readouterr()           # anything printed while compiling is not the call's
    f()
    assert "c __str__ = [1. 2.]" in capsys.readouterr().out


def test_gradient_and_rop_pass_through(mode, rng, capsys):
    x, v = T.vector("x"), T.vector("v")
    y = Print("p")(x) ** 2
    g, r = T.grad(T.sum(y), x), T.Rop(y, x, v)
    a, vv = rand(rng, (3,)), rand(rng, (3,))
    got_g, got_r = run(mode, [x, v], [g, r], a, vv)
    np.testing.assert_allclose(got_g, 2 * a)
    np.testing.assert_allclose(got_r, 2 * a * vv)
    verify_grad(lambda t: Print("p", global_fn=lambda op, v: None)(t) * t, [rand(rng, (2, 2))], rng=rng)


def test_infer_shape_and_type(mode, rng):
    x = T.tensor3("x")
    out = Print("s", global_fn=lambda op, v: None)(x)
    assert out.type == x.type
    check_infer_shape(mode, [x], out, [rand(rng, (2, 0, 3))], (2, 0, 3))


def test_equal_props_compare_equal():
    assert Print("a") == Print("a") and Print("a") != Print("b")
    assert Print("a", attrs="shape").attrs == ("shape",)
    assert str(Print("msg")) == "Print{msg}"
