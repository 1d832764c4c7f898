"""Every scalar op of the table (ops/scalar.py), lifted by Elemwise, against numpy.

Each op has a spec: an independent numpy reference and an input domain (log on positives,
arccosh >= 1, ...). The tests run every op on floats and integers, in every layout and mode,
broadcast by flags, on NaN/Inf, and check the derivative (verify_grad in float64), the forward
derivative (Rop, against finite differences) and the build-time errors.

Compiled modes build one native module per function, so each test compiles ONE function
holding every op (each on its own inputs) and reports every op that disagrees, by name.
"""
import math

import numpy as np
import pytest

import symtensor as T
from symtensor.grad import GradientError, verify_grad
from symtensor.ops import scalar as ps
from symtensor.ops.elemwise import Elemwise
from tests.helpers import noncontiguous, run, tol

_erf = np.vectorize(math.erf, otypes=["float64"])
_erfc = np.vectorize(math.erfc, otypes=["float64"])


def _round_away(x):
    if x.dtype.kind != "f":
        return x.copy()
    return (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(x.dtype)


def _iround(x):
    return (_round_away(x) if x.dtype.kind == "f" else x).astype("int64")


def _keep_float(fn):
    """A reference computed in float64 and returned in the input's float dtype."""
    def ref(x):
        out = fn(x.astype("float64"))
        return out.astype(x.dtype) if x.dtype.kind == "f" else out
    return ref


# name -> (numpy reference, float domain per input); a domain is (low, high) or "cond" (a bool mask)
SPECS = {
    "add": (np.add, [(-3, 3), (-3, 3)]),
    "sub": (np.subtract, [(-3, 3), (-3, 3)]),
    "mul": (np.multiply, [(-3, 3), (-3, 3)]),
    "true_div": (np.true_divide, [(-3, 3), (0.5, 3)]),
    "int_div": (np.floor_divide, [(-5, 5), (1, 3)]),
    "mod": (np.mod, [(-5, 5), (1, 3)]),
    "pow": (np.power, [(0.5, 2), (-2, 2)]),
    "maximum": (np.maximum, [(-3, 3), (-3, 3)]),
    "minimum": (np.minimum, [(-3, 3), (-3, 3)]),
    "arctan2": (np.arctan2, [(-3, 3), (-3, 3)]),
    "neg": (np.negative, [(-3, 3)]),
    "abs": (np.abs, [(-3, 3)]),
    "sgn": (np.sign, [(-3, 3)]),
    "exp": (np.exp, [(-3, 3)]),
    "exp2": (np.exp2, [(-3, 3)]),
    "expm1": (np.expm1, [(-3, 3)]),
    "log": (np.log, [(0.5, 5)]),
    "log2": (np.log2, [(0.5, 5)]),
    "log10": (np.log10, [(0.5, 5)]),
    "log1p": (np.log1p, [(-0.5, 5)]),
    "sqrt": (np.sqrt, [(0.5, 5)]),
    "sqr": (np.square, [(-3, 3)]),
    "inv": (lambda x: 1.0 / x, [(0.5, 3)]),
    "floor": (np.floor, [(-5, 5)]),
    "ceil": (np.ceil, [(-5, 5)]),
    "trunc": (np.trunc, [(-5, 5)]),
    "round_half_to_even": (np.round, [(-5, 5)]),
    "round_half_away_from_zero": (_round_away, [(-5, 5)]),
    "iround": (_iround, [(-5, 5)]),
    "sin": (np.sin, [(-3, 3)]),
    "cos": (np.cos, [(-3, 3)]),
    "tan": (np.tan, [(-1.2, 1.2)]),
    "arcsin": (np.arcsin, [(-0.9, 0.9)]),
    "arccos": (np.arccos, [(-0.9, 0.9)]),
    "arctan": (np.arctan, [(-3, 3)]),
    "sinh": (np.sinh, [(-3, 3)]),
    "cosh": (np.cosh, [(-3, 3)]),
    "tanh": (np.tanh, [(-3, 3)]),
    "arcsinh": (np.arcsinh, [(-3, 3)]),
    "arccosh": (np.arccosh, [(1.2, 5)]),
    "arctanh": (np.arctanh, [(-0.9, 0.9)]),
    "erf": (_keep_float(_erf), [(-2, 2)]),
    "erfc": (_keep_float(_erfc), [(-2, 2)]),
    "sigmoid": (_keep_float(lambda x: 1 / (1 + np.exp(-x))), [(-5, 5)]),
    "softplus": (_keep_float(lambda x: np.logaddexp(0.0, x)), [(-5, 5)]),
    "identity": (lambda x: x.copy(), [(-3, 3)]),
    "lt": (np.less, [(-3, 3), (-3, 3)]),
    "gt": (np.greater, [(-3, 3), (-3, 3)]),
    "le": (np.less_equal, [(-3, 3), (-3, 3)]),
    "ge": (np.greater_equal, [(-3, 3), (-3, 3)]),
    "eq": (np.equal, [(-3, 3), (-3, 3)]),
    "neq": (np.not_equal, [(-3, 3), (-3, 3)]),
    "isnan": (np.isnan, [(-3, 3)]),
    "isinf": (np.isinf, [(-3, 3)]),
    "and_": (np.bitwise_and, [(-5, 5), (-5, 5)]),
    "or_": (np.bitwise_or, [(-5, 5), (-5, 5)]),
    "xor": (np.bitwise_xor, [(-5, 5), (-5, 5)]),
    "invert": (np.invert, [(-5, 5)]),
    "clip": (np.clip, [(-3, 3), (-2, -0.5), (0.5, 2)]),
    "switch": (lambda c, a, b: np.where(c != 0, a, b), ["cond", (-3, 3), (-3, 3)]),
    "second": (lambda a, b: np.broadcast_to(b, np.broadcast_shapes(a.shape, b.shape)).copy(),
               [(-3, 3), (-3, 3)]),
}
INT_DOMAINS = {"pow": [(-3, 3), (0, 3)]}  # integers to negative powers are an error in numpy
INT_ONLY = {"and_", "or_", "xor", "invert"}
COMPARISONS = {"lt", "gt", "le", "ge", "eq", "neq"}
FLOAT_RULE = {"inv", "erf", "erfc", "sigmoid", "softplus"}  # ints become float32/float64
ZERO_GRAD = {"int_div", "sgn", "floor", "ceil", "trunc", "round_half_to_even",
             "round_half_away_from_zero", "iround"}  # piecewise constant
DIFFERENTIABLE = sorted(n for n, op in ps.SCALAR_OPS.items() if op.differentiable and n not in ZERO_GRAD)
FLOAT_OPS = sorted(set(SPECS) - INT_ONLY)
SHAPE = (3, 4)


def elemwise(name):
    """The tensor function of a table op (every table op is an Elemwise of its scalar op)."""
    return lambda *args: Elemwise(ps.SCALAR_OPS[name])(*args)


def values(rng, name, dtype, shape=SHAPE):
    """Inputs for ``name`` drawn from its domain, in ``dtype`` (switch's condition stays bool)."""
    domains = INT_DOMAINS.get(name, SPECS[name][1]) if np.dtype(dtype).kind in "iub" else SPECS[name][1]
    out = []
    for dom in domains:
        if dom == "cond":
            out.append(rng.random(shape) < 0.5)
        elif np.dtype(dtype).kind == "b":
            out.append(rng.random(shape) < 0.5)
        elif np.dtype(dtype).kind in "iu":
            lo, hi = math.ceil(dom[0]), math.floor(dom[1])
            if np.dtype(dtype).kind == "u":
                lo, hi = max(lo, 0), max(hi, 0)
            out.append(rng.integers(lo, hi + 1, size=shape).astype(dtype))
        else:
            out.append(rng.uniform(dom[0], dom[1], size=shape).astype(dtype))
    if name in COMPARISONS:  # make about a third of the pairs equal
        out[1] = np.where(rng.random(shape) < 0.3, out[0], out[1])
    return out


def reference(name, vals):
    """numpy's result, computed in at least float32 (numpy gives float16 for small ints)."""
    fn = SPECS[name][0]
    with np.errstate(all="ignore"):
        ref = np.asarray(fn(*vals))
        if ref.dtype == np.float16:
            ref = np.asarray(fn(*[v.astype("float32") for v in vals]))
    return ref


def expected_dtype(name, vals, ref):
    """The output dtype: numpy's, except that float16 results of integer inputs are float32."""
    first = vals[0].dtype
    if name in FLOAT_RULE:
        return first if first.kind == "f" else np.dtype("float32" if first.itemsize <= 2 else "float64")
    if name == "iround":
        return np.dtype("int64")
    if name == "round_half_away_from_zero":
        return first
    if name == "switch":
        return np.result_type(vals[1], vals[2])
    if name == "second":
        return vals[1].dtype
    return ref.dtype


def assert_matches(got, ref, dtype):
    got = np.asarray(got)
    assert got.dtype == dtype, (got.dtype, dtype)
    assert got.shape == ref.shape
    if dtype.kind in "fc":
        np.testing.assert_allclose(got, ref.astype(dtype), equal_nan=True, **tol(dtype))
    else:
        np.testing.assert_array_equal(got, ref)


def symbolic_inputs(vals, prefix="x"):
    return [T.TensorType(str(v.dtype), shape=(None,) * v.ndim)(f"{prefix}{i}") for i, v in enumerate(vals)]


class Batch:
    """Several ops, each on its own inputs, compiled as one function; ``check`` compares every
    op with numpy and fails listing each op that disagrees."""

    def __init__(self):
        self.inputs, self.values, self.cases = [], [], []

    def add(self, name, vals, out_fn=None):
        xs = symbolic_inputs(vals, f"{name}_")
        out = (out_fn or elemwise(name))(*xs)
        self.inputs += xs
        self.values += list(vals)
        self.cases.append((name, xs, vals, out))
        return xs, out

    def compile(self, mode, outputs=None):
        outs = [c[3] for c in self.cases] if outputs is None else outputs
        return T.function(self.inputs, outs, mode=mode, on_unused_input="ignore")

    def check(self, got, each):
        """``each(name, vals, out, got)`` asserts one op; all failures are reported together."""
        errors = []
        for (name, xs, vals, out), g in zip(self.cases, got):
            try:
                each(name, vals, out, g)
            except AssertionError as err:
                errors.append(f"{name}: {err}")
        assert not errors, "\n".join(errors)


def matches_numpy(name, vals, out, got):
    ref = reference(name, vals)
    dt = expected_dtype(name, vals, ref)
    assert out.dtype == str(dt), (out.dtype, dt)
    assert_matches(got, ref, dt)


def test_every_table_op_has_a_spec():
    assert set(SPECS) == set(ps.SCALAR_OPS)


# --- values against numpy ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float_ops_match_numpy_in_every_layout(mode, rng, dtype):
    batch = Batch()
    for name in FLOAT_OPS:
        batch.add(name, values(rng, name, dtype))
    f = batch.compile(mode)
    for layout in (lambda v: v, noncontiguous, lambda v: v[:0]):
        vals = [layout(v) for v in batch.values]
        got = f(*vals)
        k = 0
        for c, (name, xs, _, out) in enumerate(batch.cases):
            batch.cases[c] = (name, xs, vals[k:k + len(xs)], out)
            k += len(xs)
        batch.check(got, matches_numpy)


@pytest.mark.parametrize("dtype", ["bool", "int8", "uint8", "int32"])  # int64: test_variable.py
def test_integer_and_bool_inputs_follow_numpy(mode, rng, dtype):
    """Integer/bool inputs: numpy's values and dtype; where numpy has no loop (bool - bool, sign
    of bool), the graph is refused at build time with a TypeError naming the op."""
    batch, refused = Batch(), []
    for name in sorted(SPECS):
        vals = values(rng, name, dtype)
        try:
            reference(name, vals)
        except TypeError:
            refused.append(name)
            with pytest.raises(TypeError, match=name):
                elemwise(name)(*symbolic_inputs(vals))
            continue
        batch.add(name, vals)
    assert len(batch.cases) > 40 and len(refused) == (3 if dtype == "bool" else 0)
    batch.check(batch.compile(mode)(*batch.values), matches_numpy)


def test_small_ints_promote_to_float32_not_float16():
    b = T.bvector("b")
    assert T.exp(b).dtype == "float32"
    assert T.sqrt(T.vector("u", dtype="uint8")).dtype == "float32"
    assert T.exp(T.ivector("i")).dtype == "float64"
    assert T.inv(b).dtype == "float32" and T.inv(T.lvector()).dtype == "float64"
    assert T.iround(T.fvector()).dtype == "int64"


MIXED_OPS = ["add", "sub", "mul", "true_div", "int_div", "mod", "pow", "maximum", "minimum", "arctan2",
             "lt", "eq"]


@pytest.mark.parametrize("dx,dy", [("int32", "float32"), ("int8", "float32"), ("uint8", "int8"),
                                   ("bool", "int16")])
def test_mixed_dtypes_promote_like_numpy(mode, rng, dx, dy):
    batch = Batch()
    for name in MIXED_OPS:
        batch.add(name, [values(rng, name, d)[k] for k, d in enumerate((dx, dy))])
    batch.check(batch.compile(mode)(*batch.values), matches_numpy)


# --- broadcasting by flags -------------------------------------------------------------------------
MULTI = sorted(n for n in SPECS if ps.SCALAR_OPS[n].nin >= 2)


def _broadcast_batch(rng):
    """Every multi-input op on a col (3, 1), a row (1, 4) and (3rd input) a vector (4,)."""
    batch = Batch()
    for name in MULTI:
        dtype = "int32" if name in INT_ONLY else "float64"
        shapes = [(3, 1), (1, 4), (4,)][:ps.SCALAR_OPS[name].nin]
        vals = [values(rng, name, dtype, s)[k] for k, s in enumerate(shapes)]
        xs = [T.TensorType(str(v.dtype), shape=tuple(1 if d == 1 else None for d in v.shape))(f"{name}{k}")
              for k, v in enumerate(vals)]
        out = elemwise(name)(*xs)
        batch.inputs += xs
        batch.values += vals
        batch.cases.append((name, xs, vals, out))
    return batch


def test_broadcasting_col_row_vector_and_infer_shape(mode, rng):
    batch = _broadcast_batch(rng)

    def each(name, vals, out, got):
        assert out.broadcastable == (False, False)
        assert reference(name, vals).shape == (3, 4)
        matches_numpy(name, vals, out, got)
    batch.check(batch.compile(mode)(*batch.values), each)
    shapes = []
    for _, xs, _, out in batch.cases:
        node = out.owner
        (sym,) = node.op.infer_shape(node, [x.shape for x in node.inputs])
        shapes += [T.as_tensor_variable(s) for s in sym]
    got = batch.compile(mode, shapes)(*batch.values)
    assert [int(g) for g in got] == [3, 4] * len(batch.cases)


def test_size_one_dimension_that_is_not_broadcastable_is_a_runtime_error(mode, rng):
    batch = Batch()
    for name in MULTI:
        batch.add(name, values(rng, name, "int32" if name in INT_ONLY else "float64"))
    f = batch.compile(mode)
    k = 0
    for name, xs, vals, _ in batch.cases:
        k += len(xs)
        bad = list(batch.values)
        bad[k - 1] = bad[k - 1][:1]  # the op's last input: (1, 4) where (3, 4) is expected
        with pytest.raises(ValueError, match=rf"Elemwise{{{name}}}: .*not marked broadcastable"):
            f(*bad)


# --- NaN and Inf ---------------------------------------------------------------------------------
SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, 2.0])


