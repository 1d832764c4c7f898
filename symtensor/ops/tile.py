"""Repetition: ``Repeat`` (numpy.repeat, with its adjoint ``RepeatGrad``) and ``Tile``
(numpy.tile), with the public ``repeat`` and ``tile``.

The repeated axis and the output's ndim are op properties (constants), as the static output
shape depends on them; the repetition counts are an integer input, constant or symbolic.
Gradients are exact: Repeat's adjoint sums each element's block of copies, Tile's sums the tiles.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph.basic import Apply, Constant, Op, Variable
from ..graph.null import disconnected_type
from ..graph.type import INT_DTYPES, TensorType
from .basic import as_tensor_variable, constant
from .elemwise import cast, dimshuffle
from .join import (Join, _check_int, _const_axis, _entries, _int_vector, _is_float, _norm_axis,
                   _static_ints, _zero_grad, stack)
from .reduce import sum as sum_
from .shape import reshape, shape_i, shape_tuple, specify_broadcastable_like


# --- Repeat --------------------------------------------------------------------------------------
class Repeat(Op):
    """numpy.repeat along ``axis``: ``repeats`` is an int scalar or a vector with one count per
    element (or a single count)."""

    __props__ = ("axis",)

    def __init__(self, axis: int = 0):
        self.axis = int(axis)

    def __str__(self) -> str:
        return f"Repeat{{axis={self.axis}}}"

    def make_node(self, x: Any, repeats: Any) -> Apply:
        x = as_tensor_variable(x)
        repeats = as_tensor_variable(repeats)
        _check_int(repeats, "repeat: repeats")
        if repeats.ndim > 1:
            raise ValueError(f"repeat: repeats must be a scalar or a vector, got {repeats.ndim} dimensions")
        if x.ndim == 0:
            raise ValueError(f"repeat: axis {self.axis} is out of range for the scalar {x}")
        axis = _norm_axis(self.axis, x.ndim, "repeat")
        if axis != self.axis:
            return Repeat(axis).make_node(x, repeats)
        n, len_r = x.type.shape[axis], (repeats.type.shape[0] if repeats.ndim else None)
        if repeats.ndim == 0:
            known = [int(repeats.data) if isinstance(repeats, Constant) else None]
        else:
            known = _static_ints(repeats)
        if known is not None and any(r is not None and r < 0 for r in known):
            raise ValueError(f"repeat: repeats must be >= 0, got {known}")
        if len_r not in (None, 1) and n is not None and len_r != n:
            raise ValueError(f"repeat: {len_r} repeat counts for axis {axis} of {x}, which has "
                             f"length {n}; give one count per element or a single count")
        if repeats.ndim == 0 or len_r == 1:
            r = known[0] if known else None
            size = 0 if r == 0 else (None if r is None or n is None else n * r)
        else:
            size = None if known is None or None in known else int(sum(known))
        shp = list(x.type.shape)
        shp[axis] = size
        return Apply(self, [x, repeats], [TensorType(x.dtype, shape=tuple(shp))()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        x, reps = inputs
        reps = np.asarray(reps)
        if (reps < 0).any():
            raise ValueError(f"repeat: repeats must be >= 0, got {reps.tolist()}")
        n = x.shape[self.axis]
        if reps.ndim == 1 and len(reps) not in (1, n):
            raise ValueError(f"repeat: got {len(reps)} repeat counts for axis {self.axis} of length {n} "
                             f"(input shape {x.shape}); give one count per element or a single count")
        output_storage[0][0] = np.repeat(x, reps.astype("int64"), axis=self.axis)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        from . import api as A
        x, reps = node.inputs
        n = input_shapes[0][self.axis]
        if reps.ndim == 0:
            size = n * cast(reps, "int64")
        else:
            total = sum_(reps, dtype="int64")
            if reps.type.shape[0] == 1:
                size = n * total
            elif reps.type.shape[0] is not None:
                size = total
            else:
                size = A.switch(A.eq(shape_i(reps, 0), 1), n * total, total)
        return [tuple(size if d == self.axis else s for d, s in enumerate(input_shapes[0]))]

    def connection_pattern(self, node: Apply) -> list:
        return [[True], [False]]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        x, repeats = inputs
        (gz,) = output_grads
        if not _is_float(x.dtype):
            return [_zero_grad(x), disconnected_type()]
        if repeats.ndim == 1 and repeats.type.shape[0] == 1:
            repeats = dimshuffle(repeats, ())
        if repeats.ndim == 0:
            dims = list(shape_tuple(x))
            dims.insert(self.axis + 1, cast(repeats, "int64"))
            g = sum_(reshape(gz, _int_vector(dims), ndim=x.ndim + 1), axis=self.axis + 1)
        else:
            g = RepeatGrad(self.axis)(gz, repeats, shape_i(x, self.axis))
        return [specify_broadcastable_like(cast(g, x.dtype), x), disconnected_type()]

    def R_op(self, inputs: list, eval_points: list) -> list:
        return [None] if eval_points[0] is None else [self(eval_points[0], inputs[1])]

    def vectorize_node(self, node: Apply, x: Variable, repeats: Variable) -> list:
        if repeats.ndim != node.inputs[1].ndim:
            raise NotImplementedError("repeat: batched repeat counts are not supported")
        if x.ndim == node.inputs[0].ndim:
            return [self(x, repeats)]
        return [Repeat(self.axis + 1)(x, repeats)]


class RepeatGrad(Op):
    """The adjoint of Repeat with a vector of counts: sums each element's block of copies
    along ``axis`` (a segment sum). Inputs: the gradient, the counts, the input's length."""

    __props__ = ("axis",)

    def __init__(self, axis: int):
        self.axis = int(axis)

    def make_node(self, gz: Any, repeats: Any, n: Any) -> Apply:
        gz, repeats = as_tensor_variable(gz), as_tensor_variable(repeats)
        n = cast(as_tensor_variable(n), "int64")
        if repeats.ndim != 1 or n.ndim != 0:
            raise TypeError("RepeatGrad: repeats must be a vector and n a scalar")
        _check_int(repeats, "RepeatGrad: repeats")
        shp = list(gz.type.shape)
        shp[self.axis] = int(n.data) if isinstance(n, Constant) else None
        return Apply(self, [gz, repeats, n], [TensorType(gz.dtype, shape=tuple(shp))()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        gz, reps, n = inputs
        n, ax = int(n), self.axis
        reps = np.broadcast_to(np.asarray(reps, dtype="int64"), (n,))
        if reps.sum() != gz.shape[ax]:
            raise ValueError(f"repeat gradient: the counts {reps.tolist()} sum to {int(reps.sum())}, "
                             f"but the gradient has length {gz.shape[ax]} along axis {ax}")
        out = np.zeros(gz.shape[:ax] + (n,) + gz.shape[ax + 1:], dtype=gz.dtype)
        nonzero = reps > 0
        if nonzero.any():
            starts = (np.cumsum(reps) - reps)[nonzero]
            index = [slice(None)] * gz.ndim
            index[ax] = nonzero
            out[tuple(index)] = np.add.reduceat(gz, starts, axis=ax)
        output_storage[0][0] = out

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [tuple(node.inputs[2] if d == self.axis else s for d, s in enumerate(input_shapes[0]))]

    def connection_pattern(self, node: Apply) -> list:
        return [[True], [False], [False]]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        return [Repeat(self.axis)(output_grads[0], inputs[1]), disconnected_type(), disconnected_type()]

    def R_op(self, inputs: list, eval_points: list) -> list:
        return [None] if eval_points[0] is None else [self(eval_points[0], *inputs[1:])]


def repeat(x: Any, repeats: Any, axis: int | None = None) -> Variable:
    """numpy.repeat: repeat elements of ``x`` ``repeats`` times (an int, an int scalar, or one
    count per element) along ``axis``; ``axis=None`` repeats the flattened ``x``."""
    from .shape import flatten
    x = as_tensor_variable(x)
    repeats = as_tensor_variable(repeats)
    if repeats.ndim > 1:
        raise ValueError(f"repeat: repeats must be a scalar or a vector, got {repeats.ndim} dimensions")
    if axis is None:
        x = flatten(x, 1) if x.ndim != 1 else x
        axis = 0
    return Repeat(_const_axis(axis, "repeat"))(x, repeats)


# --- Tile ----------------------------------------------------------------------------------------
class Tile(Op):
    """numpy.tile with an int vector of repetitions (at most ``ndim`` entries, padded with ones
    on the left); the output has ``ndim`` dimensions."""

    __props__ = ("ndim",)

    def __init__(self, ndim: int):
        self.ndim = int(ndim)

    def __str__(self) -> str:
        return f"Tile{{ndim={self.ndim}}}"

    def make_node(self, x: Any, reps: Any) -> Apply:
        x, reps = as_tensor_variable(x), as_tensor_variable(reps)
        if reps.ndim != 1:
            raise TypeError(f"tile: reps must be an integer vector, got {reps.type}")
        _check_int(reps, "tile: reps")
        if x.ndim > self.ndim:
            raise ValueError(f"tile: ndim={self.ndim} is smaller than the input's {x.ndim} dimensions")
        n_reps = reps.type.shape[0]
        if n_reps is not None and n_reps > self.ndim:
            raise ValueError(f"tile: {n_reps} repetition counts for an output of {self.ndim} dimensions")
        known = _static_ints(reps)
        if known is not None and any(r is not None and r < 0 for r in known):
            raise ValueError(f"tile: repetition counts must be >= 0, got {known}")
        xs = (1,) * (self.ndim - x.ndim) + x.type.shape
        rs = [1] * (self.ndim - len(known)) + known if known is not None else [None] * self.ndim
        shape = tuple(0 if 0 in (s, r) else (None if s is None or r is None else s * r)
                      for s, r in zip(xs, rs))
        return Apply(self, [x, reps], [TensorType(x.dtype, shape=shape)()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        x, reps = inputs
        if len(reps) > self.ndim:
            raise ValueError(f"tile: {len(reps)} repetition counts for an output of {self.ndim} "
                             f"dimensions (reps {reps.tolist()})")
        if (np.asarray(reps) < 0).any():
            raise ValueError(f"tile: repetition counts must be >= 0, got {reps.tolist()}")
        full = (1,) * (self.ndim - len(reps)) + tuple(int(r) for r in reps)
        output_storage[0][0] = np.tile(x, full)

    def _padded_reps(self, reps: Variable) -> list:
        """The repetition counts as ``ndim`` int64 scalars."""
        ents = _entries(reps)
        if ents is None:
            from .api import getitem
            vec = self._pad_vector(reps)
            ents = [getitem(vec, i) for i in range(self.ndim)]
        return [constant(1, dtype="int64")] * (self.ndim - len(ents)) + [cast(e, "int64") for e in ents]

    def _pad_vector(self, reps: Variable) -> Variable:
        """The repetition counts as an int64 vector of length ``ndim`` (ones on the left)."""
        reps = cast(reps, "int64")
        if reps.type.shape[0] == self.ndim:
            return reps
        from .alloc import alloc
        pad = alloc(constant(1, dtype="int64"), self.ndim - shape_i(reps, 0))
        return Join(0)(pad, reps)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        x, reps = node.inputs
        xs = [constant(1, dtype="int64")] * (self.ndim - x.ndim) + list(input_shapes[0])
        return [tuple(s * r for s, r in zip(xs, self._padded_reps(reps)))]

    def connection_pattern(self, node: Apply) -> list:
        return [[True], [False]]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        x, reps = inputs
        (gz,) = output_grads
        if not _is_float(x.dtype):
            return [_zero_grad(x), disconnected_type()]
        xs = [constant(1, dtype="int64")] * (self.ndim - x.ndim) + list(shape_tuple(x))
        if _entries(reps) is not None:
            rs = self._padded_reps(reps)
            dims = _int_vector([d for pair in zip(rs, xs) for d in pair])
        else:
            from .shape import flatten
            dims = flatten(stack([self._pad_vector(reps), _int_vector(xs)], axis=1), 1)
        g = sum_(reshape(gz, dims, ndim=2 * self.ndim), axis=tuple(range(0, 2 * self.ndim, 2)))
        if self.ndim > x.ndim:
            g = reshape(g, _int_vector(shape_tuple(x)), ndim=x.ndim)
        return [specify_broadcastable_like(cast(g, x.dtype), x), disconnected_type()]

    def R_op(self, inputs: list, eval_points: list) -> list:
        return [None] if eval_points[0] is None else [self(eval_points[0], inputs[1])]

    def vectorize_node(self, node: Apply, x: Variable, reps: Variable) -> list:
        x0, reps0 = node.inputs
        if reps.ndim != reps0.ndim:
            raise NotImplementedError("tile: batched repetition counts are not supported")
        if x.ndim == x0.ndim:
            return [self(x, reps)]
        # put the missing leading axes after the batch axis, then never tile the batch axis
        x = dimshuffle(x, (0,) + ("x",) * (self.ndim - x0.ndim) + tuple(range(1, x.ndim)))
        return [Tile(self.ndim + 1)(x, Join(0)(constant(np.ones(1, "int64")), self._pad_vector(reps)))]


def tile(x: Any, reps: Any, ndim: int | None = None) -> Variable:
    """numpy.tile: ``reps`` is an int, an int scalar, a list of ints and int scalars, or an int
    vector (give ``ndim`` when its length is not known). The result has
    ``ndim = max(x.ndim, len(reps))`` dimensions unless ``ndim`` is given."""
    x = as_tensor_variable(x)
    if ndim is not None and (isinstance(ndim, (bool, np.bool_))
                             or not isinstance(ndim, (int, np.integer))):
        raise TypeError(f"tile: ndim must be an integer or None, got {ndim!r}")
    if ndim is not None and ndim < x.ndim:
        raise ValueError(f"tile: ndim={ndim} is smaller than the input's {x.ndim} dimensions")
    if isinstance(reps, (list, tuple)):
        ents = [as_tensor_variable(r) for r in reps]
        for r in ents:
            if r.ndim != 0 or r.dtype not in INT_DTYPES:
                raise ValueError(f"tile: elements of reps must be integer scalars, got {r} ({r.type})")
        if ndim is not None and len(ents) > ndim:
            raise ValueError(f"tile: {len(ents)} repetition counts for ndim={ndim}")
        vec = _int_vector([cast(r, "int64") if not isinstance(r, Constant) else r for r in ents])
        n_reps = len(ents)
    else:
        vec = as_tensor_variable(reps)
        if vec.dtype not in INT_DTYPES:
            raise ValueError(f"tile: reps must have an integer dtype, got {vec} ({vec.type})")
        if vec.ndim == 0:
            vec = _int_vector([vec])
        elif vec.ndim > 1:
            raise ValueError(f"tile: reps must be a scalar or a vector, got {vec.ndim} dimensions")
        n_reps = vec.type.shape[0]
        if n_reps is None and ndim is None:
            raise ValueError("tile: give ndim when reps is a symbolic vector of unknown length")
    if ndim is None:
        ndim = max(x.ndim, n_reps)
    return Tile(ndim)(x, vec)
