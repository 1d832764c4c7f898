"""``Gemm``: ``beta * z + alpha * dot(x, y)`` as one op, the shape of BLAS ``?gemm``.

The specialize phase rewrites ``alpha * dot(x, y) + beta * z`` and ``dot(x, y) + b`` (a bias
broadcast over rows) into this op, so that a backend with a BLAS computes the whole
expression in one gemm call (the output starts as a copy of the broadcast ``z`` and BLAS
accumulates the product into it) instead of a product followed by an elementwise pass.

Unlike Theano's ``Gemm`` this op is not in place: ``z`` is never written.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph.basic import Apply, Op, Variable
from ..graph.type import TensorType
from .basic import as_tensor_variable, constant, is_python_scalar
from .elemwise import cast, sum_to_broadcastable

#: The dtypes Gemm accepts (those BLAS computes in).
GEMM_DTYPES = ("float32", "float64")


def _api():
    from . import api
    return api


def _scalar(value: Any, dtype: str, name: str) -> Variable:
    """``value`` as a 0-d tensor of ``dtype`` (a Python number becomes a constant)."""
    if is_python_scalar(value):
        return constant(value, dtype=dtype)
    value = as_tensor_variable(value)
    if value.ndim != 0:
        raise TypeError(f"Gemm: {name} must be a scalar (0-d tensor), got a {value.ndim}-d tensor "
                        f"({value.type})")
    if value.dtype[0] not in "iuf":
        raise TypeError(f"Gemm: {name} must be a real scalar, got dtype {value.dtype}")
    return cast(value, dtype)


def output_shape(z_shape: tuple, x_shape: tuple, y_shape: tuple) -> tuple:
    """The static output shape: the product's ``(rows of x, columns of y)``, with sizes the
    product leaves unknown taken from ``z`` where ``z`` does not broadcast."""
    out = []
    for d, zs in zip((x_shape[0], y_shape[1]), z_shape):
        out.append(d if d is not None else (zs if zs not in (None, 1) else None))
    return tuple(out)


def check_shapes(z_var: Variable, z: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple:
    """The output shape ``(m, n)`` of ``gemm(z, a, x, y, b)`` on these values; raises a
    ValueError when x and y are not aligned or z does not broadcast to the product.

    As in elementwise ops, only dimensions of ``z`` that its type marks broadcastable
    broadcast; any other dimension must have the product's size."""
    for name, v in (("x", x), ("y", y), ("z", z)):
        if v.ndim != 2:
            raise ValueError(f"Gemm: {name} must be a matrix, got an array of shape {v.shape}")
    if x.shape[1] != y.shape[0]:
        raise ValueError(f"Gemm: shapes {x.shape} and {y.shape} are not aligned: dimension 1 of x has "
                         f"size {x.shape[1]} but dimension 0 of y has size {y.shape[0]}")
    shape = (x.shape[0], y.shape[1])
    for axis, (size, bcast) in enumerate(zip(z.shape, z_var.broadcastable)):
        if size != shape[axis] and not (bcast and size == 1):
            raise ValueError(f"Gemm: z of shape {z.shape} does not broadcast to the product's shape "
                             f"{shape} (dimension {axis}; a size-1 dimension that is not marked "
                             f"broadcastable does not broadcast)")
    return shape


