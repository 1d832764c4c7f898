"""Full derivative matrices: ``jacobian``, ``hessian`` and ``hessian_vector_product``.

``vectorize=True`` (the default) builds a Jacobian with no loop in the graph: the
vector-Jacobian product ``Lop(expression, wrt, u)`` is built once for a symbolic row ``u``,
then vectorized over the rows of an identity matrix with each op's batching rule, which
yields every row at once. ``vectorize=False`` builds Theano 1.0's construction, a ``scan``
over the rows, each computing one gradient.
"""
from __future__ import annotations

from typing import Any, Sequence

from ..config import config
from ..graph.basic import Variable
from ..graph.type import TensorType
from ..ops import api as A
from .gradient import Rop, grad
from .vectorize import broadcast_to_batch, vectorize_graph


class JacobianInputError(TypeError, AssertionError):
    """The expression or ``wrt`` has a rank jacobian/hessian do not accept (Theano asserts
    here, hence an AssertionError too)."""


def _as_list(x: Any) -> tuple:
    """(list of variables, how to give the result back: 'list', 'tuple' or None for one)."""
    if isinstance(x, list):
        return list(x), "list"
    if isinstance(x, tuple):
        return list(x), "tuple"
    return [x], None


def _restore(values: list, kind: str | None) -> Any:
    if kind == "list":
        return values
    if kind == "tuple":
        return tuple(values)
    return values[0]


def _check_wrt(wrt: list, what: str) -> None:
    for i, w in enumerate(wrt):
        if not isinstance(w, Variable):
            raise TypeError(f"{what}: wrt[{i}] is a {type(w).__name__}, expected a symbolic variable")


def _scan() -> Any:
    """Theano's loop construct, imported only when asked for (it is optional here)."""
    try:
        from ..ops.scan import scan
    except ImportError as err:
        raise NotImplementedError(
            "jacobian/hessian with vectorize=False build Theano's scan loop, but scan "
            "(symtensor.ops.scan.scan) is not available in this build; use vectorize=True, which "
            "needs no loop") from err
    return scan


def jacobian(expression: Any, wrt: Any, consider_constant: Sequence | None = None,
             disconnected_inputs: str = "raise", vectorize: bool = True) -> Any:
    """The Jacobian of the vector ``expression`` with respect to ``wrt`` (a variable, or a
    list/tuple of them, giving a list/tuple of Jacobians).

    Each Jacobian has shape ``expression.shape + w.shape``. A scalar expression gives its
    gradient (as in Theano); an expression with two or more dimensions is refused (flatten
    it first). ``vectorize=True`` builds it without a loop; ``vectorize=False`` with Theano's
    scan over the rows.
    """
    expression = A.as_tensor_variable(expression)
    wrt_list, kind = _as_list(wrt)
    _check_wrt(wrt_list, "jacobian")
    if expression.ndim > 1:
        raise JacobianInputError(f"jacobian expects a 1 dimensional variable as `expression`, got {expression} "
                                 f"with {expression.ndim} dimensions; if not, use flatten to make it a vector")
    if expression.ndim == 0:
        return _restore(list(grad(expression, wrt_list, consider_constant=consider_constant,
                                  disconnected_inputs=disconnected_inputs)), kind)
    if vectorize:
        jacs = _vectorized_jacobian(expression, wrt_list, consider_constant, disconnected_inputs)
    else:
        jacs = _scan_jacobian(expression, wrt_list, consider_constant, disconnected_inputs)
    return _restore(jacs, kind)


def _vectorized_jacobian(expression: Variable, wrt: list, consider_constant: Sequence | None,
                         disconnected_inputs: str) -> list:
    """Every row of the Jacobian at once: the vector-Jacobian product of a symbolic row,
    vectorized over the rows of the identity."""
    dtype = expression.dtype if expression.dtype[0] in "fc" else config.floatX
    row = TensorType(dtype, shape=expression.type.shape)("jacobian_row")
    vjps = grad(None, wrt, consider_constant=consider_constant, known_grads={expression: row},
                disconnected_inputs=disconnected_inputs)
    n = A.shape(expression)[0] if expression.type.shape[0] is None else expression.type.shape[0]
    identity = A.eye(n, dtype=dtype)
    jacs = vectorize_graph(list(vjps), {row: identity})
    return [j if j.ndim == w.ndim + 1 else broadcast_to_batch(j, n) for j, w in zip(jacs, wrt)]


