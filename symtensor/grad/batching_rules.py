"""Batching rules (for ``vectorize_graph``/``vmap``) of the ops that have none of their own.

Each rule receives the node and its new inputs, some of which carry one extra leading
(batch) axis, and returns the node's outputs for the whole batch built from ops that work on
the batch at once: a shifted axis, the batch folded into an axis the op already loops over,
or the op rewritten with ops that have batching rules. Sizes that are inputs (``arange``'s
length, ``eye``'s rows, ``bincount``'s length, ...) must be the same in every sample, as they
are for any batch stacked into one array; this is checked at run time (``SameInEverySample``).
A rule raises NotImplementedError (so the per-sample fall-back is used and logged) only for
cases with no batched form. Linear algebra is in ``batching_linalg``, scans in ``batching_scan``.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..graph.basic import Apply, Op, Variable
from ..graph.type import TensorType
from ..ops import api as A
from ..ops.alloc import ARange, Eye
from ..ops.conv_grad import Conv2dGradInputs, Conv2dGradWeights
from ..ops.extra_ops import BinCount, FillDiagonal, OneHot
from ..ops.gemm import Gemm
from ..ops.ifelse import IfElse
from ..ops.nnet import StableMax
from ..ops.nnet_xent import CrossentropyCategorical1Hot, CrossentropyCategorical1HotGrad, CrossentropySoftmax1Hot
from ..ops.random import RandomVariable
from ..ops.shape import shape_i
from ..ops.sort import PermuteAlongAxis
from .vectorize import batch_size, broadcast_to_batch, register_vectorize, vectorize_graph


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def is_batched(new: Variable, old: Variable) -> bool:
    """Whether ``new`` carries a batch axis in front of ``old``'s dimensions."""
    return isinstance(new.type, TensorType) and new.ndim == old.ndim + 1


def batched_like(v: Variable, old: Variable, size: Variable) -> Variable:
    """``v`` with a batch axis: itself when it has one, else repeated ``size`` times (with the
    static per-sample shape of ``old`` kept, so broadcastable patterns do not change)."""
    if is_batched(v, old):
        return v
    out = broadcast_to_batch(v, size)
    if out.type.shape[1:] != v.type.shape:
        out = A.specify_shape(out, (None,) + v.type.shape)
    return out


def pad_batch(v: Variable, old: Variable, ndim: int) -> Variable:
    """A batched ``v`` (``(B, *s)``) as ``(B, 1.., *s)`` with ``ndim`` per-sample dimensions, to
    broadcast against per-sample results of that rank; an unbatched ``v`` is left alone."""
    if not is_batched(v, old) or old.ndim == ndim:
        return v
    return A.dimshuffle(v, [0] + ["x"] * (ndim - old.ndim) + list(range(1, v.ndim)))


def via(node: Apply, inputs: Sequence[Variable], build: Callable) -> list:
    """The outputs of ``build(*per_sample_inputs)`` (a per-sample rewrite of ``node`` with ops
    that have batching rules), vectorized over ``inputs``."""
    replace = {}
    args = []
    for new, old in zip(inputs, node.inputs):
        if is_batched(new, old):   # a per-sample stand-in, replaced by the batch
            args.append(TensorType(old.dtype, shape=old.type.shape)())
            replace[args[-1]] = new
        else:                      # used as it is
            args.append(new)
    outs = build(*args)
    outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
    return vectorize_graph([A.as_tensor_variable(o) for o in outs], replace)


