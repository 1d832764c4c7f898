"""Per-row picking, ``x[arange(k), y]``: the entry of each row of a matrix at an integer column
(the ``logp[arange(n), y]`` of every classifier loss), and its increment (the gradient).

``RowPick(rows_from)(x, y)`` is numpy's ``x[arange(k), y]`` for a matrix ``x`` and an integer
vector ``y``, where ``k`` is

- ``len(y)`` for ``rows_from="y"``: ``out[i] = x[i, y[i]]`` for every ``i < len(y)``; ``y``
  longer than ``x`` has rows raises numpy's IndexError (rows past ``len(y)`` are unused);
- ``x.shape[0]`` for ``rows_from="x"``: the same when ``len(y) == x.shape[0]``, numpy's
  broadcasting when either length is 1, and numpy's shape-mismatch IndexError otherwise.

Negative columns count from the end as in numpy; a column out of range raises IndexError with
numpy's message, naming the row and the value. ``RowPickInc(rows_from)(x, g, y)`` is ``x``
with ``g[i]`` added at each picked position (``numpy.add.at``: positions picked twice
accumulate). The rewrite ``rewrite/indexing_rules.py`` turns the advanced-indexing forms
into these ops; the C kernels are ``codegen/c/row_pick.py``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..config import config
from ..graph.basic import Apply, Op, Variable
from ..graph.null import disconnected_type
from ..graph.type import TensorType
from .basic import as_tensor_variable
from .elemwise import cast, shape_padright, sum_to_broadcastable

ROWS_FROM = ("x", "y")


def _check_rows_from(rows_from: str) -> str:
    if rows_from not in ROWS_FROM:
        raise ValueError(f"row_pick: rows_from must be 'x' (arange(x.shape[0])) or 'y' (arange(len(y))), "
                         f"got {rows_from!r}")
    return rows_from


def _check_operands(fname: str, x: Variable, y: Variable) -> None:
    if x.ndim != 2:
        raise TypeError(f"{fname}: x must be a matrix, got a {x.ndim}-d tensor ({x.type})")
    if y.ndim != 1 or np.dtype(y.dtype).kind not in "iu":
        raise TypeError(f"{fname}: y must be an integer vector (one column index per row), got {y.type}")


def picked_length(rows_from: str, nrows: Any, ny: Any) -> Any:
    """The number of picked entries for ``nrows`` rows and ``ny`` indices (ints, or None when
    unknown: the result is then None unless it is certain); raises numpy's IndexError for
    lengths that cannot go together."""
    if rows_from == "y":
        if nrows is not None and ny is not None and ny > nrows:
            raise IndexError(f"index {nrows} is out of bounds for axis 0 with size {nrows} (row_pick: y has "
                             f"{ny} entries but x has only {nrows} rows)")
        return ny
    if nrows is not None and ny is not None:
        if nrows == ny or ny == 1:
            return nrows
        if nrows == 1:
            return ny
        raise IndexError(f"shape mismatch: indexing arrays could not be broadcast together with shapes "
                         f"({nrows},) ({ny},) (row_pick: x has {nrows} rows and y has {ny} entries; expected "
                         f"as many, or one of them 1)")
    known = nrows if nrows is not None else ny
    return known if known is not None and known != 1 else None


def _index(rows_from: str, x: np.ndarray, y: np.ndarray) -> tuple:
    """numpy's index ``(arange(k), y)``, with the lengths checked (numpy's messages)."""
    picked_length(rows_from, x.shape[0], y.shape[0])
    k = y.shape[0] if rows_from == "y" else x.shape[0]
    return np.arange(k), y


def _explain(err: IndexError, x: np.ndarray, rows: np.ndarray, y: np.ndarray) -> IndexError:
    """numpy's IndexError for a column out of range, with the first offending row and value."""
    n = x.shape[1]
    rows, cols = np.broadcast_arrays(rows, y)
    bad = np.flatnonzero((cols < -n) | (cols >= n))
    if not bad.size:
        return err
    i = int(bad[0])
    return IndexError(f"{err} (row_pick: y[{i if y.shape[0] > 1 else 0}] = {int(cols[i])} for row "
                      f"{int(rows[i])} of x, which has {n} columns; expected -{n} <= y < {n})")


