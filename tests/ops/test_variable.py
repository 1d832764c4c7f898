"""Python operators and methods of tensor variables (ops/variable.py), against numpy.

Python scalars are weak as in numpy 2 (``fvector + 2.5`` stays float32), numpy arrays and
numpy scalars are strong; ``ndarray + variable`` builds a graph (``__array_ufunc__``).
"""
import operator

import numpy as np
import pytest

import symtensor as T
from tests.helpers import run, tol


def vals(rng, shape, dtype, positive=False):
    """Non-zero values (safe divisors): +-[1, 4] for ints, +-[0.5, 3] for floats, random bools."""
    kind = np.dtype(dtype).kind
    if kind == "b":
        return rng.random(shape) < 0.5
    mag = rng.integers(1, 5, size=shape) if kind in "iu" else rng.uniform(0.5, 3, size=shape)
    sign = 1 if positive or kind == "u" else np.where(rng.random(shape) < 0.5, -1, 1)
    return (mag * sign).astype(dtype)


def same(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape
    if want.dtype.kind in "fc":
        np.testing.assert_allclose(got, want, equal_nan=True, **tol(want.dtype))
    else:
        np.testing.assert_array_equal(got, want)


def sym(value, name):
    return T.TensorType(str(value.dtype), shape=(None,) * value.ndim)(name)


# --- arithmetic operators ----------------------------------------------------------------------------
ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
         "//": operator.floordiv, "%": operator.mod, "**": operator.pow}
DTYPE_PAIRS = [("float64", "float64"), ("float32", "float32"), ("int32", "int32"), ("int64", "float32"),
               ("int8", "int32"), ("uint8", "uint8")]


@pytest.mark.parametrize("dx,dy", DTYPE_PAIRS)
@pytest.mark.parametrize("sym_op", sorted(ARITH))
def test_arithmetic_operator_matches_numpy(mode, rng, sym_op, dx, dy):
    """var op var, var op / op var with Python ints and floats, and with numpy arrays, both sides."""
    op = ARITH[sym_op]
    positive = sym_op == "**"
    a, b = vals(rng, (3, 4), dx, positive), vals(rng, (3, 4), dy, positive)
    if sym_op == "**" and np.dtype(dy).kind in "iu":
        b = b % 3  # no negative integer powers
    c = vals(rng, (4,), dy, positive)  # a numpy array operand (strong, broadcast)
    x, y = sym(a, "x"), sym(b, "y")
    exprs = [(op(x, y), op(a, b)), (op(x, 3), op(a, 3)), (op(3, x), op(3, a)), (op(x, 2.5), op(a, 2.5)),
             (op(2.5, x), op(2.5, a)), (op(c, x), op(c, a)), (op(x, c), op(a, c))]
    if np.dtype(dx).kind in "iu" and sym_op == "**":
        exprs = exprs[:2] + exprs[3:]  # 3 ** (negative int) is an error in numpy too
    with np.errstate(all="ignore"):
        got = run(mode, [x, y], [e for e, _ in exprs], a, b)
    for g, (e, want) in zip(got, exprs):
        assert e.dtype == str(want.dtype), (e, e.dtype, want.dtype)
        same(g, want)


@pytest.mark.parametrize("dtype,scalar", [
    ("float32", 2.5), ("float32", 3), ("float32", True), ("int32", 3), ("int8", 3), ("uint8", 3),
    ("int32", 2.5), ("bool", 1), ("bool", True), ("float32", np.float64(2)), ("float32", np.float32(2)),
    ("int8", np.int64(3)), ("float64", 2.5), ("int64", -7)])
@pytest.mark.parametrize("sym_op", ["+", "*", "-", "/"])
def test_python_scalars_are_weak_numpy_scalars_strong(rng, dtype, scalar, sym_op):
    if dtype == "bool" and sym_op == "-":
        scalar = 1  # bool - bool has no numpy loop
    a = vals(rng, (4,), dtype)
    x = sym(a, "x")
    with np.errstate(all="ignore"):  # True / False is a division by zero
        cases = [(ARITH[sym_op](x, scalar), ARITH[sym_op](a, scalar)),
                 (ARITH[sym_op](scalar, x), ARITH[sym_op](scalar, a))]
        for expr, want in cases:
            assert expr.dtype == str(want.dtype)
            same(run("FAST_COMPILE", [x], expr, a), want)


