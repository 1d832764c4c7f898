"""``function``: compile inputs, outputs and updates into a Python callable.

A call maps arguments to inputs (positional or by name, defaults from ``In``), checks
each one against its type, runs the executor once, and only when every output and update
was computed replaces the shared values. Returned arrays never alias the caller's
arrays or shared storage (unless ``Out(borrow=True)``).

Threads: a call of a function that reads shared variables or has ``In(update=)`` inputs holds
the locks of every shared variable it reads (and its own, for input defaults) from reading the
values to storing the new ones, taken in one process-wide order, so concurrent calls of
functions touching the same shared variables never lose an update, reuse a random state or
read an array while an update is written into it. Functions without shared variables take no
lock: executors keep per-call values in local variables.

Compiled (FAST_RUN) functions write an update into the shared variable's old array where that
is safe (see ``backends/c/inplace.py``); as in Theano, an array handed over with
``borrow=True`` may therefore change in place.
"""
from __future__ import annotations

import warnings
from typing import Any, Iterable, Sequence

import numpy as np

from ..graph.basic import Constant, Variable, clone_replace, graph_inputs, traced
from ..graph.fg import FunctionGraph, used_inputs
from ..graph.type import TensorType
from ..ops.basic import as_tensor_variable
from ..backends import python as py_backend
from ..backends.c import executor as c_backend
from ..backends.debug import CompareExecutor
from ..rewrite import RewriteLog, optimize
from .io import In, Out
from .mode import Mode, get_mode
from .call_code import AllLocks, call_locks, make_fast_call
from .shared import SharedVariable, ranked_lock


_NO_REWRITES = (None, "fast_compile")


class UnusedInputError(ValueError):
    """An input given to function() is not used by any output or update."""


_MISSING = object()

_WARNED_DEVICE: list = []


def _warn_device() -> None:
    """Once per process: a CUDA device was asked for but only the CPU backends exist, so
    the user is not left believing the function runs on the GPU."""
    from ..config import config
    device = str(config.device)
    if device.startswith("cuda") and not _WARNED_DEVICE:
        _WARNED_DEVICE.append(device)
        warnings.warn(f"device={device!r}: the CUDA backend is not available yet; running on the CPU",
                      RuntimeWarning, stacklevel=4)


def _as_update_value(var: SharedVariable, new: Any, where: str) -> Variable:
    """Check that ``new`` can become the value of ``var``; returns it as a variable of var's type."""
    if not isinstance(new, Variable):
        try:
            new = as_tensor_variable(new)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{where}: the new value of {var} must be a symbolic expression or an array, got "
                            f"{type(new).__name__} ({err})") from None
    if not isinstance(var.type, TensorType) or not isinstance(new.type, TensorType):
        if new.type != var.type:
            raise TypeError(f"{where}: the update of {var} has type {new.type}, but the variable has type "
                            f"{var.type}")
        return new
    if new.dtype != var.dtype:
        raise TypeError(f"{where}: the update of {var} has dtype {new.dtype}, but the variable has dtype "
                        f"{var.dtype}; cast it, e.g. (new_value).astype('{var.dtype}')")
    if new.ndim != var.ndim:
        raise TypeError(f"{where}: the update of {var} has {new.ndim} dimension(s), the variable has "
                        f"{var.ndim}")
    if new.type != var.type:
        from ..ops.shape import patternbroadcast, specify_shape
        new = specify_shape(patternbroadcast(new, var.broadcastable), var.type.shape)
    return new


def _normalize_updates(updates: Any) -> list:
    """``updates`` (pairs, a dict or an OrderedDict) as a list of checked (shared, expression) pairs."""
    if updates is None:
        return []
    if isinstance(updates, (Variable, str, bytes)) or not isinstance(updates, (dict, Iterable)):
        raise TypeError(f"updates must be a list of (shared_variable, new_expression) pairs or a dict, got "
                        f"{type(updates).__name__}")
    pairs = list(updates.items()) if isinstance(updates, dict) else list(updates)
    out = []
    seen = set()
    for k, pair in enumerate(pairs):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise TypeError(f"updates[{k}] must be a (shared_variable, new_expression) pair, got {pair!r}")
        var, new = pair
        if not isinstance(var, SharedVariable):
            raise TypeError(f"updates[{k}]: {var} is not a shared variable; only shared variables can be "
                            f"updated")
        if var in seen:
            raise ValueError(f"updates: shared variable {var} is updated twice")
        seen.add(var)
        out.append((var, _as_update_value(var, new, f"updates[{k}]")))
    return out