def _picked(rows_from: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    index = _index(rows_from, x, y)
    try:
        return x[index]
    except IndexError as err:
        raise _explain(err, x, *index) from None


class RowPick(Op):
    """``x[arange(k), y]`` for a matrix ``x`` and an integer vector ``y`` (``k`` from
    ``rows_from``, see the module doc)."""

    __props__ = ("rows_from",)

    def __init__(self, rows_from: str = "y"):
        self.rows_from = _check_rows_from(rows_from)

    def make_node(self, x: Any, y: Any) -> Apply:
        x, y = as_tensor_variable(x), as_tensor_variable(y)
        _check_operands("row_pick", x, y)
        n = picked_length(self.rows_from, x.type.shape[0], y.type.shape[0])
        return Apply(self, [x, y], [TensorType(x.dtype, shape=(n,))()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        x, y = inputs
        output_storage[0][0] = np.array(_picked(self.rows_from, x, y), dtype=node.outputs[0].dtype)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        from . import api as A
        (rows, _), (ny,) = input_shapes
        if self.rows_from == "y":
            return [(ny,)]
        return [(A.switch(A.eq(rows, 1), ny, rows),)]

    def connection_pattern(self, node: Apply) -> list:
        return [[True], [False]]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        from . import api as A
        x, y = inputs
        if x.dtype[0] not in "fc":
            return [A.zeros_like(x, dtype=config.floatX), disconnected_type()]
        gz = cast(output_grads[0], x.dtype)
        return [RowPickInc(self.rows_from)(A.zeros_like(x), gz, y), disconnected_type()]

    def R_op(self, inputs: list, eval_points: list) -> list:
        if eval_points[0] is None:
            return [None]
        return [self(eval_points[0], inputs[1])]

    def vectorize_node(self, node: Apply, x: Variable, y: Variable) -> list:
        return [_batched_index(self.rows_from, node, x, y)]


class RowPickInc(Op):
    """``x`` with ``g`` added at ``x[arange(k), y]`` (``numpy.add.at``; ``k`` from
    ``rows_from``). ``g`` is a scalar or a vector of the picked length (length 1 only where
    its type says so, as for ``inc_subtensor``)."""

    __props__ = ("rows_from",)

    def __init__(self, rows_from: str = "y"):
        self.rows_from = _check_rows_from(rows_from)

    def make_node(self, x: Any, g: Any, y: Any) -> Apply:
        x, g, y = (as_tensor_variable(v) for v in (x, g, y))
        _check_operands("row_pick_inc", x, y)
        if g.ndim > 1 or g.dtype != x.dtype:
            raise TypeError(f"row_pick_inc: g must be a scalar or vector of x's dtype {x.dtype}, got {g.type}")
        n = picked_length(self.rows_from, x.type.shape[0], y.type.shape[0])
        if g.ndim and g.type.shape[0] not in (None, 1) and n is not None and g.type.shape[0] != n:
            raise ValueError(f"row_pick_inc: g of shape {g.type.shape} does not match the {n} picked entries")
        return Apply(self, [x, g, y], [x.type()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        x, g, y = inputs
        index = _index(self.rows_from, x, y)
        n = np.broadcast_shapes(index[0].shape, y.shape)[0]
        if g.ndim and g.shape[0] != n and not (g.shape[0] == 1 and node.inputs[1].type.shape[0] == 1):
            raise ValueError(f"row_pick_inc: g of shape {g.shape} does not match the {n} picked entries")
        out = x.copy()
        try:
            np.add.at(out, index, g)
        except IndexError as err:
            raise _explain(err, x, *index) from None
        output_storage[0][0] = out

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [input_shapes[0]]

    def connection_pattern(self, node: Apply) -> list:
        return [[True], [True], [False]]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        from . import api as A
        x, g, y = inputs
        gz = output_grads[0]
        if x.dtype[0] not in "fc":
            return [A.zeros_like(x, dtype=config.floatX), A.zeros_like(g, dtype=config.floatX),
                    disconnected_type()]
        gg = RowPick(self.rows_from)(gz, y)
        return [gz, sum_to_broadcastable(gg, g), disconnected_type()]

    def R_op(self, inputs: list, eval_points: list) -> list:
        from . import api as A
        ex, eg = eval_points[:2]
        if ex is None and eg is None:
            return [None]
        ex = A.zeros_like(inputs[0]) if ex is None else ex
        eg = A.zeros_like(inputs[1]) if eg is None else eg
        return [self(ex, eg, inputs[2])]

    def vectorize_node(self, node: Apply, x: Variable, g: Variable, y: Variable) -> list:
        return [_batched_index(self.rows_from, node, x, y, g)]


def _batched_index(rows_from: str, node: Apply, x: Variable, y: Variable, g: Variable | None = None):
    """The batched form of a pick (or, with ``g``, an increment) as numpy advanced indexing:
    ``x[arange(B)[:, None], arange(k)[None, :], y]`` with a leading batch axis on the operands
    that carry one (exact, broadcasting included)."""
    from . import api as A
    x0, y0 = node.inputs[0], node.inputs[-1]
    xb, yb = x.ndim > x0.ndim, y.ndim > y0.ndim
    gb = g is not None and g.ndim > node.inputs[1].ndim
    if not (xb or yb or gb):
        return node.op(x, y) if g is None else node.op(x, g, y)
    if g is not None and not xb:
        size = (y if yb else g).shape[0]
        x = A.alloc(x, size, *[x.shape[i] for i in range(x.ndim)])
        xb = True
    rows_axis = 1 if xb else 0
    k = (y.shape[-1] if rows_from == "y" else x.shape[rows_axis])
    ks = A.arange(k)
    if xb:
        index = (shape_padright(A.arange(x.shape[0])), ks.dimshuffle("x", 0),
                 y if yb else y.dimshuffle("x", 0))
    else:
        index = (ks.dimshuffle("x", 0), y)
    if g is None:
        return A.getitem(x, index)
    if gb and g.ndim == 1:
        g = shape_padright(g)       # one scalar per sample: broadcast along the picked entries
    return A.inc_subtensor(A.getitem(x, index), g)


_pick = {r: RowPick(r) for r in ROWS_FROM}
_pick_inc = {r: RowPickInc(r) for r in ROWS_FROM}


def row_pick(x: Any, y: Any, rows_from: str = "y") -> Variable:
    """``x[arange(len(y)), y]`` (``rows_from="y"``) or ``x[arange(x.shape[0]), y]`` (``"x"``)."""
    return _pick[_check_rows_from(rows_from)](x, y)


def row_pick_inc(x: Any, g: Any, y: Any, rows_from: str = "y") -> Variable:
    """``x`` with ``g`` added at the entries ``row_pick(x, y, rows_from)`` reads."""
    return _pick_inc[_check_rows_from(rows_from)](x, g, y)


__all__ = ["RowPick", "RowPickInc", "row_pick", "row_pick_inc", "picked_length", "ROWS_FROM"]
