"""Batching rules of the linear algebra ops (``ops/linalg.py``).

The ops take one matrix; numpy.linalg takes stacks of them. ``StackedLinalg`` applies
inverse, determinant, solve or Cholesky to a whole stack in one numpy call (no loop over the
samples in Python); node building and derivatives are ``BatchedApply``'s, shared with the
per-sample fall-back. The diagonal ops are rewritten with indexing, which has a batching rule.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..graph.basic import Apply, Op, Variable
from ..graph.type import TensorType
from ..ops import api as A
from ..ops.linalg import AllocDiag, Cholesky, Det, ExtractDiag, MatrixInverse, Solve
from ..ops.shape import shape_i
from .batching_rules import is_batched, via
from .vectorize import BatchedApply, register_vectorize


def _stacked_inverse(op: MatrixInverse, x: np.ndarray, b: None) -> np.ndarray:
    return np.linalg.inv(x)


def _stacked_det(op: Det, x: np.ndarray, b: None) -> np.ndarray:
    return np.linalg.det(x)


def _stacked_solve(op: Solve, a: np.ndarray, b: np.ndarray, b_is_vector: bool) -> np.ndarray:
    a = op._effective_a(a)
    if b_is_vector:   # (..., n) right-hand sides as (..., n, 1) columns for numpy's stacked solve
        return np.linalg.solve(a, b[..., None])[..., 0]
    return np.linalg.solve(a, b)


def _stacked_cholesky(op: Cholesky, x: np.ndarray, b: None) -> np.ndarray:
    x = x if op.lower else np.swapaxes(x, -1, -2)
    try:
        out = np.linalg.cholesky(x)
    except np.linalg.LinAlgError:
        if op.on_error != "nan":
            raise
        out = np.empty(x.shape, dtype=np.result_type(x.dtype, np.float32))
        for s in range(x.shape[0]):   # only to find the failing samples: they become NaN
            try:
                out[s] = np.linalg.cholesky(x[s])
            except np.linalg.LinAlgError:
                out[s] = np.nan
    return out if op.lower else np.swapaxes(out, -1, -2)


_NAMES = {MatrixInverse: "matrix_inverse", Det: "det", Solve: "solve", Cholesky: "cholesky"}


class StackedLinalg(BatchedApply):
    """``core_node``'s linear algebra op applied to a stack of matrices at once (numpy.linalg
    on stacks); ``batched[i]`` says which inputs carry the leading batch axis, the others are
    shared by every sample. Node building, shapes and derivatives are BatchedApply's."""

    def __init__(self, core_node: Apply, batched: Sequence[bool]):
        if type(core_node.op) not in _NAMES:
            raise TypeError(f"StackedLinalg: no stacked form of {core_node.op}")
        super().__init__(core_node, batched)

    def __str__(self) -> str:
        return f"Stacked{{{self.core_op}}}"

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        op = self.core_op
        name = _NAMES[type(op)]
        sizes = {x.shape[0] for x, b in zip(inputs, self.batched) if b}
        if len(sizes) != 1:
            raise ValueError(f"{self}: the batched inputs have different batch sizes {sorted(sizes)}")
        n = sizes.pop()
        a = inputs[0] if self.batched[0] else np.broadcast_to(inputs[0], (n,) + inputs[0].shape)
        if a.shape[-1] != a.shape[-2]:
            raise ValueError(f"{name}: the matrices must be square, got a stack of shape {a.shape}")
        try:
            if isinstance(op, Solve):
                b = inputs[1] if self.batched[1] else np.broadcast_to(inputs[1], (n,) + inputs[1].shape)
                if b.shape[1] != a.shape[1]:
                    raise ValueError(f"solve: a of shape {a.shape[1:]} and b of shape {b.shape[1:]} disagree: "
                                     f"b needs {a.shape[1]} rows")
                out = _stacked_solve(op, a, b, self.in_types[1].ndim == 1)
            else:
                out = {MatrixInverse: _stacked_inverse, Det: _stacked_det,
                       Cholesky: _stacked_cholesky}[type(op)](op, a, None)
        except np.linalg.LinAlgError as err:
            raise np.linalg.LinAlgError(f"{name}: {err} (in a batch of inputs of shape {a.shape})") from None
        output_storage[0][0] = np.ascontiguousarray(out, dtype=node.outputs[0].dtype)


def _stacked(op: Op, node: Apply, *inputs: Variable) -> list:
    """The op on the stack of matrices."""
    batched = [is_batched(a, b) for a, b in zip(inputs, node.inputs)]
    core = op.make_node(*[TensorType(i.dtype, shape=i.type.shape)() for i in node.inputs])
    return [StackedLinalg(core, batched)(*inputs)]


for _cls in _NAMES:
    register_vectorize(_cls)(_stacked)


def _diagonal_indices(n: Variable, m: Variable, k: int) -> tuple:
    """Row and column indices of the k-th diagonal of an n x m matrix."""
    length = A.maximum(0, A.minimum(n + min(k, 0), m - max(k, 0)))
    idx = A.arange(length, dtype="int64")
    return idx + max(-k, 0), idx + max(k, 0)


@register_vectorize(ExtractDiag)
def _vectorize_extract_diag(op: ExtractDiag, node: Apply, x: Variable) -> list:
    """``x[rows, cols]`` on the diagonal's indices."""
    def build(v: Variable) -> Variable:
        rows, cols = _diagonal_indices(shape_i(v, 0), shape_i(v, 1), op.offset)
        return A.getitem(v, (rows, cols))
    return via(node, [x], build)


@register_vectorize(AllocDiag)
def _vectorize_alloc_diag(op: AllocDiag, node: Apply, v: Variable) -> list:
    """Zeros with ``v`` written on the diagonal's indices."""
    def build(u: Variable) -> Variable:
        side = shape_i(u, 0) + abs(op.offset)
        rows, cols = _diagonal_indices(side, side, op.offset)
        return A.set_subtensor(A.getitem(A.zeros((side, side), dtype=u.dtype), (rows, cols)), u)
    return via(node, [v], build)
