"""Run a FunctionGraph through each op's ``perform``: the numpy reference executor.

The schedule (node order and storage cells) is built once. A call runs a Python function
generated from the schedule (straight-line code, one local variable per intermediate), so
the per-call cost is the ops' own cost plus a few hundred nanoseconds.

A step function may offer a faster protocol than ``perform``'s: a ``for_node(node)``
attribute returning a callable that takes the node's input values positionally and returns
a tuple of its outputs, each a newly allocated array (never an input, a constant or an
earlier result). Outputs computed that way are reported as fresh by :meth:`Interpreter.plan`.
"""
from __future__ import annotations

import functools
from typing import NamedTuple, Sequence

import numpy as np

from .basic import Constant, format_trace
from .fg import FunctionGraph


def annotate_error(err: BaseException, node) -> BaseException:
    """Return an exception of the same class whose message names the node and the
    user's source line that created it."""
    if getattr(err, "_symtensor_node", False):
        return err
    trace = format_trace(getattr(node.tag, "trace", None))
    inputs = ", ".join(f"{v} ({v.type})" for v in node.inputs)
    msg = f"{err}\n  while computing {node.op} on inputs [{inputs}]"
    if trace:
        msg += f"\n  node created at {trace}"
    try:
        new = type(err)(msg)
    except Exception:  # exception classes with unusual constructors
        new = RuntimeError(msg)
    new._symtensor_node = True
    return new


class Interpreter:
    """Executes ``fgraph`` with numpy. ``__call__(values)`` takes one value per input and
    returns one value per output; ``run(*values)`` does the same with positional values.

    ``steps`` (node, function, input refs, output cells) may be replaced after construction
    (a backend substituting compiled thunks); the generated code follows the new steps."""

    def __init__(self, fgraph: FunctionGraph, check_outputs: bool = False):
        self.fgraph = fgraph
        self.nodes = fgraph.toposort()
        storage: dict = {}
        for v in fgraph.variables:
            storage[v] = [v.data if isinstance(v, Constant) else None]
        for v in fgraph.inputs:
            storage.setdefault(v, [None])
        for node in self.nodes:
            for v in node.inputs + node.outputs:
                storage.setdefault(v, [v.data if isinstance(v, Constant) else None])
        for v in fgraph.outputs:
            storage.setdefault(v, [v.data if isinstance(v, Constant) else None])
        self.storage = storage
        self.input_cells = [storage[v] for v in fgraph.inputs]
        self.output_cells = [storage[v] for v in fgraph.outputs]
        self.check_outputs = check_outputs
        self.steps = [(node, node.op.perform, [storage[v][0] if isinstance(v, Constant) else storage[v]
                                               for v in node.inputs],
                       [storage[v] for v in node.outputs]) for node in self.nodes]
        # a shared variable's cell is filled from its container by the caller
        self.intermediate_cells = [storage[v] for n in self.nodes for v in n.outputs]

    @property
    def steps(self) -> list:
        return self._steps

    @steps.setter
    def steps(self, steps: list) -> None:
        self._steps = steps
        self._plan = None
        self.run = self._first_run

    def plan(self) -> tuple:
        """(run, fresh): the generated ``run(*values) -> list`` and, per output, whether its
        value is always a new array that no other output, input or constant shares."""
        if self._plan is None:
            if self.check_outputs:
                self._plan = (self._run_checked, (False,) * len(self.output_cells))
            else:
                self._plan = _generate(self._steps, self.input_cells, self.output_cells)
            self.run = self._plan[0]
        return self._plan

    def plan_code(self, params: Sequence[str]) -> "ScheduleCode | None":
        """The schedule as statements to embed in a caller's generated code (see
        :func:`schedule_code`), or None when calls must go through :meth:`run` (outputs are
        checked, or a subclass plans its own way)."""
        if self.check_outputs or type(self).plan is not Interpreter.plan:
            return None
        return schedule_code(self._steps, self.input_cells, self.output_cells, params)

    def _first_run(self, *values):
        return self.plan()[0](*values)

    def __call__(self, values: Sequence) -> list:
        if len(values) != len(self.input_cells):
            raise TypeError(f"the graph takes {len(self.input_cells)} value(s), got {len(values)}")
        return self.run(*values)

    def _run_checked(self, *values) -> list:
        """The cell-based loop, checking each node's outputs against their types.

        Values live in a per-call dictionary (keyed by the schedule's cells) and each node
        writes into fresh cells, so concurrent calls share nothing but constants."""
        env = {id(cell): value for cell, value in zip(self.input_cells, values)}
        for node, perform, in_refs, out_cells in self._steps:
            args = [(env[id(r)] if id(r) in env else r[0]) if type(r) is list else r for r in in_refs]
            cells = [[None] for _ in out_cells]
            try:
                perform(node, args, cells)
            except Exception as err:
                raise annotate_error(err, node) from err
            _check_outputs(node, cells)
            env.update((id(c), new[0]) for c, new in zip(out_cells, cells))
        return [env[id(cell)] if id(cell) in env else cell[0] for cell in self.output_cells]


