"""Stable forms of the cost that the derivative engine differentiates.

Some costs have a finite value and a finite gradient mathematically, but their direct
derivative graph divides zero by zero once an intermediate underflows. The classic case is
the logistic-regression cross-entropy written as ``-y * log(p) - (1 - y) * log(1 - p)`` with
``p = 1 / (1 + exp(-z))`` or ``p = sigmoid(z)``: for a logit of 40, ``1 - p`` rounds to 0 and
the gradient of ``log(1 - p)`` is ``0 / 0``. Theano's optimizer repairs such gradient graphs
afterwards; symtensor instead differentiates an equal, stable form of the cost:

- ``1 / (1 + exp(-z))``  ->  ``sigmoid(z)`` (and ``1 / (1 + exp(u))`` -> ``sigmoid(-u)``)
- ``log(sigmoid(z))``     ->  ``-softplus(-z)``
- ``log(1 - sigmoid(z))`` ->  ``-softplus(z)``

The user's graph is not modified (a copy is rebuilt where a pattern applies), and no variable
the caller names (``wrt``, ``consider_constant``, ``known_grads``) is ever replaced or rebuilt:
if one would be, the cost is differentiated as written.
"""
from __future__ import annotations

from ..graph.basic import Variable, toposort
from ..ops import api as A
from ..ops.elemwise import Elemwise, scalar_constant_value


def _name(v: Variable) -> str | None:
    node = v.owner
    if node is not None and isinstance(node.op, Elemwise):
        return node.op.scalar_op.name
    return None


def _is_one(v: Variable) -> bool:
    value = scalar_constant_value(v)
    return value is not None and value == 1


def _sigmoid_argument(p: Variable, keep: set) -> Variable | None:
    """z when p is sigmoid(z) or 1 / (1 + exp(-z)) (with no kept variable inside), else None."""
    if _name(p) == "sigmoid":
        return p.owner.inputs[0]
    if _name(p) != "true_div" or not _is_one(p.owner.inputs[0]):
        return None
    denominator = p.owner.inputs[1]
    if _name(denominator) != "add" or len(denominator.owner.inputs) != 2 or denominator in keep:
        return None
    a, b = denominator.owner.inputs
    e = b if _is_one(a) else a if _is_one(b) else None
    if e is None or _name(e) != "exp" or e in keep:
        return None
    u = e.owner.inputs[0]                      # 1 / (1 + exp(u)) = sigmoid(-u)
    if _name(u) == "neg" and u not in keep:
        return u.owner.inputs[0]
    return -u if u.dtype[0] == "f" else None


def _stable_replacement(v: Variable, keep: set) -> Variable | None:
    """A stable variable equal to ``v`` (same type), or None."""
    name = _name(v)
    if name == "true_div":
        z = _sigmoid_argument(v, keep)
        if z is not None:
            return A.sigmoid(z)
    if name != "log":
        return None
    p = v.owner.inputs[0]
    if p in keep:
        return None
    z = _sigmoid_argument(p, keep)
    if z is not None:
        return -A.softplus(-z)
    if _name(p) == "sub" and _is_one(p.owner.inputs[0]):
        q = p.owner.inputs[1]
        z = None if q in keep else _sigmoid_argument(q, keep)
        if z is not None:
            return -A.softplus(z)
    return None


def stabilize(cost: Variable, keep: set) -> Variable:
    """``cost`` rebuilt with the stable forms above where they apply (or ``cost`` itself)."""
    memo: dict = {}
    changed = False
    for node in toposort([cost]):
        inputs = [memo.get(i, i) for i in node.inputs]
        if any(a is not b for a, b in zip(inputs, node.inputs)):
            new_node = node.clone_with_new_inputs(inputs, strict=False)
            for old, new in zip(node.outputs, new_node.outputs):
                memo[old] = new
        for out in node.outputs:
            current = memo.get(out, out)
            if out in keep or current.owner is None:
                continue
            stable = _stable_replacement(current, keep)
            if stable is not None and stable.type == out.type:
                memo[out] = stable
                changed = True
    if not changed or any(memo.get(k, k) is not k for k in keep):
        return cost          # nothing to do, or a variable the caller named would be rebuilt
    return memo.get(cost, cost)
