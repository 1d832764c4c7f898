"""The rewrite engine: named node rewriters, passes run to a fixed point, phases in order.

A ``NodeRewriter`` looks at one Apply node and either declines (returns None/False) or
returns replacements for its outputs. A ``NodePass`` sweeps a FunctionGraph with a list of
node rewriters until nothing changes (or a budget of sweeps runs out). A ``GraphPass`` is a
whole-graph transformation (merging, fusion). A ``Pipeline`` runs named phases in order; any
rewriter or pass can be excluded by name. Nothing is registered as an import side effect:
``rewrite.pipeline`` lists the phases explicitly.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from ..graph.basic import Apply, Variable
from ..graph.fg import FunctionGraph, InconsistencyError


class NodeRewriter:
    """A named local rewrite. ``fn(fgraph, node)`` returns None/False to decline, a list of
    replacement variables (one per output), or a dict {old_output: new_variable}.

    ``tracks``: the op classes (or a predicate on the op) this rewriter looks at; None: all."""

    def __init__(self, fn: Callable, tracks: Sequence | Callable | None = None, name: str | None = None):
        self.fn = fn
        self.tracks = tracks
        self.name = name or fn.__name__
        self.__doc__ = fn.__doc__

    def applies_to(self, op: Any) -> bool:
        if self.tracks is None:
            return True
        if self.by_predicate:
            return bool(self.tracks(op))
        return isinstance(op, tuple(self.tracks))

    @property
    def by_predicate(self) -> bool:
        """Whether ``tracks`` is a predicate on the op (else applicability depends only on the
        op's class, which lets a pass decide it once per class)."""
        return callable(self.tracks) and not isinstance(self.tracks, (tuple, list))

    def __call__(self, fgraph: FunctionGraph, node: Apply) -> Any:
        return self.fn(fgraph, node)

    def __repr__(self) -> str:
        return f"NodeRewriter({self.name})"


def node_rewriter(tracks: Sequence | Callable | None = None, name: str | None = None) -> Callable:
    """Decorator: ``@node_rewriter([Elemwise])`` turns a function into a NodeRewriter."""
    def deco(fn: Callable) -> NodeRewriter:
        return NodeRewriter(fn, tracks, name)
    return deco


@dataclass
class RewriteLog:
    """What the pipeline did: one entry per applied rewrite, and time per pass.

    ``sweeps`` and ``visits`` count the work of node passes (sweeps over the graph and
    (node, rewriter) attempts), so the cost of rewriting can be checked without timing;
    ``budget_exhausted`` names the node passes that stopped at their sweep budget before
    reaching a fixed point."""
    applied: list = field(default_factory=list)     # (pass name, rewriter name, op description)
    timings: list = field(default_factory=list)     # (pass name, seconds, nodes before, nodes after)
    sweeps: dict = field(default_factory=dict)      # node pass name -> sweeps run
    visits: int = 0
    budget_exhausted: list = field(default_factory=list)

    def count(self, name: str) -> int:
        return sum(1 for _, rw, _ in self.applied if rw == name)

    def summary(self) -> str:
        lines = [f"{p:<28s} {t * 1e3:8.2f} ms  nodes {a} -> {b}" for p, t, a, b in self.timings]
        return "\n".join(lines)


def _normalize_replacements(node: Apply, result: Any) -> list:
    if isinstance(result, dict):
        return [(old, new) for old, new in result.items()]
    result = list(result)
    if len(result) != len(node.outputs):
        raise ValueError(f"a rewrite of {node.op} returned {len(result)} replacements for "
                         f"{len(node.outputs)} outputs")
    return [(old, new) for old, new in zip(node.outputs, result) if new is not None]


def apply_replacements(fgraph: FunctionGraph, pairs: list, reason: str) -> bool:
    """Replace each old variable by its new one; refuse the whole set if a type differs."""
    for old, new in pairs:
        if not isinstance(new, Variable):
            raise TypeError(f"rewrite {reason} returned {new!r}, not a variable")
        if old.type != new.type:
            return False
    changed = False
    for old, new in pairs:
        if old is new or old not in fgraph.clients:
            continue
        fgraph.replace(old, new, reason=reason)
        changed = True
    return changed


class Pass:
    """A named transformation of a whole FunctionGraph."""
    name: str = "pass"

    def apply(self, fgraph: FunctionGraph, log: RewriteLog, excluded: frozenset) -> bool:
        raise NotImplementedError


class NodePass(Pass):
    """Sweep the graph in topological order applying node rewriters until a fixed point."""

    def __init__(self, name: str, rewriters: Iterable[NodeRewriter], max_sweeps: int = 20):
        self.name = name
        self.rewriters = list(rewriters)
        self.max_sweeps = max_sweeps

    def apply(self, fgraph: FunctionGraph, log: RewriteLog, excluded: frozenset) -> bool:
        active = [r for r in self.rewriters if r.name not in excluded]
        by_class: dict = {}      # op class -> the rewriters that may apply, in order
        any_change = False
        changed = False
        for _ in range(self.max_sweeps):
            changed = False
            log.sweeps[self.name] = log.sweeps.get(self.name, 0) + 1
            for node in fgraph.toposort():
                if node not in fgraph.apply_nodes:
                    continue   # removed by an earlier rewrite in this sweep
                op_class = type(node.op)
                candidates = by_class.get(op_class)
                if candidates is None:
                    candidates = by_class[op_class] = [r for r in active if r.by_predicate or r.applies_to(node.op)]
                for rw in candidates:
                    if rw.by_predicate and not rw.applies_to(node.op):
                        continue
                    log.visits += 1
                    result = rw(fgraph, node)
                    if not result:
                        continue
                    desc = str(node.op)
                    try:
                        done = apply_replacements(fgraph, _normalize_replacements(node, result), rw.name)
                    except InconsistencyError:
                        done = False
                    if done:
                        log.applied.append((self.name, rw.name, desc))
                        changed = True
                        break
            any_change |= changed
            if not changed:
                break
        if changed:   # the last sweep still changed the graph: the budget, not a fixed point, stopped it
            log.budget_exhausted.append(self.name)
        return any_change


class GraphPass(Pass):
    """A whole-graph rewrite: ``fn(fgraph, log) -> bool`` (whether it changed anything)."""

    def __init__(self, name: str, fn: Callable):
        self.name = name
        self.fn = fn

    def apply(self, fgraph: FunctionGraph, log: RewriteLog, excluded: frozenset) -> bool:
        return bool(self.fn(fgraph, log))


@dataclass
class Phase:
    name: str
    passes: list


class Pipeline:
    """Named phases run in order. ``run(fgraph, excluded)`` skips any pass, phase or node
    rewriter whose name is in ``excluded``."""

    def __init__(self, phases: Sequence[Phase]):
        self.phases = list(phases)

    def names(self) -> list:
        """Every name that can be excluded (phases, passes, node rewriters), once each."""
        out: dict = {}
        for ph in self.phases:
            out[ph.name] = None
            for p in ph.passes:
                out[p.name] = None
                out.update((r.name, None) for r in getattr(p, "rewriters", ()))
        return list(out)

    def run(self, fgraph: FunctionGraph, excluded: Iterable[str] = ()) -> RewriteLog:
        excluded = frozenset((excluded,) if isinstance(excluded, str) else excluded)
        unknown = excluded - set(self.names())
        if unknown:
            raise ValueError(f"cannot exclude unknown rewrite(s) {sorted(unknown)}; known: "
                             f"{', '.join(self.names())}")
        log = RewriteLog()
        for phase in self.phases:
            if phase.name in excluded:
                continue
            for p in phase.passes:
                if p.name in excluded:
                    continue
                before = len(fgraph.apply_nodes)
                t0 = time.perf_counter()
                p.apply(fgraph, log, excluded)
                log.timings.append((f"{phase.name}/{p.name}", time.perf_counter() - t0, before,
                                    len(fgraph.apply_nodes)))
        return log
