"""Gradients of ``Pool`` as ops of their own, as in Theano: ``MaxPoolGrad``,
``AveragePoolGrad`` (sum and both averages) and ``DownsampleFactorMaxGradGrad`` (the gradient
of ``MaxPoolGrad`` with respect to its output gradient).

All are linear in the gradient they carry, so each one's derivative is another of them:
``AveragePoolGrad`` is the adjoint of ``Pool`` (sum/average modes); ``MaxPoolGrad(x, z, ·)``
and ``DownsampleFactorMaxGradGrad(x, z, ·)`` are each other's adjoints. Max pooling routes a
window's gradient to every cell equal to the window's maximum (Theano's rule; ties share),
and ``DownsampleFactorMaxGradGrad`` is the exact adjoint of that: it sums the tied cells
(Theano's kernel keeps one of them; they agree whenever the maximum is unique). Derivatives
with respect to ``x`` and the pooled output ``z`` are zero (piecewise constant routing).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph.basic import Apply, Variable
from ..graph.type import TensorType, upcast
from .basic import as_tensor_variable
from .pool import Pool, PoolParams, lowest


def _zeros(v: Variable) -> Variable:
    from .alloc import zeros_like
    return zeros_like(v, dtype=v.dtype if v.dtype[0] == "f" else "float64")


class _PoolGradBase(PoolParams):
    """Checks shared by the gradient ops: ``pooled`` inputs have the pooled shape of ``x``."""

    def _check_pooled(self, x_shape: tuple, shape: tuple, what: str, where: str, static: bool) -> None:
        expected = self.static_out_shape(x_shape) if static else self.pooled_shape(x_shape)
        if any(a is not None and b is not None and a != b for a, b in zip(shape, expected)):
            when = "static shape" if static else "shape"
            raise ValueError(f"{where}: {what} has {when} {tuple(shape)} but pooling an input of shape "
                             f"{tuple(x_shape)} with ws={self.ws}, stride={self.stride}, pad={self.pad}, "
                             f"ignore_border={self.ignore_border} gives {tuple(expected)}")

    def _check_vars(self, where: str, x: Variable, pooled: dict) -> None:
        self.check_input(x, where, "x")
        self.check_fits(x.type.shape, where, static=True)
        for name, v in pooled.items():
            if v.ndim != x.ndim:
                raise TypeError(f"{where}: {name} must have as many dimensions as x ({x.ndim}), got a "
                                f"{v.ndim}-d tensor of type {v.type}")
            self._check_pooled(x.type.shape, v.type.shape, name, where, static=True)

    def _check_values(self, where: str, x: np.ndarray, pooled: dict) -> None:
        self.check_fits(x.shape, where, static=False)
        for name, v in pooled.items():
            self._check_pooled(x.shape, v.shape, name, where, static=False)

    def vectorize_node(self, node: Apply, *inputs: Variable) -> list:
        if len({v.ndim for v in inputs}) != 1:
            raise NotImplementedError(f"{type(self).__name__} batches only when all its inputs are batched")
        return [self(*inputs)]


class MaxPoolGrad(_PoolGradBase):
    """``op(x, z, gz)`` with ``z = Pool(max)(x)``: each window's ``gz`` goes to the cells of
    ``x`` equal to the window maximum, summed over overlapping windows."""

    def __init__(self, ws: Any, ignore_border: bool = True, stride: Any = None, pad: Any = (0, 0),
                 mode: str = "max"):
        super().__init__(ws, ignore_border, stride, pad, mode)
        if mode != "max":
            raise ValueError(f"MaxPoolGrad: mode must be 'max', got {mode!r} (use AveragePoolGrad)")

    def make_node(self, x: Any, maxout: Any, gz: Any) -> Apply:
        x, maxout, gz = as_tensor_variable(x), as_tensor_variable(maxout), as_tensor_variable(gz)
        self._check_vars("MaxPoolGrad", x, {"maxout": maxout, "gz": gz})
        dtype = upcast(x.dtype, gz.dtype) if gz.dtype[0] == "f" else x.dtype
        return Apply(self, [x, maxout, gz], [TensorType(dtype, shape=x.type.shape)()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        x, maxout, gz = inputs
        self._check_values("MaxPoolGrad", x, {"maxout": maxout, "gz": gz})
        dtype = node.outputs[0].dtype
        out = maxout.shape[-2:]
        if 0 in out:
            output_storage[0][0] = np.zeros(x.shape, dtype=dtype)
            return
        hit = self.windows(x, lowest(x.dtype), out) == maxout[..., None, None]
        contrib = np.where(hit, gz[..., None, None].astype(dtype, copy=False), 0)
        output_storage[0][0] = self.scatter(contrib, x.shape, dtype)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [input_shapes[0]]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        x, maxout, gz = inputs
        ggz = DownsampleFactorMaxGradGrad(**self.params())(x, maxout, output_grads[0])
        return [_zeros(x), _zeros(maxout), ggz]

    def R_op(self, inputs: list, eval_points: list) -> list:
        x, maxout, _ = inputs
        e_gz = eval_points[2]
        return [None if e_gz is None else self(x, maxout, e_gz)]


class AveragePoolGrad(_PoolGradBase):
    """``op(x, gz)`` for ``Pool`` in mode 'sum', 'average_inc_pad' or 'average_exc_pad': each
    window's ``gz`` (divided by the window's count for the averages) goes to all its cells."""

    def __init__(self, ws: Any, ignore_border: bool = True, stride: Any = None, pad: Any = (0, 0),
                 mode: str = "average_inc_pad"):
        super().__init__(ws, ignore_border, stride, pad, mode)
        if mode == "max":
            raise ValueError("AveragePoolGrad: mode must be 'sum', 'average_inc_pad' or 'average_exc_pad', "
                             "got 'max' (use MaxPoolGrad)")

    def make_node(self, x: Any, gz: Any) -> Apply:
        x, gz = as_tensor_variable(x), as_tensor_variable(gz)
        self._check_vars("AveragePoolGrad", x, {"gz": gz})
        dtype = upcast(x.dtype, gz.dtype) if gz.dtype[0] == "f" else x.dtype
        return Apply(self, [x, gz], [TensorType(dtype, shape=x.type.shape)()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        x, gz = inputs
        self._check_values("AveragePoolGrad", x, {"gz": gz})
        dtype = node.outputs[0].dtype
        if 0 in gz.shape[-2:]:
            output_storage[0][0] = np.zeros(x.shape, dtype=dtype)
            return
        g = gz.astype(dtype, copy=False)
        if self.mode != "sum":
            g = (g / self.counts(x.shape)).astype(dtype, copy=False)
        contrib = np.broadcast_to(g[..., None, None], g.shape + self.ws)
        output_storage[0][0] = self.scatter(contrib, x.shape, dtype)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [input_shapes[0]]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        return [_zeros(inputs[0]), Pool(**self.params())(output_grads[0])]

    def R_op(self, inputs: list, eval_points: list) -> list:
        e_gz = eval_points[1]
        return [None if e_gz is None else self(inputs[0], e_gz)]


class DownsampleFactorMaxGradGrad(_PoolGradBase):
    """``op(x, z, ggx)`` with ``z = Pool(max)(x)``: for each window, the sum of ``ggx`` over the
    cells where ``x`` equals the window maximum (the adjoint of ``MaxPoolGrad`` in its gz)."""

    def __init__(self, ws: Any, ignore_border: bool = True, stride: Any = None, pad: Any = (0, 0),
                 mode: str = "max"):
        super().__init__(ws, ignore_border, stride, pad, mode)
        if mode != "max":
            raise ValueError(f"DownsampleFactorMaxGradGrad: mode must be 'max', got {mode!r}")

    def make_node(self, x: Any, maxout: Any, ggx: Any) -> Apply:
        x, maxout, ggx = as_tensor_variable(x), as_tensor_variable(maxout), as_tensor_variable(ggx)
        self._check_vars("DownsampleFactorMaxGradGrad", x, {"maxout": maxout})
        if ggx.ndim != x.ndim:
            raise TypeError(f"DownsampleFactorMaxGradGrad: ggx must have the dimensions of x ({x.ndim}), got "
                            f"a {ggx.ndim}-d tensor")
        dtype = upcast(x.dtype, ggx.dtype) if ggx.dtype[0] == "f" else x.dtype
        return Apply(self, [x, maxout, ggx], [TensorType(dtype, shape=maxout.type.shape)()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        x, maxout, ggx = inputs
        self._check_values("DownsampleFactorMaxGradGrad", x, {"maxout": maxout})
        if ggx.shape != x.shape:
            raise ValueError(f"DownsampleFactorMaxGradGrad: ggx has shape {ggx.shape}, x has {x.shape}; they "
                             f"must be equal")
        dtype = node.outputs[0].dtype
        out = maxout.shape[-2:]
        if 0 in maxout.shape:
            output_storage[0][0] = np.zeros(maxout.shape, dtype=dtype)
            return
        hit = self.windows(x, lowest(x.dtype), out) == maxout[..., None, None]
        vals = self.windows(ggx.astype(dtype, copy=False), 0, out)
        output_storage[0][0] = np.ascontiguousarray(np.where(hit, vals, 0).sum(axis=(-2, -1)), dtype=dtype)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [input_shapes[1]]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        x, maxout, _ = inputs
        return [_zeros(x), _zeros(maxout), MaxPoolGrad(**self.params())(x, maxout, output_grads[0])]

    def R_op(self, inputs: list, eval_points: list) -> list:
        x, maxout, _ = inputs
        e_ggx = eval_points[2]
        return [None if e_ggx is None else self(x, maxout, e_ggx)]