def test_fvector_plus_python_float_stays_float32():
    fv = T.fvector("fv")
    assert (fv + 2.5).dtype == (2.5 * fv).dtype == (fv / 3).dtype == (fv ** 2).dtype == "float32"
    assert T.maximum(fv, 2.5).dtype == T.clip(fv, 0, 1).dtype == T.switch(fv > 0, fv, 0).dtype == "float32"
    assert (T.ivector() + 2.5).dtype == "float64" and (T.ivector() + 3).dtype == "int32"


def test_switch_condition_dtype_does_not_promote_the_values(mode):
    c, f, i = T.dvector("c"), T.fvector("f"), T.ivector("i")
    assert T.switch(c, f, 0).dtype == "float32" and T.where(i, f, 2.5).dtype == "float32"
    assert T.switch(c, i, 3).dtype == "int32" and T.switch(1, f, 0).dtype == "float32"
    got = run(mode, [c, f], T.switch(c, f, 0), np.array([0.0, 2.0]), np.array([1, 2], "float32"))
    same(got, np.where(np.array([0.0, 2.0]), np.array([1, 2], "float32"), 0))


def test_comparison_with_out_of_range_python_int_is_exact_as_in_numpy(mode):
    u, b = T.vector("u", dtype="uint8"), T.bvector("b")
    a, c = np.array([0, 200], "uint8"), np.array([-128, 127], "int8")
    exprs = [(u < -1, a < -1), (T.eq(u, 300), a == 300), (b >= -200, c >= -200), (1000 > b, 1000 > c)]
    for g, (e, want) in zip(run(mode, [u, b], [e for e, _ in exprs], a, c), exprs):
        same(g, want)
    with pytest.raises(ValueError, match="300 does not fit the dtype uint8"):
        T.maximum(u, 300)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int8", "int32", "uint8", "bool"])
def test_unary_operators(mode, rng, dtype):
    a = vals(rng, (3, 4), dtype)
    x = sym(a, "x")
    assert +x is x
    exprs = [(abs(x), np.abs(a)), (T.abs_(x), np.abs(a))]
    if dtype != "bool":
        exprs.append((-x, -a))
    else:
        with pytest.raises(TypeError, match="neg is not defined for input dtype"):
            -x
    if np.dtype(dtype).kind in "biu":
        exprs.append((~x, ~a))
    else:
        with pytest.raises(TypeError, match="invert: input 0 has dtype"):
            ~x
    got = run(mode, [x], [e for e, _ in exprs], a)
    for g, (e, want) in zip(got, exprs):
        assert e.dtype == str(want.dtype)
        same(g, want)


def test_divmod_and_floor_semantics_of_negative_numbers(mode):
    x, i = T.dvector("x"), T.ivector("i")
    a, b = np.array([-7.5, -1.0, 4.0, 7.25]), np.array([-7, -1, 4, 7], "int32")
    q, r = divmod(x, 3)
    qi, ri = divmod(i, -3)
    rq, rr = divmod(10, i)
    got = run(mode, [x, i], [q, r, qi, ri, rq, rr], a, b)
    for g, want in zip(got, [a // 3, a % 3, b // -3, b % -3, 10 // b, 10 % b]):
        same(g, want)


# --- comparisons -------------------------------------------------------------------------------------
COMPARE = [("<", operator.lt, T.lt), ("<=", operator.le, T.le), (">", operator.gt, T.gt),
           (">=", operator.ge, T.ge)]


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "uint8"])
def test_comparison_operators_and_functions(mode, rng, dtype):
    a = vals(rng, (3, 4), dtype)
    b = np.where(rng.random((3, 4)) < 0.4, a, vals(rng, (3, 4), dtype))  # with ties
    x, y = sym(a, "x"), sym(b, "y")
    exprs = []
    for _, op, fn in COMPARE:
        exprs += [(op(x, y), op(a, b)), (fn(x, y), op(a, b)), (op(x, 2), op(a, 2)), (op(2, x), op(2, a)),
                  (op(x, 2.5), op(a, 2.5)), (op(b, x), op(b, a))]
    exprs += [(T.eq(x, y), a == b), (T.neq(x, y), a != b), (T.eq(x, 2), a == 2), (T.neq(2.5, x), 2.5 != a)]
    got = run(mode, [x, y], [e for e, _ in exprs], a, b)
    for g, (e, want) in zip(got, exprs):
        assert e.dtype == "bool"
        same(g, want)


