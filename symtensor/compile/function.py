"""``function``: compile inputs, outputs and updates into a Python callable.

A call maps arguments to inputs (positional or by name, defaults from ``In``), checks
each one against its type, runs the executor once, and only when every output and update
was computed replaces the shared values. Returned arrays never alias the caller's
arrays or shared storage (unless ``Out(borrow=True)``).
"""
from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Any, Iterable, Sequence

import numpy as np

from ..graph.basic import Constant, Variable, clone_replace, graph_inputs
from ..graph.fg import FunctionGraph, used_inputs
from ..graph.type import TensorType
from ..ops.basic import as_tensor_variable
from ..backends import python as py_backend
from .io import In, Out
from .mode import Mode, get_mode
from .shared import SharedVariable


class UnusedInputError(ValueError):
    """An input given to function() is not used by any output or update."""


_MISSING = object()


def _normalize_updates(updates: Any) -> list:
    if updates is None:
        return []
    if isinstance(updates, dict) and not isinstance(updates, OrderedDict) and len(updates) > 1:
        warnings.warn("function(updates=dict): a plain dict has no guaranteed order in old Pythons; "
                      "the order of insertion is used", stacklevel=3)
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
        new = as_tensor_variable(new)
        if new.dtype != var.dtype:
            raise TypeError(f"updates[{k}]: the update of {var} has dtype {new.dtype}, but the shared variable "
                            f"has dtype {var.dtype}; cast it, e.g. (new_value).astype('{var.dtype}')")
        if new.ndim != var.ndim:
            raise TypeError(f"updates[{k}]: the update of {var} has {new.ndim} dimension(s), the shared "
                            f"variable has {var.ndim}")
        if new.type != var.type:
            from ..ops.shape import patternbroadcast, specify_shape
            new = specify_shape(patternbroadcast(new, var.broadcastable), var.type.shape)
        out.append((var, new))
    return out


def _normalize_givens(givens: Any) -> dict:
    if givens is None:
        return {}
    pairs = list(givens.items()) if isinstance(givens, dict) else list(givens)
    out = {}
    for old, new in pairs:
        if not isinstance(old, Variable):
            raise TypeError(f"givens: the key {old!r} is not a symbolic variable")
        new = as_tensor_variable(new) if not isinstance(new, Variable) else new
        if isinstance(old.type, TensorType) and (new.dtype != old.dtype or new.ndim != old.ndim):
            raise TypeError(f"givens: {old} of type {old.type} cannot be replaced by {new} of type {new.type}; "
                            f"dtype and ndim must match")
        out[old] = new
    return out


class FunctionMaker:
    """Builds the FunctionGraph and executor; kept on the function as ``f.maker``."""

    def __init__(self, inputs: list, outputs: list, updates: list, mode: Mode, on_unused_input: str):
        self.inputs = inputs
        self.mode = mode
        explicit = [i.variable for i in inputs]
        shared = []
        for v in graph_inputs(outputs + [u for _, u in updates]):
            if isinstance(v, SharedVariable) and v not in shared and v not in explicit:
                shared.append(v)
        for var, _ in updates:
            if var not in shared and var not in explicit:
                shared.append(var)
        self.shared = shared
        fg_outputs = outputs + [u for _, u in updates]
        self.fgraph = FunctionGraph(explicit + shared, fg_outputs, clone=True)
        self.n_outputs = len(outputs)
        self._check_unused(explicit, fg_outputs, on_unused_input)
        self.rewrite_log: list = []
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
                warnings.warn(msg, stacklevel=4)

    def _make_executor(self):
        if self.mode.linker == "debug":
            return py_backend.DebugExecutor(self.fgraph)
        return py_backend.make_executor(self.fgraph)


