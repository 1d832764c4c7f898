"""pool_2d (ops/pool.py) and its gradient ops (ops/pool_grad.py) against a straightforward numpy
loop reference, in every mode: the four pooling modes with windows, strides, padding and
ignore_border, N-d inputs, float32/float64 and integer dtypes, non-contiguous and zero-size
inputs; gradients (loop reference in every mode, verify_grad in float64 including the
gradient ops and the grad-of-grad), R_op, infer_shape, the deprecated spellings and errors.

Where Theano 1.0 and this implementation differ it is said: ``ignore_border=None`` means True
(the API's documented default; Theano 1.0 warned and used False), and the gradient of the
max-pool gradient sums tied maxima (Theano keeps one; they agree when the maximum is unique).
"""
import warnings

import numpy as np
import pytest

import symtensor as T
from symtensor.grad import verify_grad
from symtensor.graph.type import TensorType
from symtensor.ops.pool import Pool, max_pool_2d, max_pool_2d_same_size, pool_2d
from symtensor.ops.pool_grad import AveragePoolGrad, DownsampleFactorMaxGradGrad, MaxPoolGrad
from tests.helpers import assert_unchanged, check_infer_shape, noncontiguous, rand, run, tol

MODES = ["max", "sum", "average_inc_pad", "average_exc_pad"]
# (ws, stride, pad, ignore_border)
OPTIONS = [
    ((2, 2), None, (0, 0), True),
    ((2, 2), None, (0, 0), False),
    ((3, 2), (1, 2), (0, 0), False),
    ((2, 3), (3, 2), (0, 0), False),
    ((3, 2), (2, 1), (1, 1), True),
    ((3, 3), (2, 2), (2, 0), True),
    ((1, 1), (2, 3), (0, 0), True),
]
SHAPE = (2, 3, 7, 6)


def opt_id(opt):
    ws, st, pad, ib = opt
    return f"ws{ws}-st{st}-pad{pad}-ib{ib}"


def np_pool(x, ws, stride, pad, ignore_border, mode, gz=None):
    """Loop reference (Theano's definition): the pooled output, and for an output gradient
    ``gz`` the input gradient (max: to every cell equal to its window's maximum)."""
    stride = stride or ws
    h, w = x.shape[-2:]
    hp, wp = h + 2 * pad[0], w + 2 * pad[1]

    def n_out(n, k, s, p):
        if ignore_border:
            return (n + 2 * p - k) // s + 1
        return (n - 1) // s + 1 if s >= k else max(0, (n - 1 - k + s) // s) + 1

    oh, ow = n_out(h, ws[0], stride[0], pad[0]), n_out(w, ws[1], stride[1], pad[1])
    out = np.zeros(x.shape[:-2] + (oh, ow))
    gx = np.zeros(x.shape)
    for lead in np.ndindex(*x.shape[:-2]):
        for r in range(oh):
            for c in range(ow):
                cells, count = [], 0
                for i in range(r * stride[0], min(r * stride[0] + ws[0], hp)):
                    for j in range(c * stride[1], min(c * stride[1] + ws[1], wp)):
                        inside = pad[0] <= i < h + pad[0] and pad[1] <= j < w + pad[1]
                        count += inside or mode == "average_inc_pad"
                        if inside:
                            cells.append((i - pad[0], j - pad[1]))
                vals = [float(x[lead + cell]) for cell in cells]
                o = max(vals) if mode == "max" else sum(vals) if mode == "sum" else sum(vals) / count
                out[lead + (r, c)] = o
                if gz is None:
                    continue
                for cell, v in zip(cells, vals):
                    if mode == "max":
                        gx[lead + cell] += gz[lead + (r, c)] * (v == o)
                    else:
                        gx[lead + cell] += gz[lead + (r, c)] / (1 if mode == "sum" else count)
    return out, gx


