"""Argument handling for ``scan``: Theano's forms of ``sequences``, ``outputs_info`` and of what
``fn`` returns, normalized and checked with errors that name the argument at fault."""
from __future__ import annotations

import numbers
from collections import OrderedDict
from typing import Any

import numpy as np

from ..graph.basic import Variable, clone_replace, graph_inputs
from ..graph.type import TensorType
from .basic import as_tensor_variable


class ScanTypeError(TypeError, ValueError):
    """A step of ``fn`` returns a value whose type does not fit its recurrent state or its
    shared variable (a TypeError; also a ValueError, the class Theano raised for it)."""


def step_name(var: Any, tap: int) -> str | None:
    """Theano's names for step variables: ``x[t]``, ``x[t-1]``, ``x[t+2]``."""
    name = getattr(var, "name", None)
    if name is None:
        return None
    return f"{name}[t]" if tap == 0 else f"{name}[t{tap:+d}]"


def _taps(raw: Any, where: str) -> list:
    taps = list(raw) if isinstance(raw, (list, tuple)) else [raw]
    for k in taps:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"scan: {where}: taps must be integers, got {raw!r}")
    return [int(k) for k in taps]


def _label(kind: str, j: int, var: Variable) -> str:
    return f"{kind}[{j}]" + (f" ({var.name})" if getattr(var, "name", None) else "")


def parse_sequences(sequences: Any) -> list:
    """Each sequence as {'input', 'taps', 'label'}; sequences with no taps are dropped."""
    items = [] if sequences is None else list(sequences) if isinstance(sequences, (list, tuple)) else [sequences]
    specs = []
    for j, item in enumerate(items):
        if isinstance(item, dict):
            unknown = set(item) - {"input", "taps"}
            if unknown or "input" not in item:
                raise ValueError(f"scan: sequences[{j}] must be a variable or dict(input=..., taps=[...]); got "
                                 f"the keys {sorted(_keys(item))}")
            var = as_tensor_variable(item["input"])
            taps = [0] if item.get("taps") is None else _taps(item["taps"], f"sequences[{j}]")
        else:
            var, taps = as_tensor_variable(item), [0]
        if var.ndim < 1:
            raise TypeError(f"scan: sequences[{j}] ({var}) has type {var.type}; a sequence needs at least one "
                            f"dimension (scan iterates over axis 0)")
        if taps:
            specs.append({"input": var, "taps": taps, "label": _label("sequences", j, var)})
    return specs


def _keys(d: dict) -> list:
    """The keys of a dict as strings (for messages)."""
    return [str(k) for k in d]


def parse_outputs_info(outputs_info: Any) -> list:
    """Each entry as None (not fed back) or {'initial', 'taps'}; taps must be negative."""
    if outputs_info is None:
        return []
    items = list(outputs_info) if isinstance(outputs_info, (list, tuple)) else [outputs_info]
    specs: list = []
    for i, item in enumerate(items):
        if item is None:
            specs.append(None)
            continue
        if isinstance(item, dict):
            unknown = set(item) - {"initial", "taps"}
            if unknown:
                raise ValueError(f"scan: outputs_info[{i}] has unknown keys {sorted(_keys(item))}; expected "
                                 f"'initial' and 'taps'")
            initial, raw_taps = item.get("initial"), item.get("taps")
            if initial is None:
                if raw_taps:
                    raise ValueError(f"scan: outputs_info[{i}] gives taps {raw_taps} but no initial value; an "
                                     f"output read at earlier steps needs dict(initial=..., taps=...)")
                specs.append(None)
                continue
            taps = [-1] if raw_taps is None else _taps(raw_taps, f"outputs_info[{i}]")
            if not taps:
                specs.append(None)
                continue
        else:
            initial, taps = item, [-1]
        if any(k >= 0 for k in taps):
            raise ValueError(f"scan: outputs_info[{i}]: taps must be negative (a step can only read earlier "
                             f"values of its outputs), got {taps}")
        specs.append({"initial": as_tensor_variable(initial), "taps": taps})
    return specs


def _is_number(x: Any) -> bool:
    return isinstance(x, (numbers.Number, np.ndarray, np.generic)) and not isinstance(x, bool)


def _is_outputs(x: Any) -> bool:
    if isinstance(x, Variable):
        return True
    return isinstance(x, (list, tuple)) and all(isinstance(e, Variable) or _is_number(e) for e in x)


def _is_updates(x: Any) -> bool:
    if isinstance(x, dict):
        return True
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(
        isinstance(p, (list, tuple)) and len(p) == 2 and getattr(p[0], "is_shared", False) for p in x)


