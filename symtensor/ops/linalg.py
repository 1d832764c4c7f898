"""Linear algebra on matrices (Theano's ``nlinalg`` and ``slinalg``): ``MatrixInverse``,
``Det``, ``Solve``, ``Cholesky``, ``ExtractDiag``/``AllocDiag`` (``diag``) and ``trace``.

numpy.linalg is the reference. Integer inputs give float64 results and float32 stays
float32, as in numpy; complex matrices are refused. A singular (or, for cholesky, not
positive-definite) matrix raises ``numpy.linalg.LinAlgError`` naming the op; a non-square
matrix raises ValueError, at build time when the static shape shows it.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph.basic import Apply, Op, Variable
from ..graph.type import TensorType
from .basic import as_tensor_variable
from .elemwise import cast


def _api():
    from . import api
    return api


def _out_dtype(x: Variable, who: str) -> str:
    """float32 and float64 are kept, float16 is computed in float32, integers and bools in float64."""
    if x.dtype.startswith("complex"):
        raise TypeError(f"{who}: complex matrices are not supported, got {x} of type {x.type}")
    if x.dtype == "float64" or x.dtype[0] != "f":
        return "float64"
    return "float32"


def _as_matrix(x: Any, who: str, arg: str = "x", square: bool = True) -> Variable:
    """``x`` as a float matrix of the op's dtype; wrong rank or a statically non-square shape raise."""
    x = as_tensor_variable(x)
    if x.ndim != 2:
        raise TypeError(f"{who}: {arg} must be a matrix, got {x} with {x.ndim} dimension(s) ({x.type})")
    n, m = x.type.shape
    if square and n is not None and m is not None and n != m:
        raise ValueError(f"{who}: {arg} must be a square matrix, got static shape {x.type.shape}")
    return cast(x, _out_dtype(x, who))


def _check_square(who: str, arg: str, value: np.ndarray) -> None:
    if value.shape[0] != value.shape[1]:
        raise ValueError(f"{who}: {arg} must be a square matrix, got shape {value.shape}")


def _linalg_error(who: str, err: Exception, shape: tuple) -> np.linalg.LinAlgError:
    return np.linalg.LinAlgError(f"{who}: {err} (input of shape {shape})")