# --- forward values -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_option_matches_loop_reference(mode, rng, dtype):
    x = T.tensor4("x", dtype=dtype)
    cases = [(m, o) for m in MODES for o in OPTIONS]
    outs = [pool_2d(x, ws, ignore_border=ib, stride=st, pad=pad, mode=m) for m, (ws, st, pad, ib) in cases]
    xv = rand(rng, SHAPE, dtype)
    got = run(mode, [x], outs, xv)
    for (m, opt), g, o in zip(cases, got, outs):
        ws, st, pad, ib = opt
        want = np_pool(xv, ws, st, pad, ib, m)[0]
        assert g.dtype == dtype and o.dtype == dtype
        assert g.shape == want.shape, (m, opt_id(opt), g.shape, want.shape)
        np.testing.assert_allclose(g, want, **tol(dtype), err_msg=f"{m} {opt_id(opt)}")


@pytest.mark.parametrize("shape", [(6, 5), (3, 6, 5), (2, 1, 2, 5, 4)], ids=lambda s: f"{len(s)}d")
def test_n_d_inputs_pool_the_last_two_axes(mode, rng, shape):
    x = T.tensor(dtype="float64", broadcastable=(False,) * len(shape), name="x")
    outs = [pool_2d(x, (2, 3), ignore_border=False, stride=(1, 2), mode=m) for m in MODES]
    xv = rand(rng, shape)
    for m, g in zip(MODES, run(mode, [x], outs, xv)):
        np.testing.assert_allclose(g, np_pool(xv, (2, 3), (1, 2), (0, 0), False, m)[0], **tol("float64"))


@pytest.mark.parametrize("m", MODES)
def test_layouts_noncontiguous_and_zero_size(mode, rng, m):
    x = T.tensor4("x")
    f = T.function([x], pool_2d(x, (3, 2), ignore_border=True, stride=(2, 1), pad=(1, 1), mode=m), mode=mode)
    g = T.function([x], pool_2d(x, (2, 2), ignore_border=False, mode=m), mode=mode)
    xv = rand(rng, SHAPE)
    for xa in [noncontiguous(xv), xv[:0], xv[:, :, ::-1, ::2], xv[:, :0]]:
        before = xa.copy()
        got_f, got_g = f(xa), g(xa)
        assert_unchanged([before], [xa])
        for got, want in [(got_f, np_pool(xa, (3, 2), (2, 1), (1, 1), True, m)[0]),
                          (got_g, np_pool(xa, (2, 2), None, (0, 0), False, m)[0])]:
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, **tol("float64"))
    # zero rows with ignore_border=False: no windows at all
    assert g(np.zeros((2, 3, 0, 4))).shape == (2, 3, 0, 2)


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_integer_inputs_keep_their_dtype(mode, rng, dtype):
    """Theano keeps the input dtype; averages are truncated as numpy's float-to-int cast does."""
    x = T.tensor3("x", dtype=dtype)
    outs = [pool_2d(x, (2, 2), ignore_border=True, pad=(1, 1), stride=(1, 2), mode=m) for m in MODES]
    xv = rand(rng, (2, 5, 4), dtype)
    for m, g in zip(MODES, run(mode, [x], outs, xv)):
        assert g.dtype == dtype
        np.testing.assert_array_equal(g, np_pool(xv, (2, 2), (1, 2), (1, 1), True, m)[0].astype(dtype))


# --- gradients ------------------------------------------------------------------------------------
def test_gradients_match_loop_reference(mode, rng):
    x = T.tensor4("x")
    xv = rand(rng, SHAPE)
    outs, refs = [], []
    for m in MODES:
        for ws, st, pad, ib in OPTIONS:
            y = pool_2d(x, ws, ignore_border=ib, stride=st, pad=pad, mode=m)
            gz = rand(rng, np_pool(xv, ws, st, pad, ib, m)[0].shape)
            outs.append(T.grad(T.sum(y * T.constant(gz)), x))
            refs.append(np_pool(xv, ws, st, pad, ib, m, gz)[1])
    for i, (g, want) in enumerate(zip(run(mode, [x], outs, xv), refs)):
        np.testing.assert_allclose(g, want, **tol("float64"), err_msg=f"{MODES[i // len(OPTIONS)]} "
                                   f"{opt_id(OPTIONS[i % len(OPTIONS)])}")


