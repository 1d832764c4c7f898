"""The batching rules of grad/batching_rules.py and grad/batching_linalg.py: vmap of a graph
using each op equals a loop over the samples, for batched and unbatched mixes of its inputs,
and the vectorized graph holds no per-sample fall-back (PerSample)."""
import logging

import numpy as np
import pytest

import symtensor as T
from symtensor.graph.basic import toposort
from symtensor.grad.batching_linalg import StackedLinalg
from symtensor.grad.batching_rules import _vectorize_random
from symtensor.grad.batching_scan import _vectorize_scan
from symtensor.grad.vectorize import PerSample, vectorize_graph, vmap
from symtensor.ops.alloc import ARange, Eye
from symtensor.ops.conv_grad import Conv2dGradInputs, Conv2dGradWeights
from symtensor.ops.extra_ops import BinCount, FillDiagonal, OneHot
from symtensor.ops.gemm import Gemm
from symtensor.ops.ifelse import IfElse
from symtensor.ops.linalg import AllocDiag, Cholesky, Det, ExtractDiag, MatrixInverse, Solve
from symtensor.ops.nnet import StableMax
from symtensor.ops.nnet_xent import (CrossentropyCategorical1Hot, CrossentropyCategorical1HotGrad,
                                     CrossentropySoftmax1Hot)
from symtensor.ops.random import RandomVariable, random_state_type
from symtensor.ops.scan_op import Scan
from symtensor.ops.sort import PermuteAlongAxis
from tests.helpers import run

B = 3  # batch size


# --- per-sample input makers ----------------------------------------------------------------
def _f(*shape):
    return lambda rng: rng.standard_normal(shape)


def _i(low, high, *shape):
    return lambda rng: rng.integers(low, high, size=shape).astype("int64")


def _const(value, dtype="int64"):
    return lambda rng: np.array(value, dtype=dtype)


def _spd(n):
    def make(rng):
        m = rng.standard_normal((n, n))
        return m @ m.T + n * np.eye(n)
    return make


def _probs(*shape):
    def make(rng):
        p = rng.uniform(0.1, 1.0, size=shape)
        return p / p.sum(-1, keepdims=True)
    return make


def _perm(rows, cols):
    return lambda rng: np.argsort(rng.standard_normal((rows, cols)), axis=1).astype("int64")


CONV = dict(border_mode="valid", subsample=(1, 1), filter_flip=True)


