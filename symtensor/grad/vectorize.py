"""Vectorizing a graph over a leading batch axis: ``vectorize_graph`` and ``vmap``.

``vectorize_graph(outputs, replace)`` rebuilds the graph of ``outputs`` with some inputs
replaced by versions that carry one extra leading (batch) axis. Each node that sees a batched
input is rebuilt by its op's batching rule (``vectorize_node``), so the result holds no loop:
``vmap(jacobian)`` of a batch is a single vectorized graph.

Rules for ops with inner graphs (OpFromGraph, fused elementwise programs) call the transform
recursively, so they live here and are registered by op class (``register_vectorize``). An op
without a batching rule (or one that declines the case at hand) falls back to ``PerSample``,
which applies the op to each sample in turn inside its ``perform``: correct for every op, but a
loop; the fall-back is logged (logger ``symtensor.grad.vectorize``) naming the op.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

import numpy as np

from ..graph.basic import Apply, Op, Variable, toposort
from ..graph.null import is_disconnected, is_null
from ..graph.type import TensorType
from ..ops import api as A
from ..ops.blas import CheckContraction
from ..ops.fused import FusedElemwise
from ..ops.opfromgraph import OpFromGraph
from ..ops.tile import RepeatGrad

log = logging.getLogger(__name__)

VECTORIZE_RULES: dict = {}


def register_vectorize(op_class: type) -> Callable:
    """Register ``fn(op, node, *batched_inputs) -> outputs`` as the batching rule of ``op_class``."""
    def deco(fn: Callable) -> Callable:
        VECTORIZE_RULES[op_class] = fn
        return fn
    return deco


def _is_batched(new: Variable, old: Variable) -> bool:
    """Whether ``new`` is ``old`` with a leading batch axis (never for non-tensor values such
    as random states, which are threaded through unchanged)."""
    if not isinstance(new.type, TensorType) or not isinstance(old.type, TensorType):
        return False
    return new.ndim == old.ndim + 1


def batch_size(variables: Sequence[Variable], originals: Sequence[Variable]) -> Variable:
    """The batch size (an int64 scalar) read from the first batched variable."""
    for new, old in zip(variables, originals):
        if _is_batched(new, old):
            return A.shape(new)[0] if new.type.shape[0] is None else A.constant(new.type.shape[0], dtype="int64")
    raise ValueError("no batched variable to read the batch size from")


def broadcast_to_batch(v: Variable, size: Any) -> Variable:
    """``v`` repeated ``size`` times along a new leading axis (for outputs that do not depend
    on the batched inputs)."""
    return A.alloc(v, size, *[A.shape(v)[i] for i in range(v.ndim)])


# ---------------------------------------------------------------------------------------------
# the transform
# ---------------------------------------------------------------------------------------------
def vectorize_node(node: Apply, *inputs: Variable) -> list:
    """The outputs of ``node`` recomputed on ``inputs``, some of which carry a leading batch
    axis: the registered rule, else the op's ``vectorize_node``, else ``PerSample``."""
    op = node.op
    rule = VECTORIZE_RULES.get(type(op))
    try:
        if rule is not None:
            outs = rule(op, node, *inputs)
        else:
            outs = op.vectorize_node(node, *inputs)
    except NotImplementedError as err:
        log.warning("vectorize: %s has no batching rule for these inputs (%s); it is applied to each "
                    "sample in turn (PerSample)", op, err)
        outs = per_sample(node, inputs)
    outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
    if len(outs) != len(node.outputs):
        raise ValueError(f"vectorize: the batching rule of {op} returned {len(outs)} outputs, expected "
                         f"{len(node.outputs)}")
    tensor = [isinstance(old.type, TensorType) for old in node.outputs]
    outs = [A.as_tensor_variable(o) if t else o for o, t in zip(outs, tensor)]
    for k, (new, old) in enumerate(zip(outs, node.outputs)):
        if tensor[k] and new.ndim not in (old.ndim, old.ndim + 1):
            raise ValueError(f"vectorize: the batching rule of {op} returned output {k} with {new.ndim} "
                             f"dimension(s); expected {old.ndim} (unbatched) or {old.ndim + 1} (batched)")
    return [_keep_static_shape(new, old) if t else new for new, old, t in zip(outs, node.outputs, tensor)]