@pytest.mark.parametrize("m", MODES)
@pytest.mark.parametrize("opt", OPTIONS[1:6], ids=opt_id)
def test_verify_grad(m, opt):
    ws, st, pad, ib = opt
    rng = np.random.default_rng(5)
    verify_grad(lambda a: pool_2d(a, ws, ignore_border=ib, stride=st, pad=pad, mode=m),
                [rng.standard_normal((2, 2, 7, 6))], n_tests=1, rng=rng)


@pytest.mark.parametrize("opt", OPTIONS[1:6], ids=opt_id)
def test_gradient_ops_have_gradients(opt):
    """verify_grad of MaxPoolGrad (in gz), DownsampleFactorMaxGradGrad (in ggx), AveragePoolGrad
    (in gz), and of a gradient of a gradient through pool_2d."""
    ws, st, pad, ib = opt
    rng = np.random.default_rng(9)
    xv = rng.standard_normal((2, 2, 7, 6))
    pool = Pool(ws, ib, st, pad)
    zv = run("FAST_COMPILE", [x := T.tensor4("x")], pool(x), xv)
    gzv = rng.standard_normal(zv.shape)
    max_grad = MaxPoolGrad(ws, ib, st, pad)
    grad_grad = DownsampleFactorMaxGradGrad(ws, ib, st, pad)
    verify_grad(lambda gz: max_grad(T.constant(xv), T.constant(zv), gz), [gzv], n_tests=1, rng=rng)
    verify_grad(lambda ggx: grad_grad(T.constant(xv), T.constant(zv), ggx), [xv.copy()], n_tests=1, rng=rng)
    for m in MODES[1:]:
        avg_grad = AveragePoolGrad(ws, ib, st, pad, m)
        verify_grad(lambda gz: avg_grad(T.constant(xv), gz), [gzv], n_tests=1, rng=rng)
    for m in MODES:
        verify_grad(lambda a: T.grad(T.sum(pool_2d(a, ws, ib, st, pad, m) ** 2), a), [xv], n_tests=1, rng=rng)


def test_max_grad_grad_matches_loop_reference(mode, rng):
    """ggz[window] = ggx at the window's maximum cell (unique maxima with random inputs)."""
    x, ggx = T.tensor4("x"), T.tensor4("ggx")
    ws, st, pad, ib = OPTIONS[4]
    z = pool_2d(x, ws, ib, st, pad)
    ggz = DownsampleFactorMaxGradGrad(ws, ib, st, pad)(x, z, ggx)
    xv, ggxv = rand(rng, SHAPE), rand(rng, SHAPE)
    got = run(mode, [x, ggx], ggz, xv, ggxv)
    zv = np_pool(xv, ws, st, pad, ib, "max")[0]
    want = np.zeros(zv.shape)
    for idx in np.ndindex(*zv.shape):   # <ggz, gz> = <ggx, MaxPoolGrad(gz)> for one-hot gz
        one_hot = np.zeros(zv.shape)
        one_hot[idx] = 1
        want[idx] = np.sum(ggxv * np_pool(xv, ws, st, pad, ib, "max", one_hot)[1])
    np.testing.assert_allclose(got, want, **tol("float64"))


def test_rop(mode, rng):
    x, ev = T.tensor4("x"), T.tensor4("ev")
    ws, st, pad, ib = OPTIONS[4]
    xv, evv = rand(rng, SHAPE), rand(rng, SHAPE)
    outs = [T.Rop(pool_2d(x, ws, ib, st, pad, m), x, ev) for m in MODES]
    eps = 1e-6
    for m, g in zip(MODES, run(mode, [x, ev], outs, xv, evv)):
        # every mode is linear on a neighbourhood of a point with unique maxima
        want = (np_pool(xv + eps * evv, ws, st, pad, ib, m)[0] - np_pool(xv - eps * evv, ws, st, pad, ib, m)[0])
        np.testing.assert_allclose(g, want / (2 * eps), rtol=1e-6, atol=1e-6)


