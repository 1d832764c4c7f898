"""Indexing, basic part: ``x[...]`` with ints, slices, newaxis and Ellipsis (``Subtensor``, a
view) and its functional update ``set_subtensor``/``inc_subtensor`` (``IncSubtensor``), plus
what every indexing op shares: parsing a Python index, slice lengths, the op base classes and
the public ``getitem``/``set_subtensor``/``inc_subtensor``. Integer-array and boolean-mask
indexing (and ``take``) live in ``advanced_subtensor``.

An op's ``idx_list`` (its only structural prop) describes the index, one entry per index item:
a constant ``int``; ``SYM`` (an integer scalar taken from the node's inputs); a slice as
``("slice", start, stop, step)`` whose parts are ``None``, an ``int`` or ``SYM``; ``None``
(numpy.newaxis); ``ARRAY`` (advanced ops only: an integer array or boolean mask input, of any
ndim). Ellipsis is expanded when the index is parsed. The symbolic parts follow ``x`` (and, for
the increments, ``y``) as node inputs in the order they appear.
"""
from __future__ import annotations

import operator
from typing import Any, Sequence

import numpy as np

from ..config import config
from ..graph.basic import Apply, Constant, Op, Variable, traced
from ..graph.null import disconnected_type
from ..graph.type import TensorType
from .basic import as_tensor_variable, constant, is_python_scalar
from .elemwise import cast, dimshuffle, sum_to_broadcastable

SYM = "?"
ARRAY = "array"
_UNKNOWN = object()  # a symbolic slice bound during static shape inference
FULL_SLICE = ("slice", None, None, None)


