"""conv2d (ops/conv.py) and its gradient ops (ops/conv_grad.py) against a straightforward numpy
loop reference, in every mode: every border mode (names, int, pair, pair of pairs), subsample,
filter_dilation, filter_flip, num_groups; float32 and float64; non-contiguous inputs and batch
size 0; gradients (loop reference in every mode, verify_grad in float64, second derivatives
through the gradient ops' own gradients), R_op, infer_shape, static shapes, the deprecated
spellings and build-/run-time errors.
"""
import warnings

import numpy as np
import pytest

import symtensor as T
from symtensor.grad import verify_grad
from symtensor.graph.type import TensorType
from symtensor.ops.conv import Conv2d, conv2d, conv2d_legacy
from symtensor.ops.conv_grad import (Conv2dGradInputs, Conv2dGradWeights, conv2d_grad_wrt_inputs,
                                     conv2d_grad_wrt_weights)
from tests.helpers import assert_unchanged, check_infer_shape, noncontiguous, rand, run, tol

# option sets; groups=2 cases use filters with half the input channels
CASES = [
    dict(),
    dict(border_mode="full"),
    dict(border_mode="half"),
    dict(border_mode=1),
    dict(border_mode=(2, 0)),
    dict(border_mode=((1, 2), (0, 3))),
    dict(subsample=(2, 3)),
    dict(border_mode="full", subsample=(2, 2)),
    dict(filter_dilation=(2, 1)),
    dict(border_mode="half", filter_dilation=(2, 2), subsample=(2, 1)),
    dict(filter_flip=False),
    dict(num_groups=2),
    dict(num_groups=2, border_mode="full", subsample=(1, 2), filter_dilation=(1, 2), filter_flip=False),
]
X_SHAPE = (2, 4, 7, 6)


def k_shape(case):
    return (4, 2, 3, 2) if case.get("num_groups", 1) == 2 else (3, 4, 3, 2)


