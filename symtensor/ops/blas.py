"""Linear algebra products: the ``Dot`` op (vectors and matrices, numpy.dot semantics) and
``BatchedDot`` (a matrix product per entry of a leading batch axis), plus ``dot``,
``tensordot``, ``outer``, ``batched_dot`` and ``batched_tensordot`` built on them.

Higher-rank contractions are expressed as dimshuffle + reshape + one of the two ops, so a
backend only has to render ``Dot`` and ``BatchedDot`` (through BLAS gemm/gemv/dot) and
every product gets its gradient from theirs.
"""
from __future__ import annotations

import builtins
from typing import Any, Sequence

import numpy as np

from ..config import config
from ..graph.basic import Apply, Op, Variable
from ..graph.null import disconnected_type
from ..graph.type import TensorType, upcast
from .basic import as_tensor_variable, is_python_scalar
from .elemwise import cast, dimshuffle


def _api():
    from . import api
    return api


def _differentiable(x: Variable) -> bool:
    return x.dtype[0] in "fc"


def _zero_grad(x: Variable) -> Variable:
    return _api().zeros_like(x, dtype=x.dtype if _differentiable(x) else config.floatX)


def _grad_like(g: Variable, x: Variable) -> Variable:
    """``g`` with the dtype and broadcastable pattern of ``x`` (a gradient of ``x``)."""
    if not _differentiable(x):
        return _zero_grad(x)
    g = cast(g, x.dtype)
    if g.broadcastable != x.broadcastable:
        from .shape import specify_broadcastable_like
        g = specify_broadcastable_like(g, x)
    return g


def _add_terms(terms: list, dtype: str) -> Variable | None:
    terms = [t for t in terms if t is not None]
    if not terms:
        return None
    out = terms[0] if len(terms) == 1 else _api().add(*terms)
    return cast(out, dtype)


def _is_batched(new: Variable, orig: Variable) -> bool:
    return new is not orig and new.ndim == orig.ndim + 1