def test_equality_operators_are_identity_as_in_theano():
    x, y = T.dvector("x"), T.dvector("y")
    assert (x == x) is True and (x == y) is False and (x != y) is True
    assert len({x, y, x}) == 2 and hash(x) == object.__hash__(x)


# --- bitwise -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["bool", "int8", "int32", "uint8"])
def test_bitwise_operators(mode, rng, dtype):
    a, b = vals(rng, (3, 4), dtype), vals(rng, (3, 4), dtype)
    x, y = sym(a, "x"), sym(b, "y")
    k = True if dtype == "bool" else 3
    exprs = [(x & y, a & b), (x | y, a | b), (x ^ y, a ^ b), (~x, ~a), (x & k, a & k), (k | x, k | a),
             (k ^ x, k ^ a), (T.and_(x, y), a & b), (T.or_(x, y), a | b), (T.xor(x, y), a ^ b),
             (T.invert(x), ~a), (T.bitwise_and(x, y), a & b)]
    got = run(mode, [x, y], [e for e, _ in exprs], a, b)
    for g, (e, want) in zip(got, exprs):
        assert e.dtype == str(want.dtype)
        same(g, want)


def test_bitwise_operator_on_floats_is_a_build_error_naming_the_line():
    x = T.dvector("x")
    for build in (lambda: x & 1, lambda: 1 | x, lambda: x ^ T.ivector(), lambda: ~x):
        with pytest.raises(TypeError, match=r"input \d has dtype float64, expected one of: bool, signed int"
                           ) as err:
            build()
        assert "test_variable.py" in str(err.value)


# --- numpy interplay and misuse ------------------------------------------------------------------------
def test_numpy_ufuncs_on_variables_build_graphs(mode, rng):
    x = T.dvector("x")
    a, c = vals(rng, (5,), "float64", positive=True), vals(rng, (5,), "float64")
    exprs = [(np.exp(x), np.exp(a)), (np.sin(x), np.sin(a)), (np.abs(x), np.abs(a)),
             (np.sqrt(x), np.sqrt(a)), (np.log1p(x), np.log1p(a)), (np.maximum(c, x), np.maximum(c, a)),
             (np.true_divide(c, x), c / a), (np.arctan2(x, c), np.arctan2(a, c)), (np.square(x), a * a),
             (np.negative(x), -a), (np.floor(x), np.floor(a)), (np.isnan(x), np.isnan(a))]
    for e, _ in exprs:
        assert isinstance(e, T.TensorVariable)
    for g, (_, want) in zip(run(mode, [x], [e for e, _ in exprs], a), exprs):
        same(g, want)
    with pytest.raises(TypeError):
        np.logaddexp(x, 1.0)  # no symbolic counterpart: numpy refuses rather than iterating x


def test_truth_value_iteration_length_and_array_conversion_are_errors():
    x = T.dvector("x")
    with pytest.raises(TypeError, match="no truth value; use symtensor.switch"):
        bool(x > 0)
    with pytest.raises(TypeError, match="cannot be iterated"):
        list(x)
    with pytest.raises(TypeError, match="no Python length; use x.shape"):
        len(x)
    with pytest.raises(TypeError, match="is symbolic and has no value yet"):
        np.asarray(x)


def test_operators_on_constants_and_shared_variables(mode, rng):
    s = T.shared(np.arange(3.0), name="s")
    x = T.dvector("x")
    a = vals(rng, (3,), "float64")
    exprs = [(s * 2 + x, np.arange(3.0) * 2 + a), (T.constant(2.0) ** x, 2.0 ** a),
             (x - s, a - np.arange(3.0)),
             (-s, -np.arange(3.0)), (s.T, np.arange(3.0)), (s.sum(), np.array(3.0))]
    for g, (_, want) in zip(run(mode, [x], [e for e, _ in exprs], a), exprs):
        same(g, want)


