"""FusedElemwise: a cluster of elementwise ops computed in one loop.

The fusion rewrite replaces a connected group of ``Elemwise`` nodes by one
``FusedElemwise`` whose ``program`` lists the scalar steps in order. The program is plain
hashable data, so equal clusters compare equal and compiled kernels can be cached by
content; the C and CUDA renderers turn each step into one scalar expression.

A program is ``(n_inputs, steps, outputs)``:
- ``steps``: tuples ``(scalar_op, args, dtype)``; each arg is ``("i", k)`` (input k),
  ``("s", j)`` (the result of step j) or ``("c", dtype, value)`` (an inlined scalar constant);
- ``outputs``: the step index of each output.

The op also records its input types (``in_types``), so its inner graph is typed as the
cluster it replaced (an integer program must not be rebuilt on float inputs).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..graph.basic import Apply, Op
from ..graph.fg import FunctionGraph
from ..graph.type import TensorType
from . import scalar as ps
from .basic import as_tensor_variable, constant


def evaluate_program(program: tuple, inputs: Sequence[np.ndarray]) -> list:
    """Run a program with numpy, step by step, with each step's declared dtype.

    Each step computes exactly as the Elemwise it came from (same upcast of small integers
    that numpy would compute in float16), so fusing never changes a result."""
    _, steps, outputs = program
    results: list = []
    with np.errstate(all="ignore"):
        for sop, args, dtype in steps:
            vals = [np.asarray(_resolve(a, inputs, results)) for a in args]
            upcast = ps.compute_dtype(sop, tuple(str(v.dtype) for v in vals))
            if upcast is not None:
                vals = [v.astype(upcast) if v.dtype.kind in "biu" else v for v in vals]
            if len(vals) > sop.nin == 2:
                value = sop.impl(vals[0], vals[1])
                for v in vals[2:]:
                    value = sop.impl(value, v)
            else:
                value = sop.impl(*vals)
            value = np.asarray(value)
            if value.dtype != dtype:
                value = value.astype(dtype)
            results.append(value)
    return [results[k] for k in outputs]


def _resolve(arg: tuple, inputs: Sequence, results: list) -> Any:
    kind = arg[0]
    if kind == "i":
        return inputs[arg[1]]
    if kind == "s":
        return results[arg[1]]
    return np.asarray(arg[2], dtype=arg[1])


class FusedElemwise(Op):
    """Several elementwise steps fused into one loop over the broadcast output shape."""

    _transient = ("_fgraph",)

    __props__ = ("program", "out_types", "in_types")

    def __init__(self, program: tuple, out_types: tuple, in_types: tuple | None = None):
        self.program = program
        self.out_types = tuple(out_types)
        self.in_types = None if in_types is None else tuple(in_types)
        if self.in_types is not None and len(self.in_types) != program[0]:
            raise ValueError(f"FusedElemwise: the program takes {program[0]} input(s) but "
                             f"{len(self.in_types)} input type(s) were given")
        self._fgraph: FunctionGraph | None = None

    def __str__(self) -> str:
        names = "|".join(str(s[0]) for s in self.program[1])
        return f"FusedElemwise{{{names}}}"

    @property
    def n_inputs(self) -> int:
        return self.program[0]

    def make_node(self, *inputs: Any) -> Apply:
        inputs = program_inputs(self, inputs, self.out_types[0].ndim, self.in_types)
        return Apply(self, inputs, [t() for t in self.out_types])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        _check_broadcast(node, inputs)
        shape = _output_shape(node, inputs)
        for cell, value, out in zip(output_storage, evaluate_program(self.program, inputs), node.outputs):
            if value.shape != shape:   # a step of broadcast-only inputs: expand to the full shape
                value = np.array(np.broadcast_to(value, shape))
            cell[0] = value

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        shape = []
        for axis in range(node.outputs[0].ndim):
            dims = [s[axis] for s, i in zip(input_shapes, node.inputs) if not i.broadcastable[axis]]
            shape.append(dims[0] if dims else 1)
        return [tuple(shape)] * len(node.outputs)

    def inner_graphs(self) -> list:
        if self._fgraph is None:
            self._fgraph = program_graph(self.program, self.out_types, self.in_types)
        return [self._fgraph]


def program_inputs(op: Op, inputs: Sequence, ndim: int, in_types: Sequence | None) -> list:
    """The inputs of a fused op as tensors, checked against the program: their number, rank
    and (when the op records them) dtypes."""
    inputs = [as_tensor_variable(i) for i in inputs]
    if len(inputs) != op.program[0]:
        raise TypeError(f"{op}: expected {op.program[0]} inputs, got {len(inputs)}")
    for k, i in enumerate(inputs):
        if i.ndim != ndim:
            raise TypeError(f"{op}: input {k} has {i.ndim} dimension(s), expected {ndim}")
        if in_types is not None and i.dtype != in_types[k].dtype:
            raise TypeError(f"{op}: input {k} has dtype {i.dtype}, expected {in_types[k].dtype}")
    return inputs


def _output_shape(node: Apply, inputs: list) -> tuple:
    shape = []
    for axis in range(node.outputs[0].ndim):
        sizes = [v.shape[axis] for v, i in zip(inputs, node.inputs) if not i.broadcastable[axis]]
        shape.append(sizes[0] if sizes else 1)
    return tuple(shape)


def _check_broadcast(node: Apply, inputs: list) -> None:
    """Non-broadcastable dimensions must agree at run time, as in each original Elemwise."""
    ndim = node.outputs[0].ndim
    for axis in range(ndim):
        seen = None
        for k, (v, i) in enumerate(zip(inputs, node.inputs)):
            if i.broadcastable[axis]:
                continue
            if seen is None:
                seen = (k, v.shape[axis])
            elif v.shape[axis] != seen[1]:
                raise ValueError(f"{node.op}: input {seen[0]} has size {seen[1]} and input {k} has size "
                                 f"{v.shape[axis]} in dimension {axis}; shapes {[a.shape for a in inputs]}"
                                 f" (a size-1 dimension that is not marked broadcastable does not broadcast)")


def program_graph(program: tuple, out_types: Sequence[TensorType],
                  in_types: Sequence[TensorType] | None = None) -> FunctionGraph:
    """The program as a graph of Elemwise nodes (for printing and inner-graph passes).

    Without ``in_types`` the inputs take the output's dtype and unknown sizes."""
    from .elemwise import Elemwise
    n_inputs, steps, outputs = program
    ndim = out_types[0].ndim
    if in_types is None:
        in_types = [TensorType(out_types[0].dtype, shape=(None,) * ndim)] * n_inputs
    ins = [t(f"i{k}") for k, t in enumerate(in_types)]
    results: list = []
    for sop, args, dtype in steps:
        vals = []
        for a in args:
            if a[0] == "i":
                vals.append(ins[a[1]])
            elif a[0] == "s":
                vals.append(results[a[1]])
            else:
                vals.append(constant(np.asarray(a[2], dtype=a[1])))
        node = Elemwise(sop).make_node(*vals)
        results.append(node.outputs[0])
    return FunctionGraph(ins, [results[k] for k in outputs], clone=False)


def elemwise_program(node: Apply) -> tuple:
    """The one-step program of a plain Elemwise node (so renderers handle both alike)."""
    sop = node.op.scalar_op
    args = tuple(("i", k) for k in range(len(node.inputs)))
    return (len(node.inputs), ((sop, args, node.outputs[0].dtype),), (0,))


def program_of(node: Apply) -> tuple:
    """The program computed by an Elemwise or FusedElemwise node."""
    if isinstance(node.op, FusedElemwise):
        return node.op.program
    return elemwise_program(node)


__all__ = ["FusedElemwise", "evaluate_program", "program_of", "elemwise_program", "program_graph"]