# name: (per-sample function, input makers, in_axes mixes, op the graph must use, static batch)
CASES = {
    "arange_int": (lambda s, d: ARange("int64")(s, s + 5 * d, d), [_i(-5, 5), _i(1, 3)],
                   [(0, 0), (0, None), (None, 0)], ARange),
    "arange_float": (lambda s: ARange("float64")(s, s + 2.0, 0.5), [_f()], [(0,)], ARange),
    "arange_stop": (lambda n, x: ARange("int64")(0, n, 1) * x.sum(), [_const(4), _f(2)],
                    [(0, 0), (0, None)], ARange),
    "eye_k": (lambda k: Eye("float64")(3, 4, k), [_i(-2, 3)], [(0,)], Eye),
    "eye_n": (lambda n, k, x: Eye("float64")(n, 4, k) * x, [_const(3), _i(-2, 3), _f()],
              [(0, 0, 0), (0, None, 0), (None, 0, None)], Eye),
    "bincount": (lambda x, m: BinCount(False)(x, m), [_i(0, 5, 7), _const(6)], [(0, 0), (0, None)], BinCount),
    "bincount_weighted": (lambda x, w: BinCount(True)(x, w, 5), [_i(0, 5, 6), _f(6)],
                          [(0, 0), (0, None), (None, 0)], BinCount),
    "fill_diagonal": (lambda a, v: FillDiagonal()(a, v), [_f(3, 4), _f()], [(0, 0), (0, None), (None, 0)],
                      FillDiagonal),
    "fill_diagonal_3d": (lambda a, v: FillDiagonal()(a, v), [_f(3, 3, 3), _f()], [(0, 0), (None, 0)],
                         FillDiagonal),
    "one_hot": (lambda y, n: OneHot("float64")(y, n) * 2, [_i(0, 5, 4), _const(5)], [(0, 0), (0, None)], OneHot),
    "gemm": (lambda z, a, x, y, b: Gemm()(z, a, x, y, b), [_f(3, 2), _f(), _f(3, 4), _f(4, 2), _f()],
             [(0, 0, 0, 0, 0), (None, None, 0, None, None), (0, 0, None, None, None), (None, None, None, 0, 0)],
             Gemm),
    "ifelse": (lambda c, t, f: IfElse(1)(c, t, f), [_i(0, 2), _f(3), _f(3)],
               [(0, 0, 0), (None, 0, None), (None, None, 0), (0, None, None), (0, 0, None)], IfElse),
    "ifelse_two": (lambda c, t, f: IfElse(2)(c, t, t * 2, f, f.sum() + t)[1],
                   [_i(0, 2), _f(2), _f(2)], [(None, 0, None), (0, None, 0)], IfElse),
    "stable_max": (lambda x: StableMax((1,))(x) + x, [_f(3, 4)], [(0,)], StableMax),
    "xent_categorical": (lambda p, t: CrossentropyCategorical1Hot()(p, t), [_probs(4, 3), _i(0, 3, 4)],
                         [(0, 0), (0, None), (None, 0)], CrossentropyCategorical1Hot),
    "xent_categorical_grad": (lambda g, p, t: CrossentropyCategorical1HotGrad()(g, p, t),
                              [_f(4), _probs(4, 3), _i(0, 3, 4)], [(0, 0, 0), (0, None, None), (None, 0, 0)],
                              CrossentropyCategorical1HotGrad),
    "xent_softmax": (lambda x, t: CrossentropySoftmax1Hot()(x, t), [_f(4, 3), _i(0, 3, 4)],
                     [(0, 0), (0, None), (None, 0)], CrossentropySoftmax1Hot),
    "permute": (lambda x, p: PermuteAlongAxis(1)(x, p), [_f(2, 4), _perm(2, 4)], [(0, 0), (0, None), (None, 0)],
                PermuteAlongAxis),
    "inverse": (lambda x: MatrixInverse()(x), [_spd(3)], [(0,)], MatrixInverse),
    "det": (lambda x: Det()(x) * x, [_f(3, 3)], [(0,)], Det),
    "solve_vector": (lambda a, b: Solve()(a, b), [_spd(3), _f(3)], [(0, 0), (0, None), (None, 0)], Solve),
    "solve_matrix": (lambda a, b: Solve()(a, b), [_spd(3), _f(3, 2)], [(0, 0), (0, None), (None, 0)], Solve),
    "solve_lower": (lambda a, b: Solve("lower_triangular")(a, b), [_spd(3), _f(3, 2)], [(0, 0), (0, None)],
                    Solve),
    "cholesky_lower": (lambda x: Cholesky()(x), [_spd(3)], [(0,)], Cholesky),
    "cholesky_upper": (lambda x: Cholesky(lower=False)(x), [_spd(3)], [(0,)], Cholesky),
    "extract_diag": (lambda x: ExtractDiag(0)(x) + ExtractDiag(1)(x)[0] + ExtractDiag(-2)(x).sum(), [_f(3, 4)],
                     [(0,)], ExtractDiag),
    "alloc_diag": (lambda v, w: AllocDiag(0)(v) + AllocDiag(2)(w)[:3, :3], [_f(3), _f(1)],
                   [(0, 0), (0, None), (None, 0)], AllocDiag),
    "conv_grad_inputs": (lambda k, t: Conv2dGradInputs(**CONV)(k, t, (4, 4)), [_f(2, 2, 2, 2), _f(2, 2, 3, 3)],
                         [(0, 0), (None, 0), (0, None)], Conv2dGradInputs, True),
    "conv_grad_inputs_groups": (lambda k, t: Conv2dGradInputs(**CONV, num_groups=2)(k, t, (4, 4)),
                                [_f(4, 1, 2, 2), _f(2, 4, 3, 3)], [(0, 0), (None, 0), (0, None)],
                                Conv2dGradInputs, True),
    "conv_grad_weights": (lambda x, t: Conv2dGradWeights(**CONV)(x, t, (2, 2)), [_f(2, 2, 4, 4), _f(2, 3, 3, 3)],
                          [(0, 0), (None, 0), (0, None)], Conv2dGradWeights, True),
    "conv_grad_weights_groups": (lambda x, t: Conv2dGradWeights(**CONV, num_groups=2)(x, t, (2, 2)),
                                 [_f(2, 4, 4, 4), _f(2, 2, 3, 3)], [(0, 0), (0, None)], Conv2dGradWeights, True),
}



