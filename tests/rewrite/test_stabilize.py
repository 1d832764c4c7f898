"""Stabilize and specialize rules: the safer/cheaper graph, unchanged results (NaN/Inf
included), and the cases where each rule must decline."""
import numpy as np
import pytest

import symtensor as T
from symtensor.graph.fg import FunctionGraph
from symtensor.graph.interpreter import Interpreter
from symtensor.rewrite.canonicalize import CANONICALIZE
from symtensor.rewrite.engine import NodePass
from symtensor.rewrite.stabilize import SPECIALIZE, STABILIZE, expm1, log1p, log_sigmoid, pow_specialize

from . import FLOATS, applied, rewrite_and_compare, scalar_op_names

STAB = CANONICALIZE + STABILIZE


@pytest.fixture
def rng():
    return np.random.default_rng(11)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("build", [lambda x: T.log(1 + x), lambda x: T.log(x + 1)])
def test_log1p(rng, dtype, build):
    x = T.vector("x", dtype=dtype)
    fg, log = rewrite_and_compare([x], build(x), rng, passes=STAB)
    assert "log1p" in applied(log)
    assert scalar_op_names(fg) == ["log1p"]


def test_log1p_is_more_accurate():
    x = T.vector("x")
    fg, _ = rewrite_and_compare([x], T.log(1 + x), values=[np.array([1e-20])], passes=STAB)
    assert Interpreter(fg)([np.array([1e-20])])[0][0] == 1e-20


def test_log1p_declines():
    i = T.vector("i", dtype="int8")              # 1 + 127 wraps around in int8
    fg, log = rewrite_and_compare([i], T.log(1 + i), values=[np.array([127, 3], dtype="int8")], passes=STAB)
    assert "log1p" not in applied(log)
    m = T.vector("m")                            # a 1 that broadcasts x to a matrix
    fg, log = rewrite_and_compare([m], T.log(np.ones((2, 1)) + m), np.random.default_rng(0), passes=STAB)
    assert "log1p" not in applied(log)
    x = T.vector("x")
    fg, log = rewrite_and_compare([x], T.log(2 + x), np.random.default_rng(0), passes=STAB)
    assert "log1p" not in applied(log)


@pytest.mark.parametrize("dtype", FLOATS)
def test_expm1(rng, dtype):
    x = T.vector("x", dtype=dtype)
    fg, log = rewrite_and_compare([x], T.exp(x) - 1, rng, passes=STAB)
    assert "expm1" in applied(log)
    assert scalar_op_names(fg) == ["expm1"]


def test_expm1_declines():
    x = T.vector("x")
    fg, log = rewrite_and_compare([x], T.exp(x) - 2, np.random.default_rng(0), passes=STAB)
    assert "expm1" not in applied(log)
    fg, log = rewrite_and_compare([x], 1 - T.exp(x), np.random.default_rng(0), passes=STAB)
    assert "expm1" not in applied(log)


@pytest.mark.parametrize("dtype", FLOATS)
def test_log_sigmoid(rng, dtype):
    x = T.vector("x", dtype=dtype)
    fg, log = rewrite_and_compare([x], T.log(T.sigmoid(x)), rng, passes=STAB)
    assert "log_sigmoid" in applied(log)
    assert "sigmoid" not in scalar_op_names(fg) and "softplus" in scalar_op_names(fg)
    big = np.array([-200.0, -50.0, 0.0, 50.0], dtype=dtype)   # log(sigmoid(-200)) is -inf unrewritten
    got = Interpreter(fg)([big])[0]
    np.testing.assert_allclose(got, -np.logaddexp(0, -big.astype("float64")), rtol=1e-5)


@pytest.mark.parametrize("dtype", FLOATS)
def test_log_one_minus_sigmoid(rng, dtype):
    x = T.vector("x", dtype=dtype)
    vals = [np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 3.0, -4.0, 1.5], dtype=dtype)]
    fg, log = rewrite_and_compare([x], T.log(1 - T.sigmoid(x)), values=vals, passes=STAB)
    assert "log_sigmoid" in applied(log)
    assert scalar_op_names(fg) == ["softplus", "neg"]
    # where 1 - sigmoid(x) rounds to 0 the original is -inf; the rewrite stays finite
    np.testing.assert_allclose(Interpreter(fg)([np.array([1e30, 10.0], dtype=dtype)])[0], [-1e30, -10.0000454],
                               rtol=1e-6)