def _default_updates(roots: list, updates: list, no_default_updates: Any) -> list:
    """(shared, default_update) pairs for the shared variables the graph uses that carry a
    ``default_update`` and are neither updated explicitly nor listed in ``no_default_updates``."""
    if no_default_updates is True:
        return []
    skip = set(no_default_updates) if isinstance(no_default_updates, (list, tuple, set)) else set()
    done = {var for var, _ in updates} | skip
    extra: list = []
    frontier = list(roots) + [u for _, u in updates]
    while frontier:
        found = [v for v in graph_inputs(frontier) if isinstance(v, SharedVariable)
                 and getattr(v, "default_update", None) is not None and v not in done]
        for v in found:
            done.add(v)
            extra.append((v, _as_update_value(v, v.default_update, f"default_update of {v}")))
        frontier = [u for v, u in extra if v in found]
    return extra


def _normalize_givens(givens: Any) -> dict:
    """``givens`` (a dict or pairs) as {old variable: replacement variable}, types checked."""
    if givens is None:
        return {}
    if isinstance(givens, (Variable, str)) or not isinstance(givens, (dict, Iterable)):
        raise TypeError(f"givens must be a dict or a list of (variable, replacement) pairs, got "
                        f"{type(givens).__name__}")
    pairs = list(givens.items()) if isinstance(givens, dict) else list(givens)
    out = {}
    for k, pair in enumerate(pairs):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise TypeError(f"givens[{k}] must be a (variable, replacement) pair, got {pair!r}")
        old, new = pair
        if not isinstance(old, Variable):
            raise TypeError(f"givens: the key {old!r} is not a symbolic variable")
        new = as_tensor_variable(new) if not isinstance(new, Variable) else new
        if isinstance(old.type, TensorType) and (new.dtype != old.dtype or new.ndim != old.ndim):
            raise TypeError(f"givens: {old} of type {old.type} cannot be replaced by {new} of type {new.type}; "
                            f"dtype and ndim must match")
        out[old] = new
    return out


class FunctionMaker:
    """Builds the FunctionGraph and executor; kept on the function as ``f.maker``.

    The graph's inputs are the explicit inputs then the implicit shared variables; its
    outputs are the user's outputs, then the shared-variable updates, then the updates of
    ``In(..., update=)`` inputs.
    """

    def __init__(self, inputs: list, outputs: list, updates: list, mode: Mode, on_unused_input: str):
        self.inputs = inputs
        self.mode = mode
        explicit = [i.variable for i in inputs]
        input_updates = [i.update for i in inputs if i.update is not None]
        shared = []
        for v in graph_inputs(outputs + [u for _, u in updates] + input_updates):
            if isinstance(v, SharedVariable) and v not in shared and v not in explicit:
                shared.append(v)
        for var, _ in updates:
            if var not in shared and var not in explicit:
                shared.append(var)
        self.shared = shared
        fg_outputs = outputs + [u for _, u in updates] + input_updates
        self.fgraph = FunctionGraph(explicit + shared, fg_outputs, clone=True)
        self.n_outputs = len(outputs)
        self.n_updates = len(updates)
        self._updates = updates
        self._check_unused(explicit, fg_outputs, on_unused_input)
        self.rewrite_log = RewriteLog()
        self.executor = self._make_executor()

    def _check_unused(self, explicit: list, outputs: list, policy: str) -> None:
        if policy == "ignore":
            return
        used = used_inputs(explicit, outputs)
        for k, v in enumerate(explicit):
            if v not in used:
                msg = (f"function: input {k} ({v}) is not used to compute any output or update; pass "
                       f"on_unused_input='ignore' (or 'warn') if this is intended")
                if policy == "raise":
                    raise UnusedInputError(msg)
                warnings.warn(msg, stacklevel=6)  # the caller of function()

    def _make_executor(self):
        """Rewrite the graph (unless the mode says not to), then pick the backend."""
        if self.mode.optimizer not in _NO_REWRITES:
            self.rewrite_log = optimize(self.fgraph, self.mode.optimizer, self.mode.excluded)
        if self.mode.linker == "debug":
            return CompareExecutor(self.fgraph)
        if self.mode.linker == "c":
            executor = c_backend.make_executor(self.fgraph)
            plan = getattr(executor, "plan_inplace_updates", None)
            if plan is not None and self.n_updates:
                first = len(self.inputs)
                plan([(self.fgraph.inputs[first + self.shared.index(var)], self.n_outputs + j)
                      for j, (var, _) in enumerate(self._updates) if var in self.shared])
            return executor
        return py_backend.make_executor(self.fgraph)


