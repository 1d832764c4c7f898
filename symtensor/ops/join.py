"""Joining and splitting: ``Join`` (concatenate), ``MakeVector`` (stack of scalars) and
``Split``, with the public ``join concatenate stack split``.

The joined axis is an op property (a constant), as the static output shape depends on it.
Gradients are exact: Join and Split are each other's adjoint. The small helpers on integer
vectors below are shared with the repetition family (``tile.py``).
"""
from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np

from ..config import config
from ..graph.basic import Apply, Constant, Op, Variable
from ..graph.null import disconnected_type, is_disconnected
from ..graph.type import INT_DTYPES, TensorType, upcast
from .basic import as_tensor_variable, constant
from .elemwise import cast, dimshuffle, shape_padaxis
from .shape import shape_i, shape_tuple, specify_broadcastable_like


# --- helpers -------------------------------------------------------------------------------------
def _const_axis(axis: Any, what: str) -> int:
    """An int from an int-like or a constant integer scalar."""
    if isinstance(axis, Variable):
        if not isinstance(axis, Constant) or axis.ndim != 0:
            raise TypeError(f"{what}: axis must be a constant integer, got the symbolic {axis} "
                            f"({axis.type})")
        axis = axis.data.item()
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{what}: axis must be an integer, got {axis!r}")
    return int(axis)


def _norm_axis(axis: int, ndim: int, what: str) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"{what}: axis {axis} is out of range for {ndim}-d input(s)")
    return axis % ndim


def _is_float(dtype: str) -> bool:
    return dtype[0] in "fc"


def _zero_grad(x: Variable) -> Variable:
    from .alloc import zeros_like
    return zeros_like(x, dtype=x.dtype if _is_float(x.dtype) else config.floatX)


def _check_int(v: Variable, what: str) -> None:
    if v.dtype not in INT_DTYPES:
        raise TypeError(f"{what} must have an integer dtype, got {v} of type {v.type}")


def _entries(v: Variable) -> list | None:
    """The scalar entries of a vector when the graph tells them (a constant or a stack of
    scalars), else None."""
    if isinstance(v, Constant) and v.ndim == 1:
        return [constant(e, dtype=v.dtype) for e in v.data.tolist()]
    if v.owner is not None and getattr(v.owner.op, "is_stack_of_scalars", False):
        return list(v.owner.inputs)
    return None


def _static_ints(v: Variable) -> list | None:
    """Known ints of a vector's entries (None for a symbolic entry); None if not known."""
    ents = _entries(v)
    if ents is None:
        return None
    return [int(e.data) if isinstance(e, Constant) else None for e in ents]


def _int_vector(entries: Sequence) -> Variable:
    """An int64 vector from ints and int scalars: a constant when all are known."""
    vals = [e.data.item() if isinstance(e, Constant) else e for e in entries]
    if all(isinstance(v, (int, np.integer)) for v in vals):
        return constant(np.array(vals, dtype="int64").reshape(len(vals)))
    return MakeVector("int64")(*entries)


def _batch_alloc(x: Variable, like: Variable) -> Variable:
    """``x`` repeated along a new leading axis of ``like``'s leading size."""
    from .alloc import alloc
    return alloc(x, shape_i(like, 0), *shape_tuple(x))


