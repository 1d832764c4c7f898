"""Canonicalize: constant folding, merging identical subgraphs, algebraic identities,
combining constant operands, dimshuffle merging and lifting, and shapes read from the inputs of
elementwise nodes. After this phase equal computations are one node and trivial arithmetic is
gone, so later phases see fewer shapes of the same thing."""
from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..graph.basic import Apply, Constant, Variable
from ..graph.fg import OUTPUT, FunctionGraph
from ..ops.alloc import Alloc
from ..ops.basic import constant
from ..ops.elemwise import DimShuffle, Elemwise, cast, scalar_constant_value
from ..ops.fused import FusedElemwise
from ..ops.shape import Shape, Shape_i, shape_i, shape_tuple
from ..ops.subtensor import Subtensor
from .engine import GraphPass, NodePass, RewriteLog, node_rewriter

FOLD_LIMIT = 1 << 16   # larger constant results stay computed at run time


def is_scalar_constant(v: Variable, value: float) -> bool:
    got = scalar_constant_value(v)
    return got is not None and not isinstance(got, complex) and got == value


def _elemwise_name(node: Apply) -> str | None:
    return node.op.scalar_op.name if isinstance(node.op, Elemwise) else None


# --- constant folding ------------------------------------------------------------------------
@node_rewriter(None, name="constant_folding")
def constant_folding(fgraph: FunctionGraph, node: Apply):
    """A node whose inputs are all constants is computed now and replaced by its value."""
    if not node.inputs or not all(isinstance(i, Constant) for i in node.inputs):
        return None
    if isinstance(node.op, Alloc) or not node.op.do_constant_folding(node) or node.op.inner_graphs():
        return None
    cells = [[None] for _ in node.outputs]
    try:
        node.op.perform(node, [i.data for i in node.inputs], cells)
    except Exception:      # the error is raised again, with context, when the function runs
        return None
    values = [c[0] for c in cells]
    if any(np.size(v) > FOLD_LIMIT for v in values):
        return None
    try:
        return [out.type.constant_class(out.type, v) for out, v in zip(node.outputs, values)]
    except (TypeError, ValueError):
        return None


# --- merge (common subexpressions) -------------------------------------------------------------
def merge_pass(fgraph: FunctionGraph, log: RewriteLog) -> bool:
    """Make equal constants one variable and equal (op, inputs) nodes one node."""
    changed = False
    constants: dict = {}
    for v in list(fgraph.variables):
        if isinstance(v, Constant) and v in fgraph.clients:
            key = v.signature()
            try:
                hash(key)
            except TypeError:
                continue
            kept = constants.setdefault(key, v)
            if kept is not v and kept.type == v.type:
                fgraph.replace(v, kept, reason="merge")
                log.applied.append(("merge", "merge", f"constant {v}"))
                changed = True
    seen: dict = {}
    for node in fgraph.toposort():
        if node not in fgraph.apply_nodes:
            continue
        key = (node.op, tuple(id(i) for i in node.inputs))
        try:
            other = seen.setdefault(key, node)
        except TypeError:   # an op whose props are unhashable is never merged
            continue
        if other is node:
            continue
        if all(a.type == b.type for a, b in zip(node.outputs, other.outputs)):
            for old, new in zip(node.outputs, other.outputs):
                if old in fgraph.clients:
                    fgraph.replace(old, new, reason="merge")
            log.applied.append(("merge", "merge", str(node.op)))
            changed = True
    return changed


# --- algebraic identities ----------------------------------------------------------------------
def _same_type_or_none(node: Apply, v: Variable):
    return [v] if v.type == node.outputs[0].type else None


def _zero_sign(v: Variable) -> str | None:
    """'+' or '-' for a constant that is a floating zero everywhere, else None."""
    value = scalar_constant_value(v)
    if value is None or isinstance(value, complex) or value != 0:
        return None
    return "-" if np.signbit(value) else "+"


@node_rewriter([Elemwise], name="neutral_operands")
def neutral_operands(fgraph: FunctionGraph, node: Apply):
    """x + 0 -> x, x * 1 -> x, x - 0 -> x, x / 1 -> x, x ** 1 -> x (types permitting; for floats
    only where exact, signed zeros included: x + (-0.0) and x - (+0.0))."""
    name = _elemwise_name(node)
    ins = node.inputs
    floating = node.outputs[0].dtype[0] in "fc"
    if name in ("add", "mul"):
        neutral = 0 if name == "add" else 1
        # -0.0 + (+0.0) is +0.0: in floating point only -0.0 is the exact identity of addition
        exact = (lambda v: _zero_sign(v) == "-") if (name == "add" and floating) else \
            (lambda v: is_scalar_constant(v, neutral))
        rest = [i for i in ins if not exact(i)]
        if len(rest) == len(ins) or not rest:
            return None
        if len(rest) == 1:
            return _same_type_or_none(node, rest[0])
        new = node.op(*rest)
        return _same_type_or_none(node, new)
    if name in ("sub",) and is_scalar_constant(ins[1], 0) and (not floating or _zero_sign(ins[1]) == "+"):
        return _same_type_or_none(node, ins[0])
    if name in ("true_div", "pow") and is_scalar_constant(ins[1], 1):
        return _same_type_or_none(node, ins[0])
    return None