def _aliases(value: np.ndarray, claimed: list) -> bool:
    """Whether ``value`` may share memory with one of the ``claimed`` arrays."""
    return any(value is a or np.may_share_memory(value, a) for a in claimed)


def _own(value: Any, claimed: list, exempt: Any = None) -> Any:
    """``value``, copied when it is read-only or may alias a ``claimed`` array (other than
    ``exempt``); the result is then added to ``claimed``."""
    if not isinstance(value, np.ndarray):
        return value
    others = [a for a in claimed if a is not exempt] if exempt is not None else claimed
    if not value.flags.writeable or _aliases(value, others):
        value = value.copy()
    claimed.append(value)
    return value


class Function:
    """A compiled function. Call it with positional or keyword arguments.

    A call first tries a path generated for this function (see :func:`.call_code.fast_call_source`):
    every argument given by position, each already an ndarray of its input's exact dtype,
    rank and static shape. Anything else takes the general path, which binds keywords and
    defaults, converts values and raises the errors; both give the same results."""

    def __init__(self, maker: FunctionMaker, output_kind: Any, borrow_outputs: list, name: str | None,
                 allow_input_downcast: bool | None, spec: dict):
        self.maker = maker
        self.name = name
        self._output_kind = output_kind
        self._borrow = borrow_outputs
        self._allow_downcast = allow_input_downcast
        self._spec = spec
        ins = maker.inputs
        self._types = [i.variable.type for i in ins]
        self._names: dict = {}
        for k, i in enumerate(ins):
            if i.name is not None:
                self._names.setdefault(i.name, []).append(k)
        self._defaults = [i.value if i.has_default else _MISSING for i in ins]
        self._filters = [(i.strict, i.allow_downcast if i.allow_downcast is not None else allow_input_downcast)
                         for i in ins]
        self._input_updates = [k for k, i in enumerate(ins) if i.update is not None]
        self._containers = [s.container for s in maker.shared]
        self._update_targets = [s.container for s, _ in spec["updates"]]
        self._n_out = maker.n_outputs
        # Reading shared values and storing their updates (or the new input defaults) is one
        # atomic step with respect to other calls. Updates may be written into the old arrays
        # (see backends/c/inplace.py), so a function that only reads shared values holds their
        # locks too; a function without shared values or input updates takes no lock.
        stateful = bool(self._update_targets or self._input_updates or self._containers)
        self._locks = (call_locks(self._containers, ranked_lock() if self._input_updates else None)
                       if stateful else [])
        self.trust_input = False

    @property
    def trust_input(self) -> bool:
        """Whether arguments are passed to the graph unchecked (Theano's ``trust_input``)."""
        return self._trust_input

    @trust_input.setter
    def trust_input(self, value: bool) -> None:
        self._trust_input = bool(value)
        self._call = make_fast_call(self)

    @property
    def fn_name(self) -> str:
        return self.name or "function"

    # --- calling -------------------------------------------------------------------------
    def _describe(self, k: int) -> str:
        i = self.maker.inputs[k]
        who = f"input {k}" + (f" ('{i.name}')" if i.name else "")
        return f"{self.fn_name}: {who}"

    def _signature(self) -> str:
        return ", ".join(i.name or f"<input {k}>" for k, i in enumerate(self.maker.inputs))

    def _bind(self, args: tuple, kwargs: dict) -> list:
        """One value per input, from positional and keyword arguments and defaults."""
        n = len(self._types)
        if len(args) > n:
            raise TypeError(f"{self.fn_name} takes {n} argument(s) ({self._signature()}) but {len(args)} "
                            f"were given")
        values = list(args) + [_MISSING] * (n - len(args))
        for key, val in kwargs.items():
            ks = self._names.get(key)
            if ks is None:
                known = ", ".join(repr(x) for x in self._names) or "none"
                raise TypeError(f"{self.fn_name} got an unknown keyword argument {key!r}; named inputs: {known}")
            if len(ks) > 1:
                raise TypeError(f"{self.fn_name}: the keyword {key!r} is ambiguous: inputs {ks} share that name; "
                                f"pass them by position")
            k = ks[0]
            if values[k] is not _MISSING:
                raise TypeError(f"{self._describe(k)} was given twice (by position and by name)")
            values[k] = val
        for k, v in enumerate(values):
            if v is _MISSING:
                if self._defaults[k] is _MISSING:
                    raise TypeError(f"{self._describe(k)} is missing (no default value); expected a value of "
                                    f"type {self._types[k]}")
                values[k] = self._defaults[k]
        return values

    def _filter(self, values: list) -> list:
        """Each value checked and converted to its input's type; errors name the input."""
        out = []
        for k, (v, t, (strict, allow)) in enumerate(zip(values, self._types, self._filters)):
            try:
                out.append(t.filter(v, strict=strict, allow_downcast=allow))
            except (TypeError, ValueError) as err:
                msg = str(err)
                if str(t) not in msg:   # say what was expected once
                    msg += f" (expected {t})"
                raise type(err)(f"{self._describe(k)}: bad value: {msg}") from None
        return out

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(args, kwargs)

    def _call_general(self, args: tuple, kwargs: dict) -> Any:
        """Any call: bind keywords and defaults, check and convert, run, finish (holding the
        function's locks, if any, throughout)."""
        if not self._locks:
            return self._call_unlocked(args, kwargs)
        with AllLocks(self._locks):
            return self._call_unlocked(args, kwargs)

    def _call_unlocked(self, args: tuple, kwargs: dict) -> Any:
        if self._trust_input and not kwargs and len(args) == len(self._types):
            values = list(args)
        else:
            values = self._bind(args, kwargs)
            if not self._trust_input:
                values = self._filter(values)
        old_shared = [c[0] for c in self._containers]
        return self._finish(values, old_shared, self.maker.executor(values + old_shared))

    def _finish(self, values: list, old_shared: list, results: list) -> Any:
        """Take ownership of the results, then store the updates and return the outputs."""
        n_out, n_upd = self._n_out, self.maker.n_updates
        outputs, new_shared, new_defaults = results[:n_out], results[n_out:n_out + n_upd], results[n_out + n_upd:]
        # Nothing is stored before every output and update was computed, and no stored or
        # returned array may alias the caller's arrays, another shared value or another output.
        claimed = [a for a in values + old_shared if isinstance(a, np.ndarray)]
        new_shared = [_own(v, claimed, exempt=t[0]) for t, v in zip(self._update_targets, new_shared)]
        new_defaults = [_own(v, claimed) for v in new_defaults]
        outputs = [o if self._borrow[k] else _own(o, claimed) for k, o in enumerate(outputs)]
        for target, new in zip(self._update_targets, new_shared):
            target[0] = new
        for k, new in zip(self._input_updates, new_defaults):
            self._defaults[k] = new
        if self._output_kind is None:
            return outputs[0]
        return outputs

    # --- helpers ---------------------------------------------------------------------------
    def copy(self, share_memory: bool = False, swap: dict | None = None, delete_updates: bool = False,
             name: str | None = None) -> "Function":
        """A new function computing the same thing. ``swap`` maps shared variables to other shared
        variables of the same type; ``delete_updates`` drops the updates."""
        spec = dict(self._spec)
        if name is not None:
            spec["name"] = name
        if delete_updates:
            spec["updates"] = []
        if swap:
            spec = _swap_shared(spec, swap)
        fn = _build(**spec)
        fn.trust_input = self.trust_input
        return fn

    def __reduce__(self):
        defaults = {k: v for k, v in enumerate(self._defaults) if v is not _MISSING}
        return (_rebuild, (self._spec, defaults, self.trust_input))

    def __repr__(self) -> str:
        return f"<symtensor.Function {self.name or ''} ({len(self._types)} input(s))>"