def _isint(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _api():
    from . import api
    return api


def _advanced():
    """The advanced-indexing module (imported lazily: it builds on this one)."""
    from . import advanced_subtensor
    return advanced_subtensor


class IndexingError(IndexError, ValueError):
    """An index that cannot apply to the tensor (too many indices, out of bounds, mismatched
    mask or index shapes): numpy raises IndexError there and Theano ValueError; this is both."""


_traced = traced   # build errors name the user's source line


# --- index normalisation and parsing ----------------------------------------------------------
def _norm_entry(e: Any, advanced: bool) -> Any:
    """One ``idx_list`` entry in canonical form (slices as 4-tuples, ints as ``int``)."""
    if e is None or (isinstance(e, str) and e in (SYM, ARRAY)):
        if e == ARRAY and not advanced:
            raise TypeError("basic indexing (Subtensor) takes no index arrays; use AdvancedSubtensor")
        return e
    if isinstance(e, slice):
        e = ("slice", e.start, e.stop, e.step)
    if isinstance(e, tuple) and len(e) == 4 and e[0] == "slice":
        parts = []
        for b in e[1:]:
            if not (b is None or b == SYM or _isint(b)):
                raise TypeError(f"slice bounds must be None, an int or {SYM!r}, got {b!r}")
            parts.append(b if b is None or isinstance(b, str) else int(b))
        return ("slice",) + tuple(parts)
    if _isint(e):
        return int(e)
    raise TypeError(f"invalid idx_list entry {e!r}")


def _check_scalar_int(v: Variable, what: str) -> None:
    if not isinstance(v.type, TensorType) or v.ndim != 0 or v.dtype[0] not in "iu":
        raise TypeError(f"{what} must be an integer scalar, got {v} of type {v.type}")


def _bound(b: Any, part: str) -> Any:
    """A slice bound: None, a Python int, or a symbolic integer scalar."""
    if b is None:
        return None
    if isinstance(b, Variable):
        _check_scalar_int(b, f"slice {part} {b}")
        return int(b.data) if isinstance(b, Constant) else b
    try:
        return operator.index(b)  # ints, numpy integers and 0-d integer arrays
    except TypeError:
        raise TypeError(f"slice {part} {b!r} ({type(b).__name__}) is not an integer, None or an "
                        f"integer scalar variable") from None


def _flat(seq):
    for v in seq:
        if isinstance(v, (list, tuple)):
            yield from _flat(v)
        else:
            yield v


def _index_var(e: Any) -> Any:
    """One index item as: int, ("sym", var), ("slice", ...), None, Ellipsis or ("arr", var)."""
    if e is None or e is Ellipsis:
        return e
    if isinstance(e, slice):
        return ("slice", _bound(e.start, "start"), _bound(e.stop, "stop"), _bound(e.step, "step"))
    if isinstance(e, (bool, np.bool_)):
        return ("arr", constant(np.array(bool(e))))
    if _isint(e):
        return int(e)
    if isinstance(e, Variable):
        if not isinstance(e.type, TensorType):
            raise TypeError(f"index {e} of type {e.type} is not a tensor")
        if e.dtype[0] not in "iub":
            raise TypeError(f"index {e} has dtype {e.dtype}; indices must be integers, integer "
                            f"arrays or boolean masks")
        if e.ndim == 0 and e.dtype != "bool":
            return int(e.data) if isinstance(e, Constant) else ("sym", e)
        return ("arr", e)
    if isinstance(e, range):
        e = list(e)
    if isinstance(e, (list, tuple, np.ndarray)):
        if isinstance(e, (list, tuple)) and any(isinstance(v, Variable) for v in _flat(e)):
            return _index_var(as_tensor_variable(e))
        arr = np.asarray(e)
        if arr.size == 0 and not isinstance(e, np.ndarray):
            arr = arr.astype("int64")
        if arr.dtype.kind not in "iub":
            raise TypeError(f"index {e!r} has dtype {arr.dtype}; indices must be integers, integer "
                            f"arrays or boolean masks")
        return ("arr", constant(arr))
    raise TypeError(f"index {e!r} ({type(e).__name__}) is not valid: use integers, slices, None, "
                    f"Ellipsis, integer arrays or boolean masks")


def _parse(x: Variable, index: Any) -> tuple:
    """(idx_list, index inputs, advanced?) for ``x[index]``."""
    if not isinstance(index, tuple):
        index = (index,)
    items = [_index_var(e) for e in index]
    consumed = sum(0 if e is None or e is Ellipsis else  # a boolean mask consumes its ndim axes
                   e[1].ndim if isinstance(e, tuple) and e[0] == "arr" and e[1].dtype == "bool" else 1
                   for e in items)
    n_ell = sum(e is Ellipsis for e in items)
    if n_ell > 1:
        raise IndexingError("an index can only have a single ellipsis ('...')")
    if consumed > x.ndim:
        raise IndexingError(f"too many indices for tensor {x}: it is {x.ndim}-dimensional, but {consumed} "
                            f"were indexed")
    if n_ell:
        at = items.index(Ellipsis)
        items[at:at + 1] = [FULL_SLICE] * (x.ndim - consumed)
    advanced = any(isinstance(e, tuple) and e[0] == "arr" for e in items)
    idx_list, inputs = [], []
    for e in items:
        if isinstance(e, tuple) and e[0] == "slice":
            parts = []
            for b in e[1:]:
                if isinstance(b, Variable):
                    inputs.append(b)
                    parts.append(SYM)
                else:
                    parts.append(b)
            idx_list.append(("slice",) + tuple(parts))
        elif isinstance(e, tuple):  # "sym" or "arr"
            inputs.append(e[1])
            idx_list.append(ARRAY if advanced else SYM)
        else:
            idx_list.append(e)
    return tuple(idx_list), inputs, advanced


def _input_entries(idx_list: Sequence) -> list:
    """The placeholder kind of each index input, in input order."""
    out = []
    for e in idx_list:
        if isinstance(e, tuple):
            out.extend(SYM for b in e[1:] if b == SYM)
        elif e in (SYM, ARRAY):
            out.append(e)
    return out


def _n_consumed(idx_list: Sequence, idx_vars: Sequence) -> int:
    """How many axes of ``x`` the index consumes."""
    arrays = iter(v for v, e in zip(idx_vars, _input_entries(idx_list)) if e == ARRAY)
    n = 0
    for e in idx_list:
        if e == ARRAY:
            v = next(arrays)
            n += v.ndim if v.dtype == "bool" else 1
        elif e is not None:
            n += 1
    return n


# --- shapes ---------------------------------------------------------------------------------
def _static_slice_len(n: Any, start: Any, stop: Any, step: Any) -> int | None:
    """Length of ``range(n)[start:stop:step]`` when known at build time (n: int or None;
    bounds: int, None or _UNKNOWN), else None."""
    if step == 0:
        raise ValueError("slice step cannot be zero")
    if n == 0:
        return 0
    known = _UNKNOWN not in (start, stop, step)
    if n is not None and known:
        return len(range(*slice(start, stop, step).indices(n)))
    if start is None and stop is None and n == 1:
        return 1
    if known and start is not None and stop is not None and (start >= 0) == (stop >= 0):
        s = 1 if step is None else step
        if (s > 0 and stop <= start) or (s < 0 and stop >= start):
            return 0
    return None


def _clip(v, lo, hi):
    if _isint(v) and _isint(lo) and _isint(hi):
        return min(max(v, lo), hi)
    return _api().maximum(lo, _api().minimum(v, hi))


def _wrap(b, n):
    if _isint(b):
        return b + n if b < 0 else b
    return _api().switch(_api().lt(b, 0), b + n, b)


def _len_for_sign(n, start, stop, step, positive: bool):
    if positive:
        st = 0 if start is None else _clip(_wrap(start, n), 0, n)
        sp = n if stop is None else _clip(_wrap(stop, n), 0, n)
        length = (sp - st + step - 1) // step
    else:
        st = n - 1 if start is None else _clip(_wrap(start, n), -1, n - 1)
        sp = -1 if stop is None else _clip(_wrap(stop, n), -1, n - 1)
        length = (st - sp - step - 1) // (-step)
    return max(length, 0) if _isint(length) else _api().maximum(length, 0)


def _sym_slice_len(n, start, stop, step):
    """Symbolic length of ``range(n)[start:stop:step]`` (numpy's rules)."""
    if all(v is None or _isint(v) for v in (n, start, stop, step)):
        return len(range(*slice(start, stop, step).indices(n)))
    start, stop, step = [cast(v, "int64") if isinstance(v, Variable) else v for v in (start, stop, step)]
    if step is None or _isint(step):
        res = _len_for_sign(n, start, stop, 1 if step is None else step, step is None or step > 0)
    else:
        res = _api().switch(_api().gt(step, 0), _len_for_sign(n, start, stop, step, True),
                            _len_for_sign(n, start, stop, step, False))
    return cast(res, "int64") if isinstance(res, Variable) else res


def _slice_entry_len(e: tuple, n: Any, inputs: Any, static: bool):
    """Length of slice entry ``e`` over an axis of size ``n``; its SYM bounds are taken from
    the iterator ``inputs`` (static: they are unknown)."""
    bounds = []
    for b in e[1:]:
        if b == SYM:
            v = next(inputs)
            b = _UNKNOWN if static else v
        bounds.append(b)
    return (_static_slice_len if static else _sym_slice_len)(n, *bounds)


def _check_int_index(e: int, n: Any, axis: int) -> None:
    """A constant integer index must fall inside a statically known axis size."""
    if n is not None and _isint(n) and not -n <= e < n:
        raise IndexingError(f"index {e} is out of bounds for axis {axis} with size {n}")


def _basic_layout(idx_list: Sequence, xshape: Sequence, idx_vars: Sequence, static: bool) -> list:
    """Output shape of basic indexing: ints drop an axis, slices resize it, newaxis adds one."""
    inputs = iter(idx_vars)
    out, axis = [], 0
    for e in idx_list:
        if e is None:
            out.append(1)
            continue
        if isinstance(e, tuple):
            out.append(_slice_entry_len(e, xshape[axis], inputs, static))
        elif e == SYM:
            next(inputs)
        elif static:
            _check_int_index(e, xshape[axis], axis)
        axis += 1
    return out + list(xshape[axis:])


# --- the ops -------------------------------------------------------------------------------------
class _IndexOp(Op):
    """What the four indexing ops share: the index description and its evaluation."""

    __props__ = ("idx_list",)
    advanced = False
    n_values = 1  # inputs before the index inputs: x (and y for the increments)

    def __init__(self, idx_list: Sequence):
        self.idx_list = tuple(_norm_entry(e, self.advanced) for e in idx_list)

    def __str__(self) -> str:
        def show(e):
            if isinstance(e, tuple):
                return ":".join("" if b is None else str(b) for b in e[1:3]) + (
                    "" if e[3] is None else f":{e[3]}")
            return "newaxis" if e is None else str(e)
        extra = "".join(f", {p}" for p in self.__props__[1:] if getattr(self, p))
        return f"{type(self).__name__}{{{', '.join(show(e) for e in self.idx_list)}{extra}}}"

    def _check_index_inputs(self, x: Variable, idx: Sequence) -> list:
        kinds = _input_entries(self.idx_list)
        if len(idx) != len(kinds):
            raise TypeError(f"{self}: expected {len(kinds)} index input(s), got {len(idx)}")
        idx = [as_tensor_variable(v) for v in idx]
        for i, (v, k) in enumerate(zip(idx, kinds)):
            if k == SYM:
                _check_scalar_int(v, f"{self}: index input {i}")
            elif v.dtype[0] not in "iub":
                raise TypeError(f"{self}: index input {i} ({v}) has dtype {v.dtype}; expected integers "
                                f"or booleans")
        n = _n_consumed(self.idx_list, idx)
        if n > x.ndim:
            raise IndexingError(f"too many indices for tensor {x}: it is {x.ndim}-dimensional, but {n} "
                                f"were indexed")
        return idx

    def _layout(self, xshape: Sequence, idx_vars: Sequence, idx_shapes: Sequence, static: bool) -> list:
        """Shape of ``x[index]``: ``static`` gives ints/None (and raises errors that are
        certain), otherwise ints or symbolic scalars (for infer_shape)."""
        return _basic_layout(self.idx_list, xshape, idx_vars, static)

    def _sub_shape(self, x: Variable, idx: Sequence) -> tuple:
        return tuple(self._layout(x.type.shape, idx, [v.type.shape for v in idx], True))

    def _np_index(self, values: Sequence) -> tuple:
        it = iter(values)
        out = []
        for e in self.idx_list:
            if isinstance(e, tuple):
                out.append(slice(*[int(next(it)) if b == SYM else b for b in e[1:]]))
            elif e == SYM:
                out.append(int(next(it)))
            elif e == ARRAY:
                out.append(next(it))
            else:
                out.append(e)
        if not self.advanced:
            out.append(Ellipsis)  # keeps a fully integer-indexed result a 0-d view
        return tuple(out)

    def connection_pattern(self, node: Apply) -> list:
        n_out = len(node.outputs)
        return [[i < self.n_values] * n_out for i in range(len(node.inputs))]

    # batching hooks: where the batch axis of ``x`` lands in ``x[batched index]``
    def _batch_moves(self, idx: Sequence) -> bool:
        """Whether the batch axis of ``x`` does not come first in the indexed result."""
        return False

    def _batch_to_front(self, idx: Sequence, v: Variable) -> Variable:
        """From the indexed layout of a batched ``x`` to the batch-first layout."""
        return v

    def _batch_from_front(self, idx: Sequence, v: Variable) -> Variable:
        """From the batch-first layout to the indexed layout of a batched ``x``."""
        return v


class _SubtensorBase(_IndexOp):
    def make_node(self, x: Any, *idx: Any) -> Apply:
        x = as_tensor_variable(x)
        idx = self._check_index_inputs(x, idx)
        return Apply(self, [x] + idx, [TensorType(x.dtype, shape=self._sub_shape(x, idx))()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        x = inputs[0]
        res = x[self._np_index(inputs[1:])]
        if self.advanced and np.may_share_memory(res, x):
            res = res.copy()
        output_storage[0][0] = np.asarray(res)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [tuple(self._layout(input_shapes[0], node.inputs[1:], input_shapes[1:], False))]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        x, rest, (gz,) = inputs[0], inputs[1:], output_grads
        if x.dtype[0] not in "fc":
            gx = _api().zeros_like(x, dtype=config.floatX)
        else:
            gx = self.inc_class(self.idx_list)(_api().zeros_like(x), gz, *rest)
        return [gx] + [disconnected_type() for _ in rest]

    def R_op(self, inputs: list, eval_points: list) -> list:
        if eval_points[0] is None:
            return [None]
        return [self(eval_points[0], *inputs[1:])]

    def vectorize_node(self, node: Apply, x: Variable, *idx: Variable) -> list:
        if _batched(node.inputs[1:], idx):
            raise NotImplementedError(f"{self}: batching over the index inputs")
        if x.ndim == node.inputs[0].ndim:
            return [self(x, *idx)]
        out = type(self)((FULL_SLICE,) + self.idx_list)(x, *idx)
        return [self._batch_to_front(node.inputs[1:], out)]


class Subtensor(_SubtensorBase):
    """Basic indexing (ints, slices, newaxis): returns a view of ``x``."""
    view_map = {0: [0]}


class _IncSubtensorBase(_IndexOp):
    __props__ = ("idx_list", "inplace", "set_instead_of_inc")
    n_values = 2

    def __init__(self, idx_list: Sequence, inplace: bool = False, set_instead_of_inc: bool = False):
        super().__init__(idx_list)
        self.inplace = bool(inplace)
        self.set_instead_of_inc = bool(set_instead_of_inc)
        self.destroy_map = {0: [0]} if self.inplace else {}

    def _verb(self) -> str:
        return "set" if self.set_instead_of_inc else "increment"

    def make_node(self, x: Any, y: Any, *idx: Any) -> Apply:
        x = as_tensor_variable(x)
        y = _as_value(y, x.dtype)
        if not np.can_cast(y.dtype, x.dtype, "same_kind"):
            raise TypeError(f"{self}: y has dtype {y.dtype}, which cannot be cast to x's dtype {x.dtype}; "
                            f"cast y first (y.astype('{x.dtype}'))")
        idx = self._check_index_inputs(x, idx)
        sub = self._sub_shape(x, idx)
        if y.ndim > len(sub):
            raise TypeError(f"{self}: trying to {self._verb()} a {len(sub)}-d subtensor with a "
                            f"{y.ndim}-d value {y}")
        for ys, ss in zip(y.type.shape[::-1], sub[::-1]):
            if ys is not None and ys != 1 and ss is not None and ys != ss:
                raise ValueError(f"{self}: y of shape {y.type.shape} does not broadcast to the indexed "
                                 f"shape {sub}")
        return Apply(self, [x, y] + idx, [TensorType(x.dtype, shape=x.type.shape)()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        x, y = inputs[:2]
        out = x if self.inplace else x.copy()
        index = self._np_index(inputs[2:])
        target = out[index] if not self.advanced else np.broadcast_to(np.zeros((), "int8"), x.shape)[index]
        _check_runtime_broadcast(self, node.inputs[1], y, target.shape)
        y = np.asarray(y, dtype=out.dtype)
        if self.set_instead_of_inc:
            out[index] = y
        elif self.advanced:
            np.add.at(out, index, y)
        else:
            target += y
        output_storage[0][0] = out

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [input_shapes[0]]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        api = _api()
        x, y, rest, (gz,) = inputs[0], inputs[1], inputs[2:], output_grads
        if x.dtype[0] not in "fc":
            gx = api.zeros_like(x, dtype=config.floatX)
        elif self.set_instead_of_inc:
            gx = type(self)(self.idx_list, set_instead_of_inc=True)(
                gz, constant(np.zeros((), dtype=gz.dtype)), *rest)
        else:
            gx = gz
        if y.dtype[0] not in "fc":
            gy = api.zeros_like(y, dtype=config.floatX)
        else:
            gy = sum_to_broadcastable(self.sub_class(self.idx_list)(gz, *rest), y)
        return [gx, gy] + [disconnected_type() for _ in rest]

    def R_op(self, inputs: list, eval_points: list) -> list:
        ex, ey = eval_points[:2]
        if ex is None and ey is None:
            return [None]
        ex = _api().zeros_like(inputs[0]) if ex is None else ex
        ey = _api().zeros_like(inputs[1]) if ey is None else ey
        return [type(self)(self.idx_list, set_instead_of_inc=self.set_instead_of_inc)(ex, ey, *inputs[2:])]

    def vectorize_node(self, node: Apply, x: Variable, y: Variable, *idx: Variable) -> list:
        x0, y0 = node.inputs[:2]
        idx0 = node.inputs[2:]
        if _batched(idx0, idx):
            raise NotImplementedError(f"{self}: batching over the index inputs")
        xb, yb = x.ndim > x0.ndim, y.ndim > y0.ndim
        if not xb and not yb:
            return [self(x, y, *idx)]
        if not xb:
            x = _api().alloc(x, y.shape[0], *[x.shape[i] for i in range(x.ndim)])
        if yb or self._batch_moves(idx0):
            # y as (B or 1, 1.., *y): the batch axis first, then where the index puts it
            pad = len(self._sub_shape(x0, idx0)) - y0.ndim
            rest = tuple(range(1, y.ndim)) if yb else tuple(range(y.ndim))
            y = dimshuffle(y, ((0,) if yb else ("x",)) + ("x",) * pad + rest)
            y = self._batch_from_front(idx0, y)
        op = type(self)((FULL_SLICE,) + self.idx_list, set_instead_of_inc=self.set_instead_of_inc)
        return [op(x, y, *idx)]


class IncSubtensor(_IncSubtensorBase):
    """``x`` with ``x[idx]`` set to (or incremented by) ``y``, basic index; ``x`` is copied
    unless ``inplace`` (set by rewrites only)."""


Subtensor.inc_class, IncSubtensor.sub_class = IncSubtensor, Subtensor


def _as_value(y: Any, dtype: str) -> Variable:
    """``y`` as a tensor; a Python scalar takes x's dtype when it is representable in it."""
    if is_python_scalar(y):
        kind = np.dtype(dtype).kind
        ok = {"b": "b", "i": "bi", "u": "bi", "f": "bif", "c": "bifc"}[kind]
        ykind = np.asarray(y).dtype.kind
        if ykind in ok:
            try:
                with np.errstate(all="raise"):
                    arr = np.asarray(y, dtype=dtype)
                if arr.dtype.kind in "iub" and arr != y:
                    raise OverflowError
                return constant(arr)
            except (OverflowError, FloatingPointError, ValueError):
                raise TypeError(f"the value {y!r} does not fit in x's dtype {dtype}") from None
    return as_tensor_variable(y)


def _check_runtime_broadcast(op: Op, yvar: Variable, y: np.ndarray, target: tuple) -> None:
    """``y`` must have the indexed shape, except on axes its type marks broadcastable."""
    if y.ndim > len(target):
        raise ValueError(f"{op}: y of shape {y.shape} has more dimensions than the indexed shape {target}")
    for j in range(1, y.ndim + 1):
        if y.shape[-j] != target[-j] and not (yvar.type.shape[-j] == 1 and y.shape[-j] == 1):
            hint = " (y's dimension is not marked broadcastable)" if y.shape[-j] == 1 else ""
            raise ValueError(f"{op}: y of shape {y.shape} does not match the indexed shape {target} in "
                             f"dimension {len(target) - j}{hint}")


def _batched(orig: Sequence, new: Sequence) -> bool:
    return any(n is not o and n.ndim == o.ndim + 1 for o, n in zip(orig, new))


# --- public functions -------------------------------------------------------------------------
@_traced
def getitem(x: Any, index: Any) -> Variable:
    """``x[index]`` with numpy's semantics: basic indexing gives a view (Subtensor), integer
    arrays or boolean masks give AdvancedSubtensor."""
    x = as_tensor_variable(x)
    idx_list, inputs, advanced = _parse(x, index)
    op_class = _advanced().AdvancedSubtensor if advanced else Subtensor
    return op_class(idx_list)(x, *inputs)


def _inc_subtensor(x: Variable, y: Any, set_instead_of_inc: bool) -> Variable:
    """The update of the tensor that ``x`` was indexed from, by the matching increment op."""
    owner = getattr(x, "owner", None)
    if owner is None or not isinstance(owner.op, _SubtensorBase):
        raise TypeError(f"{'set' if set_instead_of_inc else 'inc'}_subtensor: x must be the result of "
                        f"indexing a tensor (x[...]), got {x}")
    op = owner.op.inc_class(owner.op.idx_list, set_instead_of_inc=set_instead_of_inc)
    return op(owner.inputs[0], y, *owner.inputs[1:])


@_traced
def inc_subtensor(x: Variable, y: Any, inplace: bool = False, set_instead_of_inc: bool = False,
                  tolerate_inplace_aliasing: bool = False) -> Variable:
    """The tensor ``x`` was indexed from, with ``y`` added at that index (repeated advanced
    indices accumulate, as ``numpy.add.at``). ``x`` must be the result of indexing; the
    input is never modified (``inplace`` is accepted for compatibility; rewrites decide)."""
    return _inc_subtensor(x, y, set_instead_of_inc)


@_traced
def set_subtensor(x: Variable, y: Any, inplace: bool = False,
                  tolerate_inplace_aliasing: bool = False) -> Variable:
    """The tensor ``x`` was indexed from, with ``y`` written at that index (last write wins)."""
    return _inc_subtensor(x, y, set_instead_of_inc=True)
