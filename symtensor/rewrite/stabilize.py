"""Stabilize and specialize: numerically safer and cheaper forms of the same mathematics.

stabilize: 1 / (1 + exp(-x)) -> sigmoid(x), log(1 + x) -> log1p(x), exp(x) - 1 -> expm1(x), log(sigmoid(x)) -> -softplus(-x),
log(1 - sigmoid(x)) -> -softplus(x).
specialize: x ** 2 -> sqr(x), x ** 0.5 -> sqrt(x), x ** -1 -> inv(x).
"""
from __future__ import annotations

from ..graph.basic import Apply
from ..graph.fg import FunctionGraph
from ..ops import api as A
from ..ops.elemwise import Elemwise
from .canonicalize import _elemwise_name, _same_type_or_none, is_scalar_constant
from .engine import NodePass, node_rewriter


def _is_float(v) -> bool:
    return v.dtype[0] == "f"


def _producer(v, name: str):
    """The Elemwise node named ``name`` computing v, or None."""
    node = v.owner
    return node if node is not None and _elemwise_name(node) == name else None


@node_rewriter([Elemwise], name="log1p")
def log1p(fgraph: FunctionGraph, node: Apply):
    """log(1 + x) -> log1p(x): exact for small x, where 1 + x rounds x away."""
    if _elemwise_name(node) != "log":
        return None
    add = _producer(node.inputs[0], "add")
    if add is None or len(add.inputs) != 2 or not _is_float(add.outputs[0]):
        return None   # an integer 1 + x may wrap around, which log1p(x) would not
    a, b = add.inputs
    x = b if is_scalar_constant(a, 1) else a if is_scalar_constant(b, 1) else None
    return None if x is None else _same_type_or_none(node, A.log1p(x))


@node_rewriter([Elemwise], name="expm1")
def expm1(fgraph: FunctionGraph, node: Apply):
    """exp(x) - 1 -> expm1(x)."""
    if _elemwise_name(node) != "sub" or not is_scalar_constant(node.inputs[1], 1):
        return None
    exp = _producer(node.inputs[0], "exp")
    return None if exp is None else _same_type_or_none(node, A.expm1(exp.inputs[0]))


@node_rewriter([Elemwise], name="log_sigmoid")
def log_sigmoid(fgraph: FunctionGraph, node: Apply):
    """log(sigmoid(x)) -> -softplus(-x); log(1 - sigmoid(x)) -> -softplus(x).

    Float x only: the negation of an integer x can wrap around (-(-128) in int8)."""
    if _elemwise_name(node) != "log":
        return None
    sig = _producer(node.inputs[0], "sigmoid")
    if sig is not None and _is_float(sig.inputs[0]):
        return _same_type_or_none(node, -A.softplus(-sig.inputs[0]))
    sub = _producer(node.inputs[0], "sub")
    if sub is not None and is_scalar_constant(sub.inputs[0], 1):
        sig = _producer(sub.inputs[1], "sigmoid")
        if sig is not None and _is_float(sig.inputs[0]):
            return _same_type_or_none(node, -A.softplus(sig.inputs[0]))
    return None


@node_rewriter([Elemwise], name="sigmoid_pattern")
def sigmoid_pattern(fgraph: FunctionGraph, node: Apply):
    """1 / (1 + exp(-x)) -> sigmoid(x) (and 1 / (1 + exp(u)) -> sigmoid(-u)), so the log-sigmoid
    rules see it (float only)."""
    if _elemwise_name(node) != "true_div" or not is_scalar_constant(node.inputs[0], 1):
        return None
    add = _producer(node.inputs[1], "add")
    if add is None or len(add.inputs) != 2:
        return None
    a, b = add.inputs
    e = b if is_scalar_constant(a, 1) else a if is_scalar_constant(b, 1) else None
    exp = _producer(e, "exp") if e is not None else None
    if exp is None or exp.inputs[0].dtype[0] != "f":
        return None
    u = exp.inputs[0]                      # 1 / (1 + exp(u)) = sigmoid(-u)
    neg = _producer(u, "neg")
    return _same_type_or_none(node, A.sigmoid(neg.inputs[0] if neg is not None else -u))


@node_rewriter([Elemwise], name="pow_specialize")
def pow_specialize(fgraph: FunctionGraph, node: Apply):
    """x ** 2 -> sqr(x), x ** 0.5 -> sqrt(x), x ** -1 -> inv(x) (float x).

    The one value where a result changes: (-inf) ** 0.5 is +inf (IEEE pow) while sqrt(-inf)
    is NaN; like Theano, this is accepted for the speed of sqrt."""
    if _elemwise_name(node) != "pow" or node.inputs[0].dtype[0] != "f":
        return None
    x, y = node.inputs
    for value, fn in ((2, A.sqr), (0.5, A.sqrt), (-1, A.inv)):
        if is_scalar_constant(y, value):
            out = fn(x)
            if out.ndim == node.outputs[0].ndim:
                return _same_type_or_none(node, out)
    return None


STABILIZE = [NodePass("local_stabilize", [sigmoid_pattern, log1p, expm1, log_sigmoid])]
SPECIALIZE = [NodePass("local_specialize", [pow_specialize])]