# --- methods -----------------------------------------------------------------------------------------
METHODS = [
    ("T", lambda x: x.T, lambda a: a.T),
    ("transpose()", lambda x: x.transpose(), lambda a: a.transpose()),
    ("transpose(1, 0)", lambda x: x.transpose(1, 0), lambda a: a.transpose(1, 0)),
    ("transpose((1, 0))", lambda x: x.transpose((1, 0)), lambda a: a.transpose((1, 0))),
    ("swapaxes", lambda x: x.swapaxes(0, -1), lambda a: a.swapaxes(0, -1)),
    ("astype", lambda x: x.astype("int32"), lambda a: a.astype("int32")),
    ("astype bool", lambda x: x.astype("bool"), lambda a: a.astype("bool")),
    ("sum", lambda x: x.sum(), lambda a: a.sum()),
    ("sum axis", lambda x: x.sum(axis=1, keepdims=True), lambda a: a.sum(axis=1, keepdims=True)),
    ("prod", lambda x: x.prod(axis=0), lambda a: a.prod(axis=0)),
    ("mean", lambda x: x.mean(axis=(0, 1)), lambda a: a.mean(axis=(0, 1))),
    ("var", lambda x: x.var(axis=1), lambda a: a.var(axis=1)),
    ("std", lambda x: x.std(), lambda a: a.std()),
    ("max", lambda x: x.max(axis=0), lambda a: a.max(axis=0)),
    ("min", lambda x: x.min(), lambda a: a.min()),
    ("ptp", lambda x: x.ptp(axis=1), lambda a: np.ptp(a, axis=1)),
    ("argmax", lambda x: x.argmax(axis=1), lambda a: a.argmax(axis=1)),
    ("argmin", lambda x: x.argmin(axis=0), lambda a: a.argmin(axis=0)),
    ("all", lambda x: (x > -1).all(axis=0), lambda a: (a > -1).all(axis=0)),
    ("any", lambda x: (x > 1).any(), lambda a: np.asarray((a > 1).any())),
    ("reshape", lambda x: x.reshape((4, 3)), lambda a: a.reshape((4, 3))),
    ("flatten", lambda x: x.flatten(), lambda a: a.flatten()),
    ("ravel", lambda x: x.ravel(), lambda a: a.ravel()),
    ("dimshuffle", lambda x: x.dimshuffle(1, "x", 0), lambda a: a.T[:, None, :]),
    ("dimshuffle list", lambda x: x.dimshuffle([1, 0]), lambda a: a.T),
    ("clip", lambda x: x.clip(-0.5, 0.5), lambda a: a.clip(-0.5, 0.5)),
    ("exp", lambda x: x.exp(), np.exp),
    ("log", lambda x: abs(x).log(), lambda a: np.log(np.abs(a))),
    ("sqrt", lambda x: abs(x).sqrt(), lambda a: np.sqrt(np.abs(a))),
    ("tanh", lambda x: x.tanh(), np.tanh),
    ("round", lambda x: (x * 2).round("half_to_even"), lambda a: np.round(a * 2)),
    ("copy", lambda x: x.copy(), lambda a: a.copy()),
    ("zeros_like", lambda x: x.zeros_like(), np.zeros_like),
    ("ones_like", lambda x: x.ones_like(dtype="int32"), lambda a: np.ones_like(a, dtype="int32")),
    ("fill", lambda x: x.fill(3.0), lambda a: np.full_like(a, 3.0)),
    ("take", lambda x: x.take([0, 2], axis=1), lambda a: a.take([0, 2], axis=1)),
    ("repeat", lambda x: x.repeat(2, axis=0), lambda a: a.repeat(2, axis=0)),
    ("dot", lambda x: x.dot(x.T), lambda a: a.dot(a.T)),
    ("matmul", lambda x: x @ x.T, lambda a: a @ a.T),
    ("getitem", lambda x: x[1:, ::2], lambda a: a[1:, ::2]),
    ("shape", lambda x: x.shape, lambda a: np.array(a.shape)),
    ("size", lambda x: x.size, lambda a: np.asarray(a.size)),
]


@pytest.mark.parametrize("name,method,ref", METHODS, ids=[m[0] for m in METHODS])
def test_method_matches_numpy(mode, rng, name, method, ref):
    a = rng.standard_normal((3, 4))
    x = T.dmatrix("x")
    got = np.asarray(run(mode, [x], method(x), a))
    want = np.asarray(ref(a))
    assert got.shape == want.shape
    if name in ("shape", "size"):
        np.testing.assert_array_equal(got, want)
    else:
        same(got, want)


