"""Theano's ``ifelse``: a scalar condition chooses between two tensors (or two lists of tensors).

``IfElse(n_outs)`` takes ``[condition] + then_values + else_values`` and returns the chosen
``n_outs`` values (copies, so an output never aliases an input). Evaluation is lazy, as in
Theano: compiled functions (every mode but DebugMode's checked reference run) compute the
condition first and then only the nodes that the chosen branch alone needs (the op declares
``lazy_branches`` and the interpreter's generated schedule does the rest); ``perform``, given
both values, picks one.

Each then/else pair must have the same dtype, ndim and broadcastable pattern, as Theano
requires; static sizes that differ between the branches become unknown in the output. The
gradient of an output flows to the chosen branch only (zeros to the other), and the condition
gets a zero gradient (Theano's convention: a small change of it never switches branches).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..config import config
from ..graph.basic import Apply, Constant, Op, Variable
from ..graph.type import TensorType
from .basic import as_tensor_variable, constant


def _is_float(v: Variable) -> bool:
    return v.dtype[0] in "fc"


def _merged_type(t: Variable, f: Variable, i: int) -> TensorType:
    """The output type of the pair ``(t, f)``; a TypeError naming both types if they differ."""
    if t.dtype != f.dtype or t.ndim != f.ndim or t.broadcastable != f.broadcastable:
        raise TypeError(f"ifelse: the two branches should have identical types, but output {i} is "
                        f"{t.type} on the then branch and {f.type} on the else branch; cast one of "
                        f"them (e.g. symtensor.cast(x, dtype)) or fix its broadcastable pattern "
                        f"(addbroadcast / patternbroadcast)")
    shape = tuple(a if a == b else None for a, b in zip(t.type.shape, f.type.shape))
    return TensorType(t.dtype, shape=shape)


class IfElse(Op):
    """``[condition, t_1..t_n, f_1..f_n] -> [t_i if condition else f_i]``.

    ``condition`` is a scalar of any numeric dtype (0 is false, anything else true, as in
    Theano). ``as_view`` is accepted for Theano compatibility; outputs are always copies.
    ``name`` only labels the node in printouts."""

    __props__ = ("n_outs",)
    #: inputs are ``[condition, then..., else...]``: schedules compute only the chosen branch
    lazy_branches = True

    def __init__(self, n_outs: int, as_view: bool = False, gpu: bool = False, name: str | None = None):
        if isinstance(n_outs, bool) or not isinstance(n_outs, (int, np.integer)) or n_outs < 0:
            raise ValueError(f"IfElse: n_outs must be a non-negative int, got {n_outs!r}")
        self.n_outs = int(n_outs)
        self.as_view = bool(as_view)
        self.name = name

    def __str__(self) -> str:
        return f"if{{{self.name}}}" if self.name else "if{}"

    def make_node(self, condition: Any, *branches: Any) -> Apply:
        n = self.n_outs
        if len(branches) != 2 * n:
            raise ValueError(f"IfElse: expected {2 * n} branch values ({n} then, {n} else) after the "
                             f"condition, got {len(branches)}")
        c = as_tensor_variable(condition)
        if c.ndim != 0:
            raise TypeError(f"IfElse: the condition must be a scalar (0 for false, anything else for "
                            f"true), got {c} of type {c.type}")
        values = [as_tensor_variable(b) for b in branches]
        out_types = [_merged_type(t, f, i) for i, (t, f) in enumerate(zip(values[:n], values[n:]))]
        return Apply(self, [c] + values, [ty() for ty in out_types])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        n = self.n_outs
        chosen = inputs[1:1 + n] if inputs[0] else inputs[1 + n:]
        for cell, value in zip(output_storage, chosen):
            cell[0] = np.array(value, copy=True)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        n = self.n_outs
        c = node.inputs[0]
        out = []
        for ts, fs in zip(input_shapes[1:1 + n], input_shapes[1 + n:]):
            dims = []
            for a, b in zip(ts, fs):
                same = a is b or (isinstance(a, Constant) and isinstance(b, Constant)
                                  and int(a.data) == int(b.data))
                dims.append(a if same else IfElse(1)(c, a, b))
            out.append(tuple(dims))
        return out

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        from . import api as A
        n = self.n_outs
        c, ts, fs = inputs[0], inputs[1:1 + n], inputs[1 + n:]
        floats = [i for i in range(n) if _is_float(ts[i])]
        g_t = [A.zeros_like(t, dtype=config.floatX) for t in ts]
        g_f = [A.zeros_like(f, dtype=config.floatX) for f in fs]
        if floats:
            gs = [_like(output_grads[i], outputs[i]) for i in floats]
            then_op = IfElse(len(floats), name=f"{self.name}_grad_then" if self.name else None)
            else_op = IfElse(len(floats), name=f"{self.name}_grad_else" if self.name else None)
            chosen_t = _as_list(then_op(c, *gs, *[A.zeros_like(ts[i]) for i in floats]))
            chosen_f = _as_list(else_op(c, *[A.zeros_like(fs[i]) for i in floats], *gs))
            for k, i in enumerate(floats):
                g_t[i], g_f[i] = chosen_t[k], chosen_f[k]
        return [A.zeros_like(c, dtype=config.floatX)] + g_t + g_f

    def R_op(self, inputs: list, eval_points: list) -> list:
        from . import api as A
        n = self.n_outs
        c, ts, fs = inputs[0], inputs[1:1 + n], inputs[1 + n:]
        ets, efs = eval_points[1:1 + n], eval_points[1 + n:]
        out = []
        for t, f, et, ef in zip(ts, fs, ets, efs):
            if (et is None and ef is None) or not _is_float(t):
                out.append(None)
                continue
            et = A.zeros_like(t) if et is None else _like(et, t)
            ef = A.zeros_like(f) if ef is None else _like(ef, f)
            out.append(IfElse(1)(c, et, ef))
        return out


def _as_list(v: Any) -> list:
    return list(v) if isinstance(v, (list, tuple)) else [v]


def _like(g: Any, ref: Variable) -> Variable:
    """``g`` with ``ref``'s dtype and broadcastable pattern (so that it pairs with zeros_like(ref))."""
    from . import api as A
    g = A.cast(as_tensor_variable(g), ref.dtype)
    if g.broadcastable != ref.broadcastable:
        g = A.second(ref, g)
        extra = [i for i, (a, b) in enumerate(zip(g.broadcastable, ref.broadcastable)) if b and not a]
        if extra:
            g = A.addbroadcast(g, *extra)
    return g


