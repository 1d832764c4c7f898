"""Forward-mode (R_op) rules for ops of ops/ that do not define their own.

Registered by op class through ``rules.register_r_op``; ``Rop`` consults the table before
``op.R_op``. Most rules are the derivative written out. ``double_lop_r_op`` is the generic
fall-back for an op with a reverse rule but no forward rule (``rules.r_op`` uses it for any op
whose class leaves ``R_op`` undefined): it is exact, at the cost of a bigger graph.
"""
from __future__ import annotations

import logging
from functools import reduce

from ..graph.basic import Op, Variable, clone_replace
from ..graph.null import is_disconnected, is_null
from ..ops import api as A
from ..ops.alloc import ARange, Eye
from ..ops.fused import FusedElemwise
from .rules import register_l_op, register_r_op

log = logging.getLogger(__name__)


def _is_float(v: Variable) -> bool:
    return v.dtype[0] in "fc"


@register_r_op(Eye)
def _eye_r_op(op: Eye, inputs: list, eval_points: list) -> list:
    """An identity-like matrix does not vary with its (integer) sizes and offset."""
    return [None]


@register_r_op(ARange)
def _arange_r_op(op: ARange, inputs: list, eval_points: list) -> list:
    """``out[i] = start + i * step``: the tangent is ``dstart + i * dstep``; ``stop`` only sets
    the length. An integer range has no tangent."""
    start, stop, step = inputs
    dstart, _, dstep = eval_points
    if op.dtype[0] not in "fc" or (dstart is None and dstep is None):
        return [None]
    out = op(*inputs)
    terms = []
    if dstart is not None:
        terms.append(A.second(out, A.cast(dstart, op.dtype)))
    if dstep is not None:
        index = A.arange(A.shape(out)[0], dtype=op.dtype)
        terms.append(index * A.cast(dstep, op.dtype))
    return [A.cast(reduce(A.add, terms), op.dtype)]


@register_r_op(FusedElemwise)
def _fused_r_op(op: FusedElemwise, inputs: list, eval_points: list) -> list:
    """Forward mode through the fused program's Elemwise steps (each has a rule).

    The fused op broadcasts every output to the full shape, so tangents are spread to it."""
    from .gradient import Rop
    fg = op.inner_graphs()[0]
    outs = clone_replace(fg.outputs, dict(zip(fg.inputs, inputs)), strict=False)
    pairs = [(i, e) for i, e in zip(inputs, eval_points) if e is not None]
    if not pairs:
        return [None] * len(outs)
    full = op(*inputs)
    full = full if isinstance(full, list) else [full]
    tangents = Rop(outs, [i for i, _ in pairs], [e for _, e in pairs])
    return [A.second(z, t) if _is_float(z) else None for z, t in zip(full, tangents)]


@register_l_op(FusedElemwise)
def _fused_l_op(op: FusedElemwise, inputs: list, outputs: list, output_grads: list) -> list:
    """Reverse mode through the fused program (registered here beside its forward rule, as
    both inline the same inner graph)."""
    from .gradient import grad
    fg = op.inner_graphs()[0]
    outs = clone_replace(fg.outputs, dict(zip(fg.inputs, inputs)), strict=False)
    known = {o: g for o, g in zip(outs, output_grads) if _is_float(o)}
    if not known:
        return [A.zeros_like(x, dtype=x.dtype if _is_float(x) else "float64") for x in inputs]
    return grad(None, list(inputs), known_grads=known, disconnected_inputs="ignore",
                return_disconnected="Disconnected", null_gradients="return")


def double_lop_r_op(op: Op, inputs: list, eval_points: list) -> list:
    """Jacobian-vector products from the op's reverse rule, applied twice.

    With ``u`` a placeholder cotangent, ``Lop(z, x, u) = J^T u`` is linear in ``u``; so
    ``J v = d/du <J^T u, v>``. Used only where no forward rule exists, as the graph it builds
    is about twice the size of a direct rule's. ``u`` is a zero tensor computed from the
    output, not a free input, so the result needs no extra value: linearity makes the point
    where ``u`` is taken irrelevant.
    """
    from .gradient import grad
    from .rules import l_op
    log.debug("Rop: %s has no forward rule; using two reverse passes", op)
    node = op.make_node(*inputs)
    outs = list(node.outputs)
    float_outs = [o for o in outs if _is_float(o)]
    wanted = [k for k, (x, e) in enumerate(zip(node.inputs, eval_points)) if e is not None and _is_float(x)]
    if not wanted or not float_outs:
        return [None] * len(outs)
    us = {o: A.zeros_like(o) for o in float_outs}
    # the reverse rule of this one node, with the placeholders as output gradients
    grads = l_op(op, list(node.inputs), outs, [us.get(o, A.zeros_like(o, dtype="float64")) for o in outs])
    terms = []
    for k in wanted:
        g, x, e = grads[k], node.inputs[k], eval_points[k]
        if g is None or is_disconnected(g) or is_null(g):
            continue
        terms.append(A.sum(A.cast(g, x.dtype) * A.cast(e, x.dtype)))
    if not terms:
        return [None] * len(outs)
    tangents = grad(reduce(A.add, terms), [us[o] for o in float_outs], disconnected_inputs="ignore")
    by_output = dict(zip(float_outs, tangents))
    return [by_output.get(o) for o in outs]