def _swap_shared(spec: dict, swap: dict) -> dict:
    """``spec`` with the shared variables in ``swap`` replaced (in expressions and as targets)."""
    for old, new in swap.items():
        if not (isinstance(old, SharedVariable) and isinstance(new, SharedVariable)) or old.type != new.type:
            raise TypeError(f"copy(swap=...): {old} -> {new} must map a shared variable to another shared "
                            f"variable of the same type")
    out_list, kind, borrow = spec["outputs"]
    updates = spec["updates"]
    exprs = clone_replace(out_list + [u for _, u in updates], dict(swap), strict=False)
    new_updates = [(swap.get(v, v), u) for (v, _), u in zip(updates, exprs[len(out_list):])]
    return dict(spec, outputs=(exprs[:len(out_list)], kind, borrow), updates=new_updates)


def _rebuild(spec: dict, defaults: dict | None = None, trust_input: bool = False) -> Function:
    """Unpickling: recompile from the pickled graph and restore the input defaults."""
    fn = _build(**spec)
    for k, v in (defaults or {}).items():
        fn._defaults[k] = v
    fn.trust_input = trust_input
    return fn


def _build(inputs: list, outputs: Any, updates: list, mode: Mode, name: str | None,
           allow_input_downcast: bool | None, on_unused_input: str) -> Function:
    spec = dict(inputs=inputs, outputs=outputs, updates=updates, mode=mode, name=name,
                allow_input_downcast=allow_input_downcast, on_unused_input=on_unused_input)
    out_list, kind, borrow = outputs
    _warn_device()
    maker = FunctionMaker(inputs, out_list, updates, mode, on_unused_input)
    return Function(maker, kind, borrow, name, allow_input_downcast, spec)


