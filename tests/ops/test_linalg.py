"""Linear algebra (matrix_inverse det trace diag solve cholesky, plus tril/triu and the
triangular solves) against numpy.linalg in every mode: float32/float64/int inputs, strided
and empty matrices, LinAlgError for singular matrices, shape errors at build and run time,
gradients (verify_grad in float64 on well-conditioned matrices) and R_op against finite
differences.
"""
import numpy as np
import pytest

import symtensor as T
from symtensor.grad import verify_grad
from symtensor.ops.linalg import (alloc_diag, cholesky, det, diag, extract_diag, matrix_inverse, solve,
                                  solve_lower_triangular, solve_upper_triangular, trace, tril, triu)
from tests.helpers import check_infer_shape, noncontiguous, tol

N = 4


def well_conditioned(rng, n=N, dtype="float64"):
    """A random matrix with a dominant diagonal (condition number of a few units)."""
    return (rng.standard_normal((n, n)) + 2 * n * np.eye(n)).astype(dtype)


def spd(rng, n=N, dtype="float64"):
    a = rng.standard_normal((n, n))
    return (a @ a.T + n * np.eye(n)).astype(dtype)


SQUARE_OPS = {  # name: (symbolic, numpy), on one square matrix
    "matrix_inverse": (matrix_inverse, np.linalg.inv),
    "det": (det, np.linalg.det),
    "trace": (trace, np.trace),
    "diag": (diag, np.diag),
    "cholesky": (cholesky, np.linalg.cholesky),
    "cholesky_upper": (lambda x: cholesky(x, lower=False), lambda a: np.linalg.cholesky(a.T).T),
    "tril": (lambda x: tril(x, -1), lambda a: np.tril(a, -1)),
    "triu": (lambda x: triu(x, 1), lambda a: np.triu(a, 1)),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(SQUARE_OPS))
def test_square_ops_match_numpy(mode, rng, name, dtype):
    sym, ref = SQUARE_OPS[name]
    x = T.matrix("x", dtype=dtype)
    f = T.function([x], sym(x), mode=mode)
    value = spd(rng, dtype=dtype)
    for a in (value, noncontiguous(value), np.zeros((0, 0), dtype)):
        before = a.copy()
        got = f(a)
        want = np.asarray(ref(a.astype("float64"))).astype(dtype)
        assert got.dtype == dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, **tol(dtype))
        np.testing.assert_array_equal(a, before)


def test_integer_input_gives_float64(mode):
    x = T.imatrix("x")
    a = np.array([[2, 1], [1, 3]], dtype="int32")
    got = T.function([x], [matrix_inverse(x), det(x), solve(x, np.array([1, 2], "int32")), cholesky(x)],
                     mode=mode)(a)
    assert [g.dtype for g in got] == ["float64"] * 4
    np.testing.assert_allclose(got[0], np.linalg.inv(a))
    np.testing.assert_allclose(got[1], 5.0)
    np.testing.assert_allclose(got[2], np.linalg.solve(a, [1, 2]))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_solve_matches_numpy(mode, rng, dtype):
    a, v, m = T.matrix("a", dtype=dtype), T.vector("v", dtype=dtype), T.matrix("m", dtype=dtype)
    f = T.function([a, v, m], [solve(a, v), solve(a, m), solve_lower_triangular(a, m),
                               solve_upper_triangular(a, v)], mode=mode)
    av = well_conditioned(rng, dtype=dtype)
    vv, mv = rng.standard_normal(N).astype(dtype), rng.standard_normal((N, 3)).astype(dtype)
    for aa, mm in [(av, mv), (noncontiguous(av), noncontiguous(mv))]:
        got = f(aa, vv, mm)
        want = [np.linalg.solve(av, vv), np.linalg.solve(av, mv), np.linalg.solve(np.tril(av), mv),
                np.linalg.solve(np.triu(av), vv)]
        for g, w in zip(got, want):
            assert g.dtype == dtype
            np.testing.assert_allclose(g, w, **tol(dtype))
    assert f(np.zeros((0, 0), dtype), np.zeros(0, dtype), np.zeros((0, 2), dtype))[1].shape == (0, 2)


def test_diag_forms(mode, rng):
    v, m = T.vector("v"), T.matrix("m")
    outs = [diag(v), diag(v, 2), diag(v, -1), diag(m), diag(m, 1), diag(m, -2), extract_diag(m, 5),
            alloc_diag(v, 1), trace(m)]
    f = T.function([v, m], outs, mode=mode)
    vv, mv = rng.standard_normal(3), rng.standard_normal((3, 5))
    for vv_, mv_ in [(vv, mv), (noncontiguous(vv), noncontiguous(mv)), (np.zeros(0), np.zeros((0, 4)))]:
        want = [np.diag(vv_), np.diag(vv_, 2), np.diag(vv_, -1), np.diag(mv_), np.diag(mv_, 1), np.diag(mv_, -2),
                np.diagonal(mv_, 5), np.diag(vv_, 1), np.trace(mv_)]
        for g, w in zip(f(vv_, mv_), want):
            assert g.shape == np.shape(w)
            np.testing.assert_allclose(g, w)
    assert diag(T.matrix(shape=(3, 5)), 1).type.shape == (3,)
    assert diag(T.vector(shape=(3,)), -2).type.shape == (5, 5)


# --- errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize("build", [matrix_inverse, lambda x: solve(x, np.ones(3)), cholesky],
                         ids=["matrix_inverse", "solve", "cholesky"])
