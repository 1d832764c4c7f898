"""ifelse / IfElse against numpy's ``a if c else b`` in every mode: single tensors and lists,
conditions of several dtypes, gradients (to the chosen branch only), R_op, infer_shape and
build-time type errors. Evaluation is eager (both branches run); only results are tested."""
import numpy as np
import pytest

import symtensor as T
from symtensor.grad import verify_grad
from symtensor.graph.type import TensorType
from symtensor.ops.ifelse import IfElse, ifelse
from tests.helpers import check_infer_shape, noncontiguous, rand, run


@pytest.mark.parametrize("cond", [1, 0, -3, 0.5, 0.0, True, False])
def test_single_tensor_picks_the_branch(mode, rng, cond):
    c, x, y = T.scalar("c", dtype=str(np.asarray(cond).dtype)), T.matrix("x"), T.matrix("y")
    out = ifelse(c, x, y * 2)
    a, b = rand(rng, (3, 4)), noncontiguous(rand(rng, (3, 4)))
    got = run(mode, [c, x, y], out, cond, a, b)
    np.testing.assert_array_equal(got, a if cond else b * 2)
    assert out.type == x.type


def test_lists_and_tuples_keep_their_kind(mode, rng):
    c, x, v = T.iscalar("c"), T.matrix("x"), T.ivector("v")
    outs = ifelse(c, [x, v], [x + 1, v * 3])
    assert isinstance(outs, list) and len(outs) == 2
    touts = ifelse(c, (x, v), (x - 1, v))
    assert isinstance(touts, tuple)
    a, iv = rand(rng, (2, 3)), np.array([1, 2, 3], dtype="int32")
    f = T.function([c, x, v], list(outs) + list(touts), mode=mode)
    for cond in (0, 1):
        got = f(cond, a, iv)
        want = [a, iv, a, iv] if cond else [a + 1, iv * 3, a - 1, iv]
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)
            assert g.dtype == w.dtype


def test_output_never_aliases_the_input(mode, rng):
    c, x = T.scalar("c"), T.vector("x")
    f = T.function([c, x], ifelse(c, x, x * 0), mode=mode)
    a = rand(rng, (4,))
    before = a.copy()
    out = f(1.0, a)
    out[:] = 7
    np.testing.assert_array_equal(a, before)


def test_zero_size_and_scalar_branches(mode, rng):
    c, x, s = T.scalar("c"), T.matrix("x"), T.scalar("s")
    f = T.function([c, x, s], [ifelse(c, x, -x), ifelse(c, s, s + 1)], mode=mode)
    empty = rand(rng, (0, 3))
    got = f(0.0, empty, 2.0)
    assert got[0].shape == (0, 3)
    assert got[1] == 3.0


def test_python_literal_branch_takes_the_other_dtype(mode, rng):
    c, x = T.scalar("c"), T.fscalar("x")
    out = ifelse(c, x, 0.5)
    assert out.dtype == "float32"
    assert run(mode, [c, x], out, 0.0, np.float32(2)) == np.float32(0.5)


def test_mismatched_types_raise_at_build_time():
    c = T.scalar("c")
    with pytest.raises(TypeError, match="identical types.*float32.*float64|identical types"):
        ifelse(c, T.fvector("a"), T.dvector("b"))
    with pytest.raises(TypeError, match="identical types"):
        ifelse(c, T.matrix("a"), T.vector("b"))
    with pytest.raises(TypeError, match="identical types"):
        ifelse(c, T.row("a"), T.matrix("b"))
    with pytest.raises(ValueError, match="same number"):
        ifelse(c, [T.vector("a")], [T.vector("b"), T.vector("c")])
    with pytest.raises(TypeError, match="condition must be a scalar"):
        ifelse(T.vector("cv"), T.vector("a"), T.vector("b"))
    with pytest.raises(ValueError, match="expected 2 branch values"):
        IfElse(1)(c, T.vector("a"))


def test_differing_static_sizes_become_unknown():
    a = TensorType("float64", shape=(2, 3))("a")
    b = TensorType("float64", shape=(4, 3))("b")
    assert ifelse(T.scalar("c"), a, b).type.shape == (None, 3)


@pytest.mark.parametrize("cond", [0.0, 1.0])
def test_gradient_flows_to_the_chosen_branch_only(mode, rng, cond):
    c, x, y = T.scalar("c"), T.vector("x"), T.vector("y")
    cost = T.sum(ifelse(c, x ** 2, 3 * y))
    gx, gy, gc = T.grad(cost, [x, y, c])
    a, b = rand(rng, (4,)), rand(rng, (4,))
    got = run(mode, [c, x, y], [gx, gy, gc], cond, a, b)
    np.testing.assert_allclose(got[0], 2 * a if cond else np.zeros(4))
    np.testing.assert_allclose(got[1], np.zeros(4) if cond else np.full(4, 3.0))
    assert got[2] == 0.0


@pytest.mark.parametrize("cond", [0.0, 1.0])
def test_verify_grad_float64(rng, cond):
    c = T.constant(cond)
    verify_grad(lambda x, y: ifelse(c, T.tanh(x) * y, x * y.sum()), [rand(rng, (2, 3)), rand(rng, (2, 3))],
                rng=rng)