def np_pads(border_mode, kshape, dilation):
    """((top, bottom), (left, right)) for a border mode, written out from Theano's docs."""
    ext = [(k - 1) * d + 1 for k, d in zip(kshape, dilation)]
    if border_mode == "valid":
        return ((0, 0), (0, 0))
    if border_mode == "full":
        return tuple((e - 1, e - 1) for e in ext)
    if border_mode == "half":
        return tuple((e // 2, e // 2) for e in ext)
    if isinstance(border_mode, int):
        return ((border_mode,) * 2,) * 2
    return tuple(b if isinstance(b, tuple) else (b, b) for b in border_mode)


def np_conv(x, k, r=None, border_mode="valid", subsample=(1, 1), filter_flip=True, filter_dilation=(1, 1),
            num_groups=1):
    """Loop reference: the convolution, and for an output gradient ``r`` the input and filter
    gradients of ``sum(conv * r)``."""
    x, k = x.astype("float64"), k.astype("float64")
    kk = k[:, :, ::-1, ::-1] if filter_flip else k
    (pt, pb), (pl, pr) = np_pads(border_mode, k.shape[2:], filter_dilation)
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    b_, _, hp, wp = xp.shape
    f_, cg, kh, kw = k.shape
    (sh, sw), (dh, dw) = subsample, filter_dilation
    oh, ow = (hp - (kh - 1) * dh - 1) // sh + 1, (wp - (kw - 1) * dw - 1) // sw + 1
    out = np.zeros((b_, f_, oh, ow))
    gxp, gkk = np.zeros_like(xp), np.zeros_like(kk)
    per_group = f_ // num_groups
    for b in range(b_):
        for f in range(f_):
            g = f // per_group
            for y in range(oh):
                for z in range(ow):
                    for c in range(cg):
                        for i in range(kh):
                            for j in range(kw):
                                pos = (b, g * cg + c, y * sh + i * dh, z * sw + j * dw)
                                out[b, f, y, z] += xp[pos] * kk[f, c, i, j]
                                if r is not None:
                                    gxp[pos] += r[b, f, y, z] * kk[f, c, i, j]
                                    gkk[f, c, i, j] += r[b, f, y, z] * xp[pos]
    gx = gxp[:, :, pt:pt + x.shape[2], pl:pl + x.shape[3]]
    gk = gkk[:, :, ::-1, ::-1] if filter_flip else gkk
    return out, gx, gk


def case_id(case):
    return ",".join(f"{k}={v}" for k, v in case.items()) or "default"


# --- forward values -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_option_matches_loop_reference(mode, rng, dtype):
    x, k1, k2 = T.tensor4("x", dtype=dtype), T.tensor4("k1", dtype=dtype), T.tensor4("k2", dtype=dtype)
    outs = [conv2d(x, k2 if c.get("num_groups") else k1, **c) for c in CASES]
    xv, k1v, k2v = rand(rng, X_SHAPE, dtype), rand(rng, k_shape({}), dtype), rand(rng, k_shape(CASES[-1]), dtype)
    got = run(mode, [x, k1, k2], outs, xv, k1v, k2v)
    for case, g, o in zip(CASES, got, outs):
        want = np_conv(xv, k2v if case.get("num_groups") else k1v, **case)[0]
        assert g.dtype == dtype and o.dtype == dtype
        assert g.shape == want.shape, (case_id(case), g.shape, want.shape)
        np.testing.assert_allclose(g, want, **tol(dtype), err_msg=case_id(case))


@pytest.mark.parametrize("case", [CASES[0], CASES[9], CASES[12]], ids=case_id)
def test_layouts_noncontiguous_and_zero_batch(mode, rng, case):
    x, k = T.tensor4("x"), T.tensor4("k")
    f = T.function([x, k], conv2d(x, k, **case), mode=mode)
    xv, kv = rand(rng, X_SHAPE), rand(rng, k_shape(case))
    for xa, ka in [(noncontiguous(xv), kv), (xv, noncontiguous(kv)), (xv[:0], kv),
                   (xv[:, :, ::-1, 1:], kv[:, :, ::-1])]:
        before = [xa.copy(), ka.copy()]
        got = f(xa, ka)
        assert_unchanged(before, [xa, ka])
        want = np_conv(xa, ka, **case)[0]
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, **tol("float64"))


def test_mixed_dtypes_promote_like_numpy(mode, rng):
    x, k = T.tensor4("x", dtype="float32"), T.tensor4("k", dtype="float64")
    out = conv2d(x, k, border_mode="half")
    assert out.dtype == "float64"
    xv, kv = rand(rng, (1, 2, 4, 5), "float32"), rand(rng, (3, 2, 3, 3))
    got = run(mode, [x, k], out, xv, kv)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, np_conv(xv, kv, border_mode="half")[0], **tol("float64"))


# --- gradients ------------------------------------------------------------------------------------
def test_gradients_match_loop_reference(mode, rng):
    x, k1, k2, = T.tensor4("x"), T.tensor4("k1"), T.tensor4("k2")
    xv, k1v, k2v = rand(rng, X_SHAPE), rand(rng, k_shape({})), rand(rng, k_shape(CASES[-1]))
    outs, refs = [], []
    for case in CASES:
        k, kv = (k2, k2v) if case.get("num_groups") else (k1, k1v)
        y = conv2d(x, k, **case)
        rv = rand(rng, np_conv(xv, kv, **case)[0].shape)
        outs += T.grad(T.sum(y * T.constant(rv)), [x, k])
        refs += list(np_conv(xv, kv, rv, **case)[1:])
    got = run(mode, [x, k1, k2], outs, xv, k1v, k2v)
    for i, (g, want) in enumerate(zip(got, refs)):
        np.testing.assert_allclose(g, want, **tol("float64"), err_msg=f"{case_id(CASES[i // 2])} grad {i % 2}")


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_verify_grad_input_and_filters(case):
    rng = np.random.default_rng(7)
    xv = rng.standard_normal((2, 4, 5, 5))
    kv = rng.standard_normal((2, 2, 2, 2) if case.get("num_groups") else (2, 4, 2, 2))
    verify_grad(lambda a, b: conv2d(a, b, **case), [xv, kv], n_tests=1, rng=rng)