def _literal_like(value: Any, other: Any) -> Variable:
    """A non-symbolic branch value as a constant of the other branch's dtype when that keeps the
    value exactly (so ``ifelse(c, x_float32, 0.)`` works); otherwise as_tensor_variable's choice."""
    if isinstance(value, Variable) or not isinstance(other, Variable) or not isinstance(other.type, TensorType):
        return as_tensor_variable(value)
    arr = np.asarray(value)
    if arr.dtype != object:
        with np.errstate(all="ignore"):
            cast = arr.astype(other.dtype)
            if np.array_equal(cast.astype(arr.dtype), arr, equal_nan=arr.dtype.kind in "fc"):
                return constant(cast)
    return as_tensor_variable(value)


def ifelse(condition: Any, then_branch: Any, else_branch: Any, name: str | None = None) -> Any:
    """``then_branch`` if the scalar ``condition`` is non-zero, else ``else_branch``.

    Both branches are a tensor or a list/tuple of tensors of the same length, pairwise of the
    same dtype and broadcastable pattern (a TypeError names the pair otherwise). Returns a
    tensor, or a list/tuple like the one given. Both branches are computed (see the module
    docstring); the gradient flows to the chosen branch only."""
    kind = type(then_branch) if isinstance(then_branch, (list, tuple)) else None
    thens = list(then_branch) if kind else [then_branch]
    elses = list(else_branch) if isinstance(else_branch, (list, tuple)) else [else_branch]
    if len(thens) != len(elses):
        raise ValueError(f"ifelse: the then branch has {len(thens)} value(s) but the else branch has "
                         f"{len(elses)}; they must have the same number")
    thens, elses = ([_literal_like(t, e) for t, e in zip(thens, elses)],
                    [_literal_like(e, t) for t, e in zip(thens, elses)])
    if not thens:
        return kind() if kind else []
    outs = _as_list(IfElse(len(thens), name=name)(condition, *thens, *elses))
    if kind is None:
        return outs[0]
    return kind(outs)