def parse_return(ret: Any) -> tuple:
    """(list of output variables, OrderedDict of updates) from what ``fn`` returned: outputs,
    updates, or both as a pair (in either order)."""
    outputs: Any = []
    updates: Any = {}
    if ret is None:
        pass
    elif _is_updates(ret):
        updates = ret
    elif _is_outputs(ret):
        outputs = ret
    elif isinstance(ret, (list, tuple)) and len(ret) == 2 and _is_outputs(ret[0]) and _is_updates(ret[1]):
        outputs, updates = ret
    elif isinstance(ret, (list, tuple)) and len(ret) == 2 and _is_updates(ret[0]) and _is_outputs(ret[1]):
        updates, outputs = ret
    else:
        raise ValueError(f"scan: cannot understand what fn returned ({ret!r}); fn must return its outputs (a "
                         f"variable or a list of variables), a dict of updates {{shared: new_value}}, or "
                         f"both as (outputs, updates)")
    outputs = [outputs] if isinstance(outputs, Variable) else list(outputs)
    out_vars = []
    for i, o in enumerate(outputs):
        v = o if isinstance(o, Variable) else as_tensor_variable(o)
        if not isinstance(v.type, TensorType):
            raise TypeError(f"scan: output {i} of fn is {v} of type {v.type}; expected a tensor")
        out_vars.append(v)
    pairs = updates.items() if isinstance(updates, dict) else updates
    upd: OrderedDict = OrderedDict()
    for var, new in pairs:
        if not getattr(var, "is_shared", False):
            raise TypeError(f"scan: fn returned an update for {var!r}, which is not a shared variable; only "
                            f"shared variables can be updated")
        if var in upd:
            raise ValueError(f"scan: fn returned two updates for shared variable {var}")
        upd[var] = new if isinstance(new, Variable) else as_tensor_variable(new)
    return out_vars, upd


def default_updates(outputs: list, updates: OrderedDict) -> OrderedDict:
    """``updates`` plus the ``default_update`` of every shared variable the body uses that
    has one and is not updated explicitly (as Theano's scan does for random streams)."""
    result = OrderedDict(updates)
    frontier = list(outputs) + list(updates.values())
    while frontier:
        found = [v for v in graph_inputs(frontier) if getattr(v, "is_shared", False)
                 and getattr(v, "default_update", None) is not None and v not in result]
        for v in found:
            result[v] = v.default_update
        frontier = [v.default_update for v in found]
    return result


def _type_error(i: int, out: Variable, want: TensorType, what: str) -> ScanTypeError:
    hint = (f"cast one of them, e.g. (...).astype('{want.dtype}')" if out.dtype != want.dtype else
            "make their numbers of dimensions agree (with taps other than [-1] the initial value has one "
            "more dimension than a step: the leading axis holds the earlier steps)")
    return ScanTypeError(f"scan: output {i} of fn has type {out.type} (dtype {out.dtype}, {out.ndim} dimension(s)), "
                         f"but {what} has type {want} (dtype {want.dtype}, {want.ndim} dimension(s)); {hint}")


def check_output_types(outputs: list, updates: OrderedDict, out_specs: list, rec_idx: list,
                       tap_inner: list) -> tuple:
    """Check that every recurrent output fits its state and every update its shared variable.

    A state whose static shape is more specific than the output's (e.g. an initial value
    with a broadcastable axis) is relaxed to accept the output, and the body rebuilt on the
    relaxed step variables. Returns (outputs, updates, step variables of the states)."""
    outputs, tap_inner = list(outputs), [list(t) for t in tap_inner]
    for _ in range(1 + max([o.ndim for o in outputs] + [0])):
        changed = False
        for r, i in enumerate(rec_idx):
            want, out = tap_inner[r][0].type, outputs[i]
            if out.dtype != want.dtype or out.ndim != want.ndim:
                raise _type_error(i, out, want, f"its state (the initial value in outputs_info[{i}])")
            if want.is_super(out.type):
                continue
            relaxed = TensorType(want.dtype, shape=tuple(a if a == b else None for a, b in
                                                         zip(want.shape, out.type.shape)))
            new_taps = [relaxed.make_variable(v.name) for v in tap_inner[r]]
            exprs = clone_replace(outputs + list(updates.values()), dict(zip(tap_inner[r], new_taps)), strict=False)
            outputs = exprs[:len(outputs)]
            updates = OrderedDict(zip(updates.keys(), exprs[len(outputs):]))
            tap_inner[r], changed = new_taps, True
        if not changed:
            break
    checked: OrderedDict = OrderedDict()
    for var, new in updates.items():
        if not isinstance(var.type, TensorType):    # e.g. a random state: threaded through the loop
            if new.type != var.type:
                raise ScanTypeError(f"scan: the update of shared variable {var} returned by fn has type "
                                    f"{new.type}, but the variable has type {var.type}")
            checked[var] = new
            continue
        if not isinstance(new.type, TensorType):
            raise ScanTypeError(f"scan: the update of shared variable {var} returned by fn has type {new.type}, "
                                f"but the variable has type {var.type}")
        if new.dtype != var.dtype or new.ndim != var.ndim:
            raise ScanTypeError(f"scan: the update of shared variable {var} returned by fn has type {new.type}, "
                                f"but the variable has type {var.type}; cast it, e.g. (new_value).astype("
                                f"'{var.dtype}')")
        if not var.type.is_super(new.type):
            from .shape import specify_shape
            new = specify_shape(new, var.type.shape)
        checked[var] = new
    return outputs, checked, tap_inner