class Gemm(Op):
    """``gemm(z, alpha, x, y, beta) = beta * z + alpha * dot(x, y)``.

    x, y: matrices; z: a matrix that broadcasts to the product's shape (e.g. a bias
    dimshuffled to ``(1, n)``); alpha, beta: scalars (cast to the matrices' dtype). x, y
    and z must share one float dtype (float32 or float64), which is the output's.
    """

    __props__ = ()

    def make_node(self, z: Any, alpha: Any, x: Any, y: Any, beta: Any) -> Apply:
        z, x, y = (as_tensor_variable(v) for v in (z, x, y))
        for name, v in (("z", z), ("x", x), ("y", y)):
            if v.ndim != 2:
                raise TypeError(f"Gemm: {name} must be a matrix, got a {v.ndim}-d tensor ({v.type})")
        dtypes = {z.dtype, x.dtype, y.dtype}
        if len(dtypes) != 1 or z.dtype not in GEMM_DTYPES:
            raise TypeError(f"Gemm: z, x and y must share one dtype among {GEMM_DTYPES}, got "
                            f"z: {z.dtype}, x: {x.dtype}, y: {y.dtype}")
        dtype = z.dtype
        kx, ky = x.type.shape[1], y.type.shape[0]
        if kx is not None and ky is not None and kx != ky:
            raise ValueError(f"Gemm: shapes {x.type.shape} and {y.type.shape} are not aligned: "
                             f"dimension 1 of x has size {kx} but dimension 0 of y has size {ky}")
        for axis, (zs, ps) in enumerate(zip(z.type.shape, (x.type.shape[0], y.type.shape[1]))):
            if zs is not None and zs != 1 and ps is not None and zs != ps:
                raise ValueError(f"Gemm: z of shape {z.type.shape} does not broadcast to the product's "
                                 f"shape ({x.type.shape[0]}, {y.type.shape[1]}) in dimension {axis}")
        alpha, beta = _scalar(alpha, dtype, "alpha"), _scalar(beta, dtype, "beta")
        shape = output_shape(z.type.shape, x.type.shape, y.type.shape)
        return Apply(self, [z, alpha, x, y, beta], [TensorType(dtype, shape=shape)()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        z, alpha, x, y, beta = inputs
        check_shapes(node.inputs[0], z, x, y)
        dtype = node.outputs[0].dtype
        out = np.asarray(alpha, dtype=dtype) * np.dot(x, y) + np.asarray(beta, dtype=dtype) * z
        output_storage[0][0] = np.asarray(out, dtype=dtype)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        xs, ys = input_shapes[2], input_shapes[3]
        return [(xs[0], ys[1])]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        z, alpha, x, y, beta = inputs
        g = as_tensor_variable(output_grads[0])
        A = _api()
        gz = sum_to_broadcastable(g * beta, z)
        galpha = cast(A.sum(g * _dot(x, y)), alpha.dtype)
        gx = cast(alpha * _dot(g, y.T), x.dtype)
        gy = cast(alpha * _dot(x.T, g), y.dtype)
        gbeta = cast(A.sum(g * z), beta.dtype)
        return [gz, galpha, gx, gy, gbeta]

    def R_op(self, inputs: list, eval_points: list) -> list:
        """d(beta z + alpha x y) = beta dz + dbeta z + (alpha dx + dalpha x) y + alpha x dy."""
        z, alpha, x, y, beta = inputs
        ez, ealpha, ex, ey, ebeta = eval_points
        if all(e is None for e in eval_points):
            return [None]
        terms = [t for t in (None if ez is None else beta * ez, None if ebeta is None else ebeta * z)
                 if t is not None]
        acc = terms[0] if len(terms) == 1 else (terms[0] + terms[1] if terms else None)
        if acc is None:
            acc = constant(np.zeros((1, 1), dtype=z.dtype))
        acc = cast(acc, z.dtype)
        left = [t for t in (None if ex is None else alpha * ex, None if ealpha is None else ealpha * x)
                if t is not None]
        if left:
            lhs = cast(left[0] if len(left) == 1 else left[0] + left[1], x.dtype)
            acc = self(acc, 1, lhs, y, 1)
        if ey is not None:
            acc = self(acc, alpha, x, cast(ey, y.dtype), 1)
        if acc.broadcastable != (False, False) and (acc.owner is None or acc.owner.op != self):
            acc = _api().alloc(acc, x.shape[0], y.shape[1])
        return [acc]

    def pp_format(self, node: Apply, args: list) -> str:
        z, a, x, y, b = args
        return f"gemm({z}, {a}, {x}, {y}, {b})"


def _dot(x: Variable, y: Variable) -> Variable:
    from .blas import dot
    return dot(x, y)


gemm = Gemm()
