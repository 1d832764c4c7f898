"""The generated call routine of a compiled function, and the locks a call holds.

``make_fast_call(fn)`` writes straight-line Python for the common call (positional ndarrays
of the exact dtype and rank): the argument checks, taking the locks, one run of the
executor's schedule and, where needed, ``fn._finish``. Anything else goes to the function's
general path, which binds, converts and raises.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from ..graph.interpreter import HANDLER, ScheduleCode, compile_source
from ..graph.type import TensorType
from .shared import ranked_lock

if TYPE_CHECKING:
    from .function import Function


#: The lock of a container made without one (a plain list assigned by hand).
_FALLBACK_LOCK = ranked_lock()
class AllLocks:
    """Context manager holding ``locks`` in order (a ``with`` statement naming each one
    would exceed Python's limit on nested blocks for a function with many shared variables)."""

    __slots__ = ("locks",)

    def __init__(self, locks: list):
        self.locks = locks

    def __enter__(self) -> None:
        taken = []
        try:
            for lock in self.locks:
                lock.acquire()
                taken.append(lock)
        except BaseException:
            for lock in reversed(taken):
                lock.release()
            raise

    def __exit__(self, *exc: Any) -> None:
        for lock in reversed(self.locks):
            lock.release()


#: Up to this many locks are named in the generated ``with`` statement itself.
_WITH_LOCKS = 8


def call_locks(containers: list, own: Any) -> list:
    """The locks a call must hold, distinct and by increasing rank (deadlock-free order)."""
    ranked = {id(lock): (rank, lock) for rank, lock in
              [getattr(c, "lock", _FALLBACK_LOCK) for c in containers] + ([own] if own else [])}
    return [lock for _, lock in sorted(ranked.values(), key=lambda r: r[0])]


def fast_call_source(fn: "Function", fresh: tuple, code: Optional[ScheduleCode] = None) -> str:
    """Source of ``call(args, kwargs)`` for ``fn``: straight-line checks, one graph run, and
    (when every output is fresh or borrowed and nothing is updated) the results as they are.
    The run is the executor's schedule ``code`` inlined when given (its parameters are the
    argument names ``a<k>`` then the shared values ``s<k>``), else a call of ``run``.

    The checks accept exactly the values ``TensorType.filter`` would pass through unchanged
    (an ndarray of the exact dtype, rank and static shape); any other call goes to
    ``general``, which converts or raises."""
    n = len(fn._types)
    args = [f"a{k}" for k in range(n)]
    shared = [f"s{k}" for k in range(len(fn._containers))]
    lines = ["def call(args, kwargs):",
             f"    if kwargs or len(args) != {n}:",
             "        return general(args, kwargs)"]
    if n:
        lines.append(f"    {', '.join(args)}, = args")
    if not fn._trust_input:
        conds = []
        for k, t in enumerate(fn._types):
            # a builtin dtype is usually the very object D{k}: ``is`` first skips a slower compare
            conds += [f"type(a{k}) is ndarray", f"(a{k}.dtype is D{k} or a{k}.dtype == D{k})",
                      f"a{k}.ndim == {t.ndim}"]
            conds += [f"a{k}.shape[{d}] == {s}" for d, s in enumerate(t.shape) if s is not None]
        if conds:
            lines += [f"    if not ({' and '.join(conds)}):", "        return general(args, kwargs)"]
    pad = "    "
    if fn._locks:   # held from reading the shared values to storing their updates
        held = range(len(fn._locks)) if len(fn._locks) <= _WITH_LOCKS else ()
        lines.append(f"    with {', '.join(f'L{k}' for k in held) or 'LALL'}:")
        pad += "    "
    lines += [f"{pad}{s} = C{k}[0]" for k, s in enumerate(shared)]
    if code is None:
        lines.append(f"{pad}r = run({', '.join(args + shared)})")
        results = "r"
    else:   # the schedule inlined: one Python call less per call
        if code.body:
            lines += [f"{pad}try:", *[f"{pad}    {b}" for b in code.body], *[pad + h for h in HANDLER]]
        results = f"[{', '.join(code.results)}]"
    plain = (not fn._update_targets and not fn._input_updates
             and all(f or b for f, b in zip(fresh, fn._borrow)))
    if not plain:
        lines.append(f"{pad}return finish([{', '.join(args)}], [{', '.join(shared)}], {results})")
    elif fn._output_kind is None:
        lines.append(f"{pad}return {'r[0]' if code is None else code.results[0]}")
    else:
        lines.append(f"{pad}return {results}")
    return "\n".join(lines)


def make_fast_call(fn: "Function") -> Any:
    """``fn``'s call function: generated when every input is a tensor, else the general path."""
    if not all(isinstance(t, TensorType) for t in fn._types):
        return fn._call_general
    executor = fn.maker.executor
    n_results = len(fn.maker.fgraph.outputs)
    plan = getattr(executor, "plan", None)
    plan_code = getattr(executor, "plan_code", None)
    params = [f"a{k}" for k in range(len(fn._types))] + [f"s{k}" for k in range(len(fn._containers))]
    code = plan_code(params) if plan_code is not None else None
    if code is not None:
        run, fresh = None, code.fresh
    elif plan is not None:
        run, fresh = plan()
    else:
        run, fresh = (lambda *values: executor(list(values))), (False,) * n_results
    namespace = dict(code.namespace) if code is not None else {}
    namespace.update({"general": fn._call_general, "finish": fn._finish, "run": run, "ndarray": np.ndarray})
    namespace.update({f"D{k}": t.numpy_dtype for k, t in enumerate(fn._types)})
    namespace.update({f"C{k}": c for k, c in enumerate(fn._containers)})
    namespace.update({f"L{k}": lock for k, lock in enumerate(fn._locks)}, LALL=AllLocks(fn._locks))
    exec(compile_source(fast_call_source(fn, fresh[:fn._n_out], code), "<call of a compiled function>"), namespace)
    return namespace["call"]
