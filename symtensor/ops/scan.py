"""``scan`` and its shorthands ``map``, ``reduce``, ``foldl``, ``foldr`` (Theano 1.0's interface).

``scan`` calls the user's ``fn`` once on symbolic step variables, turns what it returns into
the body of a ``Scan`` op (ops/scan_op.py) and applies the op to the outer sequences, initial
states and non-sequences. Theano's conventions, followed here:

- ``fn`` receives, in order: the sequence slices (every tap of every sequence), the previous
  values of the recurrent outputs (every tap of every output with an initial state), then
  the non-sequences.
- Sequence taps: at step ``t`` tap ``k`` reads ``seq[t + k]``, counted as if tap 0 were
  also used, so a sequence of length ``L`` with taps ``[-2, -1]`` gives ``L - 2`` steps and
  the first step reads ``seq[0], seq[1]``.
- ``outputs_info``: ``None`` (not fed back), an initial state (taps ``[-1]``: fn gets the
  previous value) or ``dict(initial=x0, taps=[-2, -1])`` (``x0[:2]`` holds the two values
  before the first step).
- Shared variables that ``fn`` updates (returned ``{shared: new_value}``) evolve over the
  steps; ``scan`` returns their final values in ``updates``, to pass to ``function``.
- Variables ``fn`` uses without receiving them become implicit non-sequences (an error
  with ``strict=True``).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable

from ..graph.basic import Constant, Variable, ancestors, clone_replace, graph_inputs, toposort, traced
from ..graph.type import TensorType
from .basic import as_tensor_variable, constant
from .scan_op import Scan
from .scan_parse import (ScanTypeError, check_output_types, default_updates, parse_outputs_info,
                         parse_return, parse_sequences, step_name)

__all__ = ["scan", "map", "reduce", "foldl", "foldr", "OrderedUpdates", "ScanTypeError"]


class OrderedUpdates(OrderedDict):
    """The updates ``scan`` returns: an ordered {shared variable: new value} dict that
    ``function(updates=...)`` accepts. Keys must be shared variables; ``update`` refuses to
    give one variable two different new values."""

    def __setitem__(self, key: Any, value: Any) -> None:
        if not getattr(key, "is_shared", False):
            raise TypeError(f"OrderedUpdates: the key {key!r} is not a shared variable; only shared variables "
                            f"can be updated")
        super().__setitem__(key, value)

    def update(self, other: Any = None, **kwargs: Any) -> None:
        if kwargs:
            raise TypeError("OrderedUpdates.update takes a dict or (shared, value) pairs, not keyword arguments")
        if other is None:
            return
        for key, value in (other.items() if isinstance(other, dict) else other):
            if key in self:
                if self[key] is value:
                    continue
                raise KeyError(f"OrderedUpdates: shared variable {key} already has a different update")
            self[key] = value

    def __add__(self, other: Any) -> "OrderedUpdates":
        result = OrderedUpdates()
        result.update(self)
        result.update(other)
        return result


@traced
def scan(fn: Callable, sequences: Any = None, outputs_info: Any = None, non_sequences: Any = None,
         n_steps: Any = None, truncate_gradient: int = -1, go_backwards: bool = False, mode: Any = None,
         name: str | None = None, profile: Any = False, allow_gc: Any = None, strict: bool = False,
         return_list: bool = False) -> tuple:
    """Repeat ``fn`` over ``sequences`` and recurrent states; returns ``(outputs, updates)``.

    ``outputs``: one variable per output of ``fn`` with the steps stacked on a new axis 0
    (the variable itself for one output, ``None`` for none, a list otherwise, or always a
    list with ``return_list=True``). ``updates``: an ``OrderedUpdates`` with the final value
    of each shared variable ``fn`` updates. ``n_steps`` (an int or integer scalar) bounds
    the number of steps; without sequences it is required. ``go_backwards`` walks the
    sequences from the end. ``truncate_gradient`` > 0 backpropagates through the last that
    many steps only. ``mode``, ``profile`` and ``allow_gc`` are accepted for Theano
    compatibility (the body runs on the function's backend).
    """
    if not callable(fn):
        raise TypeError(f"scan: fn must be callable, got {type(fn).__name__}")
    if not isinstance(truncate_gradient, int) or isinstance(truncate_gradient, bool) \
            or (truncate_gradient < 1 and truncate_gradient != -1):
        raise ValueError(f"scan: truncate_gradient must be -1 (full backpropagation) or a positive number of "
                         f"steps, got {truncate_gradient!r}")
    seq_specs = parse_sequences(sequences)
    out_specs = parse_outputs_info(outputs_info)
    non_seqs = [v if isinstance(v, Variable) else as_tensor_variable(v) for v in _as_list(non_sequences)]
    steps, steps_const = _explicit_n_steps(n_steps)
    seq_outer, offsets, spans, seq_inner = _sequence_inputs(seq_specs, go_backwards, steps_const)
    if steps is None:
        steps = _implied_n_steps(seq_outer, spans)
    rec_inits, rec_taps, tap_inner = _state_inputs(out_specs)

    args = [v for inner in seq_inner for v in inner] + [v for taps in tap_inner for v in taps] + non_seqs
    outputs, updates = parse_return(fn(*args))
    if out_specs and len(outputs) != len(out_specs):
        raise ValueError(f"scan: fn returned {len(outputs)} output(s) but outputs_info has {len(out_specs)} "
                         f"entries; give None in outputs_info for each output that is not fed back (i.e. "
                         f"that behaves like a map)")
    if not out_specs:
        out_specs = [None] * len(outputs)
    rec_idx = [i for i, s in enumerate(out_specs) if s is not None]
    nit_idx = [i for i, s in enumerate(out_specs) if s is None]
    updates = default_updates(outputs, updates)
    outputs, updates, tap_inner = check_output_types(outputs, updates, out_specs, rec_idx, tap_inner)

    rec_outs, nit_outs = [outputs[i] for i in rec_idx], [outputs[i] for i in nit_idx]
    step_vars = [v for inner in seq_inner for v in inner] + [v for taps in tap_inner for v in taps]
    exprs = rec_outs + nit_outs + list(updates.values())
    implicit = _implicit_inputs(exprs, set(step_vars + non_seqs), list(updates.keys()), strict)
    outer_nonseqs = [v for v in _unique(non_seqs) if not isinstance(v, Constant) and v not in updates] + implicit
    loop = _Loop(steps, seq_outer, offsets, spans, seq_inner, rec_inits, rec_taps, tap_inner, outer_nonseqs,
                 own=set(step_vars + non_seqs), name=name,
                 op_kwargs=dict(truncate_gradient=truncate_gradient, mode=mode,
                                seq_labels=[s["label"] for s in seq_specs]),
                 out_labels=_out_labels(rec_idx + nit_idx, out_specs))
    rec_traj, nit_traj, finals = loop.build(rec_outs, nit_outs, updates)
    by_position = dict(zip(rec_idx + nit_idx, rec_traj + nit_traj))
    user_outputs = [by_position[i] for i in range(len(out_specs))]
    new_updates = OrderedUpdates()
    for var in updates:
        new_updates[var] = finals[var]
    if return_list:
        return user_outputs, new_updates
    if len(user_outputs) == 1:
        return user_outputs[0], new_updates
    return (user_outputs or None), new_updates


class _Loop:
    """Builds the Scan node(s) of one ``scan`` call from its parsed pieces.

    Usually one node. When the body draws from random states it threads (a random stream
    used inside ``fn``), the loop is split in two so that it can be differentiated: a first
    scan threads the random states and returns every step's draws (the outputs of the nodes
    that read a random state) as mapped outputs, plus the final states; a second scan runs
    the rest of the body, reading the draws as sequences. The backward pass of the second
    then sees the draws as data (constants for the gradient), the same numbers the forward
    pass used. Recurrent outputs the draws depend on (e.g. a size taken from a state's
    shape) are computed by the first scan too. When the draws depend on a tensor shared
    variable the loop updates, one scan threads everything (its outputs then have no
    gradient through the loop)."""

    def __init__(self, steps: Variable, seq_outer: list, offsets: list, spans: list, seq_inner: list,
                 rec_inits: list, rec_taps: list, tap_inner: list, outer_nonseqs: list, own: set,
                 name: str | None, op_kwargs: dict, out_labels: list):
        self.steps, self.outer_nonseqs, self.own, self.name = steps, outer_nonseqs, own, name
        self.seqs = list(zip(seq_outer, offsets, spans, seq_inner, op_kwargs.pop("seq_labels")))
        self.recs = list(zip(rec_inits, rec_taps, tap_inner, out_labels))
        self.nit_labels = out_labels[len(rec_inits):]
        self.op_kwargs = op_kwargs

    def build(self, rec_outs: list, nit_outs: list, updates: OrderedDict) -> tuple:
        """(recurrent trajectories, mapped trajectories, {shared variable: final value})."""
        if any(not isinstance(v.type, TensorType) for v in updates):
            split = self._split(rec_outs, nit_outs, updates)
            if split is not None:
                return split
        recs = [r + (o,) for r, o in zip(self.recs, rec_outs)]
        return self._apply(self.seqs, recs, list(zip(nit_outs, self.nit_labels)), updates, None, self.name)

    def _split(self, rec_outs: list, nit_outs: list, updates: OrderedDict) -> tuple | None:
        random_states = [v for v in updates if not isinstance(v.type, TensorType)]
        tensor_states = [v for v in updates if isinstance(v.type, TensorType)]
        all_exprs = rec_outs + nit_outs + list(updates.values())
        draws = [o for node in toposort(all_exprs, blockers=self.own)
                 if any(not isinstance(i.type, TensorType) for i in node.inputs)
                 for o in node.outputs if isinstance(o.type, TensorType)]
        # the recurrent outputs the draws and the new random states need, to a fixed point
        tap_owner = {v: k for k, r in enumerate(self.recs) for v in r[2]}
        needed: set = set()
        while True:
            exprs = draws + [updates[v] for v in random_states] + [rec_outs[k] for k in sorted(needed)]
            used = ancestors(exprs, blockers=self.own)
            more = {tap_owner[v] for v in used if v in tap_owner} - needed
            if not more:
                break
            needed |= more
        if any(v in used for v in tensor_states):
            return None
        draw_steps = {d: d.type.make_variable(getattr(d, "name", None)) for d in draws}
        rest = clone_replace(rec_outs + nit_outs + [updates[v] for v in tensor_states], draw_steps, strict=False)
        if any(not isinstance(v.type, TensorType) for v in graph_inputs(rest, blockers=self.own)):
            return None
        keep = sorted(needed)
        rng_updates = OrderedDict((v, updates[v]) for v in random_states)
        name = (self.name or "scan_fn") + "_draws"
        recs1 = [self.recs[k] + (rec_outs[k],) for k in keep]
        _, traj, finals = self._apply(self.seqs, recs1, [(d, f"random draw {i}") for i, d in enumerate(draws)],
                                      rng_updates, set(), name, constant=True)
        seqs2 = self.seqs + [(t, [0], 0, [draw_steps[d]], f"random draw {i}")
                             for i, (d, t) in enumerate(zip(draws, traj))]
        recs2 = [r + (o,) for r, o in zip(self.recs, rest[:len(rec_outs)])]
        nits2 = list(zip(rest[len(rec_outs):len(rec_outs) + len(nit_outs)], self.nit_labels))
        own2 = set(draw_steps.values())
        rec_traj, nit_traj, finals2 = self._apply(seqs2, recs2, nits2, OrderedDict(
            zip(tensor_states, rest[len(rec_outs) + len(nit_outs):])), own2, self.name)
        finals.update(finals2)
        return rec_traj, nit_traj, finals

    def _apply(self, seqs: list, recs: list, nits: list, updates: OrderedDict, extra_own: set | None,
               name: str | None, constant: bool = False) -> tuple:
        """Apply one Scan node. ``seqs``: (outer, offsets, span, step variables, label);
        ``recs``: (initial buffer, taps, tap variables, label, output); ``nits``: (output,
        label); ``updates``: {shared variable: new value}. Every non-sequence becomes an input
        or, with ``extra_own`` (the further step variables of a split loop's part), only those
        the body uses."""
        exprs = [r[4] for r in recs] + [o for o, _ in nits] + list(updates.values())
        step_vars = [v for s in seqs for v in s[3]] + [v for r in recs for v in r[2]]
        nonseqs = self.outer_nonseqs
        if extra_own is not None:
            used = set(graph_inputs(exprs, blockers=self.own | extra_own))
            nonseqs = [v for v in nonseqs if v in used]
        state_vars = list(updates.keys())
        replace = {v: _fresh(v) for v in state_vars + nonseqs}
        inner_outs = clone_replace(exprs, replace, strict=False) if replace else exprs
        inner_ins = step_vars + [replace[v] for v in state_vars + nonseqs]
        op = Scan(inner_ins, inner_outs, [s[1] for s in seqs], [s[2] for s in seqs], [r[1] for r in recs],
                  len(nits), len(state_vars), name=name, seq_labels=[s[4] for s in seqs],
                  out_labels=[r[3] for r in recs] + [label for _, label in nits], constant=constant,
                  **self.op_kwargs)
        results = op(self.steps, *([s[0] for s in seqs] + [r[0] for r in recs] + state_vars + nonseqs))
        results = results if isinstance(results, list) else [results]
        n_rec, n_nit = len(recs), len(nits)
        return (results[:n_rec], results[n_rec:n_rec + n_nit],
                OrderedDict(zip(state_vars, results[n_rec + n_nit:])))


def _as_list(x: Any) -> list:
    if x is None:
        return []
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def _unique(items: list) -> list:
    out: list = []
    for v in items:
        if not any(v is u for u in out):
            out.append(v)
    return out


def _fresh(v: Variable) -> Variable:
    """A free variable of ``v``'s type standing for ``v`` inside the body."""
    new = v.type()
    new.name = v.name
    return new


def _out_labels(order: list, out_specs: list) -> list:
    return [f"output {i}" + (" (outputs_info[%d])" % i if out_specs[i] is not None else "") for i in order]


def _explicit_n_steps(n_steps: Any) -> tuple:
    """(int64 scalar or None, its constant value or None); negative constants are refused."""
    if n_steps is None:
        return None, None
    if isinstance(n_steps, bool) or (not isinstance(n_steps, Variable) and not hasattr(n_steps, "dtype")
                                     and not isinstance(n_steps, int)):
        raise TypeError(f"scan: n_steps must be an integer or an integer scalar variable, got {n_steps!r}")
    var = as_tensor_variable(n_steps)
    if var.ndim != 0 or var.dtype[:3] not in ("int", "uin"):
        raise TypeError(f"scan: n_steps must be an integer scalar, got {var} of type {var.type}")
    value = int(var.data) if isinstance(var, Constant) else None
    if value is not None and value < 0:
        raise ValueError(f"scan: n_steps is {value}; the number of steps must be >= 0 (use go_backwards=True "
                         f"to walk the sequences from the end)")
    if var.dtype != "int64":
        from .elemwise import cast
        var = cast(var, "int64")
    return var, value


def _sequence_inputs(seq_specs: list, go_backwards: bool, steps_const: int | None) -> tuple:
    """Outer sequences (reversed for ``go_backwards``), their read offsets and spans, and the
    step variables ``fn`` receives. Static lengths are checked against the taps and n_steps."""
    outer, offsets, spans, inner = [], [], [], []
    for spec in seq_specs:
        seq, taps, label = spec["input"], spec["taps"], spec["label"]
        lo, hi = min(taps + [0]), max(taps + [0])
        span = hi - lo
        length = seq.type.shape[0]
        if length is not None and length < span:
            raise ValueError(f"scan: {label} has {length} entries along axis 0, but its taps {taps} need at "
                             f"least {span}: they reach before the start of the sequence")
        if length is not None and steps_const is not None and length - span < steps_const:
            raise ValueError(f"scan: n_steps is {steps_const}, but {label} has {length} entries along axis 0 and "
                             f"provides only {length - span} step(s) with taps {taps}")
        if go_backwards:
            seq = seq[::-1]
            offs = [hi - k for k in taps]
        else:
            offs = [k - lo for k in taps]
        elem = TensorType(seq.dtype, shape=seq.type.shape[1:])
        inner.append([elem.make_variable(step_name(spec["input"], k)) for k in taps])
        outer.append(seq)
        offsets.append(offs)
        spans.append(span)
    return outer, offsets, spans, inner


def _implied_n_steps(seq_outer: list, spans: list) -> Variable:
    """The number of steps the sequences provide: the shortest length minus its span."""
    from .elemwise import ELEMWISE_FUNCTIONS
    from .shape import shape_i
    if not seq_outer:
        raise ValueError("scan: no sequences and no n_steps: cannot tell how many steps to run; give "
                         "n_steps or at least one sequence")
    steps = None
    for seq, span in zip(seq_outer, spans):
        length = seq.type.shape[0]
        if length is not None:
            n = constant(length - span, dtype="int64")
        else:
            n = shape_i(seq, 0) - span if span else shape_i(seq, 0)
        steps = n if steps is None else ELEMWISE_FUNCTIONS["minimum"](steps, n)
    return steps


def _state_inputs(out_specs: list) -> tuple:
    """For each output with an initial state: the outer initial buffer (a single state gets a
    leading axis of 1), its taps, and the step variables ``fn`` receives."""
    from .elemwise import shape_padleft
    inits, taps_all, inner = [], [], []
    for i, spec in enumerate(out_specs):
        if spec is None:
            continue
        init, taps = spec["initial"], spec["taps"]
        if taps == [-1]:
            elem = init.type
            init = shape_padleft(init)
        else:
            if init.ndim < 1:
                raise ValueError(f"scan: outputs_info[{i}] uses taps {taps}, so its initial value needs a leading "
                                 f"axis holding the {-min(taps)} values before the first step; got a scalar")
            m = -min(taps)
            if init.type.shape[0] is not None and init.type.shape[0] < m:
                raise ValueError(f"scan: the initial value of outputs_info[{i}] has {init.type.shape[0]} entries "
                                 f"along axis 0, but its taps {taps} need {m}")
            elem = TensorType(init.dtype, shape=init.type.shape[1:])
        inits.append(init)
        taps_all.append(list(taps))
        inner.append([elem.make_variable(step_name(spec["initial"], k)) for k in taps])
    return inits, taps_all, inner


def _implicit_inputs(exprs: list, own: set, state_vars: list, strict: bool) -> list:
    """Free variables the body uses besides its arguments: shared variables (not updated)
    and, unless ``strict``, any other free variable. Updated shared variables are states."""
    found = []
    states = set(state_vars)
    for v in graph_inputs(exprs, blockers=own):
        if v in own or isinstance(v, Constant) or v in states:
            continue
        if strict:
            kind = "shared variable" if getattr(v, "is_shared", False) else "variable"
            raise ValueError(f"scan(strict=True): fn uses the {kind} {v} (type {v.type}) without receiving it; "
                             f"pass it in non_sequences (or use strict=False)")
        found.append(v)
    return _unique(found)


def map(fn: Callable, sequences: Any, non_sequences: Any = None, truncate_gradient: int = -1,
        go_backwards: bool = False, mode: Any = None, name: str | None = None) -> tuple:
    """``fn`` applied to each entry of the sequences: ``scan`` with no recurrent state."""
    return scan(fn, sequences=sequences, outputs_info=[], non_sequences=non_sequences,
                truncate_gradient=truncate_gradient, go_backwards=go_backwards, mode=mode, name=name)


def reduce(fn: Callable, sequences: Any, outputs_info: Any, non_sequences: Any = None, go_backwards: bool = False,
           mode: Any = None, name: str | None = None) -> tuple:
    """The last step of ``scan`` (e.g. a sum over a sequence); returns ``(result, updates)``."""
    outputs, updates = scan(fn, sequences=sequences, outputs_info=outputs_info, non_sequences=non_sequences,
                            go_backwards=go_backwards, truncate_gradient=-1, mode=mode, name=name)
    if isinstance(outputs, (list, tuple)):
        return [o[-1] for o in outputs], updates
    return outputs[-1], updates


def foldl(fn: Callable, sequences: Any, outputs_info: Any, non_sequences: Any = None, mode: Any = None,
          name: str | None = None) -> tuple:
    """``reduce`` from the first entry of the sequences to the last."""
    return reduce(fn, sequences, outputs_info, non_sequences=non_sequences, go_backwards=False, mode=mode, name=name)


def foldr(fn: Callable, sequences: Any, outputs_info: Any, non_sequences: Any = None, mode: Any = None,
          name: str | None = None) -> tuple:
    """``reduce`` from the last entry of the sequences to the first."""
    return reduce(fn, sequences, outputs_info, non_sequences=non_sequences, go_backwards=True, mode=mode, name=name)