@node_rewriter([Elemwise], name="double_negation")
def double_negation(fgraph: FunctionGraph, node: Apply):
    """-(-x) -> x."""
    if _elemwise_name(node) != "neg":
        return None
    inner = node.inputs[0].owner
    if inner is not None and _elemwise_name(inner) == "neg":
        return _same_type_or_none(node, inner.inputs[0])
    return None


def _absorbable(fgraph: FunctionGraph, v: Variable, op: Any, out_type: Any) -> bool:
    """Whether ``v`` is computed by ``op``, used only once and of the type ``out_type``."""
    inner = v.owner
    return (inner is not None and inner.op == op and v.type == out_type
            and len(fgraph.clients.get(v, ())) == 1)


@node_rewriter([Elemwise], name="flatten_associative")
def flatten_associative(fgraph: FunctionGraph, node: Apply):
    """add(add(a, b), c) -> add(a, b, c) (same for mul) when the inner result has no other use.

    A whole nested chain is flattened at once, at its outermost node (an inner node whose
    only client would absorb it declines), so a chain of n additions costs O(n), not O(n^2)."""
    name = _elemwise_name(node)
    if name not in ("add", "mul"):
        return None
    out = node.outputs[0]
    clients = fgraph.clients.get(out, ())
    if len(clients) == 1 and clients[0][0] != OUTPUT:
        parent = clients[0][0]
        if _absorbable(fgraph, out, parent.op, parent.outputs[0].type):
            return None   # the parent flattens this node together with the rest of the chain
    new_inputs, changed = [], False
    stack = list(reversed(node.inputs))
    while stack:
        v = stack.pop()
        if _absorbable(fgraph, v, node.op, out.type):
            stack.extend(reversed(v.owner.inputs))
            changed = True
        else:
            new_inputs.append(v)
    if not changed:
        return None
    return _same_type_or_none(node, node.op(*new_inputs))


def _moderate(value: np.ndarray) -> bool:
    """A float constant whose products with each other stay far from overflow and underflow
    (magnitude 0 or within [2**-60, 2**60]): folding such constants changes results by
    rounding only, unless the other operand itself is within 2**60 of the float range's ends."""
    v = abs(float(value))
    return v == 0.0 or (2.0 ** -60 <= v <= 2.0 ** 60)


@node_rewriter([Elemwise], name="combine_constants")
def combine_constants(fgraph: FunctionGraph, node: Apply):
    """2 * x * 3 -> 6 * x, 1 + x + 2 -> 3 + x: the scalar constants of one add/mul become one.

    Only when every operand already has the result's dtype, so that no intermediate rounding
    or integer wrap-around of the original order is skipped."""
    name = _elemwise_name(node)
    if name not in ("add", "mul"):
        return None
    out = node.outputs[0]
    if any(i.dtype != out.dtype for i in node.inputs):
        return None
    consts, rest = [], []
    for i in node.inputs:
        value = scalar_constant_value(i) if all(i.broadcastable) else None
        if value is None:
            rest.append(i)
        else:
            consts.append(np.asarray(value, dtype=out.dtype))
    if len(consts) < 2 or not rest:
        return None
    if out.dtype[0] == "f" and name == "mul" and not all(_moderate(c) for c in consts):
        return None     # x * c1 * c2 may overflow or underflow differently once c1 * c2 is folded
    with np.errstate(all="ignore"):
        value = functools.reduce(node.op.scalar_op.impl, consts)
    if out.dtype[0] == "f" and name == "mul" and not _moderate(np.asarray(value)):
        return None
    folded = constant(np.asarray(value).astype(out.dtype), dtype=out.dtype)
    return _same_type_or_none(node, node.op(folded, *rest))


@node_rewriter([DimShuffle], name="merge_dimshuffles")
def merge_dimshuffles(fgraph: FunctionGraph, node: Apply):
    """dimshuffle(dimshuffle(x)) -> one dimshuffle; an identity dimshuffle -> x."""
    op = node.op
    if op.new_order == tuple(range(op.input_ndim)):
        return _same_type_or_none(node, node.inputs[0])
    inner = node.inputs[0].owner
    if inner is None or not isinstance(inner.op, DimShuffle):
        return None
    first = inner.op.new_order
    composed = tuple("x" if o == "x" else first[o] for o in op.new_order)
    x = inner.inputs[0]
    if composed == tuple(range(x.ndim)):
        return _same_type_or_none(node, x)
    return _same_type_or_none(node, DimShuffle(x.ndim, composed)(x))


