"""FusedReduce: elementwise steps and the reduction that consumes them, in one loop.

The fusion rewrite turns ``CAReduce(program(x, y, ...))`` -- a reduction whose input is
computed by an Elemwise or FusedElemwise node used nowhere else -- into one FusedReduce
node, so ``(x ** 2).sum(axis=1)`` or ``exp(z - m).sum(axis=1)`` computes each element and
accumulates it at once, with no intermediate array.

The op holds the elementwise ``program`` (the same hashable data as FusedElemwise's, see
ops/fused.py), the input types, the type of the elementwise result (``elem_type``) and the
``CAReduce`` applied to it (``reducer``), whose dtype/accumulator semantics it keeps
exactly: its numpy ``perform`` is ``evaluate_program`` followed by the reducer's perform.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph.basic import Apply, Op, Variable
from ..graph.fg import FunctionGraph
from ..graph.type import TensorType
from .basic import constant
from .fused import evaluate_program, program_graph, program_inputs
from .reduce import CAReduce


class FusedReduce(Op):
    """``reducer(program(*inputs))`` computed in one pass over the inputs.

    ``program`` is a one-output elementwise program over ``len(in_types)`` inputs, all of
    rank ``elem_type.ndim``; its result (of type ``elem_type``) is broadcast over the
    inputs' shapes and reduced by ``reducer`` (a CAReduce)."""

    _transient = ("_fgraph",)

    __props__ = ("program", "in_types", "elem_type", "reducer")

    def __init__(self, program: tuple, in_types: tuple, elem_type: TensorType, reducer: CAReduce):
        if not isinstance(reducer, CAReduce):
            raise TypeError(f"FusedReduce: reducer must be a CAReduce, got {reducer!r}")
        if len(program[2]) != 1:
            raise ValueError(f"FusedReduce: the program must have one output, got {len(program[2])}")
        if len(in_types) != program[0]:
            raise ValueError(f"FusedReduce: the program takes {program[0]} input(s) but "
                             f"{len(in_types)} input type(s) were given")
        step_dtype = program[1][program[2][0]][2]
        if step_dtype != elem_type.dtype:
            raise TypeError(f"FusedReduce: the program computes {step_dtype} but elem_type is "
                            f"{elem_type.dtype}")
        self.program = program
        self.in_types = tuple(in_types)
        self.elem_type = elem_type
        self.reducer = reducer
        self._fgraph: FunctionGraph | None = None

    def __str__(self) -> str:
        names = "|".join(str(s[0]) for s in self.program[1])
        return f"FusedReduce{{{names}->{self.reducer}}}"

    @property
    def n_inputs(self) -> int:
        return self.program[0]

    def make_node(self, *inputs: Any) -> Apply:
        inputs = program_inputs(self, inputs, self.elem_type.ndim, self.in_types)
        for k, (i, t) in enumerate(zip(inputs, self.in_types)):
            if any(b and not ib for b, ib in zip(t.broadcastable, i.broadcastable)):
                raise TypeError(f"{self}: input {k} has broadcastable pattern {i.broadcastable}, but the "
                                f"program was built for {t.broadcastable} (use addbroadcast)")
            for axis, (s, e) in enumerate(zip(i.type.shape, self.elem_type.shape)):
                if s is not None and s != 1 and e is not None and s != e:
                    raise ValueError(f"{self}: input {k} has static shape {i.type.shape}, which does not "
                                     f"broadcast to {self.elem_type.shape} in dimension {axis}")
        out_type = self.reducer.make_node(self.elem_type()).outputs[0].type
        return Apply(self, inputs, [out_type()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        shape = elem_shape(node, inputs)
        (value,) = evaluate_program(self.program, inputs)
        if value.shape != shape:    # only broadcast inputs in some dimension: expand it
            value = np.broadcast_to(value, shape)
        self.reducer.perform(node, [value], output_storage)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        shape = []
        for axis in range(self.elem_type.ndim):
            dims = [s[axis] for s, i in zip(input_shapes, node.inputs) if not i.broadcastable[axis]]
            shape.append(dims[0] if dims else 1)
        return [tuple(s for a, s in enumerate(shape) if a not in self.reducer.axis)]

    def inner_graphs(self) -> list:
        if self._fgraph is None:
            inner = program_graph(self.program, (self.elem_type,), self.in_types)
            out = self.reducer(inner.outputs[0])
            self._fgraph = FunctionGraph(list(inner.inputs), [out], clone=False)
        return [self._fgraph]

    # -- derivatives: through the unfused steps, so each Elemwise's own rule is used ------
    def _inline(self, inputs: list) -> tuple:
        """The program's steps as Elemwise nodes on ``inputs``: (nodes, result variable)."""
        from .elemwise import Elemwise
        nodes, results = [], []
        for sop, args, _ in self.program[1]:
            vals = [inputs[a[1]] if a[0] == "i" else results[a[1]] if a[0] == "s"
                    else constant(np.asarray(a[2], dtype=a[1])) for a in args]
            node = Elemwise(sop).make_node(*vals)
            nodes.append(node)
            results.append(node.outputs[0])
        return nodes, results[self.program[2][0]]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        """Reverse mode: the reducer's rule, then each step's rule in reverse order."""
        from .api import add, zeros_like
        nodes, elem = self._inline(inputs)
        (g_elem,) = self.reducer.L_op([elem], outputs, output_grads)
        step_parts: dict = {self.program[2][0]: [g_elem]}
        in_parts: dict = {}
        for k in reversed(range(len(nodes))):
            parts = step_parts.get(k)
            if not parts:
                continue
            g = parts[0] if len(parts) == 1 else add(*parts)
            node = nodes[k]
            grads = node.op.L_op(list(node.inputs), list(node.outputs), [g])
            for a, gi in zip(self.program[1][k][1], grads):
                if a[0] == "c" or gi is None:
                    continue
                (step_parts if a[0] == "s" else in_parts).setdefault(a[1], []).append(gi)
        out = []
        for j, x in enumerate(inputs):
            parts = in_parts.get(j)
            if not parts:
                out.append(zeros_like(x, dtype=x.dtype if x.dtype[0] in "fc" else "float64"))
            else:
                out.append(parts[0] if len(parts) == 1 else add(*parts))
        return out

    def R_op(self, inputs: list, eval_points: list) -> list:
        """Forward mode: each step's tangent in order, then the reducer's rule."""
        nodes, elem = self._inline(inputs)
        tangents: list = []
        for node, (_, args, _) in zip(nodes, self.program[1]):
            evs = [eval_points[a[1]] if a[0] == "i" else tangents[a[1]] if a[0] == "s" else None
                   for a in args]
            tangents.append(None if all(e is None for e in evs) else node.op.R_op(list(node.inputs), evs)[0])
        t_elem = tangents[self.program[2][0]]
        if t_elem is None:
            return [None]
        return self.reducer.R_op([elem], [t_elem])

    def vectorize_node(self, node: Apply, *batched: Variable) -> list:
        """One more leading axis: inputs without it get a broadcast one, axes shift by one."""
        if all(b.ndim == i.ndim for b, i in zip(batched, node.inputs)):
            return [self(*batched)]
        lifted = [b if b.ndim == i.ndim + 1 else b.dimshuffle("x", *range(b.ndim))
                  for b, i in zip(batched, node.inputs)]
        batch = next((b.type.shape[0] for b in lifted if not b.broadcastable[0]), 1)
        elem = TensorType(self.elem_type.dtype, shape=(batch,) + tuple(self.elem_type.shape))
        r = self.reducer
        reducer = CAReduce(r.kind, tuple(a + 1 for a in r.axis), r.dtype, r.acc_dtype)
        op = FusedReduce(self.program, tuple(v.type for v in lifted), elem, reducer)
        return [op(*lifted)]


def elem_shape(node: Apply, inputs: list) -> tuple:
    """The broadcast shape of the elementwise result; non-broadcastable dimensions must agree
    at run time (as in each original Elemwise), else a ValueError naming the shapes."""
    shape = []
    for axis in range(node.op.elem_type.ndim):
        seen = None
        for k, (v, i) in enumerate(zip(inputs, node.inputs)):
            if np.ndim(v) != i.ndim:
                raise ValueError(f"{node.op}: input {k} has shape {np.shape(v)}, expected rank {i.ndim}")
            if i.broadcastable[axis]:
                continue
            if seen is None:
                seen = (k, v.shape[axis])
            elif v.shape[axis] != seen[1]:
                raise ValueError(f"{node.op}: input {seen[0]} has size {seen[1]} and input {k} has size "
                                 f"{v.shape[axis]} in dimension {axis}; shapes {[np.shape(a) for a in inputs]}"
                                 f" (a size-1 dimension that is not marked broadcastable does not broadcast)")
        shape.append(1 if seen is None else seen[1])
    return tuple(shape)


__all__ = ["FusedReduce", "elem_shape"]