class SameInEverySample(Op):
    """The value shared by every entry of an int vector (one per sample), checked at run time:
    a size read from batched inputs must be the same in every sample. An empty batch gives 0."""

    __props__ = ("what",)

    def __init__(self, what: str):
        self.what = str(what)

    def __str__(self) -> str:
        return f"SameInEverySample{{{self.what}}}"

    def make_node(self, v: Any) -> Apply:
        v = A.as_tensor_variable(v)
        if v.ndim != 1 or v.dtype[0] not in "iu":
            raise TypeError(f"{self}: expected an integer vector (one value per sample), got {v.type}")
        return Apply(self, [v], [TensorType("int64", shape=())()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        (v,) = inputs
        if v.size and (v != v[0]).any():
            raise ValueError(f"vmap: {self.what} must be the same in every sample of the batch (the samples "
                             f"are stacked into one array), got {v.tolist()}")
        output_storage[0][0] = np.array(v[0] if v.size else 0, dtype="int64")

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [()]

    def connection_pattern(self, node: Apply) -> list:
        return [[False]]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        from ..graph.null import disconnected_type
        return [disconnected_type()]

    def R_op(self, inputs: list, eval_points: list) -> list:
        return [None]


def common_value(v: Variable, what: str) -> Variable:
    """An int scalar: ``v`` itself when unbatched, else its value, checked equal in every sample."""
    if v.ndim == 0:
        return v
    return SameInEverySample(what)(A.cast(v, "int64"))


# ---------------------------------------------------------------------------------------------
# arange, eye
# ---------------------------------------------------------------------------------------------
class _Inputs:
    """A stand-in node for an op's ``infer_shape`` evaluated on batched (elementwise) inputs."""

    def __init__(self, inputs: Sequence[Variable]):
        self.inputs = list(inputs)


@register_vectorize(ARange)
def _vectorize_arange(op: ARange, node: Apply, start: Variable, stop: Variable, step: Variable) -> list:
    """``start + i * step`` for ``i < n``, with the length ``n`` the same in every sample."""
    (length,) = op.infer_shape(_Inputs([start, stop, step]), [(), (), ()])[0]
    n = common_value(length, "the length of arange")
    work = "int64" if op.dtype[0] in "biu" and all(v.dtype[0] in "biu" for v in (start, step)) else "float64"
    i = A.arange(n, dtype=work)
    first = pad_batch(A.cast(start, work), node.inputs[0], 1)
    delta = pad_batch(A.cast(step, work), node.inputs[2], 1)
    return [A.cast(first + i * delta, op.dtype)]   # 1-d when only the stop was batched


@register_vectorize(Eye)
def _vectorize_eye(op: Eye, node: Apply, n: Variable, m: Variable, k: Variable) -> list:
    """Ones where ``col == row + k``; the shape must be the same in every sample."""
    rows = common_value(n, "the number of rows of eye")
    cols = common_value(m, "the number of columns of eye")
    if k.ndim == 0:
        return [Eye(op.dtype)(rows, cols, k)]
    r = A.dimshuffle(A.arange(rows, dtype="int64"), ["x", 0, "x"])
    c = A.dimshuffle(A.arange(cols, dtype="int64"), ["x", "x", 0])
    kk = A.dimshuffle(A.cast(k, "int64"), [0, "x", "x"])
    return [A.cast(A.eq(r + kk, c), op.dtype)]


# ---------------------------------------------------------------------------------------------
# bincount, fill_diagonal, to_one_hot
# ---------------------------------------------------------------------------------------------
@register_vectorize(BinCount)
def _vectorize_bincount(op: BinCount, node: Apply, *inputs: Variable) -> list:
    """One bincount of all samples, sample ``s`` shifted by ``s * length`` (the per-sample
    length, the same in every sample), reshaped to ``(B, length)``."""
    x, minlength = inputs[0], inputs[-1]
    size = batch_size(inputs, node.inputs)
    xb = A.cast(batched_like(x, node.inputs[0], size), "int64")
    top = A.max(A.concatenate([xb, A.alloc(A.constant(-1, dtype="int64"), size, 1)], axis=1), axis=1) + 1
    length = common_value(A.maximum(top, A.cast(minlength, "int64")), "the length of bincount")
    offset = A.dimshuffle(A.arange(size, dtype="int64"), [0, "x"]) * length
    shifted = A.flatten(A.switch(A.lt(xb, 0), xb, xb + offset))   # negative values stay negative (and raise)
    weights = [A.flatten(batched_like(inputs[1], node.inputs[1], size))] if op.weighted else []
    flat = BinCount(op.weighted)(shifted, *weights, size * length)
    return [A.reshape(flat, (size, length), ndim=2)]


@register_vectorize(FillDiagonal)
def _vectorize_fill_diagonal(op: FillDiagonal, node: Apply, a: Variable, val: Variable) -> list:
    """``switch(i_0 == i_1 == ..., val, a)`` over the per-sample axes."""
    a0 = node.inputs[0]
    nd = a0.ndim
    lead = 1 if is_batched(a, a0) else 0
    if nd > 2:   # numpy requires equal dimensions beyond 2-d; the per-sample op checks it too
        d0 = shape_i(a, lead)
        a = A.specify_shape(a, (None,) * lead + (d0,) * nd)
    idx = [A.dimshuffle(A.arange(shape_i(a, lead + j), dtype="int64"),
                        ["x" if i != j else 0 for i in range(nd)]) for j in range(nd)]
    mask = A.eq(idx[0], idx[1])
    for j in range(2, nd):
        mask = A.and_(mask, A.eq(idx[0], idx[j]))
    value = pad_batch(val, node.inputs[1], nd)
    return [A.cast(A.switch(mask, value, a), a0.dtype)]


@register_vectorize(OneHot)
def _vectorize_one_hot(op: OneHot, node: Apply, y: Variable, nb_class: Variable) -> list:
    """The labels of all samples encoded at once, reshaped to ``(B, n, nb_class)``."""
    nb = common_value(nb_class, "nb_class of to_one_hot")
    if not is_batched(y, node.inputs[0]):
        return [OneHot(op.dtype)(y, nb)]
    flat = OneHot(op.dtype)(A.flatten(y), nb)
    return [A.reshape(flat, (shape_i(y, 0), shape_i(y, 1), nb), ndim=3)]


# ---------------------------------------------------------------------------------------------
# gemm, ifelse
# ---------------------------------------------------------------------------------------------
@register_vectorize(Gemm)
def _vectorize_gemm(op: Gemm, node: Apply, *inputs: Variable) -> list:
    """``beta * z + alpha * dot(x, y)``, whose ops have batching rules (batched dot products)."""
    return via(node, inputs, lambda z, alpha, x, y, beta: A.cast(beta * z + alpha * A.dot(x, y),
                                                                  node.outputs[0].dtype))


@register_vectorize(IfElse)
def _vectorize_ifelse(op: IfElse, node: Apply, cond: Variable, *branches: Variable) -> list:
    """An unbatched condition picks between the branches (paired up to the same batching);
    a batched one selects per sample with ``switch``."""
    n = op.n_outs
    olds = node.inputs[1:]
    size = batch_size((cond,) + branches, node.inputs)
    if cond.ndim == 0:
        ts, fs = list(branches[:n]), list(branches[n:])
        for i in range(n):
            if is_batched(ts[i], olds[i]) != is_batched(fs[i], olds[n + i]):
                ts[i] = batched_like(ts[i], olds[i], size)
                fs[i] = batched_like(fs[i], olds[n + i], size)
        out = IfElse(n, name=op.name)(cond, *ts, *fs)
        return out if isinstance(out, list) else [out]
    outs = []
    for i in range(n):
        t, f, old = branches[i], branches[n + i], node.outputs[i]
        c = A.neq(A.dimshuffle(cond, [0] + ["x"] * old.ndim), 0)
        outs.append(A.cast(A.switch(c, t, f), old.dtype))
    return outs


# ---------------------------------------------------------------------------------------------
# nnet
# ---------------------------------------------------------------------------------------------
@register_vectorize(StableMax)
def _vectorize_stable_max(op: StableMax, node: Apply, x: Variable) -> list:
    """The same reduction, its axes one further right."""
    return [StableMax(tuple(a + 1 for a in op.axis))(x)]


def _rowwise(op: Op, node: Apply, inputs: Sequence[Variable]) -> list:
    """Ops over ``(..., classes)`` rows: the batch is one more leading axis of every input."""
    size = batch_size(inputs, node.inputs)
    return [op(*[batched_like(v, o, size) for v, o in zip(inputs, node.inputs)])]


for _cls in (CrossentropyCategorical1Hot, CrossentropyCategorical1HotGrad, CrossentropySoftmax1Hot):
    register_vectorize(_cls)(lambda op, node, *inputs: _rowwise(op, node, inputs))


@register_vectorize(PermuteAlongAxis)
def _vectorize_permute(op: PermuteAlongAxis, node: Apply, x: Variable, perm: Variable) -> list:
    """The same permutation one axis further right (``x`` and ``perm`` share their shape)."""
    size = batch_size((x, perm), node.inputs)
    return [PermuteAlongAxis(op.axis + 1)(batched_like(x, node.inputs[0], size),
                                          batched_like(perm, node.inputs[1], size))]


# ---------------------------------------------------------------------------------------------
# convolution gradients
# ---------------------------------------------------------------------------------------------
def _merge_first(v: Variable) -> Variable:
    """``(B, b, ...)`` -> ``(B * b, ...)``."""
    return A.reshape(v, [shape_i(v, 0) * shape_i(v, 1)] + [shape_i(v, i) for i in range(2, v.ndim)],
                     ndim=v.ndim - 1)


def _split_first(v: Variable, size: Variable) -> Variable:
    """``(B * b, ...)`` -> ``(B, b, ...)``."""
    return A.reshape(v, [size, shape_i(v, 0) // size] + [shape_i(v, i) for i in range(1, v.ndim)],
                     ndim=v.ndim + 1)


def _channels_to_groups(v: Variable) -> Variable:
    """``(B, b, c, h, w)`` -> ``(b, B * c, h, w)``: the samples as groups of channels."""
    moved = A.dimshuffle(v, [1, 0, 2, 3, 4])
    return A.reshape(moved, (shape_i(moved, 0), shape_i(moved, 1) * shape_i(moved, 2), shape_i(moved, 3),
                             shape_i(moved, 4)), ndim=4)


def _groups_to_batch(v: Variable, size: int) -> Variable:
    """``(b, B * c, h, w)`` -> ``(B, b, c, h, w)``."""
    split = A.reshape(v, (shape_i(v, 0), size, shape_i(v, 1) // size, shape_i(v, 2), shape_i(v, 3)), ndim=5)
    return A.dimshuffle(split, [1, 0, 2, 3, 4])


def _static_batch(*vs: Variable) -> int | None:
    """The batch size when the graph shows it (the samples can then be groups of one convolution)."""
    sizes = {v.type.shape[0] for v in vs if v is not None} - {None}
    return sizes.pop() if len(sizes) == 1 else None


def _conv_params(op: Op, groups: int = 1) -> dict:
    return {**op.params(), "imshp": None, "kshp": None, "num_groups": op.num_groups * groups}


def _split_groups(v: Variable, g: int, lead: int) -> list:
    """The sizes of ``v`` with axis ``lead`` (filters) split as ``(g, n // g)``."""
    dims = [shape_i(v, i) for i in range(v.ndim)]
    return dims[:lead] + [g, dims[lead] // g] + dims[lead + 1:]


def _masked_top(top: Variable, size: Variable, g: int) -> Variable:
    """``(B, b, f, oh, ow)`` -> ``(B * b, g * B * (f // g), oh, ow)``: the output gradient of
    sample ``s`` at filter ``(j, s', i)`` (group ``j``, sample ``s'``, filter ``i`` of the group)
    when ``s' == s``, else 0, so that one convolution over all samples' filters only pairs
    each sample with its own (used when the batch size is not known statically)."""
    t = A.reshape(top, _split_groups(top, g, 2), ndim=6)                 # (B, b, g, f/g, oh, ow)
    same = A.eq(A.dimshuffle(A.arange(size, dtype="int64"), [0, "x"]),
                A.dimshuffle(A.arange(size, dtype="int64"), ["x", 0]))
    mask = A.dimshuffle(A.cast(same, top.dtype), [0, "x", "x", 1, "x", "x", "x"])
    wide = A.dimshuffle(t, [0, 1, 2, "x", 3, 4, 5]) * mask              # (B, b, g, B, f/g, oh, ow)
    return A.reshape(wide, (shape_i(top, 0) * shape_i(top, 1), g * size * (shape_i(top, 2) // g),
                            shape_i(top, 3), shape_i(top, 4)), ndim=4)


def _filters_by_group(kern: Variable, g: int) -> Variable:
    """``(B, f, cg, kh, kw)`` -> ``(g * B * (f // g), cg, kh, kw)``, ordered as ``_masked_top``."""
    k = A.dimshuffle(A.reshape(kern, _split_groups(kern, g, 1), ndim=6), [1, 0, 2, 3, 4, 5])
    return A.reshape(k, [shape_i(k, 0) * shape_i(k, 1) * shape_i(k, 2)] + [shape_i(k, i) for i in (3, 4, 5)],
                     ndim=4)


def _filters_by_sample(flat: Variable, size: Variable, g: int) -> Variable:
    """The inverse of ``_filters_by_group``: ``(g * B * (f // g), ...)`` -> ``(B, f, ...)``."""
    dims = [shape_i(flat, i) for i in range(1, 4)]
    k = A.reshape(flat, [g, size, shape_i(flat, 0) // (g * size)] + dims, ndim=6)
    k = A.dimshuffle(k, [1, 0, 2, 3, 4, 5])
    return A.reshape(k, [size, g * shape_i(k, 2)] + dims, ndim=5)


@register_vectorize(Conv2dGradInputs)
def _vectorize_conv_grad_inputs(op: Conv2dGradInputs, node: Apply, kern: Variable, top: Variable,
                                rows: Variable, cols: Variable) -> list:
    """Batched output gradients only: folded into the image batch. Batched filters: every
    sample's filters are a group of one grouped convolution gradient (a static batch size),
    or the filters of all samples are stacked and each sample's output gradient is zero
    against the other samples' filters."""
    k0, t0 = node.inputs[:2]
    if rows.ndim or cols.ndim:
        raise NotImplementedError(f"{op}: the input rows/columns differ per sample")
    if not is_batched(kern, k0):
        out = Conv2dGradInputs(**_conv_params(op))(kern, _merge_first(top), (rows, cols))
        return [_split_first(out, shape_i(top, 0))]
    static = _static_batch(kern, top if is_batched(top, t0) else None)
    size = A.constant(static, dtype="int64") if static is not None else shape_i(kern, 0)
    top = batched_like(top, t0, size)
    if static is not None:
        out = Conv2dGradInputs(**_conv_params(op, static))(_merge_first(kern), _channels_to_groups(top),
                                                           (rows, cols))
        return [_groups_to_batch(out, static)]
    g = op.num_groups
    out = Conv2dGradInputs(**_conv_params(op))(_filters_by_group(kern, g), _masked_top(top, size, g),
                                               (rows, cols))
    return [_split_first(out, size)]


@register_vectorize(Conv2dGradWeights)
def _vectorize_conv_grad_weights(op: Conv2dGradWeights, node: Apply, img: Variable, top: Variable,
                                 rows: Variable, cols: Variable) -> list:
    """Every sample's images and output gradients are a group of one grouped filter gradient
    (a static batch size), or the images of all samples are one batch whose output gradient
    is zero against the other samples' filters."""
    i0, t0 = node.inputs[:2]
    if rows.ndim or cols.ndim:
        raise NotImplementedError(f"{op}: the filter rows/columns differ per sample")
    static = _static_batch(img if is_batched(img, i0) else None, top if is_batched(top, t0) else None)
    size = A.constant(static, dtype="int64") if static is not None else batch_size((img, top), (i0, t0))
    img, top = batched_like(img, i0, size), batched_like(top, t0, size)
    if static is not None:
        out = Conv2dGradWeights(**_conv_params(op, static))(_channels_to_groups(img), _channels_to_groups(top),
                                                            (rows, cols))
        return [_split_first(out, size)]                  # (B * f, cg, kh, kw) -> (B, f, cg, kh, kw)
    g = op.num_groups
    out = Conv2dGradWeights(**_conv_params(op))(_merge_first(img), _masked_top(top, size, g), (rows, cols))
    return [_filters_by_sample(out, size, g)]


# ---------------------------------------------------------------------------------------------
# random variables
# ---------------------------------------------------------------------------------------------
_ELEMENTWISE_DISTS = ("binomial", "poisson", "integers")


@register_vectorize(RandomVariable)
def _vectorize_random(op: RandomVariable, node: Apply, rng: Variable, *rest: Variable) -> list:
    """Batched parameters of an elementwise distribution: one draw of size ``(B, *size)``
    with the parameters as ``(B, 1.., *param)``. The samples get independent draws."""
    _, params0, size0 = op._split(node.inputs)
    _, params, size = op._split((rng,) + rest)
    if any(s.ndim for s in size):
        raise NotImplementedError(f"{op}: the size differs per sample")
    if op.dist not in _ELEMENTWISE_DISTS:
        raise NotImplementedError(f"{op}: batched parameters of {op.dist!r} (only {_ELEMENTWISE_DISTS} "
                                  f"broadcast their parameters against the size)")
    n = batch_size(params, params0)
    nd = len(size)
    if any(p0.ndim > nd for p0 in params0):
        raise NotImplementedError(f"{op}: a parameter with more dimensions than the size")
    padded = [pad_batch(p, p0, nd) for p, p0 in zip(params, params0)]
    return op.make_node(rng, *padded, n, *size).outputs


from . import batching_linalg, batching_scan  # noqa: E402,F401  (more rules; they import this module)
