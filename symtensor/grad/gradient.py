"""Reverse mode (``grad``, ``Lop``) and forward mode (``Rop``) over a graph.

Each op supplies its local rule (``L_op`` / ``R_op``); this module only walks the graph:
it finds the nodes between ``wrt`` and the cost, visits them in reverse order, sums the
contributions to each variable and checks what each rule returns.
"""
from __future__ import annotations

import functools
import warnings
from typing import Any, Sequence

from ..config import config
from ..graph.basic import Variable, ancestors, toposort
from ..graph.null import DisconnectedType, NullType, disconnected_type, is_disconnected, is_null
from ..graph.type import TensorType
from ..ops import api as A
from . import rules, stable_forms


class DisconnectedInputError(ValueError):
    """grad() was asked for the gradient with respect to a variable the cost does not use."""


class NullTypeGradError(TypeError):
    """The gradient is mathematically undefined or not implemented for some op on the path."""


def _as_list(x: Any) -> tuple:
    if isinstance(x, (list, tuple)):
        return list(x), type(x)
    return [x], None


def _restore(values: list, kind: Any) -> Any:
    if kind is None:
        return values[0]
    return kind(values)


def _float_zeros_like(v: Variable) -> Variable:
    return A.zeros_like(v, dtype=v.dtype if v.dtype[0] in "fc" else config.floatX)


def _missing_output_grad(v: Variable) -> Variable:
    """The gradient flowing into an output nothing differentiates: zeros for a tensor, and for
    any other type (a random state, say) a disconnected marker."""
    if isinstance(v.type, TensorType):
        return _float_zeros_like(v)
    return disconnected_type()


def grad(cost: Any, wrt: Any, consider_constant: Sequence | None = None,
         disconnected_inputs: str = "raise", add_names: bool = True, known_grads: dict | None = None,
         return_disconnected: str = "zero", null_gradients: str = "raise") -> Any:
    """Symbolic gradient of the scalar ``cost`` with respect to ``wrt`` (a variable or a list).

    ``consider_constant``: variables whose dependencies are ignored. ``known_grads``: a dict
    {variable: its gradient} to start from (then ``cost`` may be None); a known gradient
    replaces whatever the cost would send back into that variable, as in Theano.
    ``disconnected_inputs``: 'raise', 'warn' or 'ignore' when some ``wrt`` does not influence
    the cost; ``return_disconnected``: 'zero', 'None' or 'Disconnected' for those.
    """
    if disconnected_inputs not in ("raise", "warn", "ignore"):
        raise ValueError(f"disconnected_inputs must be 'raise', 'warn' or 'ignore', got {disconnected_inputs!r}")
    if return_disconnected not in ("zero", "None", "Disconnected"):
        raise ValueError(f"return_disconnected must be 'zero', 'None' or 'Disconnected', got {return_disconnected!r}")
    wrt_list, kind = _as_list(wrt)
    for i, w in enumerate(wrt_list):
        if not isinstance(w, Variable):
            raise TypeError(f"grad: wrt[{i}] is a {type(w).__name__}, expected a symbolic variable")
    seeds: dict = {}
    if cost is not None:
        cost = A.as_tensor_variable(cost)
        if cost.ndim != 0:
            raise TypeError(f"grad: the cost must be a scalar, got {cost} with {cost.ndim} dimension(s); "
                            f"sum it or use jacobian()")
        seeds[cost] = A.ones_like(cost, dtype=cost.dtype if cost.dtype[0] in "fc" else config.floatX)
    for var, g in (known_grads or {}).items():
        g = A.as_tensor_variable(g)
        if g.ndim != var.ndim:
            raise ValueError(f"grad: known_grads for {var} has {g.ndim} dimension(s), expected {var.ndim}")
        seeds[var] = g
    if not seeds:
        raise ValueError("grad: give a cost or known_grads")
    blockers = set(consider_constant or [])
    if cost is not None:          # differentiate a numerically stable form of the cost
        stable = stable_forms.stabilize(cost, keep=set(wrt_list) | blockers | set(known_grads or {}))
        if stable is not cost:
            seeds = {(stable if var is cost else var): g for var, g in seeds.items()}
    grads = _backprop(list(seeds.items()), wrt_list, blockers)
    results = []
    for i, w in enumerate(wrt_list):
        g = grads.get(w)
        if g is None or is_disconnected(g):
            msg = (f"grad: the cost does not depend on wrt[{i}] ({w}); pass disconnected_inputs='ignore' "
                   f"or 'warn' to get a zero gradient")
            if disconnected_inputs == "raise":
                raise DisconnectedInputError(msg)
            if disconnected_inputs == "warn":
                warnings.warn(msg, stacklevel=2)
            if return_disconnected == "zero":
                g = _float_zeros_like(w)
            elif return_disconnected == "None":
                g = None
            else:
                g = disconnected_type()
        elif is_null(g):
            if null_gradients == "raise":
                raise NullTypeGradError(f"grad: the gradient with respect to wrt[{i}] ({w}) is undefined: "
                                        f"{g.type.why_null}")
        elif w.dtype[0] not in "fc":
            g = _float_zeros_like(w)
        if add_names and isinstance(g, Variable) and g.name is None and w.name is not None \
                and getattr(cost, "name", None) is not None:
            g.name = f"(d{cost.name}/d{w.name})"
        results.append(g)
    return _restore(results, kind)


