"""``verify_grad``: compare symbolic gradients with central finite differences."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..graph import _hooks
from ..graph.fg import FunctionGraph
from ..graph.interpreter import Interpreter
from ..graph.type import TensorType
from ..ops import api as A
from .gradient import grad


class GradientError(AssertionError):
    """The symbolic and numeric gradients disagree; the message names the worst element."""


_DEFAULTS = {  # dtype: (eps, abs_tol, rel_tol)
    "float64": (1e-7, 1e-4, 1e-4),
    "float32": (3e-3, 3e-2, 3e-2),
    "float16": (1e-1, 5e-1, 5e-1),
}


def _compile(inputs: list, outputs: list, mode: Any) -> Callable:
    if mode is not None and _hooks.function_factory is not None:
        fn = _hooks.function_factory(inputs, outputs, mode=mode, on_unused_input="ignore")
        return lambda *vals: fn(*vals)
    run = Interpreter(FunctionGraph(inputs, outputs))
    return lambda *vals: run(list(vals))


def verify_grad(fun: Callable, pt: Sequence, n_tests: int = 2, rng: Any = None, eps: float | None = None,
                out_type: str | None = None, abs_tol: float | None = None, rel_tol: float | None = None,
                mode: Any = None, cast_to_output_type: bool = False, no_debug_ref: bool = True) -> None:
    """Check ``grad`` of ``fun`` at the point ``pt`` (a list of arrays).

    The scalar cost is ``sum(fun(*inputs) * r)`` with a random projection ``r``; its gradient
    is compared with central differences element by element. Raises GradientError naming the
    input, the element, both values and the tolerances when they disagree.
    """
    if rng is None:
        rng = np.random.default_rng(42)
    elif isinstance(rng, np.random.RandomState):
        rng = np.random.default_rng(rng.randint(2**31))
    pt = [np.array(p) for p in pt]
    for i, p in enumerate(pt):
        if p.dtype.kind not in "fc":
            raise TypeError(f"verify_grad: point {i} has dtype {p.dtype}; gradients need float inputs")
    dtype = str(np.result_type(*[p.dtype for p in pt]))
    d_eps, d_abs, d_rel = _DEFAULTS.get(dtype, _DEFAULTS["float64"])
    eps = d_eps if eps is None else eps
    abs_tol = d_abs if abs_tol is None else abs_tol
    rel_tol = d_rel if rel_tol is None else rel_tol

    inputs = [TensorType(p.dtype, broadcastable=[False] * p.ndim)(f"input_{i}") for i, p in enumerate(pt)]
    out = fun(*inputs)
    if isinstance(out, (list, tuple)):
        raise TypeError("verify_grad: fun must return a single variable")
    out = A.as_tensor_variable(out)
    f_out = _compile(inputs, [out], mode)
    o_val = np.asarray(f_out(*pt)[0])
    for test in range(n_tests):
        proj_val = rng.random(o_val.shape).astype(out.dtype if out.dtype[0] == "f" else "float64") + 0.5
        proj = A.constant(proj_val, name="random_projection")
        cost = A.sum(out * proj)
        grads = grad(cost, inputs, disconnected_inputs="ignore")
        f_cost = _compile(inputs, [cost], mode)
        f_grad = _compile(inputs, list(grads), mode)
        analytic = [np.asarray(g) for g in f_grad(*pt)]
        for i, p in enumerate(pt):
            numeric = _numeric_grad(lambda v: float(f_cost(*(pt[:i] + [v] + pt[i + 1:]))[0]), p, eps)
            _compare(i, inputs[i], analytic[i], numeric, abs_tol, rel_tol, test)


def _numeric_grad(f: Callable, x: np.ndarray, eps: float) -> np.ndarray:
    g = np.zeros(x.shape, dtype="float64")
    flat = x.reshape(-1)
    gflat = g.reshape(-1)
    for j in range(flat.size):
        plus = x.copy().reshape(-1)
        minus = x.copy().reshape(-1)
        plus[j] += eps
        minus[j] -= eps
        gflat[j] = (f(plus.reshape(x.shape)) - f(minus.reshape(x.shape))) / (2 * eps)
    return g


def _compare(i: int, var: Any, analytic: np.ndarray, numeric: np.ndarray, abs_tol: float, rel_tol: float,
             test: int) -> None:
    if analytic.shape != numeric.shape:
        raise GradientError(f"verify_grad: gradient for input {i} has shape {analytic.shape}, "
                            f"expected {numeric.shape}")
    if analytic.size == 0:
        return
    abs_err = np.abs(analytic - numeric)
    rel_err = abs_err / np.maximum(np.abs(analytic) + np.abs(numeric), 1e-8)
    bad = (abs_err > abs_tol) & (rel_err > rel_tol)
    if np.any(bad) or not np.all(np.isfinite(analytic)):
        idx = np.unravel_index(int(np.argmax(np.where(bad | ~np.isfinite(analytic), abs_err, -1))), abs_err.shape)
        raise GradientError(
            f"verify_grad (test {test}): the gradient with respect to input {i} ({var.name}) disagrees with "
            f"finite differences at element {tuple(int(k) for k in idx)}: analytic {float(analytic[idx]):.8g}, "
            f"numeric {float(numeric[idx]):.8g}, abs error {abs_err[idx]:.3g} (tol {abs_tol}), rel error "
            f"{rel_err[idx]:.3g} (tol {rel_tol}); {int(bad.sum())} of {bad.size} elements out of tolerance")
