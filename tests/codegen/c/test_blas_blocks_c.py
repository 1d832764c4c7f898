"""Large products split into row or column blocks over the OpenMP threads (codegen/c/blas.py):
every block boundary, both split directions, transposed and gapped operands, and a Gemm
accumulating into z, against a float64 numpy reference; the split must give the unsplit
result to rounding, in every mode."""
from __future__ import annotations

import numpy as np
import pytest

import symtensor as T
from symtensor.backends.c import blaslib, toolchain
from tests.helpers import tol

pytestmark = [pytest.mark.skipif(toolchain.find_compiler() is None, reason="no C compiler on PATH"),
              pytest.mark.skipif(blaslib.locate() is None, reason="scipy-openblas32 is not installed")]

# (m, k, n): above the split threshold (2e6 multiply-adds), rows > columns, columns > rows,
# sizes that leave a partial last block, and one just below the threshold
SHAPES = [(301, 90, 97), (45, 120, 517), (1000, 33, 70), (50, 50, 50)]


def rand(rng, shape, dtype):
    """Positive values: float32 sums of ~100 products then carry no cancellation, whose
    rounding (which differs between BLAS kernels) DebugMode's fixed tolerance would flag."""
    return rng.uniform(0.5, 1.5, shape).astype(dtype)


def ref(x, y, z=None, alpha=1.0, beta=1.0):
    out = alpha * (np.asarray(x, np.float64) @ np.asarray(y, np.float64))
    return out if z is None else out + beta * np.asarray(z, np.float64)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES)
def test_split_dot_matches_numpy(mode, rng, dtype, shape):
    m, k, n = shape
    x, y = T.matrix("x", dtype=dtype), T.matrix("y", dtype=dtype)
    f = T.function([x, y], T.dot(x, y), mode=mode)
    a, b = rand(rng, (m, k), dtype), rand(rng, (k, n), dtype)
    for xa, ya in [(a, b), (np.asfortranarray(a), b), (a, np.asfortranarray(b)),
                   (np.asfortranarray(a), np.asfortranarray(b))]:
        np.testing.assert_allclose(f(xa, ya), ref(a, b), **tol(dtype))


@pytest.mark.parametrize("shape", SHAPES)
def test_split_gemm_transposed_with_bias(mode, rng, shape):
    """x.T @ g + bias and 0.5 * x @ y - 2 * z: the Gemm rewrite's shapes, blocks of out that
    start as a copy of the broadcast z."""
    m, k, n = shape
    x, g, y = T.fmatrix("x"), T.fmatrix("g"), T.fmatrix("y")
    bias, z = T.fvector("bias"), T.fmatrix("z")
    f = T.function([x, g, y, bias, z], [T.dot(x.T, g) + bias, 0.5 * T.dot(x.T, y) - 2 * z], mode=mode)
    xa, ga, ya = rand(rng, (k, m), "float32"), rand(rng, (k, n), "float32"), rand(rng, (k, n), "float32")
    ba, za = rand(rng, (n,), "float32"), rand(rng, (m, n), "float32")
    wide = np.zeros((k, m + 5), "float32")
    wide[:, :m] = xa
    for xv in (xa, wide[:, :m]):
        r1, r2 = f(xv, ga, ya, ba, za)
        np.testing.assert_allclose(r1, ref(xa.T, ga) + ba, rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(r2, ref(xa.T, ya, za, 0.5, -2.0), rtol=1e-4, atol=1e-3)


def test_split_propagates_nan_and_inf(mode):
    """A NaN or Inf in one block reaches exactly the rows (and columns) numpy gives it."""
    m, k, n = 300, 100, 90
    a = np.ones((m, k), "float32")
    b = np.ones((k, n), "float32")
    a[257, 3] = np.nan
    b[5, 40] = np.inf
    x, y = T.fmatrix("x"), T.fmatrix("y")
    got = T.function([x, y], T.dot(x, y), mode=mode)(a, b)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(a @ b))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(a @ b))