def _scan_jacobian(expression: Variable, wrt: list, consider_constant: Sequence | None,
                   disconnected_inputs: str) -> list:
    """Theano 1.0's construction: one gradient per row, in a scan over the row indices."""
    scan = _scan()

    def inner_function(idx: Variable, expr: Variable, *inputs: Variable) -> list:
        return [grad(expr[idx], inp, consider_constant=consider_constant,
                     disconnected_inputs=disconnected_inputs) for inp in inputs]

    jacobs, updates = scan(inner_function, sequences=A.arange(A.shape(expression)[0]),
                           non_sequences=[expression] + wrt)
    if updates:
        raise RuntimeError("jacobian: scan returned updates; gradients should not update anything")
    return list(jacobs) if isinstance(jacobs, (list, tuple)) else [jacobs]


def hessian(cost: Any, wrt: Any, consider_constant: Sequence | None = None,
            disconnected_inputs: str = "raise", vectorize: bool = True) -> Any:
    """The Hessian of the scalar ``cost`` with respect to each vector in ``wrt`` (one matrix
    per variable, as in Theano: the diagonal blocks, not the cross terms).

    ``disconnected_inputs`` applies to the gradient of ``cost``; a gradient that does not
    depend on its variable (a linear cost) gives a zero Hessian.
    """
    cost = A.as_tensor_variable(cost)
    if cost.ndim != 0:
        raise JacobianInputError(f"hessian expects a 0 dimensional variable as `cost`, got {cost} with "
                                 f"{cost.ndim} dimension(s)")
    wrt_list, kind = _as_list(wrt)
    _check_wrt(wrt_list, "hessian")
    hessians = []
    for w in wrt_list:
        if w.ndim != 1:
            raise JacobianInputError(f"hessian expects a (list of) 1 dimensional variable as `wrt`, got {w} "
                                     f"with {w.ndim} dimension(s)")
        g = grad(cost, w, consider_constant=consider_constant, disconnected_inputs=disconnected_inputs)
        if vectorize:
            hessians.append(_vectorized_jacobian(g, [w], consider_constant, "ignore")[0])
        else:
            hessians.append(_scan_hessian(g, w, consider_constant))
    return _restore(hessians, kind)


def _scan_hessian(g: Variable, w: Variable, consider_constant: Sequence | None) -> Variable:
    """Theano 1.0's construction: the gradient of each entry of ``g``, in a scan."""
    scan = _scan()
    hess, updates = scan(lambda i, y, x: grad(y[i], x, consider_constant=consider_constant,
                                              disconnected_inputs="ignore"),
                         sequences=A.arange(A.shape(g)[0]), non_sequences=[g, w])
    if updates:
        raise RuntimeError("hessian: scan returned updates; gradients should not update anything")
    return hess


def hessian_vector_product(cost: Any, wrt: Any, v: Any, method: str = "rop",
                           consider_constant: Sequence | None = None) -> Any:
    """``H v`` for the Hessian of the scalar ``cost``, without forming ``H``.

    ``wrt`` and ``v`` are a variable and a tangent of the same shape, or matching lists (the
    product with the full Hessian, cross terms included). ``method='rop'``: forward mode over
    the gradient (``Rop(grad(cost, wrt), wrt, v)``); ``method='lop'``: reverse over reverse
    (``grad(<grad(cost, wrt), v>, wrt)``, valid as the Hessian is symmetric).
    """
    cost = A.as_tensor_variable(cost)
    if cost.ndim != 0:
        raise JacobianInputError(f"hessian_vector_product expects a scalar cost, got {cost.ndim} dimension(s)")
    wrt_list, kind = _as_list(wrt)
    v_list, _ = _as_list(v)
    _check_wrt(wrt_list, "hessian_vector_product")
    if len(v_list) != len(wrt_list):
        raise ValueError(f"hessian_vector_product: {len(wrt_list)} wrt variables but {len(v_list)} vectors")
    v_list = [A.as_tensor_variable(x) for x in v_list]
    grads = grad(cost, wrt_list, consider_constant=consider_constant, disconnected_inputs="ignore")
    if method == "rop":
        products = Rop(list(grads), wrt_list, v_list)
    elif method == "lop":
        dots = [A.sum(g * A.cast(x, g.dtype)) for g, x in zip(grads, v_list)]
        total = dots[0]
        for d in dots[1:]:
            total = total + d
        products = grad(total, wrt_list, consider_constant=consider_constant, disconnected_inputs="ignore")
    else:
        raise ValueError(f"hessian_vector_product: method must be 'rop' or 'lop', got {method!r}")
    return _restore(list(products), kind)