def _scan_recurrence(xs, w):
    return T.scan(lambda x, acc, w: acc * w + x, sequences=xs, outputs_info=T.zeros_like(xs[0]),
                  non_sequences=w)[0]


def _scan_state_and_nonsequence(h0, w):
    return T.scan(lambda h, w: T.tanh(h * w + 1), outputs_info=h0, non_sequences=w, n_steps=4)[0]


def _scan_taps(xs, h0):
    outs = T.scan(lambda x0, x1, h2, h1: [h1 * 0.5 + h2 * 0.1 + x0, x1 * h1],
                  sequences=dict(input=xs, taps=[0, 1]),
                  outputs_info=[dict(initial=h0, taps=[-2, -1]), None])[0]
    return outs[0].sum(0) + outs[1]


def _scan_matrix(xs, W):
    return T.scan(lambda x, h, W: T.tanh(T.dot(W, h) + x), sequences=xs, outputs_info=T.zeros_like(xs[0]),
                  non_sequences=W)[0]


CASES.update({
    "scan_recurrence": (_scan_recurrence, [_f(5), _f()], [(0, 0), (0, None), (None, 0)], Scan),
    "scan_state_and_nonsequence": (_scan_state_and_nonsequence, [_f(2), _f(2)], [(0, 0), (0, None), (None, 0)],
                                   Scan),
    "scan_taps": (_scan_taps, [_f(6, 2), _f(2, 2)], [(0, 0), (0, None), (None, 0)], Scan),
    "scan_matrix": (_scan_matrix, [_f(4, 3), _f(3, 3)], [(0, 0), (0, None), (None, 0)], Scan),
})

for _name in [n for n in CASES if n.startswith("conv_")]:   # the batch size unknown when the graph is built
    CASES[_name + "_dynamic"] = CASES[_name][:4] + (False,)

PARAMS = [(name, axes) for name, case in sorted(CASES.items()) for axes in case[2]]


def _per_sample_var(value, k):
    return T.TensorType(value.dtype, shape=(None,) * value.ndim)(f"x{k}")


def _batched_var(value, k, static):
    shape = (B if static else None,) + (None,) * value.ndim
    return T.TensorType(value.dtype, shape=shape)(f"X{k}")


def _no_per_sample(outputs):
    ops = [n.op for n in toposort(outputs if isinstance(outputs, list) else [outputs])]
    assert not any(isinstance(op, PerSample) for op in ops), [str(op) for op in ops if isinstance(op, PerSample)]
    return {type(op) for op in ops}


@pytest.mark.parametrize("name,axes", PARAMS, ids=[f"{n}-{''.join('b' if a == 0 else 'u' for a in ax)}"
                                                   for n, ax in PARAMS])
def test_vmap_equals_a_loop_over_samples(mode, rng, name, axes, caplog):
    fn, makers, _, op_class, *rest = CASES[name]
    static = bool(rest and rest[0])
    samples = [[np.asarray(m(rng)) for _ in range(B)] for m in makers]
    per = [_per_sample_var(s[0], k) for k, s in enumerate(samples)]
    assert op_class in {type(n.op) for n in toposort([fn(*per)])}
    outer, values = [], []
    for k, (s, ax) in enumerate(zip(samples, axes)):
        if ax is None:
            outer.append(per[k])
            values.append(s[0])
        else:
            outer.append(_batched_var(s[0], k, static))
            values.append(np.stack(s))
    with caplog.at_level(logging.WARNING, logger="symtensor.grad.vectorize"):
        batched = vmap(fn, in_axes=list(axes))(*outer)
    assert "PerSample" not in caplog.text
    _no_per_sample(batched)
    f = T.function(per, fn(*per), mode=mode, on_unused_input="ignore")
    expected = np.stack([f(*[s[i] if ax == 0 else s[0] for s, ax in zip(samples, axes)]) for i in range(B)])
    got = run(mode, outer, batched, *values)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("op_class", [MatrixInverse, Det, Solve, Cholesky])
