"""Cross-entropies (Theano's ``tensor.nnet``): ``categorical_crossentropy`` with integer class
targets (``-log p[..., t]``) or one-hot / soft targets (``-sum(t * log p, axis=-1)``), and
``binary_crossentropy``.

Integer targets go through ``CrossentropyCategorical1Hot`` (gradient
``CrossentropyCategorical1HotGrad``, nonzero only at the target entries). The stabilize
rewrites turn ``crossentropy(softmax(x), t)`` into ``CrossentropySoftmax1Hot(x, t)``, which
computes ``logsumexp(x) - x[t]`` from the logits (finite however large they are), with the
gradient ``(softmax(x) - onehot(t)) * g``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph.basic import Apply, Op, Variable, traced
from ..graph.null import disconnected_type
from ..graph.type import TensorType
from .basic import as_tensor_variable
from .elemwise import Elemwise, cast, shape_padright
from .nnet import Softmax, _api, _check_float_tensor, _like, _shift, _softmax, _sum_last, softmax_grad


def _merged_shape(a: tuple, b: tuple) -> tuple:
    return tuple(p if p is not None else q for p, q in zip(a, b))


def _check_targets(fname: str, coding: Variable, targets: Variable) -> None:
    """Integer class targets: one dimension fewer than ``coding_dist``, an integer dtype, and
    the same leading sizes where known."""
    if np.dtype(targets.dtype).kind not in "iu":
        raise TypeError(f"{fname}: integer class targets must have an integer dtype, got "
                        f"{targets.dtype} ({targets.type}); pass class indices (e.g. an ivector), "
                        f"or one-hot / probability targets with as many dimensions as coding_dist")
    if targets.ndim != coding.ndim - 1:
        raise TypeError(f"{fname}: integer targets must have one dimension fewer than coding_dist "
                        f"({coding.ndim}-d), got a {targets.ndim}-d tensor ({targets.type})")
    for i, (p, q) in enumerate(zip(coding.type.shape[:-1], targets.type.shape)):
        if p is not None and q is not None and p != q:
            raise ValueError(f"{fname}: coding_dist has shape {coding.type.shape} but the targets have "
                             f"shape {targets.type.shape}; they differ in dimension {i}")


def _check_target_values(fname: str, x: np.ndarray, t: np.ndarray) -> None:
    if x.shape[:-1] != t.shape:
        raise ValueError(f"{fname}: coding_dist has shape {x.shape} but the targets have shape "
                         f"{t.shape}; expected targets of shape {x.shape[:-1]}")
    n = x.shape[-1]
    bad = (t < 0) | (t >= n)
    if np.any(bad):
        idx = tuple(int(k) for k in np.argwhere(bad)[0])
        raise ValueError(f"{fname}: target {int(t[idx])} at index {idx} is out of range for "
                         f"{n} classes (valid: 0..{n - 1})")


def _picked(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``x[..., t]`` entry by entry (the value of each row's target class)."""
    return np.take_along_axis(x, t[..., None].astype(np.intp), axis=-1)[..., 0]


def onehot_like(targets: Variable, x: Variable) -> Variable:
    """The one-hot encoding of integer ``targets`` over the last axis of ``x``, in x's dtype."""
    A = _api()
    from .shape import shape_i
    classes = A.arange(shape_i(x, x.ndim - 1))
    return cast(A.eq(shape_padright(targets), classes), x.dtype)