def test_log_sigmoid_declines_on_ints():
    i = T.vector("i", dtype="int8")              # -(-128) wraps around in int8
    vals = [np.array([-128, -3, 0, 5, 127], dtype="int8")]
    fg, log = rewrite_and_compare([i], T.log(T.sigmoid(i)), values=vals, passes=STAB)
    assert "log_sigmoid" not in applied(log)
    fg, log = rewrite_and_compare([i], T.log(1 - T.sigmoid(i)), values=vals, passes=STAB)
    assert "log_sigmoid" not in applied(log)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("exponent, name", [(2, "sqr"), (0.5, "sqrt"), (-1, "inv")])
def test_pow_specialize(rng, dtype, exponent, name):
    x = T.vector("x", dtype=dtype)
    vals = [np.array([np.nan, np.inf, 0.0, -0.0, 2.5, -3.0, 1e-30, 7.0], dtype=dtype)]
    fg, log = rewrite_and_compare([x], x ** exponent, values=vals, passes=CANONICALIZE + SPECIALIZE)
    assert "pow_specialize" in applied(log)
    assert scalar_op_names(fg) == [name]


def test_pow_specialize_sqrt_of_minus_inf_is_the_documented_difference():
    x = T.vector("x")
    fg = FunctionGraph([x], [x ** 0.5])
    log = NodePass("p", [pow_specialize])
    from symtensor.rewrite.engine import Phase, Pipeline
    Pipeline([Phase("s", [log])]).run(fg)
    assert np.isnan(Interpreter(fg)([np.array([-np.inf])])[0][0])


def test_pow_specialize_declines():
    i = T.vector("i", dtype="int32")
    fg, log = rewrite_and_compare([i], i ** 2, np.random.default_rng(0), passes=SPECIALIZE)
    assert "pow_specialize" not in applied(log)
    f = T.vector("f", dtype="float32")           # a float64 exponent makes the result float64
    fg, log = rewrite_and_compare([f], f ** T.constant(np.float64(2)), np.random.default_rng(0),
                                  passes=SPECIALIZE)
    assert "pow_specialize" not in applied(log)
    r = T.row("r")                               # an exponent that broadcasts r to a matrix
    fg, log = rewrite_and_compare([r], r ** np.full((3, 1), 2.0), np.random.default_rng(0),
                                  passes=SPECIALIZE)
    assert "pow_specialize" not in applied(log)
    x = T.vector("x")
    fg, log = rewrite_and_compare([x], x ** 3, np.random.default_rng(0), passes=SPECIALIZE)
    assert "pow_specialize" not in applied(log)


def test_stabilize_rewrites_with_other_clients_keep_the_intermediate(rng):
    x = T.vector("x")
    s = 1 + x
    fg, log = rewrite_and_compare([x], [T.log(s), s * 2], rng, passes=STAB)
    assert "log1p" in applied(log)
    assert set(scalar_op_names(fg)) == {"log1p", "add", "mul"}


def test_rules_are_named_and_documented():
    for rule in (log1p, expm1, log_sigmoid, pow_specialize):
        assert rule.name and rule.__doc__


def test_sigmoid_pattern_rule():
    """1 / (1 + exp(-x)) and 1 / (1 + exp(u)) become sigmoid, so log(...) becomes softplus."""
    import numpy as np
    import symtensor as T
    from symtensor.graph.fg import FunctionGraph
    from symtensor.graph.interpreter import Interpreter
    from symtensor.rewrite import optimize
    x, u = T.dvector("x"), T.dvector("u")
    outs = [1 / (1 + T.exp(-x)), T.log(1 / (1 + T.exp(u)))]
    fg = FunctionGraph([x, u], outs)
    log = optimize(fg, excluded=("fuse",))
    assert log.count("sigmoid_pattern") == 2
    names = {n.op.scalar_op.name for n in fg.toposort() if hasattr(n.op, "scalar_op")}
    assert "true_div" not in names and "exp" not in names and {"sigmoid", "softplus"} <= names
    xv = np.array([-800.0, -3.0, 0.0, 5.0, 800.0])
    got = Interpreter(fg)([xv, xv])
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(got[0], 1 / (1 + np.exp(-xv)))
    np.testing.assert_allclose(got[1], -np.logaddexp(0, xv))      # finite where log(1/(1+e^800)) is -inf
