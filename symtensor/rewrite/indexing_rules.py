"""Specialize rules for advanced indexing: per-row picking, ``x[arange(k), y]`` (the
``logp[arange(n), y]`` of classifier losses), and its increment (the gradient).

- ``row_pick``: AdvancedSubtensor(x, arange(k), y), ``x`` a matrix, ``y`` an integer vector,
  -> RowPick(x, y) (one compiled gather instead of an arange and numpy fancy indexing);
- ``row_pick_inc``: AdvancedIncSubtensor(x, g, arange(k), y) (an increment) -> RowPickInc.

The arange must be ``arange(0, stop, 1)`` with ``stop`` the first dimension of ``y`` (the op's
``rows_from="y"``) or of ``x`` (``rows_from="x"``, which keeps numpy's broadcasting of the two
index vectors), read through ``Shape``/``Shape_i``, or a constant equal to that dimension's
static size. Other stops are different indices (a shorter or longer arange) and are left
alone. Results and errors are numpy's in every case (see ``ops/row_pick.py``).
"""
from __future__ import annotations

from ..graph.basic import Apply, Variable
from ..graph.fg import FunctionGraph
from ..ops.advanced_subtensor import AdvancedIncSubtensor, AdvancedSubtensor
from ..ops.alloc import ARange
from ..ops.elemwise import cast, scalar_constant_value
from ..ops.row_pick import RowPick, RowPickInc
from ..ops.shape import Shape, Shape_i, unbroadcast
from ..ops.subtensor import ARRAY, Subtensor
from .engine import NodePass, node_rewriter

_ROW_INDEX = (ARRAY, ARRAY)


def _first_dim_of(v: Variable) -> Variable | None:
    """``t`` when ``v`` is ``t.shape[0]`` (``Shape_i{0}(t)`` or ``Subtensor{0}(Shape(t))``)."""
    node = v.owner
    if node is None:
        return None
    if isinstance(node.op, Shape_i):
        return node.inputs[0] if node.op.i == 0 else None
    if type(node.op) is Subtensor and node.op.idx_list == (0,):
        shape = node.inputs[0].owner
        if shape is not None and isinstance(shape.op, Shape):
            return shape.inputs[0]
    return None


def rows_from(rows: Variable, x: Variable, y: Variable) -> str | None:
    """'x' or 'y' when ``rows`` is ``arange(x.shape[0])`` or ``arange(y.shape[0])``, else None."""
    node = rows.owner
    if node is None or not isinstance(node.op, ARange):
        return None
    start, stop, step = node.inputs
    if scalar_constant_value(start) != 0 or scalar_constant_value(step) != 1:
        return None
    src = _first_dim_of(stop)
    if src is not None:
        return "x" if src is x else "y" if src is y else None
    value = scalar_constant_value(stop)
    if value is None or stop.dtype[0] not in "iu":
        return None
    if value == x.type.shape[0]:
        return "x"
    if value == y.type.shape[0]:
        return "y"
    return None


def _operands_fit(x: Variable, y: Variable) -> bool:
    return x.ndim == 2 and y.ndim == 1 and y.dtype[0] in "iu"


def _as_type_of(new: Variable, old: Variable) -> list | None:
    """``new`` with ``old``'s type: indexing cannot tell that ``arange(len(y))`` has length 1
    when ``y`` has, so its result may not be marked broadcastable where RowPick's is."""
    if new.type != old.type and new.type.shape[0] == 1:
        new = unbroadcast(new, 0)
    return [new] if new.type == old.type else None


@node_rewriter([AdvancedSubtensor], name="row_pick")
def row_pick(fgraph: FunctionGraph, node: Apply):
    """x[arange(x.shape[0] or y.shape[0]), y] -> RowPick(x, y)."""
    if type(node.op) is not AdvancedSubtensor or node.op.idx_list != _ROW_INDEX:
        return None
    x, rows, y = node.inputs
    if not _operands_fit(x, y):
        return None
    which = rows_from(rows, x, y)
    if which is None:
        return None
    try:
        new = RowPick(which)(x, y)
    except (TypeError, ValueError, IndexError):
        return None
    return _as_type_of(new, node.outputs[0])


@node_rewriter([AdvancedIncSubtensor], name="row_pick_inc")
def row_pick_inc(fgraph: FunctionGraph, node: Apply):
    """inc_subtensor(x[arange(x.shape[0] or y.shape[0]), y], g) -> RowPickInc(x, g, y)."""
    op = node.op
    if type(op) is not AdvancedIncSubtensor or op.idx_list != _ROW_INDEX or op.set_instead_of_inc:
        return None
    x, g, rows, y = node.inputs
    if not _operands_fit(x, y) or g.ndim > 1:
        return None
    which = rows_from(rows, x, y)
    if which is None:
        return None
    try:
        new = RowPickInc(which)(x, g if g.dtype == x.dtype else cast(g, x.dtype), y)
    except (TypeError, ValueError, IndexError):
        return None
    return [new] if new.type == node.outputs[0].type else None


INDEXING_SPECIALIZE = [NodePass("indexing_specialize", [row_pick, row_pick_inc])]

__all__ = ["INDEXING_SPECIALIZE", "row_pick", "row_pick_inc", "rows_from"]
