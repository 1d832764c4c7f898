"""Helpers for the rewrite tests: build a graph, rewrite a copy, compare with the original.

``rewrite_and_compare`` optimizes one FunctionGraph and runs both it and an unrewritten copy
with the numpy interpreter on the same values, so every rule is checked to keep results.
"""
from __future__ import annotations

import numpy as np

from symtensor.graph.fg import FunctionGraph
from symtensor.graph.interpreter import Interpreter
from symtensor.ops.elemwise import Elemwise
from symtensor.ops.fused import FusedElemwise
from symtensor.rewrite import optimize

FLOATS = ["float32", "float64"]
SPECIALS = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, 1e30])


def scalar_op_names(fgraph: FunctionGraph) -> list:
    """The scalar op names computed by the graph, in topological order; a FusedElemwise
    contributes the names of its program's steps."""
    names = []
    for node in fgraph.toposort():
        if isinstance(node.op, Elemwise):
            names.append(node.op.scalar_op.name)
        elif isinstance(node.op, FusedElemwise):
            names.extend(step[0].name for step in node.op.program[1])
    return names


def op_types(fgraph: FunctionGraph) -> list:
    return [type(n.op).__name__ for n in fgraph.toposort()]


def applied(log) -> list:
    return [rw for _, rw, _ in log.applied]


def values_for(rng, inputs, specials: bool = True) -> list:
    """Random values for ``inputs`` (a tensor type each); floats include NaN/Inf when asked."""
    out = []
    for v in inputs:
        shape = tuple(8 if s is None else s for s in v.type.shape)
        kind = np.dtype(v.dtype).kind
        if kind == "f":
            a = rng.standard_normal(shape) * 3
            if specials and a.size >= 4:
                flat = a.reshape(-1)
                flat[: min(len(SPECIALS), flat.size)] = SPECIALS[: flat.size]
            out.append(a.astype(v.dtype))
        elif kind == "b":
            out.append(rng.integers(0, 2, size=shape).astype(bool))
        else:
            info = np.iinfo(v.dtype)
            out.append(rng.integers(max(info.min, -200), min(info.max, 200), size=shape,
                                    endpoint=True).astype(v.dtype))
    return out


def assert_same(got, expected, dtype=None) -> None:
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    if got.dtype.kind == "f":
        rtol = 1e-5 if got.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, expected)


def rewrite_and_compare(inputs, outputs, rng=None, values=None, optimizer="fast_run", excluded=(),
                        specials: bool = True, passes=None):
    """Rewrite a graph (the whole pipeline, or ``passes`` only), check that it still computes
    what the unrewritten graph computes, and return (rewritten graph, log)."""
    from symtensor.rewrite.engine import Phase, Pipeline
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    original = FunctionGraph(inputs, outputs)
    fg = FunctionGraph(inputs, outputs)
    if passes is None:
        log = optimize(fg, optimizer, excluded=excluded)
    else:
        log = Pipeline([Phase("test", list(passes))]).run(fg, excluded)
    fg.check_integrity()
    if values is None:
        values = values_for(rng or np.random.default_rng(0), inputs, specials)
    expected = Interpreter(original)([np.copy(v) for v in values])
    got = Interpreter(fg)([np.copy(v) for v in values])
    for g, e in zip(got, expected):
        assert_same(g, e)
    return fg, log