# ---------------------------------------------------------------------------------------------
# Dot
# ---------------------------------------------------------------------------------------------
class Dot(Op):
    """numpy.dot of two operands that are each a vector or a matrix.

    matrix x matrix -> matrix, matrix x vector -> vector, vector x matrix -> vector,
    vector x vector -> scalar. The contracted dimensions are x's last and y's first; they
    must be equal (no broadcasting). The output dtype is numpy's promotion of the two.
    """

    __props__ = ()

    def make_node(self, x: Any, y: Any) -> Apply:
        x, y = as_tensor_variable(x), as_tensor_variable(y)
        for name, v in (("x", x), ("y", y)):
            if v.ndim not in (1, 2):
                raise TypeError(f"Dot: {name} must be a vector or a matrix, got a {v.ndim}-d tensor "
                                f"({v.type}); use dot() or tensordot() for other ranks")
        kx, ky = x.type.shape[-1], y.type.shape[0]
        if kx is not None and ky is not None and kx != ky:
            raise ValueError(f"Dot: shapes {x.type.shape} and {y.type.shape} are not aligned: "
                             f"dimension {x.ndim - 1} of x has size {kx} but dimension 0 of y has "
                             f"size {ky}")
        shape = x.type.shape[:-1] + y.type.shape[1:]
        return Apply(self, [x, y], [TensorType(upcast(x.dtype, y.dtype), shape=shape)()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        x, y = inputs
        if x.shape[-1] != y.shape[0]:
            raise ValueError(f"Dot: shapes {x.shape} and {y.shape} are not aligned: dimension "
                             f"{x.ndim - 1} of x has size {x.shape[-1]} but dimension 0 of y has "
                             f"size {y.shape[0]}")
        out_dtype = node.outputs[0].dtype
        output_storage[0][0] = np.asarray(np.dot(x, y), dtype=out_dtype)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        xs, ys = input_shapes
        return [tuple(xs[:-1]) + tuple(ys[1:])]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        x, y = inputs
        gz = as_tensor_variable(output_grads[0])
        if not _differentiable(outputs[0]):
            return [_zero_grad(x), _zero_grad(y)]
        gx = gy = None
        if _differentiable(x):
            if y.ndim == 1:        # (n,) x (n,) -> () or (m, n) x (n,) -> (m,)
                gx = gz * y if x.ndim == 1 else outer(gz, y)
            else:                  # (n,) x (n, p) -> (p,) or (m, n) x (n, p) -> (m, p)
                gx = dot(gz, y.T)
        if _differentiable(y):
            if x.ndim == 1:        # (n,) x (n,) -> () or (n,) x (n, p) -> (p,)
                gy = gz * x if y.ndim == 1 else outer(x, gz)
            else:                  # (m, n) x (n,) -> (m,) or (m, n) x (n, p) -> (m, p)
                gy = dot(x.T, gz)
        return [_grad_like(gx, x), _grad_like(gy, y)]

    def R_op(self, inputs: list, eval_points: list) -> list:
        x, y = inputs
        ex, ey = eval_points
        dtype = upcast(x.dtype, y.dtype)
        return [_add_terms([None if ex is None else self(ex, y),
                            None if ey is None else self(x, ey)], dtype)]

    def vectorize_node(self, node: Apply, bx: Variable, by: Variable) -> list:
        x, y = node.inputs
        xb, yb = _is_batched(bx, x), _is_batched(by, y)
        if xb and yb:
            return [batched_dot(bx, by)]
        if xb:   # (B, [m,] n) with y: numpy.dot contracts the last axis of bx with y's first
            return [dot(bx, by)]
        if yb:   # x with (B, n, [p]): contract, then move the batch axis to the front
            out = tensordot(bx, by, [[bx.ndim - 1], [1]])
            if x.ndim == 2:
                out = dimshuffle(out, [1, 0] + list(range(2, out.ndim)))
            return [out]
        return [self(bx, by)]

    def pp_format(self, node: Apply, args: list) -> str:
        return f"dot({args[0]}, {args[1]})"


_dot = Dot()


# ---------------------------------------------------------------------------------------------
# BatchedDot
# ---------------------------------------------------------------------------------------------
class BatchedDot(Op):
    """A matrix product for each entry of the leading (batch) axis, without a Python loop.

    (b, n) x (b, n) -> (b,); (b, m, n) x (b, n) -> (b, m); (b, n) x (b, n, p) -> (b, p);
    (b, m, n) x (b, n, p) -> (b, m, p). Both operands must have the same batch size.
    """

    __props__ = ()

    def make_node(self, x: Any, y: Any) -> Apply:
        x, y = as_tensor_variable(x), as_tensor_variable(y)
        for name, v in (("x", x), ("y", y)):
            if v.ndim not in (2, 3):
                raise TypeError(f"BatchedDot: {name} must be a 2-d or 3-d tensor (a batch of vectors "
                                f"or matrices), got a {v.ndim}-d tensor ({v.type})")
        bx, by = x.type.shape[0], y.type.shape[0]
        if bx is not None and by is not None and bx != by:
            raise ValueError(f"BatchedDot: shapes {x.type.shape} and {y.type.shape} have different "
                             f"batch sizes {bx} and {by} (dimension 0)")
        kx, ky = x.type.shape[-1], y.type.shape[1]
        if kx is not None and ky is not None and kx != ky:
            raise ValueError(f"BatchedDot: shapes {x.type.shape} and {y.type.shape} are not aligned: "
                             f"dimension {x.ndim - 1} of x has size {kx} but dimension 1 of y has "
                             f"size {ky}")
        batch = bx if bx is not None else by
        shape = (batch,) + x.type.shape[1:-1] + y.type.shape[2:]
        return Apply(self, [x, y], [TensorType(upcast(x.dtype, y.dtype), shape=shape)()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        x, y = inputs
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"BatchedDot: inputs must have the same batch size (dimension 0), got "
                             f"shapes {x.shape} and {y.shape}")
        if x.shape[-1] != y.shape[1]:
            raise ValueError(f"BatchedDot: shapes {x.shape} and {y.shape} are not aligned: dimension "
                             f"{x.ndim - 1} of x has size {x.shape[-1]} but dimension 1 of y has "
                             f"size {y.shape[1]}")
        x3 = x if x.ndim == 3 else x[:, None, :]
        y3 = y if y.ndim == 3 else y[:, :, None]
        z = np.matmul(x3, y3)
        if y.ndim == 2:
            z = z[:, :, 0]
        if x.ndim == 2:
            z = z[:, 0]
        output_storage[0][0] = np.asarray(z, dtype=node.outputs[0].dtype)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        xs, ys = input_shapes
        return [(xs[0],) + tuple(xs[1:-1]) + tuple(ys[2:])]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        x, y = inputs
        gz = as_tensor_variable(output_grads[0])
        if not _differentiable(outputs[0]):
            return [_zero_grad(x), _zero_grad(y)]
        if x.ndim == 2 and y.ndim == 2:      # gz: (b,)
            gx, gy = gz.dimshuffle(0, "x") * y, gz.dimshuffle(0, "x") * x
        elif x.ndim == 2:                    # (b, n) x (b, n, p); gz: (b, p)
            gx = batched_dot(gz, y.dimshuffle(0, 2, 1))
            gy = x.dimshuffle(0, 1, "x") * gz.dimshuffle(0, "x", 1)
        elif y.ndim == 2:                    # (b, m, n) x (b, n); gz: (b, m)
            gx = gz.dimshuffle(0, 1, "x") * y.dimshuffle(0, "x", 1)
            gy = batched_dot(x.dimshuffle(0, 2, 1), gz)
        else:                                # (b, m, n) x (b, n, p); gz: (b, m, p)
            gx = batched_dot(gz, y.dimshuffle(0, 2, 1))
            gy = batched_dot(x.dimshuffle(0, 2, 1), gz)
        return [_grad_like(gx, x), _grad_like(gy, y)]

    def R_op(self, inputs: list, eval_points: list) -> list:
        x, y = inputs
        ex, ey = eval_points
        dtype = upcast(x.dtype, y.dtype)
        return [_add_terms([None if ex is None else self(ex, y),
                            None if ey is None else self(x, ey)], dtype)]

    def vectorize_node(self, node: Apply, bx: Variable, by: Variable) -> list:
        x, y = node.inputs
        xb, yb = _is_batched(bx, x), _is_batched(by, y)
        if not (xb or yb):
            return [self(bx, by)]
        # New leading axis C, existing batch axis B: contract with the batch axes (C, B) shared
        # when both carry C, or with B shared and C an ordinary axis of the batched operand.
        if xb and yb:
            axes = [[bx.ndim - 1], [2]]
            return [_contract(bx, by, axes[0], axes[1], n_batch=2)]
        if xb:   # bx: (C, B, [m,] n), y: (B, n, [p]) -> (C, B, [m,] [p])
            xt = dimshuffle(bx, [1, 0] + list(range(2, bx.ndim)))
            out = _contract(xt, y, [xt.ndim - 1], [1], n_batch=1)     # (B, C, [m,] [p])
            return [dimshuffle(out, [1, 0] + list(range(2, out.ndim)))]
        # x: (B, [m,] n), by: (C, B, n, [p]) -> (C, B, [m,] [p])
        yt = dimshuffle(by, [1] + list(range(2, by.ndim)) + [0])        # (B, n, [p,] C)
        out = _contract(x, yt, [x.ndim - 1], [1], n_batch=1)           # (B, [m,] [p,] C)
        return [dimshuffle(out, [out.ndim - 1] + list(range(out.ndim - 1)))]


_batched_dot = BatchedDot()


# ---------------------------------------------------------------------------------------------
# run-time check of multi-axis contractions (a reshape would only compare their products)
# ---------------------------------------------------------------------------------------------
class CheckContraction(Op):
    """The identity on ``a`` that checks, at run time, ``a.shape[i] == b.shape[j]`` for each
    ``(i, j)`` in ``pairs``: tensordot merges contracted axes with a reshape, which alone
    would accept (2, 3) against (3, 2)."""

    __props__ = ("pairs",)
    view_map = {0: [0]}

    def __init__(self, pairs: Sequence):
        self.pairs = tuple((int(i), int(j)) for i, j in pairs)

    def make_node(self, a: Any, b: Any) -> Apply:
        a, b = as_tensor_variable(a), as_tensor_variable(b)
        for i, j in self.pairs:
            if not (0 <= i < a.ndim and 0 <= j < b.ndim):
                raise ValueError(f"{self}: axis pair ({i}, {j}) is out of range for a {a.ndim}-d and "
                                 f"a {b.ndim}-d tensor")
        return Apply(self, [a, b], [a.type()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        a, b = inputs
        for i, j in self.pairs:
            if a.shape[i] != b.shape[j]:
                raise ValueError(f"shape mismatch in a contraction: dimension {i} of the first operand "
                                 f"(shape {a.shape}) has size {a.shape[i]}, but dimension {j} of the "
                                 f"second (shape {b.shape}) has size {b.shape[j]}")
        output_storage[0][0] = a

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [input_shapes[0]]

    def connection_pattern(self, node: Apply) -> list:
        return [[True], [False]]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        return [output_grads[0], disconnected_type()]

    def R_op(self, inputs: list, eval_points: list) -> list:
        return [eval_points[0]]


# ---------------------------------------------------------------------------------------------
# contraction through reshape + Dot / BatchedDot
# ---------------------------------------------------------------------------------------------
def _dim(x: Variable, axis: int) -> Any:
    """``x.shape[axis]`` as an int when statically known, else a symbolic scalar."""
    from .shape import shape_i
    s = x.type.shape[axis]
    return s if s is not None else shape_i(x, axis)


def _prod(dims: list) -> Any:
    """Product of dims (ints and scalars); an int when every dim is known."""
    known = int(np.prod([d for d in dims if isinstance(d, int)], dtype="int64"))
    sym = [d for d in dims if not isinstance(d, int)]
    if not sym:
        return known
    out = sym[0] if len(sym) == 1 else _api().mul(*sym)
    return out if known == 1 else out * known


def _reshape_to(x: Variable, groups: list) -> Variable:
    """Merge consecutive axes of ``x``: ``groups`` lists the number of axes of each output
    dimension (0 gives a dimension of size 1). A no-op when every group is a single axis."""
    if all(g == 1 for g in groups) and len(groups) == x.ndim:
        return x
    from .shape import reshape
    entries, start = [], 0
    for g in groups:
        entries.append(_prod([_dim(x, a) for a in range(start, start + g)]))
        start += g
    return reshape(x, entries, ndim=len(entries))


def _contract(a: Variable, b: Variable, axes_a: list, axes_b: list, n_batch: int) -> Variable:
    """Contract ``axes_a`` of ``a`` with ``axes_b`` of ``b``; the first ``n_batch`` axes of both
    are batch axes (0: Dot, else BatchedDot over the merged batch axes). The result's axes are
    the batch axes, then a's free axes, then b's, in order."""
    batch = list(range(n_batch))
    free_a = [i for i in range(a.ndim) if i not in axes_a and i not in batch]
    free_b = [i for i in range(b.ndim) if i not in axes_b and i not in batch]
    # a merged group of several axes is only checked as a product by the reshapes
    merged = (list(zip(batch, batch)) if n_batch > 1 else []) + \
        (list(zip(axes_a, axes_b)) if len(axes_a) > 1 else [])
    for i, j in merged:
        sa, sb = a.type.shape[i], b.type.shape[j]
        if sa is not None and sb is not None and sa != sb:
            raise ValueError(f"shape mismatch: dimension {i} of {a.type.shape} has size {sa} but "
                             f"dimension {j} of {b.type.shape} has size {sb}")
    unchecked = [(i, j) for i, j in merged if a.type.shape[i] is None or b.type.shape[j] is None]
    if unchecked:
        a = CheckContraction(unchecked)(a, b)
    # the symbolic output shape, read from the operands before they are reshaped
    out_dims = ([a.type.shape[i] if a.type.shape[i] is not None else _dim(b, i) for i in batch]
                + [_dim(a, i) for i in free_a] + [_dim(b, j) for j in free_b])
    a = dimshuffle(a, batch + free_a + list(axes_a))
    b = dimshuffle(b, batch + list(axes_b) + free_b)
    nb_groups = [n_batch] if n_batch else []
    a = _reshape_to(a, nb_groups + ([len(free_a)] if free_a else []) + [len(axes_a)])
    b = _reshape_to(b, nb_groups + [len(axes_b)] + ([len(free_b)] if free_b else []))
    out = _batched_dot(a, b) if n_batch else _dot(a, b)
    if len(out_dims) != out.ndim or n_batch > 1 or len(free_a) > 1 or len(free_b) > 1:
        from .shape import reshape
        out = reshape(out, out_dims, ndim=len(out_dims))
    return out


def _normalize_axes(a: Variable, b: Variable, axes: Any, batched: bool, who: str) -> tuple:
    """numpy/Theano tensordot ``axes`` (an int, or a pair of ints or int sequences) as two lists
    of non-negative axes; checks ranges, repeats and statically known sizes."""
    first = 1 if batched else 0
    if isinstance(axes, (int, np.integer)) and not isinstance(axes, bool):
        n = int(axes)
        if n < 0:
            raise ValueError(f"{who}: axes must be non-negative, got {n}")
        for name, v in (("a", a), ("b", b)):
            if n > v.ndim - first:
                extra = " besides the batch axis" if batched else ""
                raise ValueError(f"{who}: cannot contract {n} axes of {name}, which has {v.ndim} "
                                 f"dimension(s){extra}")
        axes_a = list(range(a.ndim - n, a.ndim))
        axes_b = list(range(first, first + n))
    else:
        try:
            pair = list(axes)
        except TypeError:
            raise TypeError(f"{who}: axes must be an int or a pair of axis lists, got {axes!r}") from None
        if len(pair) != 2:
            raise ValueError(f"{who}: axes must be an int or a pair of axis lists, got {axes!r}")
        lists = []
        for name, v, ax in (("a", a, pair[0]), ("b", b, pair[1])):
            ax = [ax] if isinstance(ax, (int, np.integer)) else list(ax)
            norm = []
            for i in ax:
                if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
                    raise TypeError(f"{who}: axes entries must be ints, got {i!r}")
                if not -v.ndim <= int(i) < v.ndim:
                    raise ValueError(f"{who}: axis {int(i)} is out of range for {name}, which has "
                                     f"{v.ndim} dimension(s)")
                norm.append(int(i) % v.ndim)
            if len(set(norm)) != len(norm):
                raise ValueError(f"{who}: axes for {name} repeat an axis: {ax}")
            if batched and 0 in norm:
                raise ValueError(f"{who}: axes to sum over must not include the batch axis 0 of "
                                 f"{name} (got {ax})")
            lists.append(norm)
        axes_a, axes_b = lists
        if len(axes_a) != len(axes_b):
            raise ValueError(f"{who}: axes {axes_a} of a and {axes_b} of b differ in length")
    for i, j in zip(axes_a, axes_b):
        sa, sb = a.type.shape[i], b.type.shape[j]
        if sa is not None and sb is not None and sa != sb:
            raise ValueError(f"{who}: shape mismatch: dimension {i} of a (shape {a.type.shape}) has "
                             f"size {sa} but dimension {j} of b (shape {b.type.shape}) has size {sb}")
    if batched:
        sa, sb = a.type.shape[0], b.type.shape[0]
        if sa is not None and sb is not None and sa != sb:
            raise ValueError(f"{who}: batch sizes differ: a has shape {a.type.shape}, b has shape "
                             f"{b.type.shape}")
    return axes_a, axes_b


# ---------------------------------------------------------------------------------------------
# public functions
# ---------------------------------------------------------------------------------------------
def dot(a: Any, b: Any) -> Variable:
    """Theano's ``dot`` (numpy.dot semantics): elementwise product if either is a scalar,
    the ``Dot`` op for vectors and matrices, else a sum product over a's last axis and b's
    second-to-last (``tensordot``)."""
    if is_python_scalar(a) or is_python_scalar(b):
        return _api().mul(a, b)
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        return _api().mul(a, b)
    if a.ndim > 2 or b.ndim > 2:
        return tensordot(a, b, [[a.ndim - 1], [builtins.max(0, b.ndim - 2)]])
    return _dot(a, b)


def tensordot(a: Any, b: Any, axes: Any = 2) -> Variable:
    """numpy.tensordot: sum products over ``axes`` (an int n: a's last n axes with b's first n;
    or a pair of axis lists). Built from dimshuffle, reshape and ``Dot``."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    axes_a, axes_b = _normalize_axes(a, b, axes, batched=False, who="tensordot")
    return _contract(a, b, axes_a, axes_b, n_batch=0)


def outer(x: Any, y: Any) -> Variable:
    """Outer product of two vectors (operands of other ranks are flattened first)."""
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    if x.ndim != 1:
        x = _api().flatten(x)
    if y.ndim != 1:
        y = _api().flatten(y)
    return _dot(x.dimshuffle(0, "x"), y.dimshuffle("x", 0))


def batched_dot(a: Any, b: Any) -> Variable:
    """Theano's ``batched_dot``: ``dot(a[i], b[i])`` for every i of the leading axis.

    A 1-d operand scales the other per batch entry; ranks 2 and 3 use ``BatchedDot``; higher
    ranks contract a's last axis with b's second-to-last (``batched_tensordot``)."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if a.ndim == 0:
        raise TypeError("batched_dot: a must have at least one (batch) axis")
    if b.ndim == 0:
        raise TypeError("batched_dot: b must have at least one (batch) axis")
    if a.ndim == 1:
        return a.dimshuffle(*([0] + ["x"] * (b.ndim - 1))) * b
    if b.ndim == 1:
        return a * b.dimshuffle(*([0] + ["x"] * (a.ndim - 1)))
    if a.ndim > 3 or b.ndim > 3:
        return batched_tensordot(a, b, [[a.ndim - 1], [builtins.max(1, b.ndim - 2)]])
    return _batched_dot(a, b)


def batched_tensordot(x: Any, y: Any, axes: Any = 2) -> Variable:
    """Theano's ``batched_tensordot``: ``tensordot(x[i], y[i], axes)`` for every i of the
    leading axis. An int n contracts x's last n axes with y's axes 1..n; a pair of lists
    names the axes (counting the batch axis, which must not be among them)."""
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    axes_x, axes_y = _normalize_axes(x, y, axes, batched=True, who="batched_tensordot")
    return _contract(x, y, axes_x, axes_y, n_batch=1)