def test_nan_and_inf_behave_as_in_numpy(mode):
    batch = Batch()
    grid = [g.ravel() for g in np.meshgrid(SPECIAL, SPECIAL, indexing="ij")]
    for name in sorted(set(FLOAT_OPS) - {"iround"}):  # NaN to int is undefined
        n = ps.SCALAR_OPS[name].nin
        vals = [SPECIAL] if n == 1 else grid + [np.full(grid[0].shape, 1.0)] * (n - 2)
        if name == "clip":
            vals = [SPECIAL, np.full(SPECIAL.shape, -1.0), np.full(SPECIAL.shape, 1.0)]
        batch.add(name, vals)
    batch.check(batch.compile(mode)(*batch.values), matches_numpy)


def test_isnan_isinf_find_the_special_values(mode):
    x = T.dvector("x")
    got = run(mode, [x], [T.isnan(x), T.isinf(x)], SPECIAL)
    np.testing.assert_array_equal(got[0], [True] + [False] * 8)
    np.testing.assert_array_equal(got[1], [False, True, True] + [False] * 6)


# --- derivatives ---------------------------------------------------------------------------------
def _grad_fn(name, rng, shape=SHAPE):
    """(function of the differentiable inputs, float64 point away from kinks) for verify_grad."""
    vals = values(rng, name, "float64", shape)
    if name == "switch":
        cond = T.constant(vals[0])
        return (lambda a, b: T.switch(cond, a, b)), vals[1:]
    if name == "clip":  # keep x away from the bounds
        x = vals[0]
        vals[0] = np.where(np.abs(np.abs(x) - 1) < 0.1, x + 0.3, x)
        vals[1], vals[2] = np.full(shape, -1.0), np.full(shape, 1.0)
    if name in ("abs", "maximum", "minimum", "arctan2"):
        vals = [v + np.sign(v) * 0.1 for v in vals]
        if name in ("maximum", "minimum"):
            vals[1] = np.where(np.abs(vals[0] - vals[1]) < 0.1, vals[1] + 0.3, vals[1])
    return elemwise(name), vals