class CrossentropyCategorical1Hot(Op):
    """``-log(coding[..., t])`` per row: the cross-entropy of probabilities ``coding`` (classes
    on the last axis) against integer class targets ``t``."""

    __props__ = ()

    def make_node(self, coding: Any, targets: Any) -> Apply:
        coding, targets = as_tensor_variable(coding), as_tensor_variable(targets)
        _check_float_tensor(coding, "categorical_crossentropy", "coding_dist")
        _check_targets("categorical_crossentropy", coding, targets)
        shape = _merged_shape(coding.type.shape[:-1], targets.type.shape)
        return Apply(self, [coding, targets], [TensorType(coding.dtype, shape=shape)()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        p, t = inputs
        _check_target_values("categorical_crossentropy", p, t)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = -np.log(_picked(p, t))
        output_storage[0][0] = np.asarray(out, dtype=node.outputs[0].dtype)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [tuple(input_shapes[0][:-1])]

    def connection_pattern(self, node: Apply) -> list:
        return [[True], [False]]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        p, t = inputs
        gz = _like(output_grads[0], outputs[0])
        return [crossentropy_categorical_1hot_grad(gz, p, t), disconnected_type()]

    def R_op(self, inputs: list, eval_points: list) -> list:
        p, t = inputs
        if eval_points[0] is None:
            return [None]
        ones = _api().ones_like(self(p, t))
        return [_api().sum(crossentropy_categorical_1hot_grad(ones, p, t) * eval_points[0], axis=-1)]


class CrossentropyCategorical1HotGrad(Op):
    """The gradient of ``CrossentropyCategorical1Hot`` with respect to the probabilities:
    ``-g / p[..., t]`` at each row's target entry, 0 elsewhere."""

    __props__ = ()

    def make_node(self, gz: Any, coding: Any, targets: Any) -> Apply:
        gz, coding, targets = (as_tensor_variable(v) for v in (gz, coding, targets))
        _check_float_tensor(coding, "crossentropy_categorical_1hot_grad", "coding_dist")
        _check_targets("crossentropy_categorical_1hot_grad", coding, targets)
        if gz.ndim != targets.ndim or gz.dtype != coding.dtype:
            raise TypeError(f"crossentropy_categorical_1hot_grad: gz must be a {targets.ndim}-d "
                            f"{coding.dtype} tensor, got {gz.type}")
        return Apply(self, [gz, coding, targets], [coding.type()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        gz, p, t = inputs
        _check_target_values("crossentropy_categorical_1hot_grad", p, t)
        dx = np.zeros(p.shape, dtype=node.outputs[0].dtype)
        with np.errstate(divide="ignore", invalid="ignore"):
            vals = -np.broadcast_to(gz, t.shape) / _picked(p, t)
        np.put_along_axis(dx, t[..., None].astype(np.intp), vals[..., None], axis=-1)
        output_storage[0][0] = dx

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [input_shapes[1]]

    def connection_pattern(self, node: Apply) -> list:
        return [[True], [True], [False]]

    def _parts(self, gz: Variable, p: Variable, t: Variable) -> tuple:
        """(one-hot of t, p with 1 away from the targets, gz as a column)."""
        hot = onehot_like(t, p)
        return hot, _api().switch(hot, p, 1), shape_padright(cast(gz, p.dtype))

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        gz, p, t = inputs
        g = _like(output_grads[0], p)
        hot, safe_p, gcol = self._parts(gz, p, t)
        g_gz = -_api().sum(hot * g / safe_p, axis=-1)
        g_p = hot * gcol * g / (safe_p * safe_p)
        return [_like(g_gz, gz), g_p, disconnected_type()]

    def R_op(self, inputs: list, eval_points: list) -> list:
        gz, p, t = inputs
        ev_gz, ev_p = eval_points[0], eval_points[1]
        hot, safe_p, gcol = self._parts(gz, p, t)
        terms = []
        if ev_gz is not None:
            terms.append(-hot * shape_padright(cast(ev_gz, p.dtype)) / safe_p)
        if ev_p is not None:
            terms.append(hot * gcol * ev_p / (safe_p * safe_p))
        if not terms:
            return [None]
        return [cast(terms[0] if len(terms) == 1 else terms[0] + terms[1], p.dtype)]


class CrossentropySoftmax1Hot(Op):
    """``-log(softmax(x)[..., t])`` computed from the logits ``x`` as ``logsumexp(x) - x[..., t]``:
    finite for finite logits of any size. Gradient: ``(softmax(x) - onehot(t)) * g``."""

    __props__ = ()

    def make_node(self, x: Any, targets: Any) -> Apply:
        x, targets = as_tensor_variable(x), as_tensor_variable(targets)
        _check_float_tensor(x, "crossentropy_softmax_1hot", "x")
        _check_targets("crossentropy_softmax_1hot", x, targets)
        shape = _merged_shape(x.type.shape[:-1], targets.type.shape)
        return Apply(self, [x, targets], [TensorType(x.dtype, shape=shape)()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        x, t = inputs
        _check_target_values("crossentropy_softmax_1hot", x, t)
        with np.errstate(all="ignore"):
            m = _shift(x)
            lse = m[..., 0] + np.log(np.sum(np.exp(x - m), axis=-1))
            out = lse - _picked(x, t)
        output_storage[0][0] = np.asarray(out, dtype=node.outputs[0].dtype)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [tuple(input_shapes[0][:-1])]

    def connection_pattern(self, node: Apply) -> list:
        return [[True], [False]]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        x, t = inputs
        gz = _like(output_grads[0], outputs[0])
        return [softmax_minus_onehot(gz, _softmax(x), t), disconnected_type()]

    def R_op(self, inputs: list, eval_points: list) -> list:
        x, t = inputs
        if eval_points[0] is None:
            return [None]
        diff = _softmax(x) - onehot_like(t, x)
        return [_api().sum(diff * eval_points[0], axis=-1)]


_xent_1hot = CrossentropyCategorical1Hot()
_xent_1hot_grad = CrossentropyCategorical1HotGrad()
_xent_softmax_1hot = CrossentropySoftmax1Hot()


def softmax_minus_onehot(gz: Variable, sm: Variable, targets: Variable) -> Variable:
    """``(sm - onehot(targets)) * gz[..., None]``: the gradient of the softmax cross-entropy with
    respect to the logits, from the softmax output ``sm`` (exact where ``sm`` underflows)."""
    return (sm - onehot_like(targets, sm)) * shape_padright(cast(gz, sm.dtype))


def _closed_term(dy: Variable, sm: Variable) -> Variable | None:
    """``softmax_grad(dy, sm)`` in closed form for the two cotangents that divide by ``sm``:
    a cross-entropy's (``sm - onehot``) and a log's (``g - sum(g) * sm``); else None."""
    node = dy.owner
    if node is None:
        return None
    if isinstance(node.op, CrossentropyCategorical1HotGrad) and node.inputs[1] is sm:
        return softmax_minus_onehot(node.inputs[0], sm, node.inputs[2])
    if isinstance(node.op, Elemwise) and node.op.scalar_op.name == "true_div" and node.inputs[1] is sm:
        g = _like(node.inputs[0], sm)
        return g - _sum_last(g) * sm
    return None


def closed_form_softmax_grad(dy: Variable, sm: Variable) -> Variable | None:
    """The gradient of ``sm = softmax(x)`` for the cotangent ``dy``, with the terms of ``dy``
    that come from ``-log(sm[t])`` or ``log(sm)`` in closed form (stable where ``sm`` underflows)
    and any other terms through ``softmax_grad``; None when no term has a closed form."""
    if sm.owner is None or not isinstance(sm.owner.op, Softmax):
        return None
    node = dy.owner
    terms = node.inputs if node is not None and isinstance(node.op, Elemwise) \
        and node.op.scalar_op.name == "add" else [dy]
    closed = [_closed_term(t, sm) for t in terms]
    if all(c is None for c in closed):
        return None
    rest = [t for t, c in zip(terms, closed) if c is None]
    parts = [c for c in closed if c is not None]
    if rest:
        other = rest[0] if len(rest) == 1 else _api().add(*rest)
        parts.append(softmax_grad(_like(other, sm), sm))
    out = parts[0] if len(parts) == 1 else _api().add(*parts)
    return _like(out, sm)


@traced
def crossentropy_categorical_1hot(coding_dist: Any, true_one_of_n: Any) -> Variable:
    """``-log(coding_dist[..., t])`` for integer class targets ``t`` (Theano's name)."""
    return _xent_1hot(coding_dist, true_one_of_n)


@traced
def crossentropy_categorical_1hot_grad(gz: Any, coding_dist: Any, true_one_of_n: Any) -> Variable:
    """The gradient of ``crossentropy_categorical_1hot`` with respect to ``coding_dist``."""
    return _xent_1hot_grad(gz, coding_dist, true_one_of_n)


@traced
def crossentropy_softmax_1hot(x: Any, true_one_of_n: Any) -> Variable:
    """``-log(softmax(x)[..., t])`` computed stably from the logits ``x``."""
    return _xent_softmax_1hot(x, true_one_of_n)


def _check_broadcastable(fname: str, a: Variable, aname: str, b: Variable, bname: str) -> None:
    """Build-time check that two operands of an elementwise loss broadcast together."""
    for k in range(1, min(a.ndim, b.ndim) + 1):
        p, q = a.type.shape[-k], b.type.shape[-k]
        if p is not None and q is not None and p != q and 1 not in (p, q):
            raise ValueError(f"{fname}: {aname} has shape {a.type.shape} and {bname} has shape "
                             f"{b.type.shape}; they cannot be broadcast together (dimension "
                             f"{max(a.ndim, b.ndim) - k} has sizes {p} and {q})")


@traced
def categorical_crossentropy(coding_dist: Any, true_dist: Any) -> Variable:
    """The cross-entropy of each row of ``coding_dist`` (probabilities, classes on the last
    axis) against ``true_dist``, as in Theano 1.0:

    - ``true_dist`` with one dimension fewer, of an integer dtype: class indices,
      ``-log(coding_dist[i, true_dist[i]])``;
    - ``true_dist`` with as many dimensions (one-hot or soft targets):
      ``-sum(true_dist * log(coding_dist), axis=-1)``.

    Applied to ``softmax(x)``, the compiled function computes it from the logits (stable)."""
    A = _api()
    coding = as_tensor_variable(coding_dist)
    true_dist = as_tensor_variable(true_dist)
    _check_float_tensor(coding, "categorical_crossentropy", "coding_dist")
    if true_dist.ndim == coding.ndim:
        if np.dtype(true_dist.dtype).kind == "c":
            raise TypeError(f"categorical_crossentropy: true_dist must be real, got dtype {true_dist.dtype}")
        _check_broadcastable("categorical_crossentropy", coding, "coding_dist", true_dist, "true_dist")
        return -A.sum(true_dist * A.log(coding), axis=coding.ndim - 1)
    if true_dist.ndim == coding.ndim - 1:
        return _xent_1hot(coding, true_dist)
    raise TypeError(f"categorical_crossentropy: rank mismatch between coding_dist ({coding.ndim}-d, "
                    f"{coding.type}) and true_dist ({true_dist.ndim}-d, {true_dist.type}); true_dist "
                    f"must have {coding.ndim} dimensions (one-hot or probabilities) or "
                    f"{coding.ndim - 1} (integer class indices)")


@traced
def binary_crossentropy(output: Any, target: Any) -> Variable:
    """``-(target * log(output) + (1 - target) * log(1 - output))`` elementwise (Theano 1.0).

    For ``output = sigmoid(x)`` the compiled function rewrites the logs into softplus terms."""
    A = _api()
    output = as_tensor_variable(output)
    target = as_tensor_variable(target)
    if np.dtype(output.dtype).kind != "f":
        raise TypeError(f"binary_crossentropy: output must be a float tensor (probabilities), got "
                        f"dtype {output.dtype} ({output.type})")
    if np.dtype(target.dtype).kind == "c":
        raise TypeError(f"binary_crossentropy: target must be real, got dtype {target.dtype}")
    _check_broadcastable("binary_crossentropy", output, "output", target, "target")
    return -(target * A.log(output) + (1.0 - target) * A.log(1.0 - output))