def _keep_static_shape(new: Variable, old: Variable) -> Variable:
    """``new`` with the per-sample sizes ``old`` declares statically and a rule lost (a size-1
    axis must stay broadcastable for the nodes built on it), checked at run time."""
    lead = new.ndim - old.ndim
    known = new.type.shape[lead:]
    if all(o is None or o == n for o, n in zip(old.type.shape, known)):
        return new
    return A.specify_shape(new, new.type.shape[:lead] + tuple(n if o is None else o
                                                               for o, n in zip(old.type.shape, known)))


def vectorize_graph(outputs: Any, replace: dict) -> Any:
    """``outputs`` recomputed with ``replace`` applied, where a replacement with one more
    dimension than the variable it replaces is a batch of values along its leading axis.

    Replacements with the same number of dimensions are plain substitutions. Returns one
    variable or a list, as ``outputs`` was given. An output that does not depend on a batched
    replacement stays unbatched.
    """
    single = not isinstance(outputs, (list, tuple))
    outs = [outputs] if single else list(outputs)
    memo: dict = {}
    for old, new in replace.items():
        if not isinstance(old, Variable):
            raise TypeError(f"vectorize_graph: replace keys must be symbolic variables, got {old!r}")
        new = A.as_tensor_variable(new)
        if new.ndim not in (old.ndim, old.ndim + 1):
            raise ValueError(f"vectorize_graph: the replacement of {old} has {new.ndim} dimension(s); "
                             f"expected {old.ndim} or {old.ndim + 1} (one leading batch axis)")
        if new.dtype != old.dtype:
            new = A.cast(new, old.dtype)
        memo[old] = new
    for node in toposort(outs, blockers=memo.keys()):
        new_inputs = [memo.get(i, i) for i in node.inputs]
        if all(a is b for a, b in zip(new_inputs, node.inputs)):
            continue
        if any(_is_batched(a, b) for a, b in zip(new_inputs, node.inputs)):
            new_outputs = vectorize_node(node, *new_inputs)
        else:
            new_outputs = node.clone_with_new_inputs(new_inputs, strict=False).outputs
        memo.update(zip(node.outputs, new_outputs))
    result = [memo.get(o, o) for o in outs]
    return result[0] if single else (type(outputs)(result) if isinstance(outputs, tuple) else result)


def vmap(fn: Callable, in_axes: Any = 0) -> Callable:
    """``fn`` mapped over an axis of its arguments, with no loop in the graph.

    ``in_axes``: one int (every argument is mapped over that axis), or one entry per argument
    (an int, or None for an argument passed to ``fn`` as it is). ``fn`` receives per-sample
    variables and returns a variable, a list or a tuple; every result gets the batch axis
    first (results that do not depend on the mapped arguments are repeated).
    """
    def mapped(*args: Any) -> Any:
        axes = list(in_axes) if isinstance(in_axes, (list, tuple)) else [in_axes] * len(args)
        if len(axes) != len(args):
            raise ValueError(f"vmap: in_axes has {len(axes)} entries for {len(args)} arguments")
        inner, replace, batched = [], {}, []
        for k, (arg, axis) in enumerate(zip(args, axes)):
            if axis is None:
                inner.append(arg)
                continue
            per, moved = _per_sample_argument(k, A.as_tensor_variable(arg), axis)
            inner.append(per)
            replace[per] = moved
            batched.append(moved)
        if not batched:
            raise ValueError("vmap: no argument is mapped (every in_axes entry is None)")
        size = A.shape(batched[0])[0]
        out = fn(*inner)
        outs = list(out) if isinstance(out, (list, tuple)) else [A.as_tensor_variable(out)]
        outs = [A.as_tensor_variable(o) for o in outs]
        new = vectorize_graph(outs, replace)
        new = [n if _is_batched(n, o) else broadcast_to_batch(n, size) for n, o in zip(new, outs)]
        if not isinstance(out, (list, tuple)):
            return new[0]
        return tuple(new) if isinstance(out, tuple) else new
    mapped.__name__ = f"vmap_{getattr(fn, '__name__', 'fn')}"
    mapped.__doc__ = f"{getattr(fn, '__name__', 'fn')} mapped over a batch axis (in_axes={in_axes!r})."
    return mapped