def test_linear_algebra_is_one_stacked_op(op_class):
    """The whole stack goes to one numpy.linalg call (StackedLinalg), not a loop."""
    X, b = T.dtensor3("X"), T.dvector("b")
    fn = (lambda x: Solve()(x, b)) if op_class is Solve else (lambda x: op_class()(x))
    ops = _no_per_sample(vmap(fn)(X))
    assert StackedLinalg in ops


def test_gradient_through_stacked_linear_algebra(rng):
    """vmap'd det, inverse, solve and cholesky are differentiable (their rules, vectorized)."""
    def f(x, y):
        per = lambda a, c: (Det()(a) * Solve()(a, c)).sum() + MatrixInverse()(a).sum() + Cholesky()(a).sum()
        return vmap(per)(x, y)
    spd = np.stack([_spd(3)(rng) for _ in range(B)])
    T.verify_grad(f, [spd, rng.standard_normal((B, 3))], rng=rng)


def test_gradient_of_vmapped_conv_grad(rng):
    """The filter gradient of a per-sample convolution loss, batched over the samples."""
    x = T.TensorType("float64", shape=(B, None, None, None, None))("x")
    k = T.dtensor4("k")
    grads = vmap(lambda xi: T.grad(T.sum(Conv2dGradInputs(**CONV)(k, xi, (4, 4)) ** 2), k))(x)
    _no_per_sample(grads)
    kv, xv = rng.standard_normal((2, 2, 2, 2)), rng.standard_normal((B, 2, 2, 3, 3))
    got = run("FAST_COMPILE", [x, k], grads, xv, kv)
    xi = T.dtensor4("xi")
    g1 = T.function([xi, k], T.grad(T.sum(Conv2dGradInputs(**CONV)(k, xi, (4, 4)) ** 2), k))
    np.testing.assert_allclose(got, np.stack([g1(xv[i], kv) for i in range(B)]), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fn,value,what", [
    (lambda s: ARange("int64")(s, 5, 1), np.array([0, 1, 2]), "the length of arange"),
    (lambda x: BinCount(False)(x, 0), np.array([[0, 1, 1, 0], [0, 2, 3, 8], [1, 1, 1, 1]]),
     "the length of bincount"),
    (lambda n: Eye("float64")(n, 2, 0), np.array([1, 2, 3]), "the number of rows of eye"),
], ids=["arange", "bincount", "eye"])
def test_sizes_that_differ_per_sample_raise(mode, fn, value, what):
    """A batch stacks samples of one shape: per-sample sizes that differ are a clear error."""
    X = T.TensorType("int64", shape=(None,) * value.ndim)("X")
    out = vmap(fn)(X)
    _no_per_sample(out)
    with pytest.raises(ValueError, match=f"{what} must be the same in every sample"):
        run(mode, [X], out, value)


def test_bincount_keeps_the_negative_value_check(mode):
    X = T.lmatrix("X")
    out = vmap(lambda x: BinCount(False)(x, 3))(X)
    with pytest.raises(ValueError, match="non-negative"):
        run(mode, [X], out, np.array([[0, 1], [2, -1]]))


def test_singular_matrix_in_a_batch_raises(mode):
    X = T.dtensor3("X")
    out = vmap(lambda x: MatrixInverse()(x))(X)
    with pytest.raises(np.linalg.LinAlgError, match="matrix_inverse"):
        run(mode, [X], out, np.stack([np.eye(2), np.zeros((2, 2))]))


def test_cholesky_nan_on_error_marks_only_the_failing_samples(mode):
    X = T.dtensor3("X")
    out = vmap(lambda x: Cholesky(on_error="nan")(x))(X)
    got = run(mode, [X], out, np.stack([4 * np.eye(2), -np.eye(2)]))
    np.testing.assert_allclose(got[0], 2 * np.eye(2))
    assert np.isnan(got[1]).all()


