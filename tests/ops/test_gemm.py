"""The Gemm op (ops/gemm.py), ``beta * z + alpha * dot(x, y)``, against numpy in every mode:
broadcast z (row bias, column bias, scalar, full), symbolic and constant scales, float32 and
float64, non-contiguous and zero-size operands, infer_shape, gradients, R_op and errors."""
import numpy as np
import pytest

import symtensor as T
from symtensor.grad import verify_grad
from symtensor.graph.printing import pp
from symtensor.graph.type import TensorType
from symtensor.ops.gemm import Gemm, gemm
from tests.helpers import assert_unchanged, check_infer_shape, noncontiguous, rand, run, tol

FLOATS = ["float32", "float64"]
# z's static shape for a (3, 4) x (4, 5) product: full, row bias, column bias, scalar
Z_SHAPES = [(3, 5), (1, 5), (3, 1), (1, 1)]


def zvar(shape, dtype):
    """A symbolic z whose size-1 dimensions are broadcastable."""
    return TensorType(dtype, shape=tuple(1 if s == 1 else None for s in shape))("z")


def reference(z, alpha, x, y, beta):
    """numpy loop reference: out[i, j] = beta * z[i, j] + alpha * sum_l x[i, l] y[l, j]."""
    m, n = x.shape[0], y.shape[1]
    zb = np.broadcast_to(z, (m, n))
    out = np.empty((m, n), dtype=np.float64)
    for i in range(m):
        for j in range(n):
            out[i, j] = float(beta) * zb[i, j] + float(alpha) * sum(
                float(x[i, k]) * float(y[k, j]) for k in range(x.shape[1]))
    return out


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("zshape", Z_SHAPES)
def test_gemm_matches_numpy(mode, rng, dtype, zshape):
    z, x, y = zvar(zshape, dtype), T.matrix("x", dtype=dtype), T.matrix("y", dtype=dtype)
    a, b = T.scalar("a", dtype=dtype), T.scalar("b", dtype=dtype)
    out = gemm(z, a, x, y, b)
    assert out.dtype == dtype and out.broadcastable == (False, False)
    f = T.function([z, a, x, y, b], out, mode=mode)
    values = [rand(rng, zshape, dtype), np.asarray(0.7, dtype), rand(rng, (3, 4), dtype),
              rand(rng, (4, 5), dtype), np.asarray(-1.5, dtype)]
    before = [v.copy() for v in values]
    got = f(*values)
    assert got.dtype == dtype and got.shape == (3, 5)
    np.testing.assert_allclose(got, reference(*values), **tol(dtype))
    assert_unchanged(before, values)


@pytest.mark.parametrize("dtype", FLOATS)
def test_gemm_layouts(mode, rng, dtype):
    """Non-contiguous (strided, transposed) operands and zero-size dimensions."""
    z, x, y = zvar((1, 5), dtype), T.matrix("x", dtype=dtype), T.matrix("y", dtype=dtype)
    f = T.function([z, x, y], gemm(z, 2.0, x, y, 0.5), mode=mode)
    zv, xv, yv = rand(rng, (1, 5), dtype), rand(rng, (3, 4), dtype), rand(rng, (4, 5), dtype)
    want = reference(zv, 2.0, xv, yv, 0.5)
    for args in [(noncontiguous(zv), noncontiguous(xv), noncontiguous(yv)),
                 (zv, np.asfortranarray(xv), np.asfortranarray(yv)),
                 (zv, xv.T.copy().T, yv[::-1][::-1])]:
        np.testing.assert_allclose(f(*args), want, **tol(dtype))
    for xs, ys in [((0, 4), (4, 5)), ((3, 0), (0, 5)), ((3, 4), (4, 0))]:
        zs = (1, ys[1]) if ys[1] else (1, 0)
        zz = rand(rng, zs, dtype) if ys[1] else np.zeros((1, 0), dtype)
        got = f(zz, rand(rng, xs, dtype), rand(rng, ys, dtype))
        assert got.shape == (xs[0], ys[1])
        np.testing.assert_allclose(got, np.broadcast_to(0.5 * zz, got.shape), **tol(dtype))


def test_gemm_python_and_mixed_scales(mode, rng):
    """Python numbers and integer/float64 scalars are cast to the matrices' dtype."""
    z, x, y = zvar((3, 5), "float32"), T.matrix("x", dtype="float32"), T.matrix("y", dtype="float32")
    a = T.scalar("a", dtype="float64")
    k = T.scalar("k", dtype="int32")
    out = gemm(z, a, x, y, k)
    assert out.dtype == "float32"
    zv, xv, yv = rand(rng, (3, 5), "float32"), rand(rng, (3, 4), "float32"), rand(rng, (4, 5), "float32")
    got = run(mode, [z, a, x, y, k], out, zv, np.float64(0.25), xv, yv, np.int32(3))
    np.testing.assert_allclose(got, reference(zv, 0.25, xv, yv, 3), **tol("float32"))


def test_gemm_zero_scales_propagate_nan(mode):
    """0 * nan is nan, as in numpy: a zero alpha or beta does not skip its operand."""
    z, x, y = zvar((2, 2), "float64"), T.matrix("x"), T.matrix("y")
    a, b = T.scalar("a"), T.scalar("b")
    f = T.function([z, a, x, y, b], gemm(z, a, x, y, b), mode=mode)
    nan = np.full((2, 2), np.nan)
    ones = np.ones((2, 2))
    assert np.isnan(f(nan, 1.0, ones, ones, 0.0)).all()
    assert np.isnan(f(ones, 0.0, nan, ones, 1.0)).all()
    np.testing.assert_allclose(f(ones, 0.0, ones, ones, 2.0), 2 * ones)