# --- shapes ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("opt", OPTIONS, ids=opt_id)
def test_infer_shape(mode, rng, opt):
    ws, st, pad, ib = opt
    x = T.tensor4("x")
    for shape in [SHAPE, (1, 2, 2, 3)] if not ib else [SHAPE]:
        xv = rand(rng, shape)
        y = pool_2d(x, ws, ib, st, pad, "average_exc_pad")
        want = np_pool(xv, ws, st, pad, ib, "sum")[0].shape
        check_infer_shape(mode, [x], y, [xv], want)
        gz = T.tensor4("gz")
        check_infer_shape(mode, [x, gz], MaxPoolGrad(ws, ib, st, pad)(x, pool_2d(x, ws, ib, st, pad), gz),
                          [xv, rand(rng, want)], shape)
    static = TensorType("float64", shape=(None, 3, 7, 6))("s")
    assert pool_2d(static, ws, ib, st, pad).type.shape == (None, 3) + np_pool(rand(rng, SHAPE), ws, st, pad, ib,
                                                                             "max")[0].shape[2:]
    assert Pool.out_shape(SHAPE, ws, ib, st, pad) == list(np_pool(rand(rng, SHAPE), ws, st, pad, ib, "max")[0].shape)


def test_max_pool_2d_same_size(mode, rng):
    x = T.tensor4("x")
    xv = rand(rng, (2, 3, 6, 4))
    got = run(mode, [x], max_pool_2d_same_size(x, (3, 2)), xv)
    blocks = xv.reshape(2, 3, 2, 3, 2, 2)
    keep = blocks == blocks.max(axis=(3, 5), keepdims=True)
    np.testing.assert_allclose(got, np.where(keep, blocks, 0).reshape(xv.shape))


# --- old spellings and defaults -------------------------------------------------------------------
def test_deprecated_aliases(mode, rng):
    x = T.tensor4("x")
    xv = rand(rng, SHAPE)
    with pytest.warns(DeprecationWarning) as record:
        old = max_pool_2d(x, ds=(3, 2), ignore_border=True, st=(2, 1), padding=(1, 1), mode="average_exc_pad")
    assert {str(w.message).split("'")[1] for w in record} == {"ds", "st", "padding"}
    new = pool_2d(x, ws=(3, 2), ignore_border=True, stride=(2, 1), pad=(1, 1), mode="average_exc_pad")
    a, b = run(mode, [x], [old, new], xv)
    np.testing.assert_array_equal(a, b)
    for kwargs in [dict(ws=(2, 2), ds=(2, 2)), dict(ws=(2, 2), stride=(1, 1), st=(1, 1)),
                   dict(ws=(2, 2), pad=(1, 1), padding=(1, 1))]:
        with pytest.raises(ValueError, match="not both"):
            pool_2d(x, ignore_border=True, **kwargs)


def test_ignore_border_none_warns_and_means_true(rng):
    x = T.tensor4("x")
    with pytest.warns(UserWarning, match="ignore_border"):
        y = pool_2d(x, (2, 2))
    assert y.owner.op.ignore_border is True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pool_2d(x, (2, 2), ignore_border=False)