def test_verify_grad_float64_of_every_differentiable_op(mode, rng):
    """One verify_grad over the concatenation of every op's output; on failure, each op is
    checked alone to name the culprits."""
    fns, points, counts = [], [], []
    for name in DIFFERENTIABLE:
        fn, pt = _grad_fn(name, rng, (2, 3))
        fns.append(fn)
        points += pt
        counts.append(len(pt))

    def all_ops(*inputs):
        outs, k = [], 0
        for fn, n in zip(fns, counts):
            outs.append(T.flatten(fn(*inputs[k:k + n])))
            k += n
        return T.concatenate(outs)
    try:
        verify_grad(all_ops, points, n_tests=1, rng=np.random.default_rng(0), mode=mode)
    except GradientError:
        bad, k = [], 0
        for name, fn, n in zip(DIFFERENTIABLE, fns, counts):
            try:
                verify_grad(fn, points[k:k + n], rng=np.random.default_rng(0), mode="FAST_COMPILE")
            except GradientError as err:
                bad.append(f"{name}: {err}")
            k += n
        bad = bad or ["(only in this mode)"]
        pytest.fail("gradients disagree with finite differences:\n" + "\n".join(bad))


def test_gradient_of_piecewise_constant_op_is_zero(mode, rng):
    """d/dx sum(op(x, ...) * x) is op(x, ...) itself; every other input's gradient is zero."""
    batch, grads = Batch(), []
    for name in sorted(ZERO_GRAD | COMPARISONS | {"isnan", "isinf"}):
        xs, out = batch.add(name, values(rng, name, "float64"))
        grads.append(T.grad(T.sum(T.cast(out, "float64") * xs[0]), xs))
    got = batch.compile(mode, [g for gs in grads for g in gs])(*batch.values)

    def each(name, vals, out, g):
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(g[0], reference(name, vals).astype("float64"))
        for gk, v in zip(g[1:], vals[1:]):
            assert gk.dtype == np.float64
            np.testing.assert_array_equal(gk, np.zeros_like(v))
    per_op, k = [], 0
    for gs in grads:
        per_op.append(got[k:k + len(gs)])
        k += len(gs)
    batch.check(per_op, each)