# --- Join ----------------------------------------------------------------------------------------
class Join(Op):
    """Concatenate tensors of the same ndim along ``axis``; the dtype is numpy's promotion."""

    __props__ = ("axis",)

    def __init__(self, axis: int = 0):
        self.axis = int(axis)

    def __str__(self) -> str:
        return f"Join{{axis={self.axis}}}"

    def make_node(self, *tensors: Any) -> Apply:
        if not tensors:
            raise ValueError("join: cannot join an empty list of tensors")
        tensors = [as_tensor_variable(t) for t in tensors]
        ndim = tensors[0].ndim
        for i, t in enumerate(tensors):
            if t.ndim == 0:
                raise TypeError(f"join: input {i} ({t}) is a scalar; only tensors of 1 or more "
                                f"dimensions can be joined (use stack for scalars)")
            if t.ndim != ndim:
                raise TypeError(f"join: all inputs must have the same number of dimensions; input 0 "
                                f"({tensors[0]}) has {ndim} and input {i} ({t}) has {t.ndim}")
        axis = _norm_axis(self.axis, ndim, "join")
        if axis != self.axis:
            return Join(axis).make_node(*tensors)
        shape: list = []
        for d in range(ndim):
            sizes = [t.type.shape[d] for t in tensors]
            if d == axis:
                shape.append(None if None in sizes else int(np.sum(sizes)))
                continue
            known = [(i, s) for i, s in enumerate(sizes) if s is not None]
            for i, s in known[1:]:
                if s != known[0][1]:
                    j = known[0][0]
                    raise ValueError(
                        f"join along axis {axis}: input {j} ({tensors[j]}, static shape "
                        f"{tensors[j].type.shape}) and input {i} ({tensors[i]}, static shape "
                        f"{tensors[i].type.shape}) differ in dimension {d} ({known[0][1]} vs {s}); "
                        f"all dimensions except the joined one must agree")
            shape.append(known[0][1] if known else None)
        dtype = upcast(*[t.dtype for t in tensors])
        return Apply(self, tensors, [TensorType(dtype, shape=tuple(shape))()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        ref = inputs[0].shape
        for i, x in enumerate(inputs):
            if x.ndim != len(ref) or any(a != b for d, (a, b) in enumerate(zip(ref, x.shape))
                                         if d != self.axis):
                raise ValueError(f"join along axis {self.axis}: input 0 has shape {ref} and input {i} "
                                 f"has shape {x.shape}; all dimensions except the joined one must "
                                 f"agree (input shapes {[v.shape for v in inputs]})")
        out = np.concatenate(inputs, axis=self.axis)
        dtype = node.outputs[0].dtype
        output_storage[0][0] = out if out.dtype == dtype else out.astype(dtype)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        from .api import add
        out = []
        for d in range(len(input_shapes[0])):
            if d == self.axis:
                sizes = [s[d] for s in input_shapes]
                out.append(add(*sizes) if len(sizes) > 1 else sizes[0])
            else:
                known = [t.type.shape[d] for t in node.inputs if t.type.shape[d] is not None]
                out.append(constant(known[0], dtype="int64") if known else input_shapes[0][d])
        return [tuple(out)]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        (gz,) = output_grads
        if not _is_float(outputs[0].dtype):
            return [_zero_grad(x) for x in inputs]
        sizes = _int_vector([shape_i(x, self.axis) for x in inputs])
        parts = Split(len(inputs), self.axis)(gz, sizes)
        parts = parts if isinstance(parts, list) else [parts]
        return [specify_broadcastable_like(cast(g, x.dtype), x) if _is_float(x.dtype) else _zero_grad(x)
                for x, g in zip(inputs, parts)]

    def R_op(self, inputs: list, eval_points: list) -> list:
        if all(e is None for e in eval_points):
            return [None]
        from .alloc import zeros_like
        evs = [zeros_like(x) if e is None else e for x, e in zip(inputs, eval_points)]
        return [cast(Join(self.axis)(*evs), outputs_dtype(inputs))]

    def vectorize_node(self, node: Apply, *batched: Variable) -> list:
        ref = next(b for b, o in zip(batched, node.inputs) if b.ndim == o.ndim + 1)
        ins = [b if b.ndim == o.ndim + 1 else _batch_alloc(b, ref) for b, o in zip(batched, node.inputs)]
        return [Join(self.axis + 1)(*ins)]


def outputs_dtype(tensors: Sequence[Variable]) -> str:
    """The dtype of joining ``tensors``: numpy's promotion of theirs."""
    return upcast(*[t.dtype for t in tensors])


def join(axis: Any, *tensors_list: Any) -> Variable:
    """Concatenate ``tensors_list`` along ``axis`` (a constant int, negative allowed).
    A single tensor is returned as it is (Theano's behaviour)."""
    if len(tensors_list) == 1:
        return as_tensor_variable(tensors_list[0])
    return Join(_const_axis(axis, "join"))(*tensors_list)


def concatenate(tensor_list: Sequence[Any], axis: int = 0) -> Variable:
    """numpy.concatenate: join a list or tuple of tensors along ``axis``."""
    if not isinstance(tensor_list, (list, tuple)):
        raise TypeError("concatenate: the 'tensor_list' argument must be a list or a tuple; did you "
                        "forget the [] or () around the tensors?")
    return join(axis, *tensor_list)


# --- MakeVector ----------------------------------------------------------------------------------
class MakeVector(Op):
    """A vector from scalars (Theano's MakeVector): what ``stack`` builds for scalars."""

    __props__ = ("dtype",)
    is_stack_of_scalars = True

    def __init__(self, dtype: str = "int64"):
        self.dtype = str(np.dtype(dtype))

    def make_node(self, *scalars: Any) -> Apply:
        ins = []
        for i, s in enumerate(scalars):
            s = as_tensor_variable(s)
            if s.ndim != 0:
                raise TypeError(f"MakeVector: input {i} ({s}) must be a scalar, got {s.type}")
            if s.dtype != self.dtype:
                if upcast(s.dtype, self.dtype) != self.dtype:
                    raise TypeError(f"MakeVector: input {i} ({s}, {s.dtype}) cannot be converted to "
                                    f"{self.dtype} without loss")
                s = constant(s.data, dtype=self.dtype) if isinstance(s, Constant) else cast(s, self.dtype)
            ins.append(s)
        return Apply(self, ins, [TensorType(self.dtype, shape=(len(ins),))()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        output_storage[0][0] = np.array(inputs, dtype=self.dtype).reshape(len(inputs))

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [(constant(len(node.inputs), dtype="int64"),)]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        if not _is_float(self.dtype) or not inputs:
            return [_zero_grad(x) for x in inputs]
        parts = split(output_grads[0], [1] * len(inputs), len(inputs))
        return [cast(dimshuffle(g, ()), x.dtype) if _is_float(x.dtype) else _zero_grad(x)
                for x, g in zip(inputs, parts)]

    def R_op(self, inputs: list, eval_points: list) -> list:
        if all(e is None for e in eval_points):
            return [None]
        from .alloc import zeros_like
        return [self(*[zeros_like(x) if e is None else cast(e, self.dtype)
                       for x, e in zip(inputs, eval_points)])]

    def vectorize_node(self, node: Apply, *batched: Variable) -> list:
        ref = next(b for b, o in zip(batched, node.inputs) if b.ndim == o.ndim + 1)
        cols = [shape_padaxis(cast(b if b.ndim == 1 else _batch_alloc(b, ref), self.dtype), 1)
                for b in batched]
        return [join(1, *cols)]


def stack(tensors: Any = None, *more: Any, axis: int = 0) -> Variable:
    """numpy.stack: join tensors of equal shape along a new ``axis``. Scalars give a vector.
    ``stack(x, y, z)`` (Theano's deprecated form) stacks along axis 0."""
    if tensors is None:
        raise TypeError("stack needs a list of tensors: stack(tensors, axis=0)")
    if isinstance(tensors, (list, tuple)):
        if len(more) > 1:
            raise TypeError(f"stack(tensors, axis) takes 2 positional arguments, got {1 + len(more)}")
        if more:
            axis = more[0]
    else:
        warnings.warn("stack(*tensors) is deprecated; use stack(tensors, axis=0)", DeprecationWarning,
                      stacklevel=2)
        tensors = (tensors,) + more
    if len(tensors) == 0:
        raise ValueError("stack: the list of tensors is empty; give at least one tensor")
    axis = _const_axis(axis, "stack")
    ts = [as_tensor_variable(t) for t in tensors]
    if all(t.ndim == 0 for t in ts):
        if axis not in (0, -1):
            raise ValueError(f"stack: axis {axis} is out of range for stacking scalars (1-d result)")
        return MakeVector(upcast(*[t.dtype for t in ts]))(*ts)
    ndims = {t.ndim for t in ts}
    if len(ndims) > 1:
        raise TypeError(f"stack: all inputs must have the same number of dimensions, got "
                        f"{[t.ndim for t in ts]}")
    ndim = ndims.pop()
    if not -(ndim + 1) <= axis <= ndim:
        raise ValueError(f"stack: axis {axis} is out of range for stacking {ndim}-d tensors")
    axis = axis % (ndim + 1)
    return join(axis, *[shape_padaxis(t, axis) for t in ts])


def _size_vector(sizes: Sequence) -> Variable:
    """The split sizes given as a list of ints and int scalars, as an int64 vector."""
    entries = [as_tensor_variable(s) for s in sizes]
    for i, e in enumerate(entries):
        if e.ndim != 0 or e.dtype not in INT_DTYPES:
            raise TypeError(f"split: split size {i} must be an integer scalar, got {e} ({e.type})")
    return _int_vector(entries) if entries else constant(np.zeros(0, "int64"))


# --- Split ---------------------------------------------------------------------------------------
class Split(Op):
    """Cut ``x`` along ``axis`` into ``n_splits`` pieces whose sizes are an int vector input.
    The pieces are views of ``x``."""

    __props__ = ("n_splits", "axis")

    def __init__(self, n_splits: int, axis: int = 0):
        if isinstance(n_splits, (bool, np.bool_)) or not isinstance(n_splits, (int, np.integer)):
            raise TypeError(f"split: n_splits must be an integer, got {n_splits!r}")
        self.n_splits = int(n_splits)
        self.axis = int(axis)
        if self.n_splits < 1:
            raise ValueError(f"split: n_splits must be >= 1, got {n_splits}")
        self.view_map = {i: [0] for i in range(self.n_splits)}

    def __str__(self) -> str:
        return f"Split{{n_splits={self.n_splits}, axis={self.axis}}}"

    def make_node(self, x: Any, splits: Any) -> Apply:
        x = as_tensor_variable(x)
        if isinstance(splits, (list, tuple)):
            splits = _size_vector(splits)
        splits = as_tensor_variable(splits)
        if splits.ndim != 1:
            raise TypeError(f"split: the split sizes must be an integer vector, got {splits.type}")
        _check_int(splits, "split: the split sizes")
        if x.ndim == 0:
            raise TypeError(f"split: cannot split a scalar ({x})")
        axis = _norm_axis(self.axis, x.ndim, "split")
        if axis != self.axis:
            return Split(self.n_splits, axis).make_node(x, splits)
        if splits.type.shape[0] not in (None, self.n_splits):
            raise ValueError(f"split: {splits.type.shape[0]} split sizes given for n_splits="
                             f"{self.n_splits}")
        sizes = _static_ints(splits) or [None] * self.n_splits
        if any(s is not None and s < 0 for s in sizes):
            raise ValueError(f"split: split sizes must be >= 0, got {sizes}")
        n = x.type.shape[axis]
        if None not in sizes and n is not None and sum(sizes) != n:
            raise ValueError(f"split: the split sizes {sizes} sum to {sum(sizes)}, but axis {axis} of "
                             f"{x} has length {n} (static shape {x.type.shape})")
        outs = []
        for s in sizes:
            shp = list(x.type.shape)
            shp[axis] = s
            outs.append(TensorType(x.dtype, shape=tuple(shp))())
        return Apply(self, [x, splits], outs)

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        x, splits = inputs
        splits = np.asarray(splits)
        if len(splits) != self.n_splits:
            raise ValueError(f"split: got {len(splits)} split sizes, expected n_splits={self.n_splits}")
        if (splits < 0).any():
            raise ValueError(f"split: split sizes must be >= 0, got {splits.tolist()}")
        if splits.sum() != x.shape[self.axis]:
            raise ValueError(f"split: the split sizes {splits.tolist()} sum to {int(splits.sum())}, but "
                             f"axis {self.axis} of the input has length {x.shape[self.axis]} "
                             f"(input shape {x.shape})")
        ends = np.cumsum(splits)
        index = [slice(None)] * x.ndim
        for i, (stop, size) in enumerate(zip(ends, splits)):
            index[self.axis] = slice(int(stop - size), int(stop))
            output_storage[i][0] = x[tuple(index)]

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        x, splits = node.inputs
        ents = _entries(splits)
        if ents is None:
            from .api import getitem
            ents = [getitem(splits, i) for i in range(self.n_splits)]
        return [tuple(cast(e, "int64") if d == self.axis else s for d, s in enumerate(input_shapes[0]))
                for e in ents]

    def connection_pattern(self, node: Apply) -> list:
        return [[True] * self.n_splits, [False] * self.n_splits]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        x, _ = inputs
        missing = [g is None or is_disconnected(g) for g in output_grads]
        if all(missing):
            return [disconnected_type(), disconnected_type()]
        if not _is_float(x.dtype):
            return [_zero_grad(x), disconnected_type()]
        from .alloc import zeros_like
        gs = [zeros_like(o) if m else g for o, g, m in zip(outputs, output_grads, missing)]
        g = cast(Join(self.axis)(*gs), x.dtype)
        return [specify_broadcastable_like(g, x), disconnected_type()]

    def R_op(self, inputs: list, eval_points: list) -> list:
        if eval_points[0] is None:
            return [None] * self.n_splits
        out = self(eval_points[0], inputs[1])
        return out if isinstance(out, list) else [out]

    def vectorize_node(self, node: Apply, x: Variable, splits: Variable) -> list:
        if splits.ndim != 1:
            raise NotImplementedError("split: batched split sizes are not supported")
        if x.ndim == node.inputs[0].ndim:
            out = self(x, splits)
        else:
            out = Split(self.n_splits, self.axis + 1)(x, splits)
        return out if isinstance(out, list) else [out]


def split(x: Any, splits_size: Any, n_splits: int, axis: int = 0) -> Any:
    """Cut ``x`` along ``axis`` into ``n_splits`` pieces of sizes ``splits_size`` (ints or an int
    vector, which must sum to the axis length). Returns a list of tensors, or, as in Theano, the
    one tensor itself when ``n_splits`` is 1."""
    return Split(n_splits, _const_axis(axis, "split"))(x, splits_size)