@node_rewriter([DimShuffle], name="lift_dimshuffle")
def lift_dimshuffle(fgraph: FunctionGraph, node: Apply):
    """dimshuffle(f(x, y)) -> f(dimshuffle(x), dimshuffle(y)) for an elementwise f whose result
    has no other use: the dimshuffles move towards the inputs (where they merge or fold into
    constants) and the elementwise nodes they separated become adjacent, hence fusable.

    Axes a dimshuffle drops are broadcastable in f's result, so in every input of f too."""
    v = node.inputs[0]
    inner = v.owner
    if (inner is None or not isinstance(inner.op, Elemwise) or len(inner.outputs) != 1
            or len(fgraph.clients.get(v, ())) != 1):
        return None
    lifted = [DimShuffle(i.ndim, node.op.new_order)(i) for i in inner.inputs]
    return _same_type_or_none(node, inner.op(*lifted))


# --- fills whose shape another operand already gives --------------------------------------------
SHAPE_SEARCH_DEPTH = 8   # how far through elementwise producers shapes are compared


def _same_shape_sources(v: Variable, depth: int = SHAPE_SEARCH_DEPTH) -> set:
    """Variables whose run-time shape is ``v``'s: ``v`` itself and, through elementwise
    producers, each operand with ``v``'s broadcastable pattern (an elementwise result has
    the size of every operand along that operand's non-broadcastable axes)."""
    found, work = {v}, [(v, depth)]
    while work:
        u, d = work.pop()
        node = u.owner
        if d == 0 or node is None or not isinstance(node.op, Elemwise) or len(node.outputs) != 1:
            continue
        for i in node.inputs:
            if i not in found and i.broadcastable == u.broadcastable:
                found.add(i)
                work.append((i, d - 1))
    return found


@node_rewriter([Elemwise], name="useless_fill")
def useless_fill(fgraph: FunctionGraph, node: Apply):
    """f(second(a, b), c, ...) -> f(b, c, ...) when another operand c of the elementwise f
    has a's shape: the fill only broadcast b to a shape that c imposes anyway; and
    second(a, b) -> b when b has a's shape already (e.g. both hold one element).

    Gradients are full of such fills (the gradient of ``sum(x ** 2)`` is
    ``second(x ** 2, g) * 2 * x``); removing them frees ``x ** 2`` for fusion into its sum
    and leaves the gradient one elementwise chain."""
    if _elemwise_name(node) == "second":
        a, b = node.inputs
        if b.type == node.outputs[0].type and b.broadcastable == a.broadcastable and (
                all(b.broadcastable) or _same_shape_sources(a) & _same_shape_sources(b)):
            return [b]     # b already has a's shape: the fill is b itself
    ins = list(node.inputs)
    for k, v in enumerate(ins):
        fill = v.owner
        if fill is None or _elemwise_name(fill) != "second":
            continue
        a, b = fill.inputs
        if b.ndim != v.ndim or b.dtype != v.dtype:
            continue
        shapes = _same_shape_sources(a)
        if any(j != k and c.broadcastable == a.broadcastable and _same_shape_sources(c) & shapes
               for j, c in enumerate(ins)):
            ins[k] = b
            return _same_type_or_none(node, node.op(*ins))
    return None


@node_rewriter([Subtensor], name="shape_entry")
def shape_entry(fgraph: FunctionGraph, node: Apply):
    """``x.shape[k]`` written as an index of the shape vector -> ``Shape_i{k}(x)``, the form
    the other shape rules (and the C backend's constant handling) understand."""
    shp = node.inputs[0].owner
    if shp is None or not isinstance(shp.op, Shape) or len(node.op.idx_list) != 1:
        return None
    k = node.op.idx_list[0]
    ndim = shp.inputs[0].ndim
    if not isinstance(k, int) or not -ndim <= k < ndim:
        return None
    return [shape_i(shp.inputs[0], k % ndim)]


@node_rewriter([Shape_i], name="shape_of_elementwise")
def shape_of_elementwise(fgraph: FunctionGraph, node: Apply):
    """``x.shape[k]`` of an elementwise or dimshuffle result -> the size read from an input
    (``(a * b).shape[0]`` -> ``a.shape[0]``, or 1 where every input broadcasts). A mean's
    element count then no longer keeps the elementwise value alive, so it fuses into the sum.
    As in Theano, a node only its shape needed is no longer computed (nor its shape errors)."""
    (v,) = node.inputs
    owner = v.owner
    if owner is None or not isinstance(owner.op, (Elemwise, FusedElemwise, DimShuffle)):
        return None
    dim = owner.op.infer_shape(owner, [shape_tuple(i) for i in owner.inputs])[owner.outputs.index(v)][node.op.i]
    if not isinstance(dim, Variable):
        dim = constant(int(dim), dtype="int64")
    if dim.dtype != "int64" and dim.ndim == 0:
        dim = cast(dim, "int64")
    return [dim] if dim.type == node.outputs[0].type else None


CANONICALIZE = [
    NodePass("local_canonicalize", [constant_folding, neutral_operands, double_negation,
                                    merge_dimshuffles, lift_dimshuffle, shape_entry,
                                    shape_of_elementwise]),
    # after the simplifications above, so that each add/mul chain is final when flattened
    # (flattening while its links are still being rewritten would rebuild it once per link)
    NodePass("local_flatten", [flatten_associative, combine_constants, neutral_operands,
                               constant_folding, useless_fill]),
    GraphPass("merge", merge_pass),
]