def test_gradient_through_bitwise_op_is_zero(mode, rng):
    batch, grads = Batch(), []
    for name in sorted(INT_ONLY):
        xs, out = batch.add(name, values(rng, name, "int32"))
        grads += T.grad(T.sum(T.cast(out, "float64")), xs)
    for g in batch.compile(mode, grads)(*batch.values):
        assert g.dtype.kind == "f"
        np.testing.assert_array_equal(g, np.zeros(SHAPE))


def test_rop_matches_finite_differences(mode, rng):
    """T.Rop(op(x), x, v) is the directional derivative; zero for piecewise-constant ops and
    for ops with a non-float output."""
    batch, jvps, tangents, evs = Batch(), [], [], []
    for name in FLOAT_OPS:
        vals = _grad_fn(name, rng)[1] if name in ("abs", "maximum", "minimum", "arctan2", "clip") \
            else values(rng, name, "float64")
        xs, out = batch.add(name, vals)
        diff = [k for k, v in enumerate(vals) if v.dtype.kind == "f"]
        ev = [T.dmatrix(f"{name}_v{k}") for k in diff]
        tangents.append([rng.standard_normal(SHAPE) for _ in diff])
        evs += ev
        jvps.append(T.Rop(out, [xs[k] for k in diff], ev))
    f = T.function(batch.inputs + evs, jvps, mode=mode, on_unused_input="ignore")
    got = f(*batch.values, *[t for ts in tangents for t in ts])
    tangent_of = {c[0]: ts for c, ts in zip(batch.cases, tangents)}

    def each(name, vals, out, g):
        if out.dtype[0] != "f" or name in ZERO_GRAD:
            np.testing.assert_array_equal(g, np.zeros(SHAPE))
            return
        diff = [k for k, v in enumerate(vals) if v.dtype.kind == "f"]
        eps = 1e-6

        def shifted(sign):
            vs = list(vals)
            for k, t in zip(diff, tangent_of[name]):
                vs[k] = vals[k] + sign * eps * t
            return reference(name, vs)
        np.testing.assert_allclose(g, (shifted(1) - shifted(-1)) / (2 * eps), rtol=1e-5, atol=1e-6)
    batch.check(got, each)