def test_gemm_infer_shape(mode, rng):
    z, x, y = zvar((1, 5), "float64"), T.matrix("x"), T.matrix("y")
    out = gemm(z, 1.0, x, y, 1.0)
    check_infer_shape(mode, [z, x, y], out, [rand(rng, (1, 5)), rand(rng, (3, 4)), rand(rng, (4, 5))], (3, 5))


def test_gemm_static_shape():
    x = TensorType("float64", shape=(3, None))("x")
    y = TensorType("float64", shape=(None, None))("y")
    z = TensorType("float64", shape=(1, 7))("z")
    assert gemm(z, 1.0, x, y, 1.0).type.shape == (3, 7)
    assert gemm(zvar((1, 1), "float64"), 1.0, x, y, 1.0).type.shape == (3, None)


@pytest.mark.parametrize("zshape", Z_SHAPES)
def test_gemm_grad(rng, zshape):
    """Gradients for every input, z broadcast (its size-1 axes marked broadcastable) or not."""
    axes = [i for i, s in enumerate(zshape) if s == 1]

    def fn(z, a, x, y, b):
        return gemm(T.addbroadcast(z, *axes) if axes else z, a, x, y, b)

    verify_grad(fn, [rand(rng, zshape), np.asarray(0.7), rand(rng, (3, 4)), rand(rng, (4, 5)),
                     np.asarray(-1.3)], rng=rng)


def test_gemm_rop(rng):
    z, x, y = T.matrix("z"), T.matrix("x"), T.matrix("y")
    a, b = T.scalar("a"), T.scalar("b")
    ez, ex, ey = T.matrix("ez"), T.matrix("ex"), T.matrix("ey")
    ea, eb = T.scalar("ea"), T.scalar("eb")
    out = gemm(z, a, x, y, b)
    vals = dict(z=rand(rng, (3, 5)), a=0.7, x=rand(rng, (3, 4)), y=rand(rng, (4, 5)), b=-1.3,
                ez=rand(rng, (3, 5)), ea=0.2, ex=rand(rng, (3, 4)), ey=rand(rng, (4, 5)), eb=0.9)
    v = vals
    want = (v["b"] * v["ez"] + v["eb"] * v["z"] + v["ea"] * v["x"] @ v["y"]
            + v["a"] * (v["ex"] @ v["y"] + v["x"] @ v["ey"]))
    r = T.Rop(out, [z, a, x, y, b], [ez, ea, ex, ey, eb])
    ins = [z, a, x, y, b, ez, ea, ex, ey, eb]
    got = T.function(ins, r)(*[v[i.name] for i in ins])
    np.testing.assert_allclose(got, want, **tol("float64"))
    # only z's direction: the row-broadcast z term is expanded to the output's shape
    zr = zvar((1, 5), "float64")
    ezr = zvar((1, 5), "float64")
    r2 = T.Rop(gemm(zr, a, x, y, b), zr, ezr)
    got2 = T.function([zr, a, x, y, b, ezr], r2, on_unused_input="ignore")(v["z"][:1], 0.7, v["x"], v["y"], -1.3, v["ez"][:1])
    np.testing.assert_allclose(got2, np.broadcast_to(-1.3 * v["ez"][:1], (3, 5)), **tol("float64"))


def test_gemm_build_errors():
    x, y, z = T.matrix("x"), T.matrix("y"), T.matrix("z")
    with pytest.raises(TypeError, match="x must be a matrix"):
        gemm(z, 1.0, T.vector("v"), y, 1.0)
    with pytest.raises(TypeError, match="alpha must be a scalar"):
        gemm(z, T.vector("a"), x, y, 1.0)
    with pytest.raises(TypeError, match="share one dtype"):
        gemm(z, 1.0, T.matrix("x32", dtype="float32"), y, 1.0)
    with pytest.raises(TypeError, match="share one dtype"):
        gemm(T.imatrix("zi"), 1.0, T.imatrix("xi"), T.imatrix("yi"), 1.0)
    with pytest.raises(ValueError, match="not aligned"):
        gemm(z, 1.0, TensorType("float64", shape=(2, 3))("x"), TensorType("float64", shape=(4, 2))("y"), 1.0)
    with pytest.raises(ValueError, match="does not broadcast"):
        gemm(TensorType("float64", shape=(3, 6))("z"), 1.0, TensorType("float64", shape=(3, 4))("x"),
             TensorType("float64", shape=(4, 5))("y"), 1.0)


def test_gemm_runtime_errors(mode, rng):
    z, x, y = T.matrix("z"), T.matrix("x"), T.matrix("y")
    f = T.function([z, x, y], gemm(z, 1.0, x, y, 1.0), mode=mode)
    with pytest.raises(ValueError, match="not aligned"):
        f(rand(rng, (3, 5)), rand(rng, (3, 4)), rand(rng, (3, 5)))
    with pytest.raises(ValueError, match="does not broadcast"):
        f(rand(rng, (1, 5)), rand(rng, (3, 4)), rand(rng, (4, 5)))   # z's rows are not broadcastable


def test_gemm_is_one_op():
    assert isinstance(gemm, Gemm) and Gemm() == gemm and hash(Gemm()) == hash(gemm)
    x = T.matrix("x")
    assert pp(gemm(x, 2.0, x, x, 1.0)) == "gemm(x, 2.0, x, x, 1.0)"