class ScheduleCode(NamedTuple):
    """Python statements for one call of a schedule, for embedding in a generated function.

    ``body`` runs the steps (to be placed inside a ``try`` whose handler is
    :data:`HANDLER`); ``results`` are the output expressions; ``namespace`` holds the names
    they use; ``fresh`` says, per output, whether it is always a new unshared array."""
    body: list
    results: list
    namespace: dict
    fresh: tuple


#: The ``except`` clause that must enclose a schedule's ``body`` (it names the failing node).
HANDLER = ["except Exception as err:", "    raise annotate_error(err, nodes[step]) from err"]


def schedule_code(steps: list, input_cells: list, output_cells: list, params: Sequence[str]) -> ScheduleCode:
    """The statements computing ``output_cells`` from ``params`` (one name per input cell).

    Values live in local variables instead of storage cells, so nothing is kept alive
    between calls and concurrent calls do not share state. The body's own names are
    ``step``, ``err`` and ones starting with ``x``, ``c``, ``d``, ``p``, ``n`` or ``K`` plus a
    number, ``nodes`` and ``annotate_error``."""
    names: dict = {id(c): p for c, p in zip(input_cells, params)}
    namespace: dict = {"annotate_error": annotate_error, "nodes": [s[0] for s in steps]}
    fresh_cells: set = set()
    body: list = []

    def ref(r) -> str:
        if type(r) is list and id(r) in names:
            return names[id(r)]
        key = f"K{len(namespace)}"
        namespace[key] = r
        return f"{key}[0]" if type(r) is list else key   # a cell of a constant, or constant data

    def emit(i: int, pad: str) -> None:
        node, fn, in_refs, out_cells = steps[i]
        args = ", ".join(ref(r) for r in in_refs)
        outs = [f"x{i}_{j}" for j in range(len(out_cells))]
        direct = getattr(fn, "for_node", None)
        body.append(f"{pad}step = {i}")
        if direct is not None:
            namespace[f"d{i}"] = fn.reuse_for_node(node, reuse[i]) if i in reuse else direct(node)
            body.append(f"{pad}({''.join(o + ', ' for o in outs)}) = d{i}({args})")
            fresh_cells.update(id(c) for c in out_cells)
        else:
            namespace[f"p{i}"], namespace[f"n{i}"] = fn, node
            cells = [f"c{j}" for j in range(len(out_cells))]
            body.extend(f"{pad}{c} = [None]" for c in cells)
            body.append(f"{pad}p{i}(n{i}, [{args}], [{', '.join(cells)}])")
            body.extend(f"{pad}{o} = c{j}[0]" for j, o in enumerate(outs))
        names.update({id(c): o for c, o in zip(out_cells, outs)})

    def emit_lazy(i: int, pad: str) -> None:
        """An IfElse-like step: its condition, then only the chosen branch's own steps."""
        node, _, in_refs, out_cells = steps[i]
        n = node.op.n_outs
        outs = [f"x{i}_{j}" for j in range(len(out_cells))]
        namespace["copy_value"] = copy_value
        body.append(f"{pad}step = {i}")
        body.append(f"{pad}if {ref(in_refs[0])}:")
        emit_context((i, "then"), pad + "    ")
        body.extend(f"{pad}    {o} = copy_value({ref(r)})" for o, r in zip(outs, in_refs[1:1 + n]))
        body.append(f"{pad}else:")
        emit_context((i, "else"), pad + "    ")
        body.extend(f"{pad}    {o} = copy_value({ref(r)})" for o, r in zip(outs, in_refs[1 + n:]))
        names.update({id(c): o for c, o in zip(out_cells, outs)})

    contexts = lazy_contexts(steps, output_cells)
    reuse = reusable_inputs(steps, output_cells, contexts)

    def emit_context(ctx, pad: str) -> None:
        for i in contexts.get(ctx, ()):
            if getattr(steps[i][0].op, "lazy_branches", False):
                emit_lazy(i, pad)
            else:
                emit(i, pad)

    emit_context(None, "")
    results = [ref(c) for c in output_cells]
    counts = [sum(c is d for d in output_cells) for c in output_cells]
    fresh = tuple(id(c) in fresh_cells and n == 1 for c, n in zip(output_cells, counts))
    return ScheduleCode(body, results, namespace, fresh)


@functools.lru_cache(maxsize=1024)
def compile_source(source: str, filename: str):
    """``compile(source, filename, "exec")``, cached: generated code (schedules, fast paths)
    often repeats exactly across nodes and functions; executing the cached code object in a
    fresh namespace is what a new compile would give."""
    return compile(source, filename, "exec")


def copy_value(value):
    """What a lazy branch returns: a copy, so an output never aliases an input (as perform)."""
    return np.array(value, copy=True)


