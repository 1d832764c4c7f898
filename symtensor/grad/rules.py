"""Derivative rules for ops whose rule must call a transform recursively (ops with inner
graphs). Registered by op class; the engine consults this table before ``op.L_op`` /
``op.R_op``, so ops/ never imports grad/."""
from __future__ import annotations

from typing import Callable

from ..graph.basic import Op, clone_replace
from ..ops.opfromgraph import OpFromGraph

L_OP_RULES: dict = {}
R_OP_RULES: dict = {}


def register_l_op(op_class: type) -> Callable:
    def deco(fn: Callable) -> Callable:
        L_OP_RULES[op_class] = fn
        return fn
    return deco


def register_r_op(op_class: type) -> Callable:
    def deco(fn: Callable) -> Callable:
        R_OP_RULES[op_class] = fn
        return fn
    return deco


def l_op(node_op, inputs: list, outputs: list, output_grads: list) -> list:
    rule = L_OP_RULES.get(type(node_op))
    if rule is not None:
        return rule(node_op, inputs, outputs, output_grads)
    return node_op.L_op(inputs, outputs, output_grads)


def r_op(node_op, inputs: list, eval_points: list) -> list:
    rule = R_OP_RULES.get(type(node_op))
    if rule is not None:
        return rule(node_op, inputs, eval_points)
    if type(node_op).R_op is Op.R_op:  # no forward rule: two reverse passes (forward_rules)
        from .forward_rules import double_lop_r_op
        return double_lop_r_op(node_op, inputs, eval_points)
    return node_op.R_op(inputs, eval_points)


def _inline(op: OpFromGraph, inputs: list) -> list:
    """The inner graph's outputs expressed on the node's actual inputs."""
    return clone_replace(op.fgraph.outputs, dict(zip(op.fgraph.inputs, inputs)), strict=False)


@register_l_op(OpFromGraph)
def _ofg_l_op(op: OpFromGraph, inputs: list, outputs: list, output_grads: list) -> list:
    from .gradient import grad
    inner_outs = _inline(op, inputs)
    known = {o: g for o, g in zip(inner_outs, output_grads) if o.dtype[0] in "fc"}
    return grad(None, list(inputs), known_grads=known, disconnected_inputs="ignore",
                return_disconnected="Disconnected", null_gradients="return")


@register_r_op(OpFromGraph)
def _ofg_r_op(op: OpFromGraph, inputs: list, eval_points: list) -> list:
    from .gradient import Rop
    inner_outs = _inline(op, inputs)
    pairs = [(i, e) for i, e in zip(inputs, eval_points) if e is not None]
    return Rop(inner_outs, [i for i, _ in pairs], [e for _, e in pairs])


# Scan's rules build backward / forward scans (grad/scan_grad.py)
from ..ops.scan_op import Scan  # noqa: E402
from .scan_grad import scan_l_op, scan_r_op  # noqa: E402

register_l_op(Scan)(scan_l_op)
register_r_op(Scan)(scan_r_op)