class Function:
    """A compiled function. Call it with positional or keyword arguments."""

    def __init__(self, maker: FunctionMaker, output_kind: Any, borrow_outputs: list, name: str | None,
                 allow_input_downcast: bool | None, spec: dict):
        self.maker = maker
        self.name = name
        self.trust_input = False
        self._output_kind = output_kind
        self._borrow = borrow_outputs
        self._allow_downcast = allow_input_downcast
        self._spec = spec
        ins = maker.inputs
        self._types = [i.variable.type for i in ins]
        self._names = {}
        for k, i in enumerate(ins):
            if i.name is not None and i.name not in self._names:
                self._names[i.name] = k
        self._defaults = [i.value if i.has_default else _MISSING for i in ins]
        self._containers = [s.container for s in maker.shared]
        self._update_targets = [s.container for s, _ in spec["updates"]]
        self._n_out = maker.n_outputs

    # --- calling -------------------------------------------------------------------------
    def _describe(self, k: int) -> str:
        i = self.maker.inputs[k]
        who = f"input {k}" + (f" ('{i.name}')" if i.name else "")
        return f"{self.name or 'function'}: {who}"

    def _bind(self, args: tuple, kwargs: dict) -> list:
        n = len(self._types)
        if len(args) > n:
            raise TypeError(f"{self.name or 'function'} takes {n} argument(s) but {len(args)} were given")
        values = list(args) + [_MISSING] * (n - len(args))
        for key, val in kwargs.items():
            k = self._names.get(key)
            if k is None:
                known = ", ".join(repr(x) for x in self._names) or "none"
                raise TypeError(f"{self.name or 'function'} got an unknown keyword argument {key!r}; named "
                                f"inputs: {known}")
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
        out = []
        for k, (v, t) in enumerate(zip(values, self._types)):
            inp = self.maker.inputs[k]
            allow = inp.allow_downcast if inp.allow_downcast is not None else self._allow_downcast
            try:
                out.append(t.filter(v, strict=inp.strict, allow_downcast=allow))
            except (TypeError, ValueError) as err:
                raise type(err)(f"{self._describe(k)}: bad value: {err} (expected {t})") from None
        return out

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        values = self._bind(args, kwargs) if (kwargs or len(args) != len(self._types) or
                                              not self.trust_input) else list(args)
        if not self.trust_input:
            values = self._filter(values)
        shared_values = [c[0] for c in self._containers]
        results = self.maker.executor(values + shared_values)
        outputs = results[:self._n_out]
        for target, new in zip(self._update_targets, results[self._n_out:]):
            target[0] = new
        outputs = [self._own(k, o, values, shared_values) for k, o in enumerate(outputs)]
        if self._output_kind is None:
            return outputs[0]
        return outputs

    def _own(self, k: int, out: Any, inputs: list, shared_values: list) -> Any:
        """Copy an output that may alias a caller's array, a shared value or a constant."""
        if self._borrow[k] or not isinstance(out, np.ndarray):
            return out
        if not out.flags.writeable or any(
                out is a or (isinstance(a, np.ndarray) and np.may_share_memory(out, a))
                for a in inputs + shared_values):
            return out.copy()
        return out

    # --- helpers ---------------------------------------------------------------------------
    def copy(self) -> "Function":
        return _build(**self._spec)

    def __reduce__(self):
        return (_rebuild, (self._spec,))

    def __repr__(self) -> str:
        return f"<symtensor.Function {self.name or ''} ({len(self._types)} input(s))>"


def _rebuild(spec: dict) -> Function:
    return _build(**spec)


def _build(inputs: list, outputs: Any, updates: list, mode: Mode, name: str | None,
           allow_input_downcast: bool | None, on_unused_input: str) -> Function:
    spec = dict(inputs=inputs, outputs=outputs, updates=updates, mode=mode, name=name,
                allow_input_downcast=allow_input_downcast, on_unused_input=on_unused_input)
    out_list, kind, borrow = outputs
    maker = FunctionMaker(inputs, out_list, updates, mode, on_unused_input)
    return Function(maker, kind, borrow, name, allow_input_downcast, spec)


def function(inputs: Sequence, outputs: Any = None, mode: Any = None, updates: Any = None,
             givens: Any = None, no_default_updates: bool = False, accept_inplace: bool = False,
             name: str | None = None, rebuild_strict: bool = True, allow_input_downcast: bool | None = None,
             profile: Any = None, on_unused_input: str | None = None, trust_input: bool = False) -> Function:
    """Compile a callable computing ``outputs`` from ``inputs`` and applying ``updates``.

    ``outputs``: a variable (the call returns one array), a list (a list of arrays) or None.
    ``givens``: {variable: replacement} substituted in the graph before compiling.
    """
    from ..config import config
    if isinstance(inputs, (Variable, In)):
        raise TypeError("function: inputs must be a list of variables, e.g. function([x], y)")
    if on_unused_input is None:
        on_unused_input = config.on_unused_input
    if on_unused_input not in ("raise", "warn", "ignore"):
        raise ValueError(f"on_unused_input must be 'raise', 'warn' or 'ignore', got {on_unused_input!r}")
    ins = []
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
                            f"inputs and must not be listed")
        if v.owner is not None:
            raise TypeError(f"function: input {k} ({v}) is computed from other variables; inputs must be free "
                            f"variables (use givens to substitute an intermediate)")
        if any(v is j.variable for j in ins):
            raise ValueError(f"function: input {k} ({v}) appears more than once in the inputs")
        ins.append(i)

    if outputs is None:
        out_list, kind, borrow = [], list, []
    else:
        kind = type(outputs) if isinstance(outputs, (list, tuple)) else None
        raw = list(outputs) if kind is not None else [outputs]
        out_list, borrow = [], []
        for k, o in enumerate(raw):
            b = False
            if isinstance(o, Out):
                o, b = o.variable, o.borrow
            if not isinstance(o, Variable):
                o = as_tensor_variable(o)
            out_list.append(o)
            borrow.append(b)
        kind = list if kind is not None else None

    update_pairs = _normalize_updates(updates)
    replace = _normalize_givens(givens)
    if replace:
        new = clone_replace(out_list + [u for _, u in update_pairs], replace, strict=False)
        out_list = new[:len(out_list)]
        update_pairs = [(var, u) for (var, _), u in zip(update_pairs, new[len(out_list):])]
    fn = _build(ins, (out_list, kind, borrow), update_pairs, get_mode(mode), name, allow_input_downcast,
                on_unused_input)
    fn.trust_input = trust_input
    return fn