def lazy_contexts(steps: list, output_cells: list) -> dict:
    """The steps grouped by the branch that alone needs them, each group in schedule order.

    A step whose op has ``lazy_branches`` (IfElse: inputs ``[condition, then..., else...]``)
    opens two contexts, ``(i, "then")`` and ``(i, "else")``; a step belongs to the innermost
    context enclosing every use of its outputs (None: the top level, which also holds every
    step a graph output or a condition needs). Computed from the last step backwards, so the
    contexts of a step's consumers are known when it is placed."""
    producer = {id(c): i for i, step in enumerate(steps) for c in step[3]}
    consumers: dict = {i: [] for i in range(len(steps))}
    for j, (node, _, in_refs, _) in enumerate(steps):
        lazy = getattr(node.op, "lazy_branches", False)
        n = node.op.n_outs if lazy else 0
        for k, r in enumerate(in_refs):
            i = producer.get(id(r)) if type(r) is list else None
            if i is None:
                continue
            side = None if not lazy or k == 0 else ("then" if k <= n else "else")
            consumers[i].append((j, side))
    top = {producer[id(c)] for c in output_cells if id(c) in producer}
    owner: dict = {}
    paths: dict = {None: ()}

    def path(ctx) -> tuple:
        if ctx not in paths:
            paths[ctx] = path(owner[ctx[0]]) + (ctx,)
        return paths[ctx]

    for i in range(len(steps) - 1, -1, -1):
        uses = [path(owner[j] if side is None else (j, side)) for j, side in consumers[i]]
        if i in top or not uses:
            owner[i] = None
            continue
        common = uses[0]
        for p in uses[1:]:
            k = 0
            while k < min(len(common), len(p)) and common[k] == p[k]:
                k += 1
            common = common[:k]
        owner[i] = common[-1] if common else None
    groups: dict = {}
    for i in range(len(steps)):
        groups.setdefault(owner[i], []).append(i)
    return groups


def textual_order(steps: list, contexts: dict, ctx=None) -> list:
    """Step indices in the order the generated code runs them (a lazy step after its two
    branches' steps)."""
    order = []
    for i in contexts.get(ctx, ()):
        if getattr(steps[i][0].op, "lazy_branches", False):
            order += textual_order(steps, contexts, (i, "then")) + textual_order(steps, contexts, (i, "else"))
        order.append(i)
    return order


def reusable_inputs(steps: list, output_cells: list, contexts: dict) -> dict:
    """The memory plan: step index -> position of an input whose array the step may write its
    result into (the step's function offers ``reuse_for_node``). The input must be a fresh
    array (made by a ``for_node`` step), of the output's dtype and broadcast pattern, not a
    graph output, read by ``for_node`` steps only (so no view of it exists) and by this step
    last of all."""
    position = {i: p for p, i in enumerate(textual_order(steps, contexts))}
    producer, readers = {}, {}
    for i, (_, fn, in_refs, out_cells) in enumerate(steps):
        if getattr(fn, "for_node", None) is not None:
            producer.update((id(c), i) for c in out_cells)
        for r in in_refs:
            if type(r) is list:
                readers.setdefault(id(r), []).append(i)
    outputs = {id(c) for c in output_cells}
    claimed: set = set()
    plan = {}
    for i, (node, fn, in_refs, _) in enumerate(steps):
        if getattr(fn, "reuse_for_node", None) is None or i not in position:
            continue
        out = node.outputs[0].type
        for k, r in enumerate(in_refs):
            key = id(r)
            if (type(r) is not list or key not in producer or key in outputs or key in claimed
                    or getattr(node.inputs[k].type, "dtype", None) != getattr(out, "dtype", None)
                    or getattr(node.inputs[k].type, "broadcastable", None) != getattr(out, "broadcastable", None)):
                continue
            users = readers[key]
            if all(getattr(steps[j][1], "for_node", None) is not None and j in position
                   and position[j] <= position[i] for j in users):
                plan[i] = k
                claimed.add(key)
                break
    return plan


def _generate(steps: list, input_cells: list, output_cells: list) -> tuple:
    """``run(*values) -> list`` for one call of the schedule, compiled once: (run, fresh)."""
    params = [f"v{k}" for k in range(len(input_cells))]
    code = schedule_code(steps, input_cells, output_cells, params)
    lines = [f"def run({', '.join(params)}):"]
    if steps:
        lines += ["    try:", *["        " + b for b in code.body], *["    " + h for h in HANDLER]]
    lines.append(f"    return [{', '.join(code.results)}]")
    namespace = code.namespace
    exec(compile_source("\n".join(lines), "<interpreter schedule>"), namespace)
    return namespace["run"], code.fresh


def _check_outputs(node, out_cells) -> None:
    for out, cell in zip(node.outputs, out_cells):
        try:
            out.type.filter(cell[0], strict=True)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{node.op}.perform returned a value that does not match its output type "
                            f"{out.type}: {err}") from None
