"""Run a rewritten FunctionGraph with compiled C kernels where the op has a C rendering and
numpy ``perform`` elsewhere. All kernels of one function are compiled into one module
(cached on disk by content), so a function costs one build at most; a module with many
kernels is split into translation units that compile in parallel (:func:`split_parts`).

The schedule itself runs as one ``ProgramRun`` call (:mod:`.dispatch_program`) where the
dispatch extension is available, else as the interpreter's generated Python; shared-variable
updates may be planned in place (:mod:`.inplace`)."""
from __future__ import annotations

import os
import warnings
from typing import Sequence

from ...codegen.c import SCALAR_PRELUDE, renderer_for
from ...config import config
from ...graph.fg import FunctionGraph
from ...graph.interpreter import (Interpreter, annotate_error, copy_value, lazy_contexts, reusable_inputs,
                                  schedule_code)
from . import toolchain
from .build import build
from . import dispatch
from .dispatch_program import program_run
from .dispatch_views import view_spec
from .inplace import plan_inplace_updates
from .thunks import make_thunk

# Idle OpenMP threads sleep instead of spinning (a user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT
# wins). Measured on 2 cores: libgomp's default (spin, then sleep) makes a quiet machine's MLP
# step at batch 20 faster (0.52 ms against 0.8 ms: waking a sleeping thread is slow in a VM),
# but with two other busy processes the spinning threads hold the cores their descheduled
# team-mates need and the same step takes 21 ms (0.8 ms sleeping). Read when libgomp loads,
# i.e. at the first compiled module.
if "GOMP_SPINCOUNT" not in os.environ:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _module_flags() -> tuple:
    """Flags every generated module needs: signed integer overflow wraps, as in numpy; on
    AVX-512 CPUs, 512-bit vectors (gcc prefers 256 by default; libmvec has 16-lane variants)."""
    flags = ["-fwrapv"]
    try:
        with open("/proc/cpuinfo", "rb") as fh:
            if b" avx512f" in fh.read():
                flags.append("-mprefer-vector-width=512")
    except OSError:
        pass
    return tuple(flags)


MODULE_FLAGS = _module_flags()

#: Source characters per translation unit (about five elementwise kernels): enough work per
#: compiler process that its start-up is noise, small enough that a big function's kernels
#: spread over the cores. A function of content, never of the machine, so a cache key
#: does not depend on how many cores compiled it.
PART_CHARS = 24_000
#: At most this many translation units (compiler processes) per module.
MAX_PARTS = 8


def split_parts(kernels: Sequence) -> list:
    """The kernels grouped into translation units of similar size: the longest first, each
    into the lightest unit so far (deterministic for a set of kernels)."""
    total = sum(len(k.source) for k in kernels)
    n = max(1, min(MAX_PARTS, len(kernels), round(total / PART_CHARS)))
    parts: list = [[] for _ in range(n)]
    weights = [0] * n
    for kernel in sorted(kernels, key=lambda k: (-len(k.source), k.name)):
        lightest = weights.index(min(weights))
        parts[lightest].append(kernel)
        weights[lightest] += len(kernel.source)
    return parts


class CExecutor(Interpreter):
    """The interpreter's schedule, with C thunks substituted for rendered nodes.

    ``fallbacks`` lists the nodes that run through ``perform`` (no C rendering);
    ``inplace_nodes`` the update nodes that write into the shared variable's old array."""

    inplace_nodes: list = []
    #: whether calls run as one compiled ``ProgramRun`` (set when the schedule is planned)
    runs_program = False

    def __init__(self, fgraph: FunctionGraph):
        super().__init__(fgraph)
        kernels = {}
        for node in self.nodes:
            render = renderer_for(node)
            kernel = render(node) if render is not None else None
            if kernel is not None:
                kernels[node] = kernel
        self.fallbacks = [n for n in self.nodes if n not in kernels]
        _report_fallbacks([n for n in self.fallbacks if view_spec(n) is None or dispatch.extension(wait=False) is None])
        self.n_kernels = len(kernels)
        if not kernels:
            return
        # an elementwise kernel compiles its shared function: nodes whose programs differ only
        # in their constants share it (one copy in the module), each passing its own values
        compiled = {node: getattr(k, "shared", k) for node, k in kernels.items()}
        unique = sorted({k.name: k for k in compiled.values()}.values(), key=lambda k: k.name)
        sources = [SCALAR_PRELUDE + "\n".join(k.source for k in part) for part in split_parts(unique)]
        cdef = "\n".join(k.cdef for k in unique)
        flags = list(MODULE_FLAGS)
        for k in unique:
            flags.extend(f for f in getattr(k, "flags", ()) if f not in flags)
        module = build(sources[0] if len(sources) == 1 else sources, cdef, name="function", flags=tuple(flags))
        thunks = {node: make_thunk(kernel, getattr(module.lib, compiled[node].name), module.ffi)
                  for node, kernel in kernels.items()}
        self.steps = [(node, thunks.get(node, perform), ins, outs) for node, perform, ins, outs in self.steps]

    def plan(self) -> tuple:
        """(run, fresh): the schedule as one compiled ``ProgramRun`` (see
        :mod:`.dispatch_program`) where the dispatch extension is available, else the
        interpreter's generated Python."""
        if self._plan is None and not self.check_outputs:
            contexts = lazy_contexts(self._steps, self.output_cells)
            reuse = reusable_inputs(self._steps, self.output_cells, contexts)
            built = program_run(self._steps, self.input_cells, self.output_cells, contexts, reuse,
                                copy_value, annotate_error)
            self.runs_program = built is not None
            if built is not None:
                self._plan = built
                self.run = built[0]
                return built
        return super().plan()

    def plan_code(self, params: Sequence[str]):
        """The Python schedule to inline in a caller, or None when a compiled program runs it."""
        self.plan()
        if self.check_outputs or self.runs_program:
            return None
        return schedule_code(self._steps, self.input_cells, self.output_cells, params)

    def plan_inplace_updates(self, updates: Sequence[tuple]) -> None:
        """Compute the shared-variable updates that allow it into the old arrays (see
        :mod:`.inplace`). ``updates``: (shared input variable, index of its update among the
        graph's outputs) pairs. ``inplace_nodes`` lists the nodes that got an in-place form."""
        steps = plan_inplace_updates(self.fgraph, self.steps, self.input_cells, updates)
        tail = steps[-1][1] if steps else None
        self.inplace_nodes = [entry[0] for entry in getattr(tail, "entries", ())]
        if self.inplace_nodes:
            self.steps = steps


def _report_fallbacks(nodes: list) -> None:
    """Under ``config.on_c_fallback='warn'``, one warning naming the ops (with counts) that run
    through their numpy ``perform`` in this function (no C rendering; shape and indexing views
    that the dispatch extension computes in C are not listed)."""
    if not nodes or config.on_c_fallback != "warn":
        return
    counts: dict = {}
    for node in nodes:
        counts[str(node.op)] = counts.get(str(node.op), 0) + 1
    listed = ", ".join(f"{name} x{n}" if n > 1 else name for name, n in sorted(counts.items()))
    warnings.warn(f"{len(nodes)} node(s) of this function have no C rendering and run numpy perform: {listed}",
                  RuntimeWarning, stacklevel=2)


def make_executor(fgraph: FunctionGraph):
    """A C executor, or the numpy interpreter (with one warning) when no compiler works."""
    try:
        return CExecutor(fgraph)
    except toolchain.CompilerUnavailable:
        return Interpreter(fgraph)
