"""Stabilize rules of the softmax family: the same mathematics, without overflow or log(0).

- ``logsoftmax``: log(softmax(x)) -> logsoftmax(x).
- ``crossentropy_softmax``: categorical_crossentropy(softmax(x), t) with integer t ->
  crossentropy_softmax_1hot(x, t), computed from the logits.
- ``softmax_grad_closed_form``: softmax_grad(dy, softmax(x)) where dy divides by the softmax
  (the gradient of a cross-entropy or of a log of it) -> softmax(x) - onehot(t) scaled, or
  g - sum(g) * softmax(x).
- ``logsumexp``: log(sum(exp(x), axis)) -> m + log(sum(exp(x - m), axis)) with m the maximum
  over ``axis`` (a gradient-free shift; non-finite maxima count as 0, so results are unchanged
  for infinities, NaN and empty axes).
"""
from __future__ import annotations

from ..graph.basic import Apply, Variable
from ..graph.fg import FunctionGraph
from ..ops import api as A
from ..ops.elemwise import DimShuffle, Elemwise
from ..ops.nnet import LogSoftmax, Softmax, SoftmaxGrad, StableMax, drop_axes, stable_max
from ..ops.nnet_xent import (CrossentropyCategorical1Hot, closed_form_softmax_grad,
                             crossentropy_softmax_1hot)
from ..ops.reduce import CAReduce
from .canonicalize import _elemwise_name, _same_type_or_none
from .engine import NodePass, node_rewriter


def _owner_op(v: Variable, op_class: type) -> Apply | None:
    """The node computing ``v`` if its op is an ``op_class``, else None."""
    node = v.owner
    return node if node is not None and isinstance(node.op, op_class) else None


@node_rewriter([Elemwise], name="logsoftmax")
def logsoftmax(fgraph: FunctionGraph, node: Apply):
    """log(softmax(x)) -> logsoftmax(x): finite where the softmax underflows to 0."""
    if _elemwise_name(node) != "log":
        return None
    sm = _owner_op(node.inputs[0], Softmax)
    if sm is None:
        return None
    return _same_type_or_none(node, LogSoftmax()(sm.inputs[0]))


@node_rewriter([CrossentropyCategorical1Hot], name="crossentropy_softmax")
def crossentropy_softmax(fgraph: FunctionGraph, node: Apply):
    """-log(softmax(x)[t]) -> logsumexp(x) - x[t] in one op (finite for huge logits)."""
    sm = _owner_op(node.inputs[0], Softmax)
    if sm is None:
        return None
    return _same_type_or_none(node, crossentropy_softmax_1hot(sm.inputs[0], node.inputs[1]))


@node_rewriter([SoftmaxGrad], name="softmax_grad_closed_form")
def softmax_grad_closed_form(fgraph: FunctionGraph, node: Apply):
    """softmax_grad(dy, sm) with dy dividing by sm -> its closed form, which does not divide
    (softmax(x) - onehot(t) for a cross-entropy, g - sum(g) * sm for a log)."""
    dy, sm = node.inputs
    out = closed_form_softmax_grad(dy, sm)
    return None if out is None else _same_type_or_none(node, out)


def _is_shifted(v: Variable) -> bool:
    """Whether ``v`` is ``x - m`` with ``m`` a ``StableMax`` (a log-sum-exp already rewritten)."""
    if v.owner is None or _elemwise_name(v.owner) != "sub":
        return False
    m = v.owner.inputs[1]
    while m.owner is not None and isinstance(m.owner.op, DimShuffle):
        m = m.owner.inputs[0]
    return _owner_op(m, StableMax) is not None


@node_rewriter([Elemwise], name="logsumexp")
def logsumexp(fgraph: FunctionGraph, node: Apply):
    """log(sum(exp(x), axis)) -> m + log(sum(exp(x - m), axis)), m = max(x, axis) as a
    constant shift; also under a keepdims dimshuffle between the log and the sum."""
    if _elemwise_name(node) != "log":
        return None
    s = node.inputs[0]
    keep = _owner_op(s, DimShuffle)
    if keep is not None:
        s = keep.inputs[0]
    red = _owner_op(s, CAReduce)
    if red is None or red.op.kind != "add" or not red.op.axis:
        return None
    exp = red.inputs[0].owner
    if exp is None or _elemwise_name(exp) != "exp":
        return None
    x = exp.inputs[0]
    if x.dtype[0] != "f" or _is_shifted(x):
        return None
    axis = red.op.axis
    m = stable_max(x, axis)
    out = drop_axes(m, axis) + A.log(red.op(A.exp(x - m)))
    if keep is not None:
        out = keep.op(out)
    return _same_type_or_none(node, A.cast(out, node.outputs[0].dtype))


NNET_STABILIZE = [NodePass("nnet_stabilize",
                           [logsoftmax, crossentropy_softmax, softmax_grad_closed_form, logsumexp])]