def _normalize_inputs(inputs: Any) -> list:
    """The inputs as a list of ``In``, checked: free, non-shared, distinct variables."""
    if isinstance(inputs, (Variable, In)) or not isinstance(inputs, (list, tuple)):
        raise TypeError(f"function: inputs must be a list of variables, e.g. function([x], y); got "
                        f"{type(inputs).__name__}")
    ins: list = []
    for k, i in enumerate(inputs):
        if not isinstance(i, In):
            if not isinstance(i, Variable):
                raise TypeError(f"function: input {k} is a {type(i).__name__}, expected a symbolic variable")
            i = In(i)
        v = i.variable
        if isinstance(v, Constant):
            raise TypeError(f"function: input {k} ({v}) is a constant; inputs must be free variables")
        if isinstance(v, SharedVariable):
            raise TypeError(f"function: input {k} ({v}) is a shared variable; shared variables are implicit "
                            f"inputs and must not be listed (use givens to substitute one)")
        if v.owner is not None:
            raise TypeError(f"function: input {k} ({v}) is computed from other variables; inputs must be free "
                            f"variables (use givens to substitute an intermediate)")
        if any(v is j.variable for j in ins):
            raise ValueError(f"function: input {k} ({v}) appears more than once in the inputs")
        if i.update is not None:
            if not i.has_default:
                raise ValueError(f"function: input {k} ({v}) has an update but no default value; give "
                                 f"In(..., value=...) as well")
            i.update = _as_update_value(v, i.update, f"input {k}")
        ins.append(i)
    return ins


def _normalize_outputs(outputs: Any) -> tuple:
    """(list of output variables, None for a single output or list, borrow flag per output)."""
    if outputs is None:
        return [], list, []
    kind = list if isinstance(outputs, (list, tuple)) else None
    raw = list(outputs) if kind is not None else [outputs]
    out_list, borrow = [], []
    for k, o in enumerate(raw):
        b = False
        if isinstance(o, Out):
            o, b = o.variable, o.borrow
        if not isinstance(o, Variable):
            try:
                o = as_tensor_variable(o)
            except (TypeError, ValueError) as err:
                raise TypeError(f"function: output {k} is a {type(o).__name__}, expected a symbolic variable "
                                f"({err})") from None
        out_list.append(o)
        borrow.append(b)
    return out_list, kind, borrow


@traced
def function(inputs: Sequence, outputs: Any = None, mode: Any = None, updates: Any = None,
             givens: Any = None, no_default_updates: Any = False, accept_inplace: bool = False,
             name: str | None = None, rebuild_strict: bool = True, allow_input_downcast: bool | None = None,
             profile: Any = None, on_unused_input: str | None = None, trust_input: bool = False) -> Function:
    """Compile a callable computing ``outputs`` from ``inputs`` and applying ``updates``.

    ``outputs``: a variable (the call returns one array), a list (a list of arrays) or None.
    ``updates``: (shared, expression) pairs or a dict, applied after every output is computed.
    ``givens``: {variable: replacement} substituted in the graph before compiling.
    ``no_default_updates``: True, or a list of shared variables whose ``default_update`` is
    not applied.
    """
    from ..config import config
    if on_unused_input is None:
        on_unused_input = config.on_unused_input
    if on_unused_input not in ("raise", "warn", "ignore"):
        raise ValueError(f"on_unused_input must be 'raise', 'warn' or 'ignore', got {on_unused_input!r}")
    mode = get_mode(mode)
    ins = _normalize_inputs(inputs)
    out_list, kind, borrow = _normalize_outputs(outputs)
    update_pairs = _normalize_updates(updates)
    replace = _normalize_givens(givens)
    if replace:
        new = clone_replace(out_list + [u for _, u in update_pairs], replace, strict=False)
        update_pairs = [(var, u) for (var, _), u in zip(update_pairs, new[len(out_list):])]
        out_list = new[:len(out_list)]
    update_pairs += _default_updates(out_list + [i.update for i in ins if i.update is not None],
                                     update_pairs, no_default_updates)
    fn = _build(ins, (out_list, kind, borrow), update_pairs, mode, name, allow_input_downcast,
                on_unused_input)
    fn.trust_input = trust_input
    return fn
