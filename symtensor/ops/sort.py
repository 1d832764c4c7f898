"""Sorting: ``sort`` and ``argsort`` (Theano's ``tensor.sort``), numpy's semantics.

``SortOp(axis, kind)`` and ``ArgSortOp(axis, kind)`` sort along one constant axis; the public
functions take ``axis=None`` to sort the flattened input, as numpy and Theano do. NaN sorts
last, as in numpy. ``sort`` is differentiable: the output is the input permuted along the
axis, so the gradient is the output gradient permuted back (``PermuteAlongAxis`` by the inverse
permutation). ``argsort`` returns int64 indices; its gradient is zero, as in Theano.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..config import config
from ..graph.basic import Apply, Op, Variable
from ..graph.null import disconnected_type
from ..graph.type import TensorType
from .basic import as_tensor_variable
from .reduce import normalize_axis

KINDS = ("quicksort", "mergesort", "heapsort", "stable")


def _check_kind(kind: Any, fname: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"{fname}: kind must be one of {KINDS}, got {kind!r}")
    return kind


def _check_axis(op: Op, x: Variable) -> None:
    if x.ndim == 0:
        raise ValueError(f"{op}: cannot sort a 0-d tensor along an axis; use axis=None to sort "
                         f"it as a 1-element vector")
    if not 0 <= op.axis < x.ndim:
        raise ValueError(f"{op}: axis {op.axis} is out of range for a {x.ndim}-d input")


class SortOp(Op):
    """``numpy.sort(x, axis, kind)`` along a constant, non-negative ``axis``."""

    __props__ = ("axis", "kind")

    def __init__(self, axis: int, kind: str = "quicksort"):
        self.axis = int(axis)
        self.kind = _check_kind(kind, "SortOp")

    def __str__(self) -> str:
        return f"SortOp{{axis={self.axis}, {self.kind}}}"

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        _check_axis(self, x)
        if x.dtype.startswith("complex"):
            raise TypeError(f"{self}: complex input is not supported (its order is not Theano's)")
        return Apply(self, [x], [x.type()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        output_storage[0][0] = np.sort(inputs[0], axis=self.axis, kind=self.kind)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [input_shapes[0]]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        from . import api as A
        (x,), (g,) = inputs, output_grads
        if x.dtype[0] != "f":
            return [A.zeros_like(x, dtype=config.floatX)]
        order = ArgSortOp(self.axis, "stable")(x)
        inverse = ArgSortOp(self.axis, "stable")(order)
        return [PermuteAlongAxis(self.axis)(A.cast(g, x.dtype), inverse)]

    def R_op(self, inputs: list, eval_points: list) -> list:
        (x,), (ev,) = inputs, eval_points
        if ev is None or x.dtype[0] != "f":
            return [None]
        return [PermuteAlongAxis(self.axis)(ev, ArgSortOp(self.axis, "stable")(x))]

    def vectorize_node(self, node: Apply, x: Variable) -> list:
        if x.ndim == node.inputs[0].ndim:
            return [self(x)]
        return [SortOp(self.axis + 1, self.kind)(x)]


class ArgSortOp(Op):
    """``numpy.argsort(x, axis, kind)`` as int64, along a constant, non-negative ``axis``."""

    __props__ = ("axis", "kind")

    def __init__(self, axis: int, kind: str = "quicksort"):
        self.axis = int(axis)
        self.kind = _check_kind(kind, "ArgSortOp")

    def __str__(self) -> str:
        return f"ArgSortOp{{axis={self.axis}, {self.kind}}}"

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        _check_axis(self, x)
        if x.dtype.startswith("complex"):
            raise TypeError(f"{self}: complex input is not supported (its order is not Theano's)")
        return Apply(self, [x], [TensorType("int64", shape=x.type.shape)()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        res = np.argsort(inputs[0], axis=self.axis, kind=self.kind)
        output_storage[0][0] = np.asarray(res, dtype="int64")

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [input_shapes[0]]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        from . import api as A
        return [A.zeros_like(inputs[0], dtype=config.floatX)]

    def R_op(self, inputs: list, eval_points: list) -> list:
        return [None]

    def vectorize_node(self, node: Apply, x: Variable) -> list:
        if x.ndim == node.inputs[0].ndim:
            return [self(x)]
        return [ArgSortOp(self.axis + 1, self.kind)(x)]


class PermuteAlongAxis(Op):
    """``numpy.take_along_axis(x, perm, axis)`` where ``perm`` (int, the shape of ``x``) holds
    a permutation of ``range(x.shape[axis])`` in every lane: the gradient of sort.

    Its own gradient permutes back by the inverse permutation, so sort is differentiable to
    any order."""

    __props__ = ("axis",)

    def __init__(self, axis: int):
        self.axis = int(axis)

    def make_node(self, x: Any, perm: Any) -> Apply:
        x, perm = as_tensor_variable(x), as_tensor_variable(perm)
        _check_axis(self, x)
        if perm.ndim != x.ndim or perm.dtype[0] not in "iu":
            raise TypeError(f"{self}: perm must be an integer tensor with x's {x.ndim} dimension(s), "
                            f"got {perm.type}")
        return Apply(self, [x, perm], [x.type()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        x, perm = inputs
        if perm.shape != x.shape:
            raise ValueError(f"{self}: perm has shape {perm.shape} but x has shape {x.shape}")
        output_storage[0][0] = np.take_along_axis(x, perm.astype(np.intp, copy=False), axis=self.axis)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [input_shapes[0]]

    def connection_pattern(self, node: Apply) -> list:
        return [[True], [False]]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        from . import api as A
        x, perm = inputs
        if x.dtype[0] != "f":
            return [A.zeros_like(x, dtype=config.floatX), disconnected_type()]
        inverse = ArgSortOp(self.axis, "stable")(perm)
        return [self(A.cast(output_grads[0], x.dtype), inverse), disconnected_type()]

    def R_op(self, inputs: list, eval_points: list) -> list:
        if eval_points[0] is None or inputs[0].dtype[0] != "f":
            return [None]
        return [self(eval_points[0], inputs[1])]


def _sort_args(fname: str, a: Any, axis: Any, kind: str, order: Any) -> tuple:
    """(input, axis) for the op: flattened with axis 0 for ``axis=None``."""
    from .shape import flatten
    if order is not None:
        raise ValueError(f"{fname}: order (field names of structured arrays) is not supported; "
                         f"pass order=None")
    _check_kind(kind, fname)
    a = as_tensor_variable(a)
    if axis is None:
        return flatten(a, 1), 0
    if a.ndim == 0:
        raise ValueError(f"{fname}: a 0-d tensor has no axis {axis!r}; use axis=None")
    (ax,) = normalize_axis(axis, a.ndim) if not isinstance(axis, (tuple, list)) else (None,)
    if ax is None:
        raise TypeError(f"{fname}: axis must be an int or None, got {axis!r}")
    return a, ax


def sort(a: Any, axis: Any = -1, kind: str = "quicksort", order: Any = None) -> Variable:
    """A sorted copy of ``a`` along ``axis`` (the flattened ``a`` for None), as ``numpy.sort``;
    differentiable with respect to ``a``."""
    a, ax = _sort_args("sort", a, axis, kind, order)
    return SortOp(ax, kind)(a)


def argsort(a: Any, axis: Any = -1, kind: str = "quicksort", order: Any = None) -> Variable:
    """int64 indices that sort ``a`` along ``axis`` (the flattened ``a`` for None), as
    ``numpy.argsort``."""
    a, ax = _sort_args("argsort", a, axis, kind, order)
    return ArgSortOp(ax, kind)(a)