@pytest.mark.parametrize("case", [CASES[0], CASES[7], CASES[9], CASES[12]], ids=case_id)
def test_gradient_ops_have_gradients(case):
    """verify_grad of the gradient ops themselves: second derivatives work."""
    rng = np.random.default_rng(3)
    groups = case.get("num_groups", 1)
    xv = rng.standard_normal((2, 4, 5, 5))
    kv = rng.standard_normal((2, 4 // groups, 2, 2))
    top = np_conv(xv, kv, **case)[0]
    tv = rng.standard_normal(top.shape)
    gi = Conv2dGradInputs(**case_params(case))
    gw = Conv2dGradWeights(**case_params(case))
    verify_grad(lambda k, t: gi(k, t, (5, 5)), [kv, tv], n_tests=1, rng=rng)
    verify_grad(lambda x, t: gw(x, t, (2, 2)), [xv, tv], n_tests=1, rng=rng)
    # a Hessian-vector product: the gradient of a gradient
    verify_grad(lambda x, k: T.grad(T.sum(conv2d(x, k, **case) ** 2), x), [xv, kv], n_tests=1, rng=rng)


def case_params(case):
    return dict(border_mode=case.get("border_mode", "valid"), subsample=case.get("subsample", (1, 1)),
                filter_flip=case.get("filter_flip", True), filter_dilation=case.get("filter_dilation", (1, 1)),
                num_groups=case.get("num_groups", 1))


def test_grad_ops_match_loop_reference_in_every_mode(mode, rng):
    case = CASES[9]
    xv, kv = rand(rng, X_SHAPE), rand(rng, k_shape(case))
    out, gx_ref, gk_ref = np_conv(xv, kv, rv := rand(rng, np_conv(xv, kv, **case)[0].shape), **case)
    k, t, x = T.tensor4("k"), T.tensor4("t"), T.tensor4("x")
    gi = conv2d_grad_wrt_inputs(t, k, (None, None, 7, 6), **case_params(case))
    gw = conv2d_grad_wrt_weights(x, t, (None, None, 3, 2), **case_params(case))
    got_i, got_w = run(mode, [k, t, x], [gi, gw], kv, rv, xv)
    np.testing.assert_allclose(got_i, gx_ref, **tol("float64"))
    np.testing.assert_allclose(got_w, gk_ref, **tol("float64"))
    # strides make the input size ambiguous: the shape input decides it (7 and 8 rows give 2 rows out)
    gi8 = run(mode, [k, t], Conv2dGradInputs(**case_params(case))(k, t, (8, 6)), kv, rv)
    assert gi8.shape == (2, 4, 8, 6)
    np.testing.assert_allclose(gi8[:, :, :7], gx_ref, **tol("float64"))


def test_rop_matches_product_rule(mode, rng):
    case = CASES[12]
    x, k, ex, ek = T.tensor4("x"), T.tensor4("k"), T.tensor4("ex"), T.tensor4("ek")
    y = conv2d(x, k, **case)
    r = T.Rop(y, [x, k], [ex, ek])
    xv, ev, kv, ekv = (rand(rng, X_SHAPE), rand(rng, X_SHAPE), rand(rng, k_shape(case)), rand(rng, k_shape(case)))
    got = run(mode, [x, k, ex, ek], r, xv, kv, ev, ekv)
    want = np_conv(ev, kv, **case)[0] + np_conv(xv, ekv, **case)[0]
    np.testing.assert_allclose(got, want, **tol("float64"))
    # the gradient ops' R_op (linear in both tensor inputs)
    t, et = T.tensor4("t"), T.tensor4("et")
    tv, etv = (rand(rng, want.shape) for _ in range(2))
    gi = Conv2dGradInputs(**case_params(case))(k, t, (7, 6))
    gw = Conv2dGradWeights(**case_params(case))(x, t, (3, 2))
    ri, rw = T.Rop(gi, [k, t], [ek, et]), T.Rop(gw, [x, t], [ex, et])
    got_i, got_w = run(mode, [x, k, t, ex, ek, et], [ri, rw], xv, kv, tv, ev, ekv, etv)
    np.testing.assert_allclose(got_i, np_conv(xv, ekv, tv, **case)[1] + np_conv(xv, kv, etv, **case)[1],
                               **tol("float64"))
    np.testing.assert_allclose(got_w, np_conv(ev, kv, tv, **case)[2] + np_conv(xv, kv, etv, **case)[2],
                               **tol("float64"))


# --- shapes ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_infer_shape(mode, rng, case):
    x, k = T.tensor4("x"), T.tensor4("k")
    xv, kv = rand(rng, X_SHAPE), rand(rng, k_shape(case))
    y = conv2d(x, k, **case)
    expected = np_conv(xv, kv, **case)[0].shape
    check_infer_shape(mode, [x, k], y, [xv, kv], expected)
    t = T.tensor4("t")
    gi = Conv2dGradInputs(**case_params(case))(k, t, (x.shape[2], x.shape[3]))
    gw = Conv2dGradWeights(**case_params(case))(x, t, k.shape[2:])
    tv = rand(rng, expected)
    check_infer_shape(mode, [x, k, t], gi, [xv, kv, tv], X_SHAPE)
    check_infer_shape(mode, [x, k, t], gw, [xv, kv, tv], kv.shape)


def test_static_shapes_from_types_and_hints():
    x = TensorType("float64", shape=(2, 4, 7, 6))("x")
    k = TensorType("float64", shape=(3, 4, 3, 2))("k")
    assert conv2d(x, k).type.shape == (2, 3, 5, 5)
    assert conv2d(x, k, border_mode="full", subsample=(2, 2)).type.shape == (2, 3, 5, 4)
    xs, ks = T.tensor4("xs"), T.tensor4("ks")
    y = conv2d(xs, ks, input_shape=(None, 4, 7, 6), filter_shape=(3, 4, 3, 2), border_mode="half")
    assert y.type.shape == (None, 3, 7, 7)
    assert conv2d(xs, ks).type.shape == (None,) * 4


def test_shape_hints_are_checked_at_run_time(mode, rng):
    x, k = T.tensor4("x"), T.tensor4("k")
    f = T.function([x, k], conv2d(x, k, input_shape=(None, 4, 7, 6)), mode=mode)
    assert f(rand(rng, X_SHAPE), rand(rng, (3, 4, 3, 2))).shape == (2, 3, 5, 5)
    with pytest.raises(ValueError, match=r"input_shape=\(None, 4, 7, 6\).*\(2, 4, 8, 6\)"):
        f(rand(rng, (2, 4, 8, 6)), rand(rng, (3, 4, 3, 2)))


# --- old spellings --------------------------------------------------------------------------------
def test_image_shape_alias_warns_and_acts_as_input_shape():
    x, k = T.tensor4("x"), T.tensor4("k")
    with pytest.warns(DeprecationWarning, match="image_shape"):
        y = conv2d(x, k, image_shape=(2, 4, 7, 6), filter_shape=(3, 4, 3, 2))
    assert y.type.shape == (2, 3, 5, 5)
    with pytest.raises(ValueError, match="image_shape"):
        conv2d(x, k, input_shape=(2, 4, 7, 6), image_shape=(2, 4, 7, 6))


def test_legacy_conv2d_is_a_true_convolution(mode, rng):
    x, k = T.tensor4("x"), T.tensor4("k")
    with pytest.warns(DeprecationWarning):
        y = conv2d_legacy(x, k, image_shape=(2, 4, 7, 6), filter_shape=(3, 4, 3, 2), border_mode="full",
                          subsample=(2, 1))
    xv, kv = rand(rng, X_SHAPE), rand(rng, (3, 4, 3, 2))
    np.testing.assert_allclose(run(mode, [x, k], y, xv, kv),
                               np_conv(xv, kv, border_mode="full", subsample=(2, 1))[0], **tol("float64"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="border_mode must be 'valid' or 'full'.*'half'"):
            conv2d_legacy(x, k, border_mode="half")


# --- errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, err, pattern", [
    (dict(border_mode="same"), ValueError, r"border_mode.*'same'"),
    (dict(border_mode=-1), ValueError, r"border_mode padding must be >= 0.*-1"),
    (dict(border_mode=(1, 2, 3)), TypeError, r"border_mode.*\(1, 2, 3\)"),
    (dict(border_mode=1.5), TypeError, r"border_mode.*1.5"),
    (dict(subsample=(0, 1)), ValueError, r"subsample.*\(0, 1\)"),
    (dict(subsample=(1,)), TypeError, r"subsample.*\(1,\)"),
    (dict(filter_dilation=(1, 0)), ValueError, r"filter_dilation.*\(1, 0\)"),
    (dict(num_groups=0), ValueError, r"num_groups.*0"),
    (dict(input_shape=(1, 2)), ValueError, r"input_shape must have 4 entries"),
    (dict(unshared=True), ValueError, "unshared"),
    (dict(imshp_logical=(1, 2)), ValueError, "imshp_logical"),
])
def test_bad_options_raise_at_build_time(kwargs, err, pattern):
    with pytest.raises(err, match=pattern):
        conv2d(T.tensor4("x"), T.tensor4("k"), **kwargs)


@pytest.mark.parametrize("xshape, kshape, kwargs, pattern", [
    ((2, 4, 7, 6), (3, 5, 3, 3), {}, r"input has 4 channels but the filters expect 5"),
    ((2, 4, 7, 6), (3, 2, 3, 3), dict(num_groups=2), r"number of filters \(3\) is not divisible by num_groups=2"),
    ((2, 3, 7, 6), (4, 1, 3, 3), dict(num_groups=2), r"input channels \(3\) is not divisible by num_groups=2"),
    ((2, 4, 7, 6), (3, 4, 8, 3), {}, r"filter \(8 rows.*larger than the input \(7 rows"),
    ((2, 4, 7, 6), (3, 4, 3, 3), dict(filter_dilation=(1, 3)), r"filter \(3 columns, 7 with.*larger"),
])
def test_shape_errors_static_and_at_run_time(mode, rng, xshape, kshape, kwargs, pattern):
    xs = TensorType("float64", shape=xshape)("x")
    ks = TensorType("float64", shape=kshape)("k")
    with pytest.raises(ValueError, match=pattern):
        conv2d(xs, ks, **kwargs)
    x, k = T.tensor4("x"), T.tensor4("k")
    f = T.function([x, k], conv2d(x, k, **kwargs), mode=mode)
    with pytest.raises(ValueError, match=pattern):
        f(rand(rng, xshape), rand(rng, kshape))


def test_bad_input_types():
    with pytest.raises(TypeError, match=r"input must be a 4-d tensor.*3-d"):
        conv2d(T.tensor3("x"), T.tensor4("k"))
    with pytest.raises(TypeError, match=r"filters must have a float dtype, got int32"):
        conv2d(T.tensor4("x"), T.tensor4("k", dtype="int32"))
    with pytest.raises(ValueError, match=r"filter_shape=\(3, 4, 3, 3\).*static shape is \(3, 4, 2, 2\)"):
        conv2d(T.tensor4("x"), TensorType("float64", shape=(3, 4, 2, 2))("k"), filter_shape=(3, 4, 3, 3))


def test_grad_op_checks_output_gradient_shape(mode, rng):
    k, t = T.tensor4("k"), T.tensor4("t")
    f = T.function([k, t], Conv2dGradInputs()(k, t, (7, 6)), mode=mode)
    with pytest.raises(ValueError, match=r"output gradient has shape \(2, 3, 4, 4\).*gives \(2, 3, 5, 5\)"):
        f(rand(rng, (3, 4, 3, 2)), rand(rng, (2, 3, 4, 4)))
    with pytest.raises(TypeError, match="shape must be 2 ints"):
        Conv2dGradWeights()(T.tensor4("x"), t, (1, 2, 3))


def test_op_identity_and_pickling():
    import pickle
    a = Conv2d(border_mode=1, subsample=(2, 2))
    b = Conv2d(border_mode=((1, 1), (1, 1)), subsample=2)
    assert a == b and hash(a) == hash(b)
    assert pickle.loads(pickle.dumps(a)) == a
    assert a != Conv2d(border_mode=1)


def test_batching_rule_for_a_batched_input(mode, rng):
    """vectorize_node: an extra leading axis on the input maps the convolution over it."""
    x, k, bx = T.tensor4("x"), T.tensor4("k"), T.tensor(dtype="float64", broadcastable=(False,) * 5, name="bx")
    case = CASES[9]
    node = conv2d(x, k, **case).owner
    (out,) = node.op.vectorize_node(node, bx, k)
    bxv, kv = rand(rng, (3,) + X_SHAPE), rand(rng, k_shape(case))
    got = run(mode, [bx, k], out, bxv, kv)
    want = np.stack([np_conv(v, kv, **case)[0] for v in bxv])
    np.testing.assert_allclose(got, want, **tol("float64"))