# --- build-time errors ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(INT_ONLY))
def test_bitwise_op_on_floats_is_a_type_error(name):
    args = [T.fvector("f")] * ps.SCALAR_OPS[name].nin
    with pytest.raises(TypeError, match=rf"{name}: input 0 has dtype float32, expected one of: bool"):
        elemwise(name)(*args)


@pytest.mark.parametrize("name,n", [("exp", 2), ("sub", 3), ("clip", 2), ("switch", 1)])
def test_wrong_number_of_inputs_is_a_type_error(name, n):
    with pytest.raises(TypeError, match=rf"{name} takes {ps.SCALAR_OPS[name].nin} input\(s\), got {n}"):
        elemwise(name)(*[T.dvector()] * n)


@pytest.mark.parametrize("name", ["sub", "neg", "sgn"])
def test_bool_input_numpy_refuses_is_a_type_error_naming_op_and_dtype(name):
    args = [T.vector("b", dtype="bool")] * ps.SCALAR_OPS[name].nin
    with pytest.raises(TypeError, match=rf"{name} is not defined for input dtype\(s\) bool") as err:
        getattr(T, name)(*args)
    assert "test_scalar.py" in str(err.value)  # the user's source line


def test_python_int_that_does_not_fit_is_a_value_error():
    with pytest.raises(ValueError, match="300 does not fit the dtype int8") as err:
        T.bvector("b") + 300
    assert "test_scalar.py" in str(err.value)
    with pytest.raises(ValueError, match="does not fit the dtype uint8"):
        T.vector("u", dtype="uint8") - (-1)