# ---------------------------------------------------------------------------------------------
# inverse and determinant
# ---------------------------------------------------------------------------------------------
class MatrixInverse(Op):
    """numpy.linalg.inv of a square matrix."""

    def make_node(self, x: Any) -> Apply:
        x = _as_matrix(x, "matrix_inverse")
        return Apply(self, [x], [x.type.clone()()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        (x,) = inputs
        _check_square("matrix_inverse", "x", x)
        try:
            out = np.linalg.inv(x)
        except np.linalg.LinAlgError as err:
            raise _linalg_error("matrix_inverse", err, x.shape) from None
        output_storage[0][0] = out.astype(node.outputs[0].dtype, copy=False)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [input_shapes[0]]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        """d inv(X) = -Z dX Z, so the gradient is -Zᵀ gZ Zᵀ."""
        (z,), (gz,) = outputs, output_grads
        dot = _api().dot
        return [-dot(dot(z.T, gz), z.T)]

    def R_op(self, inputs: list, eval_points: list) -> list:
        if eval_points[0] is None:
            return [None]
        z = self(inputs[0])
        dot = _api().dot
        return [-dot(dot(z, eval_points[0]), z)]


class Det(Op):
    """numpy.linalg.det of a square matrix (a scalar)."""

    def make_node(self, x: Any) -> Apply:
        x = _as_matrix(x, "det")
        return Apply(self, [x], [TensorType(x.dtype, shape=())()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        (x,) = inputs
        _check_square("det", "x", x)
        output_storage[0][0] = np.asarray(np.linalg.det(x), dtype=node.outputs[0].dtype)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [()]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        """d det(X) / dX = det(X) inv(X)ᵀ (defined for invertible X)."""
        (x,), (z,), (gz,) = inputs, outputs, output_grads
        return [(gz * z) * matrix_inverse(x).T]

    def R_op(self, inputs: list, eval_points: list) -> list:
        if eval_points[0] is None:
            return [None]
        x = inputs[0]
        return [self(x) * _api().sum(matrix_inverse(x).T * eval_points[0])]


_matrix_inverse = MatrixInverse()
_det = Det()


def matrix_inverse(x: Any) -> Variable:
    """The inverse of the square matrix ``x``; a singular matrix raises LinAlgError when run."""
    return _matrix_inverse(x)


def det(x: Any) -> Variable:
    """The determinant of the square matrix ``x``."""
    return _det(x)


# ---------------------------------------------------------------------------------------------
# diagonals
# ---------------------------------------------------------------------------------------------
def _check_offset(offset: Any) -> int:
    if isinstance(offset, (bool, np.bool_)) or not isinstance(offset, (int, np.integer)):
        raise TypeError(f"diag: k (the diagonal offset) must be an int, got {offset!r}")
    return int(offset)


class ExtractDiag(Op):
    """The ``offset``-th diagonal of a matrix, as a vector (numpy.diagonal, copied)."""

    __props__ = ("offset",)

    def __init__(self, offset: int = 0):
        self.offset = _check_offset(offset)

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if x.ndim != 2:
            raise TypeError(f"extract_diag: x must be a matrix, got {x} with {x.ndim} dimension(s)")
        n, m = x.type.shape
        k = self.offset
        length = None
        if n is not None and m is not None:
            length = max(0, min(n + min(k, 0), m - max(k, 0)))
        return Apply(self, [x], [TensorType(x.dtype, shape=(length,))()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        output_storage[0][0] = np.diagonal(inputs[0], self.offset).copy()

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        A = _api()
        n, m = input_shapes[0]
        k = self.offset
        return [(A.maximum(0, A.minimum(n + min(k, 0), m - max(k, 0))),)]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        """Zeros of x's shape with the gradient written on the same diagonal."""
        (x,), (gz,) = inputs, output_grads
        if x.dtype[0] not in "fc":
            return [_api().zeros_like(x, dtype="float64")]
        A = _api()
        idx = A.arange(gz.shape[0])
        rows, cols = idx + max(-self.offset, 0), idx + max(self.offset, 0)
        return [A.set_subtensor(A.zeros_like(x)[rows, cols], gz)]

    def R_op(self, inputs: list, eval_points: list) -> list:
        return [None if eval_points[0] is None else self(eval_points[0])]


class AllocDiag(Op):
    """A square matrix holding a vector on its ``offset``-th diagonal (numpy.diag of a vector)."""

    __props__ = ("offset",)

    def __init__(self, offset: int = 0):
        self.offset = _check_offset(offset)

    def make_node(self, v: Any) -> Apply:
        v = as_tensor_variable(v)
        if v.ndim != 1:
            raise TypeError(f"alloc_diag: v must be a vector, got {v} with {v.ndim} dimension(s)")
        n = v.type.shape[0]
        side = None if n is None else n + abs(self.offset)
        return Apply(self, [v], [TensorType(v.dtype, shape=(side, side))()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        output_storage[0][0] = np.diag(inputs[0], self.offset)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        side = input_shapes[0][0] + abs(self.offset)
        return [(side, side)]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        (v,), (gz,) = inputs, output_grads
        if v.dtype[0] not in "fc":
            return [_api().zeros_like(v, dtype="float64")]
        return [ExtractDiag(self.offset)(gz)]

    def R_op(self, inputs: list, eval_points: list) -> list:
        return [None if eval_points[0] is None else self(eval_points[0])]


def extract_diag(x: Any, k: int = 0) -> Variable:
    """The k-th diagonal of the matrix ``x``."""
    return ExtractDiag(k)(x)


def alloc_diag(v: Any, k: int = 0) -> Variable:
    """A square matrix with the vector ``v`` on its k-th diagonal."""
    return AllocDiag(k)(v)


def diag(v: Any, k: int = 0) -> Variable:
    """numpy.diag: a vector gives a matrix with it on the k-th diagonal; a matrix gives its
    k-th diagonal."""
    v = as_tensor_variable(v)
    if v.ndim == 1:
        return alloc_diag(v, k)
    if v.ndim == 2:
        return extract_diag(v, k)
    raise ValueError(f"diag: the input must be a vector or a matrix, got {v} with {v.ndim} dimension(s)")


def trace(x: Any) -> Variable:
    """The sum of the main diagonal of the matrix ``x``."""
    x = as_tensor_variable(x)
    if x.ndim != 2:
        raise TypeError(f"trace: x must be a matrix, got {x} with {x.ndim} dimension(s) ({x.type})")
    return _api().sum(extract_diag(x))


def tril(x: Any, k: int = 0) -> Variable:
    """The matrix with the entries above its k-th diagonal set to zero (numpy.tril)."""
    return _triangle(x, k, lower=True)


def triu(x: Any, k: int = 0) -> Variable:
    """The matrix with the entries below its k-th diagonal set to zero (numpy.triu)."""
    return _triangle(x, k, lower=False)


def _triangle(x: Any, k: int, lower: bool) -> Variable:
    A = _api()
    x = as_tensor_variable(x)
    if x.ndim != 2:
        raise TypeError(f"{'tril' if lower else 'triu'}: x must be a matrix, got {x} with {x.ndim} dimension(s)")
    rows = A.arange(x.shape[0]).dimshuffle(0, "x")
    cols = A.arange(x.shape[1]).dimshuffle("x", 0)
    keep = A.ge(rows + _check_offset(k), cols) if lower else A.le(rows + _check_offset(k), cols)
    return A.switch(keep, x, A.zeros_like(x))


# ---------------------------------------------------------------------------------------------
# solve and cholesky (Theano's slinalg)
# ---------------------------------------------------------------------------------------------
_STRUCTURES = ("general", "lower_triangular", "upper_triangular")


class Solve(Op):
    """x = solve(A, b) for a square A and a vector or matrix b.

    ``A_structure``: 'general', or 'lower_triangular' / 'upper_triangular' (only that
    triangle of A is read, as scipy's solve_triangular does)."""

    __props__ = ("A_structure",)

    def __init__(self, A_structure: str = "general"):
        if A_structure not in _STRUCTURES:
            raise ValueError(f"solve: A_structure must be one of {_STRUCTURES}, got {A_structure!r}")
        self.A_structure = A_structure

    def make_node(self, a: Any, b: Any) -> Apply:
        a = _as_matrix(a, "solve", "a")
        b = as_tensor_variable(b)
        if b.ndim not in (1, 2):
            raise TypeError(f"solve: b must be a vector or a matrix, got {b} with {b.ndim} dimension(s)")
        dtype = "float64" if "float64" in (a.dtype, _out_dtype(b, "solve")) else "float32"
        a, b = cast(a, dtype), cast(b, dtype)
        na, nb = a.type.shape[0], b.type.shape[0]
        if na is not None and nb is not None and na != nb:
            raise ValueError(f"solve: a of static shape {a.type.shape} and b of static shape {b.type.shape} "
                             f"disagree: b needs {na} rows")
        return Apply(self, [a, b], [TensorType(dtype, shape=(a.type.shape[1],) + b.type.shape[1:])()])

    def _effective_a(self, a: Any) -> Any:
        if self.A_structure == "lower_triangular":
            return np.tril(a) if isinstance(a, np.ndarray) else tril(a)
        if self.A_structure == "upper_triangular":
            return np.triu(a) if isinstance(a, np.ndarray) else triu(a)
        return a

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        a, b = inputs
        _check_square("solve", "a", a)
        if b.shape[0] != a.shape[0]:
            raise ValueError(f"solve: a of shape {a.shape} and b of shape {b.shape} disagree: b needs "
                             f"{a.shape[0]} rows")
        try:
            out = np.linalg.solve(self._effective_a(a), b)
        except np.linalg.LinAlgError as err:
            raise _linalg_error("solve", err, a.shape) from None
        output_storage[0][0] = out.astype(node.outputs[0].dtype, copy=False)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [(input_shapes[0][1],) + tuple(input_shapes[1][1:])]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        """gb = solve(Aᵀ, gx); gA = -gb xᵀ (restricted to the triangle that was read)."""
        A = _api()
        (a, b), (x,), (gx,) = inputs, outputs, output_grads
        gb = Solve(_transposed(self.A_structure))(a.T, gx)
        ga = -A.outer(gb, x) if x.ndim == 1 else -A.dot(gb, x.T)
        return [self._effective_a(ga), gb]

    def R_op(self, inputs: list, eval_points: list) -> list:
        """dx = solve(A, db - dA x)."""
        (a, b), (ea, eb) = inputs, eval_points
        if ea is None and eb is None:
            return [None]
        x = self(a, b)
        rhs = eb if eb is not None else _api().zeros_like(b)
        if ea is not None:
            rhs = rhs - _api().dot(self._effective_a(ea), x)
        return [self(a, rhs)]


def _transposed(structure: str) -> str:
    return {"lower_triangular": "upper_triangular", "upper_triangular": "lower_triangular"}.get(structure,
                                                                                                structure)


def solve(a: Any, b: Any, A_structure: str = "general") -> Variable:
    """The solution x of ``a x = b`` (numpy.linalg.solve); a singular ``a`` raises LinAlgError."""
    return Solve(A_structure)(a, b)


def solve_lower_triangular(a: Any, b: Any) -> Variable:
    return Solve("lower_triangular")(a, b)


def solve_upper_triangular(a: Any, b: Any) -> Variable:
    return Solve("upper_triangular")(a, b)


class Cholesky(Op):
    """The Cholesky factor of a symmetric positive-definite matrix: L with ``L Lᵀ = x``
    (``lower=True``, only the lower triangle of x is read) or U with ``Uᵀ U = x`` (only the
    upper triangle is read), as scipy does. ``on_error``: 'raise' (LinAlgError) or 'nan' (a matrix of NaN) when x is not
    positive-definite."""

    __props__ = ("lower", "on_error")

    def __init__(self, lower: bool = True, on_error: str = "raise"):
        if on_error not in ("raise", "nan"):
            raise ValueError(f"cholesky: on_error must be 'raise' or 'nan', got {on_error!r}")
        self.lower = bool(lower)
        self.on_error = on_error

    def make_node(self, x: Any) -> Apply:
        x = _as_matrix(x, "cholesky")
        return Apply(self, [x], [x.type.clone()()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        (x,) = inputs
        _check_square("cholesky", "x", x)
        try:
            out = np.linalg.cholesky(x if self.lower else x.T)
        except np.linalg.LinAlgError as err:
            if self.on_error == "nan":
                out = np.full(x.shape, np.nan)
            else:
                raise _linalg_error("cholesky", err, x.shape) from None
        if not self.lower:
            out = out.T
        output_storage[0][0] = np.ascontiguousarray(out, dtype=node.outputs[0].dtype)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [input_shapes[0]]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        """Murray (2016), as Theano's CholeskyGrad: with Φ(M) = tril(M) with a halved diagonal,
        S = L⁻ᵀ Φ(Lᵀ gL) L⁻¹ and the gradient is tril(S + Sᵀ) - diag(diag(S)) (triu for U)."""
        A = _api()
        (l_or_u,), (g,) = outputs, output_grads
        chol, g = (l_or_u, g) if self.lower else (l_or_u.T, g.T)
        phi = _tril_half_diagonal(A.dot(chol.T, g))
        upper = chol.T
        s = Solve("upper_triangular")(upper, Solve("upper_triangular")(upper, phi.T).T)
        sym = s + s.T
        grad = (tril(sym) if self.lower else triu(sym)) - alloc_diag(extract_diag(s))
        return [grad]

    def R_op(self, inputs: list, eval_points: list) -> list:
        """dL = L Φ(L⁻¹ dX L⁻ᵀ)."""
        if eval_points[0] is None:
            return [None]
        A = _api()
        x, ev = (inputs[0], eval_points[0]) if self.lower else (inputs[0].T, eval_points[0].T)
        out = Cholesky(True, self.on_error)(x)
        low = Solve("lower_triangular")
        m = low(out, low(out, ev.T).T)
        d = A.dot(out, _tril_half_diagonal(m))
        return [d if self.lower else d.T]


def _tril_half_diagonal(m: Variable) -> Variable:
    return tril(m) - alloc_diag(extract_diag(m) / 2)


def cholesky(x: Any, lower: bool = True, on_error: str = "raise") -> Variable:
    """The lower (default) or upper Cholesky factor of the positive-definite matrix ``x``."""
    return Cholesky(lower, on_error)(x)
