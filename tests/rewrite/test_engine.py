"""The rewrite engine: fixed points, the sweep budget, refused replacements, exclusion by
name, timings, and work that grows linearly with the graph."""

import numpy as np
import pytest

import symtensor as T
from symtensor.graph.fg import FunctionGraph
from symtensor.ops.elemwise import Elemwise
from symtensor.rewrite import optimize
from symtensor.rewrite.engine import GraphPass, NodePass, Phase, Pipeline, node_rewriter
from symtensor.rewrite.canonicalize import neutral_operands

from . import applied, scalar_op_names


@node_rewriter([Elemwise], name="exp_to_tanh")
def exp_to_tanh(fgraph, node):
    """exp -> tanh (a test rule that always changes the graph once per exp)."""
    if node.op.scalar_op.name == "exp":
        return [T.tanh(node.inputs[0])]
    return None


@node_rewriter([Elemwise], name="flip")
def flip(fgraph, node):
    """sin <-> cos forever: never reaches a fixed point."""
    name = node.op.scalar_op.name
    if name == "sin":
        return [T.cos(node.inputs[0])]
    if name == "cos":
        return [T.sin(node.inputs[0])]
    return None


@node_rewriter([Elemwise], name="to_int")
def to_int(fgraph, node):
    """Returns a replacement of the wrong type: must be refused."""
    if node.op.scalar_op.name == "exp":
        return [T.cast(node.inputs[0], "int32")]
    return None


def run_pass(fg, *rules, max_sweeps=20, excluded=()):
    return Pipeline([Phase("p", [NodePass("test_pass", rules, max_sweeps)])]).run(fg, excluded)


def test_fixed_point_is_reached():
    x = T.vector("x")
    fg = FunctionGraph([x], [T.exp(T.exp(T.exp(x)))])
    log = run_pass(fg, exp_to_tanh)
    assert scalar_op_names(fg) == ["tanh"] * 3
    assert log.count("exp_to_tanh") == 3
    assert log.budget_exhausted == []
    assert log.sweeps["test_pass"] >= 2      # the last sweep confirms nothing changes


def test_budget_is_respected():
    x = T.vector("x")
    fg = FunctionGraph([x], [T.sin(x)])
    log = run_pass(fg, flip, max_sweeps=5)
    assert log.sweeps["test_pass"] == 5
    assert log.count("flip") == 5
    assert log.budget_exhausted == ["test_pass"]


def test_wrong_type_is_refused():
    x = T.vector("x")
    fg = FunctionGraph([x], [T.exp(x)])
    log = run_pass(fg, to_int)
    assert scalar_op_names(fg) == ["exp"]
    assert "to_int" not in applied(log)


def test_wrong_number_of_replacements_raises():
    @node_rewriter([Elemwise], name="two")
    def two(fgraph, node):
        return [node.inputs[0], node.inputs[0]]
    x = T.vector("x")
    with pytest.raises(ValueError, match="2 replacements for 1 outputs"):
        run_pass(FunctionGraph([x], [T.exp(x)]), two)


def test_dict_replacements_and_decorator():
    @node_rewriter(lambda op: isinstance(op, Elemwise), name="dict_rule")
    def dict_rule(fgraph, node):
        """exp(x) -> x, as a dict."""
        if node.op.scalar_op.name == "exp":
            return {node.outputs[0]: node.inputs[0]}
        return None
    assert dict_rule.name == "dict_rule" and "dict" in dict_rule.__doc__
    x = T.vector("x")
    fg = FunctionGraph([x], [T.tanh(T.exp(x))])
    run_pass(fg, dict_rule)
    assert scalar_op_names(fg) == ["tanh"]


def test_exclusion_by_name():
    x = T.vector("x")
    for name in ("log1p", "local_stabilize", "stabilize"):
        fg = FunctionGraph([x], [T.log(1 + x)])
        log = optimize(fg, excluded=[name])
        assert "log1p" not in applied(log)
        assert "log" in scalar_op_names(fg)
    fg = FunctionGraph([x], [T.exp(x) * 2])
    log = optimize(fg, excluded="fuse_elemwise")        # a single name as a string
    assert "fuse_elemwise" not in applied(log)
    assert run_pass(FunctionGraph([x], [T.exp(x)]), exp_to_tanh, excluded=["exp_to_tanh"]).applied == []


def test_unknown_name_raises_listing_known_names():
    x = T.vector("x")
    with pytest.raises(ValueError, match=r"unknown rewrite\(s\) \['no_such_rule'\].*log1p"):
        optimize(FunctionGraph([x], [x + 1]), excluded=["no_such_rule"])
    with pytest.raises(ValueError, match="known: p, test_pass, exp_to_tanh"):
        run_pass(FunctionGraph([x], [x + 1]), exp_to_tanh, excluded=["nope"])


def test_exclusion_through_config():
    x = T.vector("x")
    with T.config.change_flags(optimizer_excluding="log1p:fuse_elemwise"):
        fg = FunctionGraph([x], [T.log(1 + x)])
        log = optimize(fg)
    assert "log1p" not in applied(log)
    with T.config.change_flags(optimizer_excluding="bogus"):
        with pytest.raises(ValueError, match="bogus"):
            optimize(FunctionGraph([x], [x + 1]))


def test_timings_are_recorded():
    x = T.vector("x")
    fg = FunctionGraph([x], [T.exp(x + 0) * 2])
    log = optimize(fg)
    names = [t[0] for t in log.timings]
    assert "canonicalize/local_canonicalize" in names and "fuse/fuse_elemwise" in names
    assert all(t[1] >= 0 for t in log.timings)
    assert "fuse/fuse_elemwise" in log.summary() and "ms" in log.summary()


def test_graph_pass_runs_and_names():
    seen = []
    p = Pipeline([Phase("ph", [GraphPass("g", lambda fg, log: seen.append(fg) or False)])])
    x = T.vector("x")
    fg = FunctionGraph([x], [T.exp(x)])
    p.run(fg)
    assert seen == [fg] and p.names() == ["ph", "g"]
    p.run(fg, excluded=["g"])
    assert len(seen) == 1


def _chain(n, kind):
    x, y = T.vectors("x", "y")
    out = x
    for _ in range(n):
        out = T.tanh(out) * y if kind == "tanh" else (out + 0) * y
    return FunctionGraph([x, y], [out])


@pytest.mark.parametrize("kind", ["tanh", "neutral"])
def test_work_is_linear_in_graph_size(kind):
    def work(n):
        fg = _chain(n, kind)
        log = optimize(fg)
        return log.visits, sum(log.sweeps.values())
    (v1, s1), (v2, s2) = work(100), work(400)
    assert s1 == s2                              # the number of sweeps does not grow
    assert v2 / v1 < 4 * 1.2                     # visits grow with the graph, not its square