def test_grad_of_a_list_with_an_integer_branch(mode, rng):
    c, x, v = T.scalar("c"), T.vector("x"), T.ivector("v")
    fx, fv = ifelse(c, [x * 2, v], [x * 5, v + 1])
    g = T.grad(T.sum(fx) + T.sum(fv), x)
    a = rand(rng, (3,))
    np.testing.assert_allclose(run(mode, [c, x, v], g, 1.0, a, np.arange(3, dtype="int32")), np.full(3, 2.0))
    np.testing.assert_allclose(run(mode, [c, x, v], g, 0.0, a, np.arange(3, dtype="int32")), np.full(3, 5.0))


@pytest.mark.parametrize("cond", [0.0, 1.0])
def test_rop_matches_lop(mode, rng, cond):
    c, x, v, u = T.scalar("c"), T.vector("x"), T.vector("v"), T.vector("u")
    y = ifelse(c, T.exp(x), x * 3)
    rop, lop = T.Rop(y, x, v), T.Lop(y, x, u)
    a, vv, uu = rand(rng, (4,)), rand(rng, (4,)), rand(rng, (4,))
    got_rop, got_lop = run(mode, [c, x, v, u], [rop, lop], cond, a, vv, uu)
    np.testing.assert_allclose(got_rop, np.exp(a) * vv if cond else 3 * vv)
    assert np.dot(uu, got_rop) == pytest.approx(np.sum(got_lop * vv))


@pytest.mark.parametrize("cond", [0, 1])
def test_infer_shape(mode, rng, cond):
    c, x, y = T.iscalar("c"), T.matrix("x"), T.matrix("y")
    out = ifelse(c, x, y)
    a, b = rand(rng, (2, 5)), rand(rng, (3, 4))
    check_infer_shape(mode, [c, x, y], out, [cond, a, b], (a if cond else b).shape)


# --- laziness --------------------------------------------------------------------------------
LAZY_MODES = ["FAST_COMPILE", "FAST_RUN"]   # DebugMode's checked reference run is eager


def _counted(x, log):
    """``x`` through a Print-like op that records each evaluation in ``log``."""
    from symtensor.graph.basic import Apply, Op

    class Count(Op):
        __props__ = ()

        def make_node(self, v):
            v = T.as_tensor_variable(v)
            return Apply(self, [v], [v.type()])

        def perform(self, node, inputs, out):
            log.append(1)
            out[0][0] = np.array(inputs[0], copy=True)

    return Count()(x)


@pytest.mark.parametrize("mode", LAZY_MODES)
def test_only_the_chosen_branch_is_computed(mode, rng):
    a, x = T.dscalar("a"), T.dvector("x")
    then_log, else_log = [], []
    f = T.function([a, x], ifelse(T.gt(a, 0), _counted(x * 2, then_log), _counted(x - 1, else_log)), mode=mode)
    v = rand(rng, (4,))
    np.testing.assert_array_equal(f(1.0, v), v * 2)
    assert (len(then_log), len(else_log)) == (1, 0)
    np.testing.assert_array_equal(f(-1.0, v), v - 1)
    assert (len(then_log), len(else_log)) == (1, 1)


@pytest.mark.parametrize("mode", LAZY_MODES)
def test_an_error_in_the_branch_not_taken_is_not_raised(mode):
    a, v = T.dscalar("a"), T.dvector("v")
    f = T.function([a, v], ifelse(T.gt(a, 0), v[5], v[0]), mode=mode)
    assert f(-1.0, np.arange(3.0)) == 0.0
    with pytest.raises(IndexError):
        f(1.0, np.arange(3.0))


@pytest.mark.parametrize("mode", LAZY_MODES)
def test_nested_and_shared_subexpressions(mode, rng):
    """A value both branches use, or one used outside the ifelse, is computed once before it;
    a nested ifelse inside a branch is lazy too."""
    a, b, x = T.dscalar("a"), T.dscalar("b"), T.dvector("x")
    shared_part = T.exp(x)
    inner_log = []
    inner = ifelse(T.gt(b, 0), _counted(shared_part + 1, inner_log), shared_part * 3)
    out = ifelse(T.gt(a, 0), inner, shared_part - 2)
    f = T.function([a, b, x], [out, shared_part.sum()], mode=mode)
    v = rand(rng, (3,))
    e = np.exp(v)
    for av, bv, want, counted in [(1, 1, e + 1, 1), (1, -1, e * 3, 0), (-1, 1, e - 2, 0), (-1, -1, e - 2, 0)]:
        before = len(inner_log)
        got, total = f(av, bv, v)
        np.testing.assert_allclose(got, want)
        np.testing.assert_allclose(total, e.sum())
        assert len(inner_log) - before == counted


@pytest.mark.parametrize("mode", LAZY_MODES)
def test_the_condition_computed_from_a_branch_value(mode, rng):
    """A value the condition needs is computed first, even when a branch uses it too."""
    x = T.dvector("x")
    s = x.sum()
    f = T.function([x], ifelse(T.gt(s, 0), s * x, -x), mode=mode)
    v = np.abs(rand(rng, (3,))) + 0.1
    np.testing.assert_allclose(f(v), v.sum() * v)
    np.testing.assert_allclose(f(-v), v)