def test_non_numeric_input_is_a_type_error():
    with pytest.raises(TypeError, match="dtype"):
        T.exp("abc")
    with pytest.raises(TypeError, match="NoneType"):
        T.add(T.dvector(), None)


# --- ops of the table: identity, pickling, 0-d ------------------------------------------------------
def test_scalar_ops_compare_hash_and_pickle_by_name():
    import pickle
    for name, sop in ps.SCALAR_OPS.items():
        assert pickle.loads(pickle.dumps(sop)) is sop
        assert Elemwise(sop) == Elemwise(ps.get(name)) and hash(Elemwise(sop)) == hash(Elemwise(sop))
    cast = ps.Cast("float32")
    assert pickle.loads(pickle.dumps(cast)) == cast and cast != ps.Cast("float64")
    assert ps.SCALAR_OPS["add"] != ps.SCALAR_OPS["sub"]


OWN_IMPLS = ["erf", "erfc", "sigmoid", "softplus", "round_half_away_from_zero", "iround", "inv",
             "identity", "switch", "second", "clip", "exp", "add"]  # not a bare numpy ufunc (+ two that are)


def test_zero_dimensional_inputs(mode):
    """0-d arrays (numpy returns bare scalars for some functions) give 0-d arrays."""
    batch = Batch()
    for name in OWN_IMPLS:
        batch.add(name, [np.array(v) for v in values(np.random.default_rng(0), name, "float64", ())])

    def each(name, vals, out, got):
        assert isinstance(got, np.ndarray) and got.shape == ()
        matches_numpy(name, vals, out, got)
    batch.check(batch.compile(mode)(*batch.values), each)