# --- errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, err, pattern", [
    (dict(ws=(0, 2)), ValueError, r"ws entries must be >= 1.*\(0, 2\)"),
    (dict(ws=(2, 2, 2)), TypeError, r"ws must be a pair of ints.*\(2, 2, 2\)"),
    (dict(ws=None), ValueError, "window size ws is required"),
    (dict(ws=(2, 2), stride=(0, 1)), ValueError, r"stride entries must be >= 1.*\(0, 1\)"),
    (dict(ws=(2, 2), pad=(-1, 0)), ValueError, r"pad entries must be >= 0.*\(-1, 0\)"),
    (dict(ws=(2, 2), pad=(2, 0)), ValueError, r"pad=\(2, 0\) must be smaller than the window ws=\(2, 2\)"),
    (dict(ws=(2, 2), pad=(1, 0), ignore_border=False), ValueError, r"pad=\(1, 0\) needs ignore_border=True"),
    (dict(ws=(2, 2), mode="avg"), ValueError, r"mode must be one of.*'avg'"),
    (dict(ws=(2, 2), ignore_border="yes"), TypeError, r"ignore_border must be True or False.*'yes'"),
])
def test_bad_options_raise_at_build_time(kwargs, err, pattern):
    kwargs.setdefault("ignore_border", True)
    with pytest.raises(err, match=pattern):
        pool_2d(T.tensor4("x"), **kwargs)


def test_bad_inputs():
    with pytest.raises(TypeError, match="at least 2 dimensions.*1-d"):
        pool_2d(T.vector("x"), (2, 2), ignore_border=True)
    with pytest.raises(TypeError, match="real numeric dtype, got bool"):
        pool_2d(T.matrix("x", dtype="bool"), (2, 2), ignore_border=True)
    with pytest.raises(TypeError, match="ws must be constant ints"):
        pool_2d(T.matrix("x"), T.ivector("ws"), ignore_border=True)
    with pytest.raises(ValueError, match=r"gz has static shape \(2, 3, 3, 3\).*gives \(2, 3, 3, 2\)"):
        x = TensorType("float64", shape=(2, 3, 6, 5))("x")
        MaxPoolGrad((2, 2))(x, pool_2d(x, (2, 2), True), TensorType("float64", shape=(2, 3, 3, 3))("gz"))


def test_window_larger_than_input_static_and_at_run_time(mode, rng):
    pattern = r"window ws=\(3, 3\) is larger than the input \(2 rows, 2 with pad=\(0, 0\)\)"
    with pytest.raises(ValueError, match=pattern):
        pool_2d(TensorType("float64", shape=(1, 2, 5))("x"), (3, 3), ignore_border=True)
    x = T.tensor3("x")
    f = T.function([x], pool_2d(x, (3, 3), ignore_border=True), mode=mode)
    with pytest.raises(ValueError, match=pattern + ".*at run time"):
        f(rand(rng, (1, 2, 5)))
    # with ignore_border=False a partial window is fine
    g = T.function([x], pool_2d(x, (3, 3), ignore_border=False), mode=mode)
    np.testing.assert_allclose(g(xv := rand(rng, (1, 2, 5))), np_pool(xv, (3, 3), None, (0, 0), False, "max")[0])


def test_batching_rules(mode, rng):
    """Pooling is over the last two axes, so a leading batch axis maps through every op."""
    x, bx, bg = T.tensor4("x"), T.tensor5("bx"), T.tensor5("bg")
    ws, st, pad, ib = OPTIONS[4]
    z = pool_2d(x, ws, ib, st, pad)
    (bz,) = z.owner.op.vectorize_node(z.owner, bx)
    g = MaxPoolGrad(ws, ib, st, pad)(x, z, z)
    (bgx,) = g.owner.op.vectorize_node(g.owner, bx, bz, bg)
    bxv = rand(rng, (2,) + SHAPE)
    bgv = rand(rng, (2,) + np_pool(bxv[0], ws, st, pad, ib, "max")[0].shape)
    got_z, got_g = run(mode, [bx, bg], [bz, bgx], bxv, bgv)
    for i in range(2):
        want_z, want_g = np_pool(bxv[i], ws, st, pad, ib, "max", bgv[i])
        np.testing.assert_allclose(got_z[i], want_z, **tol("float64"))
        np.testing.assert_allclose(got_g[i], want_g, **tol("float64"))
