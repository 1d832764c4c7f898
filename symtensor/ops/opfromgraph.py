"""``OpFromGraph``: a subgraph packaged as one op (Theano's OpFromGraph).

It is the simplest op with an inner graph: it holds a FunctionGraph, exposes it through
``inner_graphs()`` (the one interface every pass uses to recurse), runs it with the graph
interpreter, and gets its derivative rules from grad/'s registry (the rules call the
transforms recursively, so they cannot live here).
"""
from __future__ import annotations

from typing import Any, Sequence

from ..graph.basic import Apply, Constant, Op, Variable, clone_replace, graph_inputs
from ..graph.fg import FunctionGraph
from ..graph.interpreter import Interpreter
from .basic import as_tensor_variable


class OpFromGraph(Op):
    """Call ``outputs`` (a function of ``inputs``) as a single node.

    ``inputs`` must be free variables. Constants inside the graph are captured as they are;
    shared variables it uses become implicit inputs (``shared_inputs``), appended to the
    node's inputs, so the function reads their current value and grad reaches them (as
    in Theano).
    """

    _transient = ("_runner",)

    def __init__(self, inputs: Sequence[Variable], outputs: Sequence[Variable], inline: bool = False,
                 name: str | None = None):
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        for i, v in enumerate(inputs):
            if not isinstance(v, Variable) or v.owner is not None:
                raise TypeError(f"OpFromGraph: input {i} must be a free symbolic variable, got {v}")
        self.shared_inputs = _implicit_shared(list(inputs), list(outputs))
        self.fgraph = FunctionGraph(list(inputs) + self.shared_inputs, list(outputs), clone=True)
        self.n_explicit = len(inputs)
        self.inline = inline
        self.name = name or "OpFromGraph"
        self._runner = None

    # an inner graph has no cheap structural equality: ops are equal only to themselves
    def __eq__(self, other: Any) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __str__(self) -> str:
        return f"{self.name}{{{len(self.fgraph.inputs)}->{len(self.fgraph.outputs)}}}"

    def inner_graphs(self) -> list:
        return [self.fgraph]

    def make_node(self, *inputs: Any) -> Apply:
        """Apply to the explicit inputs (the shared ones are appended); a rebuild through
        ``clone_with_new_inputs`` may pass all of them."""
        if len(inputs) == self.n_explicit:
            inputs = tuple(inputs) + tuple(self.shared_inputs)
        if len(inputs) != len(self.fgraph.inputs):
            raise TypeError(f"{self}: expected {self.n_explicit} inputs, got {len(inputs)}")
        converted = []
        for i, (v, inner) in enumerate(zip(inputs, self.fgraph.inputs)):
            v = as_tensor_variable(v)
            if not inner.type.is_super(v.type):
                if inner.type.in_same_class(v.type):
                    from .shape import specify_shape
                    v = specify_shape(v, inner.type.shape)
                else:
                    raise TypeError(f"{self}: input {i} has type {v.type}, expected {inner.type}")
            converted.append(v)
        return Apply(self, converted, [o.type() for o in self.fgraph.outputs])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        if self._runner is None:
            self._runner = Interpreter(self.fgraph)
        for cell, value in zip(output_storage, self._runner(inputs)):
            cell[0] = value.copy() if hasattr(value, "copy") and any(value is i for i in inputs) else value

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        """The shapes of the inner outputs, computed on the node's actual inputs."""
        from .shape import shape_tuple
        outs = clone_replace(self.fgraph.outputs, dict(zip(self.fgraph.inputs, node.inputs)), strict=False)
        return [shape_tuple(o) for o in outs]


def _implicit_shared(inputs: list, outputs: list) -> list:
    """The shared variables the outputs use besides ``inputs``; any other free variable
    that is not an input is an error naming it."""
    given = set(inputs)
    shared = []
    for v in graph_inputs(outputs, blockers=inputs):
        if v in given or isinstance(v, Constant):
            continue
        if getattr(v, "is_shared", False):
            shared.append(v)
        else:
            raise TypeError(f"OpFromGraph: the outputs depend on {v}, which is not among the inputs; add it "
                            f"to the inputs")
    return shared