def test_singular_matrices_raise_linalg_error_naming_the_op(mode, build):
    x = T.matrix("x")
    out = build(x)
    name = out.owner.op.__class__.__name__
    who = {"MatrixInverse": "matrix_inverse", "Solve": "solve", "Cholesky": "cholesky"}[name]
    singular = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 1.0, 1.0]])
    with pytest.raises(np.linalg.LinAlgError, match=who):
        T.function([x], out, mode=mode)(singular @ singular.T if who == "cholesky" else singular)


def test_det_of_singular_is_zero_and_cholesky_nan_option(mode):
    x = T.matrix("x")
    f = T.function([x], [det(x), cholesky(x, on_error="nan")], mode=mode)
    d, c = f(np.array([[1.0, 2.0], [2.0, 4.0]]))
    assert abs(d) < 1e-12 and np.all(np.isnan(c))


def test_shape_errors(mode):
    with pytest.raises(ValueError, match="square"):
        matrix_inverse(T.matrix(shape=(2, 3)))
    with pytest.raises(ValueError, match="b needs 3 rows"):
        solve(T.matrix(shape=(3, 3)), T.vector(shape=(2,)))
    with pytest.raises(TypeError, match="must be a matrix"):
        det(T.vector())
    with pytest.raises(TypeError, match="complex"):
        matrix_inverse(T.matrix(dtype="complex128"))
    with pytest.raises(ValueError, match="vector or a matrix"):
        diag(T.tensor3())
    with pytest.raises(TypeError, match="offset"):
        diag(T.vector(), 1.5)
    with pytest.raises(ValueError, match="A_structure"):
        solve(T.matrix(), T.vector(), A_structure="banded")
    x = T.matrix("x")
    with pytest.raises(ValueError, match=r"square matrix, got shape \(2, 3\)"):
        T.function([x], det(x), mode=mode)(np.ones((2, 3)))
    with pytest.raises(ValueError, match="b needs 2 rows"):
        T.function([x], solve(x, np.ones(3)), mode=mode)(np.eye(2))


def test_infer_shape(mode, rng):
    x, v, m = T.matrix("x"), T.vector("v"), T.matrix("m")
    xv, vv, mv = well_conditioned(rng), rng.standard_normal(N), rng.standard_normal((3, 5))
    for out, ins, vals in [(matrix_inverse(x), [x], [xv]), (det(x), [x], [xv]), (cholesky(x), [x], [spd(rng)]),
                           (solve(x, v), [x, v], [xv, vv]), (solve(x, m), [x, m], [xv, rng.random((N, 2))]),
                           (diag(v, -1), [v], [vv]), (diag(m, 2), [m], [mv]), (diag(m, -1), [m], [mv])]:
        check_infer_shape(mode, ins, out, vals, np.shape(T.function(ins, out, mode=mode)(*vals)))


# --- derivatives --------------------------------------------------------------------------------
def test_verify_grad(rng):
    a, s = well_conditioned(rng), spd(rng)
    verify_grad(matrix_inverse, [a])
    verify_grad(det, [a])
    verify_grad(trace, [rng.standard_normal((3, 5))])
    verify_grad(lambda m: diag(m, 1), [rng.standard_normal((3, 5))])
    verify_grad(lambda v: diag(v, -2), [rng.standard_normal(3)])
    verify_grad(solve, [a, rng.standard_normal(N)])
    verify_grad(solve, [a, rng.standard_normal((N, 2))])
    verify_grad(solve_lower_triangular, [a, rng.standard_normal((N, 2))])
    verify_grad(solve_upper_triangular, [a, rng.standard_normal(N)])
    verify_grad(cholesky, [s])
    verify_grad(lambda m: cholesky(m, lower=False), [s])
    verify_grad(lambda m: cholesky(m.dot(m.T) + N * T.eye(N)), [rng.standard_normal((N, N))])


def numeric_jvp(fn, point, tangent, eps=1e-6):
    return (fn(point + eps * tangent) - fn(point - eps * tangent)) / (2 * eps)


@pytest.mark.parametrize("name", ["matrix_inverse", "det", "cholesky", "cholesky_upper", "diag", "solve_a",
                                  "solve_b"])
def test_rop_matches_finite_differences(mode, rng, name):
    b_val = rng.standard_normal((N, 2))
    builds = {
        "matrix_inverse": (matrix_inverse, np.linalg.inv),
        "det": (det, np.linalg.det),
        "cholesky": (cholesky, np.linalg.cholesky),
        "cholesky_upper": (lambda x: cholesky(x, lower=False), lambda a: np.linalg.cholesky(a.T).T),
        "diag": (lambda x: diag(x, 1), lambda a: np.diag(a, 1)),
        "solve_a": (lambda x: solve(x, b_val), lambda a: np.linalg.solve(a, b_val)),
        "solve_b": (lambda x: solve(b_val[:, :1] * np.eye(N) + 5 * np.eye(N), x[:, :2]),
                    lambda a: np.linalg.solve(b_val[:, :1] * np.eye(N) + 5 * np.eye(N), a[:, :2])),
    }
    sym, ref = builds[name]
    x = T.matrix("x")
    point = spd(rng)
    tangent = rng.standard_normal((N, N))
    tangent = tangent + tangent.T        # symmetric, so cholesky's input stays symmetric
    jvp = T.function([x], T.Rop(sym(x), x, T.constant(tangent)), mode=mode, on_unused_input="ignore")(point)
    np.testing.assert_allclose(jvp, numeric_jvp(ref, point, tangent), rtol=1e-5, atol=1e-6)
