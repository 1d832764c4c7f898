"""Neural-network activations and the softmax family (Theano's ``tensor.nnet``).

Activations are graphs of elementwise ops (so they fuse and compile like any arithmetic):
``sigmoid`` and ``softplus`` come from the scalar table; ``ultra_fast_sigmoid``,
``hard_sigmoid``, ``relu`` and ``elu`` are built here. ``Softmax`` and ``LogSoftmax`` are
ops over the last axis, computed max-shifted (stable for huge logits), with closed-form
gradients: ``SoftmaxGrad`` (``sm * (dy - sum(dy * sm))``) and ``dy - exp(lsm) * sum(dy)``.
``StableMax`` is the constant shift of the log-sum-exp rewrite. The cross-entropies are in
``nnet_xent``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph.basic import Apply, Op, Variable, traced
from ..graph.null import disconnected_type
from ..graph.type import TensorType
from .basic import as_tensor_variable, is_python_scalar
from .elemwise import ELEMWISE_FUNCTIONS, cast, dimshuffle, shape_padleft

sigmoid = ELEMWISE_FUNCTIONS["sigmoid"]
softplus = ELEMWISE_FUNCTIONS["softplus"]


def _api():
    from . import api
    return api


def _float_dtype_of(dtype: str) -> str:
    """The float dtype an integer/bool input is computed in (as the scalar table's sigmoid)."""
    return "float32" if np.dtype(dtype).itemsize <= 2 else "float64"


def _as_float(x: Any, fname: str) -> Variable:
    """``x`` as a float tensor: integers and bools are converted (Theano's upgrade_to_float);
    complex input is refused."""
    x = as_tensor_variable(x)
    kind = np.dtype(x.dtype).kind
    if kind == "c":
        raise TypeError(f"{fname}: x must be real, got dtype {x.dtype}")
    return x if kind == "f" else cast(x, _float_dtype_of(x.dtype))


def _check_float_tensor(x: Variable, fname: str, argname: str = "x") -> None:
    """A softmax-family input must be a float tensor with at least one dimension."""
    if np.dtype(x.dtype).kind != "f":
        raise TypeError(f"{fname}: {argname} must be a float tensor, got dtype {x.dtype} ({x.type}); "
                        f"cast it first, e.g. {argname}.astype('floatX')")
    if x.ndim < 1:
        raise TypeError(f"{fname}: {argname} must have at least one dimension (the classes), got a "
                        f"0-d tensor ({x.type})")


def _check_same_shape(fname: str, a: Variable, aname: str, b: Variable, bname: str) -> None:
    """Build-time check: equal ndim and equal sizes where both are known."""
    if a.ndim != b.ndim:
        raise ValueError(f"{fname}: {aname} is {a.ndim}-d but {bname} is {b.ndim}-d; they must have the "
                         f"same shape")
    for i, (p, q) in enumerate(zip(a.type.shape, b.type.shape)):
        if p is not None and q is not None and p != q:
            raise ValueError(f"{fname}: {aname} has shape {a.type.shape} and {bname} has shape "
                             f"{b.type.shape}; they differ in dimension {i}")


def _runtime_same_shape(fname: str, a: np.ndarray, aname: str, b: np.ndarray, bname: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{fname}: {aname} has shape {a.shape} and {bname} has shape {b.shape}; "
                         f"they must be equal")


def _shift(x: np.ndarray) -> np.ndarray:
    """The per-row maximum over the last axis (keepdims), with non-finite maxima (an all -inf or
    +inf row, an empty row) replaced by 0 so that ``x - shift`` never makes NaN from infinities."""
    m = np.max(x, axis=-1, keepdims=True, initial=-np.inf)
    return np.where(np.isfinite(m), m, np.zeros((), x.dtype)).astype(x.dtype)


def _sum_last(v: Variable) -> Variable:
    return _api().sum(v, axis=-1, keepdims=True)


def _like(g: Any, ref: Variable) -> Variable:
    """A gradient ``g`` with the dtype of ``ref`` and spread to its full (unbroadcast) shape."""
    g = cast(as_tensor_variable(g), ref.dtype)
    if g.broadcastable != ref.broadcastable:
        g = _api().second(ref, g)
    return g


# ---------------------------------------------------------------------------------------------
# activations (graphs of elementwise ops)
# ---------------------------------------------------------------------------------------------
@traced
def ultra_fast_sigmoid(x: Any) -> Variable:
    """Theano's piecewise approximation of sigmoid (0.5 * (tanh_approx(x / 2) + 1)), equal to
    Theano's ``UltraFastScalarSigmoid`` element for element; its gradient is the exact
    derivative of the approximation. Integers are computed as floats."""
    A = _api()
    x = _as_float(x, "ultra_fast_sigmoid")
    h = 0.5 * x
    a = A.maximum(h, -h)       # |h|, with derivative 1 (not 0) at h = 0
    z = A.switch(A.lt(a, 1.7), 1.5 * a / (1 + a),
                 A.switch(A.lt(a, 3), 0.935409070603099 + 0.0458812946797165 * (a - 1.7),
                          0.99505475368673))
    z = A.switch(A.ge(h, 0), z, -z)
    return 0.5 * (z + 1)


@traced
def hard_sigmoid(x: Any) -> Variable:
    """Theano's hard sigmoid: ``clip(0.2 * x + 0.5, 0, 1)`` in x's float dtype."""
    x = _as_float(x, "hard_sigmoid")
    return _api().clip(x * 0.2 + 0.5, 0, 1)


@traced
def relu(x: Any, alpha: Any = 0) -> Variable:
    """Rectified linear unit: ``x`` where ``x > 0``, else ``alpha * x`` (leaky for alpha != 0;
    ``alpha`` may be symbolic). With ``alpha=0`` it is ``maximum(x, 0)`` and keeps x's dtype."""
    A = _api()
    x = as_tensor_variable(x)
    if np.dtype(x.dtype).kind == "c":
        raise TypeError(f"relu: x must be real, got dtype {x.dtype}")
    if is_python_scalar(alpha) and alpha == 0:
        return A.maximum(x, 0)
    return A.switch(A.gt(x, 0), x, alpha * x)


@traced
def elu(x: Any, alpha: Any = 1) -> Variable:
    """Exponential linear unit: ``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)``.

    The exponential sees ``minimum(x, 0)``, so large positive x neither overflows nor makes
    the gradient NaN."""
    A = _api()
    x = _as_float(x, "elu")
    return A.switch(A.gt(x, 0), x, alpha * A.expm1(A.minimum(x, 0)))


# ---------------------------------------------------------------------------------------------
# softmax family
# ---------------------------------------------------------------------------------------------
class _LastAxisOp(Op):
    """An op of one float tensor, over its last axis, whose output has the input's type."""

    __props__ = ()
    fname = ""

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        _check_float_tensor(x, self.fname)
        return Apply(self, [x], [x.type()])

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [input_shapes[0]]

    def vectorize_node(self, node: Apply, x: Variable) -> list:
        return [self(x)]       # a leading batch axis is just another row axis


class Softmax(_LastAxisOp):
    """``exp(x) / sum(exp(x))`` over the last axis, computed as ``exp(x - max)`` so that huge
    logits do not overflow."""

    fname = "softmax"

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        (x,) = inputs
        with np.errstate(all="ignore"):
            e = np.exp(x - _shift(x))
            out = e / np.sum(e, axis=-1, keepdims=True)
        output_storage[0][0] = np.asarray(out, dtype=node.outputs[0].dtype)

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        """``softmax_grad``; when the cotangent comes from a cross-entropy or a log of this very
        output, the closed form that never divides by the (possibly underflowed) softmax."""
        from .nnet_xent import closed_form_softmax_grad
        (sm,) = outputs
        closed = closed_form_softmax_grad(output_grads[0], sm)
        if closed is not None:
            return [closed]
        return [softmax_grad(_like(output_grads[0], sm), sm)]

    def R_op(self, inputs: list, eval_points: list) -> list:
        if eval_points[0] is None:
            return [None]
        sm = self(inputs[0])
        return [softmax_grad(_like(eval_points[0], sm), sm)]   # the Jacobian is symmetric


class LogSoftmax(_LastAxisOp):
    """``x - log(sum(exp(x)))`` over the last axis, max-shifted: finite for finite logits
    however large (``logsoftmax([1000, 0]) == [0, -1000]``)."""

    fname = "logsoftmax"

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        (x,) = inputs
        with np.errstate(all="ignore"):
            xd = x - _shift(x)
            out = xd - np.log(np.sum(np.exp(xd), axis=-1, keepdims=True))
        output_storage[0][0] = np.asarray(out, dtype=node.outputs[0].dtype)

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        (lsm,) = outputs
        gz = _like(output_grads[0], lsm)
        return [gz - _api().exp(lsm) * _sum_last(gz)]

    def R_op(self, inputs: list, eval_points: list) -> list:
        if eval_points[0] is None:
            return [None]
        lsm = self(inputs[0])
        ev = _like(eval_points[0], lsm)
        return [ev - _sum_last(ev * _api().exp(lsm))]


class SoftmaxGrad(Op):
    """The softmax vector-Jacobian product ``sm * (dy - sum(dy * sm))`` over the last axis,
    from the softmax output ``sm`` (no exponential is recomputed)."""

    __props__ = ()

    def make_node(self, dy: Any, sm: Any) -> Apply:
        dy, sm = as_tensor_variable(dy), as_tensor_variable(sm)
        _check_float_tensor(sm, "softmax_grad", "sm")
        _check_float_tensor(dy, "softmax_grad", "dy")
        if dy.dtype != sm.dtype:
            raise TypeError(f"softmax_grad: dy has dtype {dy.dtype} but sm has dtype {sm.dtype}")
        _check_same_shape("softmax_grad", dy, "dy", sm, "sm")
        return Apply(self, [dy, sm], [sm.type()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        dy, sm = inputs
        _runtime_same_shape("softmax_grad", dy, "dy", sm, "sm")
        with np.errstate(all="ignore"):
            dx = sm * (dy - np.sum(dy * sm, axis=-1, keepdims=True))
        output_storage[0][0] = np.asarray(dx, dtype=node.outputs[0].dtype)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [input_shapes[1]]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        dy, sm = inputs
        g = _like(output_grads[0], sm)
        g_dy = softmax_grad(g, sm)
        g_sm = g * (dy - _sum_last(dy * sm)) - dy * _sum_last(g * sm)
        return [g_dy, g_sm]

    def R_op(self, inputs: list, eval_points: list) -> list:
        dy, sm = inputs
        ev_dy, ev_sm = eval_points
        terms = []
        if ev_dy is not None:
            terms.append(softmax_grad(_like(ev_dy, sm), sm))
        if ev_sm is not None:
            ev_sm = _like(ev_sm, sm)
            terms.append(ev_sm * (dy - _sum_last(dy * sm)) - sm * _sum_last(dy * ev_sm))
        if not terms:
            return [None]
        return [terms[0] if len(terms) == 1 else terms[0] + terms[1]]

    def vectorize_node(self, node: Apply, dy: Variable, sm: Variable) -> list:
        if dy.ndim < sm.ndim:
            dy = _api().second(sm, dy)
        elif sm.ndim < dy.ndim:
            sm = _api().second(dy, sm)
        return [self(dy, sm)]


class StableMax(Op):
    """The shift of a stable log-sum-exp: ``max(x, axis)`` kept as size-1 axes, with non-finite
    maxima (all -inf, +inf, or an empty axis) replaced by 0. Its gradient is disconnected: the
    shift cancels out mathematically, so it is treated as a constant."""

    __props__ = ("axis",)

    def __init__(self, axis: tuple):
        self.axis = tuple(int(a) for a in axis)

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if np.dtype(x.dtype).kind != "f":
            raise TypeError(f"StableMax: x must be a float tensor, got dtype {x.dtype}")
        if sorted(set(self.axis)) != list(self.axis) or any(not 0 <= a < x.ndim for a in self.axis):
            raise ValueError(f"StableMax: axis must be sorted, distinct and in range 0..{x.ndim - 1} "
                             f"for a {x.ndim}-d input, got {self.axis}")
        shape = tuple(1 if i in self.axis else s for i, s in enumerate(x.type.shape))
        return Apply(self, [x], [TensorType(x.dtype, shape=shape)()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        (x,) = inputs
        m = np.max(x, axis=self.axis, keepdims=True, initial=-np.inf)
        output_storage[0][0] = np.where(np.isfinite(m), m, np.zeros((), x.dtype)).astype(x.dtype)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        from .basic import constant
        one = constant(1, dtype="int64")
        return [tuple(one if i in self.axis else s for i, s in enumerate(input_shapes[0]))]

    def connection_pattern(self, node: Apply) -> list:
        return [[False]]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        return [disconnected_type()]

    def R_op(self, inputs: list, eval_points: list) -> list:
        return [None]


_softmax = Softmax()
_logsoftmax = LogSoftmax()
_softmax_grad = SoftmaxGrad()


@traced
def softmax_grad(dy: Any, sm: Any) -> Variable:
    """``sm * (dy - sum(dy * sm, axis=-1))``: the gradient of softmax given its output ``sm``."""
    return _softmax_grad(dy, sm)


def _rows(c: Any, fname: str) -> Variable:
    """Theano 1.0: a vector is treated as one row (the result is a 1 x n matrix)."""
    c = as_tensor_variable(c)
    _check_float_tensor(c, fname, "c")
    return shape_padleft(c) if c.ndim == 1 else c


@traced
def softmax(c: Any) -> Variable:
    """Softmax over the last axis (each row of a matrix sums to 1), numerically stable.

    As in Theano 1.0, a vector gives a 1 x n row; tensors of more dimensions are taken
    row-wise over their last axis. ``c`` must be a float tensor."""
    return _softmax(_rows(c, "softmax"))


@traced
def logsoftmax(c: Any) -> Variable:
    """``log(softmax(c))`` over the last axis, computed stably (finite for finite logits).

    As in Theano 1.0, a vector gives a 1 x n row."""
    return _logsoftmax(_rows(c, "logsoftmax"))


def stable_max(x: Any, axis: tuple) -> Variable:
    """``max(x, axis, keepdims=True)`` as a gradient-free shift (see ``StableMax``)."""
    return StableMax(axis)(x)


def drop_axes(v: Variable, axis: tuple) -> Variable:
    """Remove the size-1 ``axis`` of ``v`` (the inverse of keepdims)."""
    return dimshuffle(v, [i for i in range(v.ndim) if i not in axis])