def _backprop(seeds: list, wrt: list, blockers: set) -> dict:
    """Gradients of the seeded variables with respect to every variable on a path to wrt."""
    outputs = [v for v, _ in seeds]
    # variables on a path from wrt to the outputs
    wrt_set = set(wrt)
    nodes = toposort(outputs, blockers=blockers | wrt_set)
    depends: set = set(wrt_set)
    for node in nodes:
        if any(i in depends and i not in blockers for i in node.inputs):
            depends.update(node.outputs)
    contributions: dict = {}
    done: dict = {}
    for var, g in seeds:
        # a seeded gradient is final (Theano's known_grads): what flows back into the
        # variable from the cost is ignored, not added
        done[var] = g

    def total(v: Variable) -> Variable | None:
        if v in done:
            return done[v]
        parts = [p for p in contributions.get(v, []) if not is_disconnected(p)]
        nulls = [p for p in parts if is_null(p)]
        if nulls:
            result = nulls[0]
        elif not parts:
            result = None
        elif len(parts) == 1:
            result = parts[0]
        else:
            result = functools.reduce(A.add, parts)  # binary adds: every backend has them
        done[v] = result
        return result

    for node in reversed(nodes):
        if not any(o in depends for o in node.outputs):
            continue
        out_grads = [total(o) for o in node.outputs]
        if all(g is None for g in out_grads):
            continue
        if any(is_null(g) for g in out_grads if g is not None):
            why = next(g for g in out_grads if g is not None and is_null(g)).type.why_null
            for inp in node.inputs:
                contributions.setdefault(inp, []).append(Variable(NullType(why)))
            continue
        out_grads = [g if g is not None else _missing_output_grad(o) for g, o in zip(out_grads, node.outputs)]
        pattern = node.op.connection_pattern(node)
        needed = [i in depends and i not in blockers and any(pattern[k]) for k, i in enumerate(node.inputs)]
        if not any(needed):
            continue
        in_grads = rules.l_op(node.op, list(node.inputs), list(node.outputs), out_grads)
        if len(in_grads) != len(node.inputs):
            raise ValueError(f"{node.op}.L_op returned {len(in_grads)} gradients for {len(node.inputs)} inputs")
        for k, (inp, g) in enumerate(zip(node.inputs, in_grads)):
            if not needed[k] or g is None or is_disconnected(g):
                continue
            if not is_null(g):
                g = _check_grad(node, k, inp, g)
            contributions.setdefault(inp, []).append(g)
    return {w: total(w) for w in wrt}


def _check_grad(node, k: int, inp: Variable, g: Any) -> Variable:
    g = A.as_tensor_variable(g)
    if not isinstance(inp.type, TensorType):
        return g
    if g.ndim != inp.ndim:
        raise ValueError(f"{node.op}.L_op returned a gradient with {g.ndim} dimension(s) for input {k}, "
                         f"which has {inp.ndim}")
    if inp.dtype[0] in "fc" and g.dtype != inp.dtype:
        g = A.cast(g, inp.dtype)
    for axis, (gi, xi) in enumerate(zip(g.type.shape, inp.type.shape)):
        if gi is not None and xi is not None and gi != xi:
            raise ValueError(f"{node.op}.L_op returned a gradient of static shape {g.type.shape} for input "
                             f"{k} of static shape {inp.type.shape}")
    return g


def Lop(f: Any, wrt: Any, eval_points: Any, consider_constant: Sequence | None = None,
        disconnected_inputs: str = "raise") -> Any:
    """Vector-Jacobian product: ``eval_points``ᵀ · ∂f/∂wrt, without forming the Jacobian."""
    f_list, _ = _as_list(f)
    ev_list, _ = _as_list(eval_points)
    if len(f_list) != len(ev_list):
        raise ValueError(f"Lop: {len(f_list)} outputs but {len(ev_list)} eval points")
    known = {fi: A.as_tensor_variable(ev) for fi, ev in zip(f_list, ev_list)}
    return grad(None, wrt, consider_constant=consider_constant, known_grads=known,
                disconnected_inputs=disconnected_inputs)


def Rop(f: Any, wrt: Any, eval_points: Any) -> Any:
    """Jacobian-vector product: ∂f/∂wrt · ``eval_points``, by each op's forward rule."""
    f_list, f_kind = _as_list(f)
    wrt_list, _ = _as_list(wrt)
    ev_list, _ = _as_list(eval_points)
    if len(wrt_list) != len(ev_list):
        raise ValueError(f"Rop: {len(wrt_list)} wrt variables but {len(ev_list)} eval points")
    tangents: dict = {}
    for w, ev in zip(wrt_list, ev_list):
        ev = A.as_tensor_variable(ev)
        if ev.ndim != w.ndim:
            raise ValueError(f"Rop: the eval point for {w} has {ev.ndim} dimension(s), expected {w.ndim}")
        tangents[w] = ev
    for node in toposort(f_list, blockers=wrt_list):
        evs = [tangents.get(i) for i in node.inputs]
        if all(e is None for e in evs):
            continue
        out_tangents = rules.r_op(node.op, list(node.inputs), evs)
        for o, t in zip(node.outputs, out_tangents):
            if t is not None:
                tangents[o] = A.as_tensor_variable(t)
    results = []
    for fi in f_list:
        t = tangents.get(fi)
        if t is None:
            t = _float_zeros_like(fi)
        results.append(t)
    return _restore(results, f_kind)