def test_random_variable_rule_folds_the_batch_into_the_size(mode):
    """Batched parameters of an elementwise distribution: one draw of size (B, *size) whose
    samples use their own parameters (integers(low, low) is exactly low)."""
    op = RandomVariable("integers", "int64")
    rng_var = random_state_type()
    low = T.lscalar("low")
    node = op.make_node(rng_var, low, low, 2)
    lows = T.lvector("lows")
    new_state, sample = _vectorize_random(op, node, rng_var, lows, lows, node.inputs[-1])
    assert sample.ndim == 2
    got = T.function([rng_var, lows], sample, mode=mode)(np.random.default_rng(0), np.array([3, -1, 7]))
    np.testing.assert_array_equal(got, np.array([[3, 3], [-1, -1], [7, 7]]))
    with pytest.raises(NotImplementedError, match="size differs per sample"):
        _vectorize_random(op, node, rng_var, low, low, T.lvector("sizes"))


def test_scan_rule_declines_bodies_with_random_states():
    """One draw per sample would change the random stream: the rule declines."""
    srng = T.RandomStreams(0)
    xs = T.dmatrix("xs")
    out = T.scan(lambda x: x + srng.normal(size=(2,)), sequences=xs)[0]
    node = next(n for n in toposort([out]) if isinstance(n.op, Scan))
    seq = next(i for i in node.inputs if i is xs or (i.owner is not None and xs in i.owner.inputs))
    inputs = [T.dtensor3("X") if i is seq else i for i in node.inputs]
    with pytest.raises(NotImplementedError, match="random states"):
        _vectorize_scan(node.op, node, *inputs)


def test_vmap_of_a_scan_gradient(rng):
    """Per-sample gradients of a recurrence (vmap of grad through scan) stay one loop."""
    w = T.dscalar("w")
    X = T.dmatrix("X")
    grads = vmap(lambda xs: T.grad(_scan_recurrence(xs, w)[-1], w), in_axes=0)(X)
    ops = _no_per_sample(grads)
    assert Scan in ops
    Xv = rng.standard_normal((B, 5))
    xs = T.dvector("xs")
    g1 = T.function([xs, w], T.grad(_scan_recurrence(xs, w)[-1], w))
    np.testing.assert_allclose(run("FAST_COMPILE", [X, w], grads, Xv, 0.7),
                               [g1(Xv[i], 0.7) for i in range(B)], rtol=1e-10)


def test_forward_derivative_of_stacked_linear_algebra(mode, rng):
    """Rop through the stacked inverse and solve equals the per-sample Rop."""
    from symtensor.grad.gradient import Rop
    X, b, dX = T.dtensor3("X"), T.dvector("b"), T.dtensor3("dX")
    out = vmap(lambda x: MatrixInverse()(x).sum(1) + Solve()(x, b))(X)
    jvp = Rop(out, X, dX)
    _no_per_sample(jvp)
    x, dx = T.dmatrix("x"), T.dmatrix("dx")
    per = MatrixInverse()(x).sum(1) + Solve()(x, b)
    f1 = T.function([x, b, dx], Rop(per, x, dx), mode=mode)
    Xv = np.stack([_spd(3)(rng) for _ in range(B)])
    bv, dXv = rng.standard_normal(3), rng.standard_normal((B, 3, 3))
    np.testing.assert_allclose(run(mode, [X, b, dX], jvp, Xv, bv, dXv),
                               np.stack([f1(Xv[i], bv, dXv[i]) for i in range(B)]), rtol=1e-10, atol=1e-12)


def test_vectorize_graph_of_several_ops(mode, rng):
    """vectorize_graph with one batched replacement through a chain of these ops."""
    x, y = T.dmatrix("x"), T.lvector("y")
    probs = T.exp(x) / T.exp(x).sum(1, keepdims=True)
    out = CrossentropyCategorical1Hot()(probs, y).sum() * Det()(Gemm()(x[:, :2], 1.0, x, x[:2], 0.5)) \
        + ExtractDiag(0)(FillDiagonal()(x, 0.0)).sum()
    X = T.dtensor3("X")
    new = vectorize_graph(out, {x: X})
    _no_per_sample(new)
    Xv, yv = rng.standard_normal((B, 2, 2)), np.array([1, 0])
    f = T.function([x, y], out, mode=mode)
    np.testing.assert_allclose(run(mode, [X, y], new, Xv, yv), [f(Xv[i], yv) for i in range(B)],
                               rtol=1e-10, atol=1e-12)