def _per_sample_argument(k: int, arg: Variable, axis: Any) -> tuple:
    """A fresh per-sample variable for argument ``k`` and the argument with its mapped axis first."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"vmap: in_axes entry {k} must be an int or None, got {axis!r}")
    if not -arg.ndim <= axis < arg.ndim:
        raise ValueError(f"vmap: in_axes entry {k} is {axis}, out of range for argument {k}, which has "
                         f"{arg.ndim} dimension(s)")
    axis = int(axis) % arg.ndim
    moved = arg if axis == 0 else A.dimshuffle(arg, [axis] + [i for i in range(arg.ndim) if i != axis])
    per = TensorType(arg.dtype, shape=moved.type.shape[1:])(f"{arg.name}[i]" if arg.name else None)
    return per, moved


# ---------------------------------------------------------------------------------------------
# an op applied over a batch axis, and the fall-back: one application of the op per sample
# ---------------------------------------------------------------------------------------------
class BatchedApply(Op):
    """``core_node``'s op applied over a leading batch axis (``batched[i]`` says which inputs
    carry it; the others are shared by every sample): node building, shapes and derivative
    rules (the core op's rules, vectorized). Subclasses compute the values."""

    __props__ = ("core_op", "batched", "in_types")

    def __init__(self, core_node: Apply, batched: Sequence[bool]):
        self.core_op = core_node.op
        self.core_node = core_node
        self.batched = tuple(bool(b) for b in batched)
        self.in_types = tuple(i.type for i in core_node.inputs)

    def make_node(self, *inputs: Any) -> Apply:
        inputs = [A.as_tensor_variable(i) for i in inputs]
        if len(inputs) != len(self.in_types):
            raise TypeError(f"{self}: expected {len(self.in_types)} inputs, got {len(inputs)}")
        sizes = set()
        for k, (v, t, b) in enumerate(zip(inputs, self.in_types, self.batched)):
            if v.ndim != t.ndim + b or v.dtype != t.dtype:
                raise TypeError(f"{self}: input {k} is {v.type}, expected a {t.dtype} tensor with "
                                f"{t.ndim + b} dimension(s)")
            if b:
                sizes.add(v.type.shape[0])
        size = sizes.pop() if len(sizes) == 1 else None
        outs = [TensorType(o.dtype, shape=(size,) + o.type.shape)() for o in self.core_node.outputs]
        return Apply(self, inputs, outs)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        lead = next(s[0] for s, b in zip(input_shapes, self.batched) if b)
        per = [s[1:] if b else s for s, b in zip(input_shapes, self.batched)]
        return [(lead,) + tuple(out) for out in self.core_op.infer_shape(self.core_node, per)]

    def connection_pattern(self, node: Apply) -> list:
        return self.core_op.connection_pattern(self.core_node)

    def _core_variables(self) -> tuple:
        """Fresh per-sample inputs and the core op applied to them."""
        xs = [t() for t in self.in_types]
        return xs, self.core_op.make_node(*xs).outputs

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        """The core op's L_op, vectorized; inputs shared by the samples sum over the batch."""
        from . import rules
        xs, zs = self._core_variables()
        gs = [o.type() for o in zs]
        core = rules.l_op(self.core_op, xs, zs, gs)
        replace = dict(zip(xs, inputs))
        replace.update(zip(gs, output_grads))
        grads = []
        for g, x, b in zip(core, inputs, self.batched):
            if g is None or is_disconnected(g) or is_null(g):
                grads.append(g)
                continue
            g = vectorize_graph(A.as_tensor_variable(g), replace)
            if g.ndim == x.ndim + 1:         # a shared input: every sample contributes
                g = A.sum(g, axis=0)
            elif b and g.ndim == x.ndim - 1:  # independent of the batch: same for each sample
                g = broadcast_to_batch(g, A.shape(x)[0])
            grads.append(g)
        return grads

    def R_op(self, inputs: list, eval_points: list) -> list:
        """The core op's R_op, vectorized over the batched inputs and their tangents."""
        from . import rules
        xs, _ = self._core_variables()
        evs = [None if e is None else t() for t, e in zip(self.in_types, eval_points)]
        core = rules.r_op(self.core_op, xs, evs)
        replace = dict(zip(xs, inputs))
        replace.update((c, e) for c, e in zip(evs, eval_points) if c is not None)
        outs = self(*inputs)
        outs = outs if isinstance(outs, list) else [outs]
        result = []
        for t, z in zip(core, outs):
            if t is None:
                result.append(None)
                continue
            t = vectorize_graph(A.as_tensor_variable(t), replace)
            result.append(t if t.ndim == z.ndim else A.second(z, t))
        return result


class PerSample(BatchedApply):
    """The batching fall-back: the core op applied to each sample in turn, the results stacked."""

    def __str__(self) -> str:
        return f"PerSample{{{self.core_op}}}"

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        sizes = {x.shape[0] for x, b in zip(inputs, self.batched) if b}
        if len(sizes) != 1:
            raise ValueError(f"{self}: the batched inputs have different batch sizes {sorted(sizes)}")
        n = sizes.pop()
        results: list = [[] for _ in node.outputs]
        for s in range(n):
            cells = [[None] for _ in node.outputs]
            self.core_op.perform(self.core_node, [x[s] if b else x for x, b in zip(inputs, self.batched)], cells)
            for acc, cell in zip(results, cells):
                acc.append(np.asarray(cell[0]))
        for cell, acc, out, core in zip(output_storage, results, node.outputs, self.core_node.outputs):
            if acc:
                cell[0] = np.stack(acc).astype(out.dtype, copy=False)
            else:  # no sample: the per-sample shape is only known statically
                cell[0] = np.zeros((0,) + tuple(s or 0 for s in core.type.shape), dtype=out.dtype)


def per_sample(node: Apply, inputs: Sequence[Variable]) -> list:
    """``node`` applied sample by sample to ``inputs`` (the batching fall-back)."""
    batched = [_is_batched(a, b) for a, b in zip(inputs, node.inputs)]
    core = node.op.make_node(*[TensorType(i.dtype, shape=i.type.shape)() for i in node.inputs])
    out = PerSample(core, batched)(*inputs)
    return out if isinstance(out, list) else [out]


# ---------------------------------------------------------------------------------------------
# rules for ops without their own
# ---------------------------------------------------------------------------------------------
def _inline_and_vectorize(inner_inputs: Sequence[Variable], inner_outputs: Sequence[Variable],
                          inputs: Sequence[Variable]) -> list:
    """Inner graph outputs with the batched ``inputs`` substituted for its inputs."""
    return vectorize_graph(list(inner_outputs), dict(zip(inner_inputs, inputs)))


@register_vectorize(OpFromGraph)
def _vectorize_ofg(op: OpFromGraph, node: Apply, *inputs: Variable) -> list:
    """The inner graph, inlined and vectorized."""
    return _inline_and_vectorize(op.fgraph.inputs, op.fgraph.outputs, inputs)


@register_vectorize(FusedElemwise)
def _vectorize_fused(op: FusedElemwise, node: Apply, *inputs: Variable) -> list:
    """The elementwise program as Elemwise nodes, vectorized (each has a batching rule).

    The fused op broadcasts every output to the full shape; an inlined output that would
    keep a broadcastable axis declines the rule (the per-sample fall-back is exact)."""
    fg = op.inner_graphs()[0]
    outs = _inline_and_vectorize(fg.inputs, fg.outputs, inputs)
    for new, old in zip(outs, node.outputs):
        if new.broadcastable[new.ndim - old.ndim:] != old.broadcastable:
            raise NotImplementedError(f"{op}: an output keeps a broadcastable axis once inlined")
    return outs


@register_vectorize(CheckContraction)
def _vectorize_check_contraction(op: CheckContraction, node: Apply, a: Variable, b: Variable) -> list:
    """The same run-time check with the axes of batched operands shifted by one."""
    ba, bb = _is_batched(a, node.inputs[0]), _is_batched(b, node.inputs[1])
    pairs = [(i + ba, j + bb) for i, j in op.pairs]
    out = CheckContraction(pairs)(a, b)
    return [out]


@register_vectorize(RepeatGrad)
def _vectorize_repeat_grad(op: RepeatGrad, node: Apply, gz: Variable, repeats: Variable, n: Variable) -> list:
    """A batched gradient is segment-summed along the shifted axis; batched counts fall back."""
    if _is_batched(repeats, node.inputs[1]) or _is_batched(n, node.inputs[2]):
        raise NotImplementedError("RepeatGrad: batched repeat counts")
    return [RepeatGrad(op.axis + 1)(gz, repeats, n)]


from . import batching_rules  # noqa: E402,F401  (the rules of the other ops; they import this module)
