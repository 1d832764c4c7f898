"""Indexing, advanced part: integer arrays and boolean masks, alone or mixed with ints, slices,
newaxis and Ellipsis (``AdvancedSubtensor``, a copy), their functional update
(``AdvancedIncSubtensor``: a set, or an increment that accumulates over repeated indices as
``numpy.add.at``), and ``take``.

Placement follows numpy: the broadcast shape of the advanced indices (integer indices count
as 0-d arrays once any array is present) replaces the indexed axes in place when the advanced
entries are next to each other, and comes first otherwise. The index description
(``idx_list``) and the parsing are shared with basic indexing (``subtensor``).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..graph.basic import Constant, Variable
from .basic import as_tensor_variable
from .elemwise import cast, dimshuffle, sum_to_broadcastable
from .subtensor import (ARRAY, SYM, IndexingError, _api, _check_int_index, _flat, _IncSubtensorBase,
                        _isint, _n_consumed, _slice_entry_len, _SubtensorBase, _traced, getitem,
                        inc_subtensor, set_subtensor)


# --- shapes ---------------------------------------------------------------------------------
def _broadcast(shapes: list, static: bool) -> list:
    """numpy broadcasting of the advanced index shapes (static: ints/None, raising when they
    certainly disagree; else ints or symbolic scalars)."""
    nd = max(len(s) for s in shapes)
    out = []
    for d in range(nd):
        sizes = [s[d - nd + len(s)] for s in shapes if d - nd + len(s) >= 0]
        if static:
            known = {v for v in sizes if v is not None and v != 1}
            if len(known) > 1:
                raise IndexingError(f"shape mismatch: indexing arrays could not be broadcast together with "
                                    f"shapes {' '.join(str(tuple(s)) for s in shapes)}")
            out.append(known.pop() if known else (None if None in sizes else 1))
            continue
        fixed = [v for v in sizes if _isint(v) and v != 1]
        rest = [v for v in sizes if not _isint(v)]
        if fixed:
            out.append(fixed[0])
        elif not rest:
            out.append(1)
        else:
            res = rest[0]
            for v in rest[1:]:
                res = _api().switch(_api().eq(res, 1), v, res)
            out.append(res)
    return out


def _adjacent(idx_list: Sequence) -> tuple:
    """Positions of the advanced entries (arrays and integers) and whether they are next to
    each other."""
    pos = [i for i, e in enumerate(idx_list) if e in (ARRAY, SYM) or _isint(e)]
    return pos, bool(pos) and pos == list(range(pos[0], pos[0] + len(pos)))


def _check_mask(mask: Variable, dims: Sequence, axis: int) -> None:
    for j, (m, n) in enumerate(zip(mask.type.shape, dims)):
        if m is not None and n is not None and m != n:
            raise IndexingError(f"boolean index did not match indexed tensor along axis {axis + j}; size of "
                                f"axis is {n} but size of corresponding boolean axis is {m}")


def _mask_count(mask: Variable, static: bool):
    """How many elements a boolean mask selects (None when unknown at build time)."""
    if isinstance(mask, Constant):
        return int(np.count_nonzero(mask.data))
    if 0 in mask.type.shape:
        return 0
    return None if static else cast(_api().sum(mask), "int64")


def _check_constant_array(var: Variable, n: Any, axis: int) -> None:
    """A constant integer index array must fall inside a statically known axis size."""
    if isinstance(var, Constant) and var.data.size and n is not None:
        bad = var.data[(var.data >= n) | (var.data < -n)]
        if bad.size:
            raise IndexingError(f"index {bad.flat[0]} is out of bounds for axis {axis} with size {n}")


def _advanced_layout(idx_list: Sequence, xshape: Sequence, idx_vars: Sequence, idx_shapes: Sequence,
                     static: bool) -> list:
    """Output shape of indexing ``x`` (shape ``xshape``) by an index holding arrays."""
    inputs = iter(zip(idx_vars, idx_shapes))
    out, adv, first, axis = [], [], None, 0
    for e in idx_list:
        if e is None:
            out.append(1)
            continue
        if isinstance(e, tuple):
            bounds = iter([next(inputs)[0] for b in e[1:] if b == SYM])
            out.append(_slice_entry_len(e, xshape[axis], bounds, static))
            axis += 1
            continue
        if e in (ARRAY, SYM):
            var, size = next(inputs)
            if var.dtype == "bool":
                k, shp = var.ndim, (_mask_count(var, static),)
                if static:
                    _check_mask(var, xshape[axis:axis + k], axis)
            else:
                k, shp = 1, tuple(size)
                if static:
                    _check_constant_array(var, xshape[axis], axis)
        else:
            if static:
                _check_int_index(e, xshape[axis], axis)
            k, shp = 1, ()
        if first is None:
            first = len(out)
        adv.append(shp)
        axis += k
    out.extend(xshape[axis:])
    if adv:
        at = first if _adjacent(idx_list)[1] else 0
        out[at:at] = _broadcast(adv, static)
    return out


def _adv_ndim(idx_list: Sequence, idx: Sequence) -> int:
    """How many output axes the advanced indices produce."""
    xshape = (None,) * _n_consumed(idx_list, idx)
    shapes = _advanced_layout(idx_list, xshape, idx, [v.type.shape for v in idx], True)
    no_adv = [e for e in idx_list if e not in (ARRAY, SYM) and not _isint(e)]
    return len(shapes) - len(no_adv)


def _may_repeat(idx: Sequence) -> bool:
    """Whether an index can select one position more than once (an integer array can)."""
    return any(v.dtype != "bool" and v.ndim > 0 for v in idx)


def _move_batch(idx_list: Sequence, idx: Sequence, v: Variable, to_first: bool) -> Variable:
    """Between the layout with the batch axis first and the one an advanced index gives a
    batched input (batch axis after the advanced dims when these are not adjacent)."""
    if _adjacent(idx_list)[1]:
        return v
    k = _adv_ndim(idx_list, idx)
    rest = list(range(k + 1, v.ndim))
    order = [k] + list(range(k)) + rest if to_first else list(range(1, k + 1)) + [0] + rest
    return dimshuffle(v, order)


class _AdvancedMixin:
    """Shape rule and batching hooks of the advanced ops."""
    advanced = True

    def _layout(self, xshape: Sequence, idx_vars: Sequence, idx_shapes: Sequence, static: bool) -> list:
        return _advanced_layout(self.idx_list, xshape, idx_vars, idx_shapes, static)

    def _batch_moves(self, idx: Sequence) -> bool:
        return not _adjacent(self.idx_list)[1]

    def _batch_to_front(self, idx: Sequence, v: Variable) -> Variable:
        return _move_batch(self.idx_list, idx, v, to_first=True)

    def _batch_from_front(self, idx: Sequence, v: Variable) -> Variable:
        return _move_batch(self.idx_list, idx, v, to_first=False)


class AdvancedSubtensor(_AdvancedMixin, _SubtensorBase):
    """Indexing with integer arrays and/or boolean masks (mixed with ints, slices, newaxis),
    numpy's rules: the broadcast index dims replace the indexed axes in place when the
    advanced indices are adjacent, else they come first. Returns a copy."""


class AdvancedIncSubtensor(_AdvancedMixin, _IncSubtensorBase):
    """Set or increment at an advanced index. Increments accumulate over repeated indices
    (``numpy.add.at``); for a set the last write wins, as in numpy."""

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        grads = super().L_op(inputs, outputs, output_grads)
        y, rest = inputs[1], inputs[2:]
        if self.set_instead_of_inc and y.dtype[0] in "fc" and _may_repeat(rest):
            # a y element overwritten by a later one at the same position has no effect
            gz = self.sub_class(self.idx_list)(output_grads[0], *rest)
            grads[1] = sum_to_broadcastable(gz * cast(self._winners(inputs[0], rest), gz.dtype), y)
        return grads

    def _winners(self, x: Variable, rest: Sequence) -> Variable:
        """Boolean, of the indexed shape: which element of ``x[index]`` is the one a set writes
        last at its position (found by setting element numbers and reading them back)."""
        api, sub = _api(), self.sub_class(self.idx_list)
        picked = sub(x, *rest)
        ids = api.reshape(api.arange(api.prod(picked.shape), dtype="int64"), picked.shape, ndim=picked.ndim)
        setter = type(self)(self.idx_list, set_instead_of_inc=True)
        written = setter(api.zeros_like(x, dtype="int64"), ids, *rest)
        return api.eq(sub(written, *rest), ids)


AdvancedSubtensor.inc_class, AdvancedIncSubtensor.sub_class = AdvancedIncSubtensor, AdvancedSubtensor


# --- public functions -------------------------------------------------------------------------
@_traced
def take(a: Any, indices: Any, axis: int | None = None, mode: str = "raise") -> Variable:
    """numpy.take: elements of ``a`` at ``indices`` along ``axis`` (flattened ``a`` if None);
    ``mode`` 'raise', 'wrap' or 'clip' as in numpy."""
    api = _api()
    a = as_tensor_variable(a)
    if axis is None:
        a, axis = api.flatten(a, 1), 0
    if not _isint(axis):
        raise TypeError(f"take: axis must be an int or None, got {axis!r}")
    if not -a.ndim <= axis < a.ndim:
        raise ValueError(f"take: axis {axis} is out of range for a {a.ndim}-d tensor")
    axis = int(axis) % a.ndim
    if isinstance(indices, (list, tuple)) and not any(isinstance(v, Variable) for v in _flat(indices)):
        arr = np.asarray(indices)
        indices = arr.astype("int64") if arr.size == 0 else arr
    idx = as_tensor_variable(indices)
    if idx.dtype[0] not in "iub":
        raise TypeError(f"take: indices {indices} have dtype {idx.dtype}; expected integers")
    if idx.dtype == "bool":
        idx = cast(idx, "int64")
    if mode == "wrap":
        idx = idx % api.shape(a)[axis]
    elif mode == "clip":
        idx = api.clip(idx, 0, api.shape(a)[axis] - 1)
    elif mode != "raise":
        raise ValueError(f"take: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    return getitem(a, (slice(None),) * axis + (idx,))


def advanced_subtensor1(x: Any, ilist: Any) -> Variable:
    """``x[ilist]`` for an integer vector (Theano's AdvancedSubtensor1)."""
    return getitem(x, as_tensor_variable(ilist))


def advanced_inc_subtensor1(x: Any, y: Any, ilist: Any) -> Variable:
    """``x`` with ``y`` added at rows ``ilist`` (repeated rows accumulate)."""
    return inc_subtensor(advanced_subtensor1(x, ilist), y)


def advanced_set_subtensor1(x: Any, y: Any, ilist: Any) -> Variable:
    """``x`` with rows ``ilist`` set to ``y``."""
    return set_subtensor(advanced_subtensor1(x, ilist), y)