def test_attributes_and_copy_name():
    x = T.TensorType("float32", broadcastable=(True, False))("x")
    assert (x.ndim, x.dtype, x.broadcastable, x.name) == (2, "float32", (True, False), "x")
    assert x.copy(name="y").name == "y"
    assert x.T.broadcastable == (False, True)
    with pytest.raises(ValueError, match="swapaxes: axes \\(0, 2\\) are out of range for a 2-d"):
        x.swapaxes(0, 2)
    with pytest.raises(TypeError, match="cast: cannot cast to 'nope'"):
        x.astype("nope")


# --- the public names ----------------------------------------------------------------------------------
def _erf(a):
    import math
    return np.array([math.erf(v) for v in a])


# name -> (numpy reference, number of inputs); inputs in (1, 2], integers for the bitwise ones
API_NAMES = {
    "exp": (np.exp, 1), "log": (np.log, 1), "log2": (np.log2, 1), "log10": (np.log10, 1),
    "log1p": (np.log1p, 1), "expm1": (np.expm1, 1), "sqrt": (np.sqrt, 1), "sqr": (np.square, 1),
    "inv": (lambda a: 1 / a, 1), "abs_": (np.abs, 1), "sgn": (np.sign, 1), "floor": (np.floor, 1),
    "ceil": (np.ceil, 1), "round_half_to_even": (np.round, 1),
    "iround": (lambda a: np.round(a).astype("int64"), 1),
    "sin": (np.sin, 1), "cos": (np.cos, 1), "tan": (np.tan, 1), "arcsin": (lambda a: np.arcsin(a / 2), 1),
    "arccos": (lambda a: np.arccos(a / 2), 1), "arctan": (np.arctan, 1), "arctan2": (np.arctan2, 2),
    "sinh": (np.sinh, 1), "cosh": (np.cosh, 1), "tanh": (np.tanh, 1), "arcsinh": (np.arcsinh, 1),
    "arccosh": (lambda a: np.arccosh(a + 1), 1), "arctanh": (lambda a: np.arctanh(a / 2), 1),
    "erf": (_erf, 1), "erfc": (lambda a: 1 - _erf(a), 1), "maximum": (np.maximum, 2),
    "minimum": (np.minimum, 2), "clip": (np.clip, 3), "switch": (lambda c, a, b: np.where(c, a, b), 3),
    "where": (lambda c, a, b: np.where(c, a, b), 3), "and_": (np.bitwise_and, 2), "or_": (np.bitwise_or, 2),
    "xor": (np.bitwise_xor, 2), "invert": (np.invert, 1), "isnan": (np.isnan, 1), "isinf": (np.isinf, 1),
    "cast": (lambda a: a.astype("float32"), 1), "lt": (np.less, 2), "gt": (np.greater, 2),
    "le": (np.less_equal, 2), "ge": (np.greater_equal, 2), "eq": (np.equal, 2), "neq": (np.not_equal, 2),
    "add": (np.add, 2), "sub": (np.subtract, 2), "mul": (np.multiply, 2), "true_div": (np.true_divide, 2),
    "int_div": (np.floor_divide, 2), "mod": (np.mod, 2), "pow": (np.power, 2), "neg": (np.negative, 1),
    "round": (np.round, 1),
}
_PRE = {"arcsin": lambda x: x / 2, "arccos": lambda x: x / 2, "arctanh": lambda x: x / 2,
        "arccosh": lambda x: x + 1}


@pytest.mark.parametrize("name", sorted(API_NAMES))
def test_api_name_is_reachable_and_computes_its_function(rng, name):
    import symtensor.tensor as TT
    assert callable(getattr(T, name)) and getattr(TT, name) is getattr(T, name)
    ref, nin = API_NAMES[name]
    ints = name in ("and_", "or_", "xor", "invert")
    values = [rng.integers(-5, 6, (6,)) if ints else rng.uniform(1, 2, (6,)) for _ in range(nin)]
    if name == "clip":
        values[1:] = [np.full(6, 1.3), np.full(6, 1.7)]
    if name in ("switch", "where"):
        values[0] = values[0] > 1.5
    xs = [T.TensorType(str(v.dtype), shape=(None,))(f"x{k}") for k, v in enumerate(values)]
    args = [_PRE.get(name, lambda x: x)(xs[0])] + xs[1:]
    out = T.cast(xs[0], "float32") if name == "cast" else getattr(T, name)(*args)
    got = run("FAST_COMPILE", xs, out, *values)
    want = np.asarray(ref(*values))
    assert got.shape == want.shape and got.dtype.kind == want.dtype.kind
    np.testing.assert_allclose(got, want, rtol=1e-6)
