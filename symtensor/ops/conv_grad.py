"""The gradients of ``Conv2d`` as ops of their own (Theano's AbstractConv2d_gradInputs and
AbstractConv2d_gradWeights), each with its own gradient, so second derivatives work.

Both are linear in each of their two tensor inputs; with ``conv(x, k)`` the forward op and
``<a, b>`` the sum of the elementwise product:

- ``Conv2dGradInputs(k, t, shape)`` is the x with ``<x', that> = <conv(x', k), t>`` for every x'
  (the input gradient for output gradient t; ``shape`` gives the input's rows and columns,
  which strides make ambiguous);
- ``Conv2dGradWeights(x, t, shape)`` is the k with ``<k', that> = <conv(x, k'), t>``
  (``shape``: the filters' rows and columns).

So the derivatives of each are again one of the three ops. The numpy references are an
im2col matmul (weights) and a matmul followed by a col2im scatter-add over the filter taps
(inputs), never a loop over pixels.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph.basic import Apply, Constant, Variable
from ..graph.null import disconnected_type
from ..graph.type import TensorType, upcast
from .basic import as_tensor_variable
from .conv import Conv2d, ConvParams, _merge_static, add_terms, check_runtime, im2col, pad_input


def _shape_scalars(shape: Any, what: str) -> list:
    """Two int64 scalars from a pair (ints or int scalars) or an int vector of length 2."""
    from .shape import as_int_scalar
    if isinstance(shape, Variable) and not isinstance(shape, Constant) and shape.ndim == 1:
        if shape.dtype[0] not in "iu" or shape.type.shape[0] not in (None, 2):
            raise TypeError(f"{what} must be 2 ints or an int vector of length 2, got {shape} of type {shape.type}")
        return [as_int_scalar(shape[0], what), as_int_scalar(shape[1], what)]
    if isinstance(shape, Constant):
        shape = shape.data.tolist()
    if isinstance(shape, np.ndarray):
        shape = shape.tolist()
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise TypeError(f"{what} must be 2 ints or an int vector of length 2, got {shape!r}")
    return [as_int_scalar(s, what) for s in shape]


def _const(v: Variable) -> int | None:
    return int(v.data) if isinstance(v, Constant) else None


class _ConvGrad(ConvParams):
    """Shared checks of the two gradient ops."""

    def _check_top(self, top_shape: tuple, img_shape: tuple, kern_shape: tuple, where: str,
                   static: bool) -> None:
        """The output gradient has the shape the forward op would have produced."""
        expected = (img_shape[0], kern_shape[0]) + (
            self.static_out_size(img_shape[2:], kern_shape[2:]) if static
            else self.out_size(img_shape[2:], kern_shape[2:]))
        for axis, (t, e) in enumerate(zip(top_shape, expected)):
            if t is not None and e is not None and t != e:
                when = "static shape" if static else "shape"
                raise ValueError(f"{where}: the output gradient has {when} {tuple(top_shape)} but a convolution "
                                 f"of an input of shape {tuple(img_shape)} with filters of shape "
                                 f"{tuple(kern_shape)} gives {tuple(expected)} (axis {axis} differs)")

    def connection_pattern(self, node: Apply) -> list:
        return [[True], [True], [False], [False]]


class Conv2dGradInputs(_ConvGrad):
    """The gradient of ``Conv2d`` with respect to its input: ``op(filters, output_grad, (rows, cols))``
    gives a (batch, channels, rows, cols) array."""

    def make_node(self, kern: Any, topgrad: Any, shape: Any) -> Apply:
        kern, topgrad = as_tensor_variable(kern), as_tensor_variable(topgrad)
        self._float_inputs("conv2d_grad_inputs", filters=kern, topgrad=topgrad)
        rows, cols = _shape_scalars(shape, "conv2d_grad_inputs: shape")
        kshp = tuple(_merge_static(s, h) for s, h in zip(kern.type.shape, self.kshp))
        channels = kshp[1] * self.num_groups if kshp[1] is not None else self.imshp[1]
        batch = _merge_static(topgrad.type.shape[0], self.imshp[0])
        ishp = (batch, channels, _const(rows), _const(cols))
        self.check_hint(self.kshp, kern.type.shape, "filter_shape", "conv2d_grad_inputs", static=True)
        self.check_hint(self.imshp, ishp, "input_shape", "conv2d_grad_inputs", static=True)
        self.check_channels(channels, kshp[0], kshp[1], "conv2d_grad_inputs",
                            f"filter shape {kshp}, input shape {ishp}")
        self.check_fits(ishp[2:], kshp[2:], "conv2d_grad_inputs", static=True)
        self._check_top(topgrad.type.shape, ishp, kshp, "conv2d_grad_inputs", static=True)
        out = TensorType(upcast(kern.dtype, topgrad.dtype), shape=ishp)()
        return Apply(self, [kern, topgrad, rows, cols], [out])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        kern, top, rows, cols = inputs
        img_shape = (top.shape[0], kern.shape[1] * self.num_groups, int(rows), int(cols))
        check_runtime(self, "conv2d_grad_inputs", img_shape, kern.shape)
        self._check_top(top.shape, img_shape, kern.shape, "conv2d_grad_inputs", static=False)
        output_storage[0][0] = self.compute(kern, top, img_shape, node.outputs[0].dtype)

    def compute(self, kern: np.ndarray, top: np.ndarray, img_shape: tuple, dtype: str) -> np.ndarray:
        """matmul of the output gradient with the filters, then col2im (a scatter-add per tap)."""
        b, c, h, w = img_shape
        f, cg, kh, kw = kern.shape
        g = self.num_groups
        oh, ow = top.shape[2:]
        (pt, pb), (pl, pr) = self.pads((kh, kw))
        (dh, dw), (sh, sw) = self.filter_dilation, self.subsample
        t = top.reshape(b, g, f // g, oh * ow).transpose(1, 0, 3, 2).reshape(g, b * oh * ow, f // g)
        wm = self.flip(kern).reshape(g, f // g, cg * kh * kw)
        colv = np.matmul(t.astype(dtype, copy=False), wm.astype(dtype, copy=False))
        colv = colv.reshape(g, b, oh, ow, cg, kh, kw).transpose(1, 0, 4, 5, 6, 2, 3).reshape(b, c, kh, kw, oh, ow)
        padded = np.zeros((b, c, h + pt + pb, w + pl + pr), dtype=dtype)
        for i in range(kh):
            for j in range(kw):
                padded[:, :, i * dh:i * dh + (oh - 1) * sh + 1:sh, j * dw:j * dw + (ow - 1) * sw + 1:sw] \
                    += colv[:, :, i, j]
        return np.ascontiguousarray(padded[:, :, pt:pt + h, pl:pl + w])

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        kshp, tshp = input_shapes[0], input_shapes[1]
        return [(tshp[0], kshp[1] * self.num_groups, node.inputs[2], node.inputs[3])]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        from .shape import shape_i
        kern, top = inputs[:2]
        (g_img,) = output_grads
        g_kern = Conv2dGradWeights(**self.params())(g_img, top, (shape_i(kern, 2), shape_i(kern, 3)))
        g_top = Conv2d(**self.params())(g_img, kern)
        return [g_kern, g_top, disconnected_type(), disconnected_type()]

    def R_op(self, inputs: list, eval_points: list) -> list:
        kern, top, rows, cols = inputs
        e_kern, e_top = eval_points[:2]
        terms = []
        if e_kern is not None:
            terms.append(self(e_kern, top, (rows, cols)))
        if e_top is not None:
            terms.append(self(kern, e_top, (rows, cols)))
        return [add_terms(terms, upcast(kern.dtype, top.dtype))]


class Conv2dGradWeights(_ConvGrad):
    """The gradient of ``Conv2d`` with respect to its filters: ``op(input, output_grad,
    (f_rows, f_cols))`` gives a (n_filters, channels // num_groups, f_rows, f_cols) array."""

    def make_node(self, img: Any, topgrad: Any, shape: Any) -> Apply:
        img, topgrad = as_tensor_variable(img), as_tensor_variable(topgrad)
        self._float_inputs("conv2d_grad_weights", input=img, topgrad=topgrad)
        rows, cols = _shape_scalars(shape, "conv2d_grad_weights: shape")
        ishp = tuple(_merge_static(s, h) for s, h in zip(img.type.shape, self.imshp))
        n_filters = _merge_static(topgrad.type.shape[1], self.kshp[0])
        per_group = ishp[1] // self.num_groups if ishp[1] is not None else self.kshp[1]
        kshp = (n_filters, per_group, _const(rows), _const(cols))
        self.check_hint(self.imshp, img.type.shape, "input_shape", "conv2d_grad_weights", static=True)
        self.check_hint(self.kshp, kshp, "filter_shape", "conv2d_grad_weights", static=True)
        self.check_channels(ishp[1], n_filters, per_group, "conv2d_grad_weights",
                            f"input shape {ishp}, filter shape {kshp}")
        self.check_fits(ishp[2:], kshp[2:], "conv2d_grad_weights", static=True)
        self._check_top(topgrad.type.shape, ishp, kshp, "conv2d_grad_weights", static=True)
        out = TensorType(upcast(img.dtype, topgrad.dtype), shape=kshp)()
        return Apply(self, [img, topgrad, rows, cols], [out])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        img, top, rows, cols = inputs
        kern_shape = (top.shape[1], img.shape[1] // self.num_groups, int(rows), int(cols))
        check_runtime(self, "conv2d_grad_weights", img.shape, kern_shape)
        self._check_top(top.shape, img.shape, kern_shape, "conv2d_grad_weights", static=False)
        output_storage[0][0] = self.compute(img, top, kern_shape, node.outputs[0].dtype)

    def compute(self, img: np.ndarray, top: np.ndarray, kern_shape: tuple, dtype: str) -> np.ndarray:
        """The output gradient times the im2col matrix of the input, per group."""
        f, cg, kh, kw = kern_shape
        b, g = img.shape[0], self.num_groups
        oh, ow = top.shape[2:]
        xp = pad_input(img, self.pads((kh, kw)))
        cols = im2col(xp, (kh, kw), self, (oh, ow)).astype(dtype, copy=False)
        t = top.reshape(b, g, f // g, oh * ow).transpose(1, 2, 0, 3).reshape(g, f // g, b * oh * ow)
        dw = np.matmul(t.astype(dtype, copy=False), cols).reshape(f, cg, kh, kw)
        return np.ascontiguousarray(self.flip(dw))

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        ishp, tshp = input_shapes[0], input_shapes[1]
        return [(tshp[1], ishp[1] // self.num_groups, node.inputs[2], node.inputs[3])]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        from .shape import shape_i
        img, top = inputs[:2]
        (g_kern,) = output_grads
        g_img = Conv2dGradInputs(**self.params())(g_kern, top, (shape_i(img, 2), shape_i(img, 3)))
        g_top = Conv2d(**self.params())(img, g_kern)
        return [g_img, g_top, disconnected_type(), disconnected_type()]

    def R_op(self, inputs: list, eval_points: list) -> list:
        img, top, rows, cols = inputs
        e_img, e_top = eval_points[:2]
        terms = []
        if e_img is not None:
            terms.append(self(e_img, top, (rows, cols)))
        if e_top is not None:
            terms.append(self(img, e_top, (rows, cols)))
        return [add_terms(terms, upcast(img.dtype, top.dtype))]


def conv2d_grad_wrt_inputs(output_grad: Any, filters: Any, input_shape: Any, filter_shape: Any = None,
                           border_mode: Any = "valid", subsample: Any = (1, 1), filter_flip: bool = True,
                           filter_dilation: Any = (1, 1), num_groups: int = 1) -> Variable:
    """Theano's ``conv2d_grad_wrt_inputs`` (a transposed convolution): ``input_shape`` is the
    full 4-entry shape of the input; its last two entries (ints or int scalars) are required."""
    if input_shape is None or len(input_shape) != 4:
        raise ValueError(f"conv2d_grad_wrt_inputs: input_shape must have 4 entries, got {input_shape!r}")
    hint = [s if isinstance(s, (int, np.integer)) else None for s in input_shape]
    op = Conv2dGradInputs(hint, filter_shape, border_mode, subsample, filter_flip, filter_dilation, num_groups)
    return op(filters, output_grad, tuple(input_shape[2:]))


def conv2d_grad_wrt_weights(input: Any, output_grad: Any, filter_shape: Any, input_shape: Any = None,
                            border_mode: Any = "valid", subsample: Any = (1, 1), filter_flip: bool = True,
                            filter_dilation: Any = (1, 1), num_groups: int = 1) -> Variable:
    """Theano's ``conv2d_grad_wrt_weights``: ``filter_shape`` is the full 4-entry shape of the
    filters; its last two entries (ints or int scalars) are required."""
    if filter_shape is None or len(filter_shape) != 4:
        raise ValueError(f"conv2d_grad_wrt_weights: filter_shape must have 4 entries, got {filter_shape!r}")
    hint = [s if isinstance(s, (int, np.integer)) else None for s in filter_shape]
    op = Conv2dGradWeights(input_shape, hint, border_mode, subsample, filter_flip, filter_dilation, num_groups)
    return op(input, output_grad, tuple(filter_shape[2:]))
