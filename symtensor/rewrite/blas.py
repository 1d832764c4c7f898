"""Specialize: a matrix product with a scale and an addition -> one ``Gemm``.

``alpha * dot(x, y) + beta * z``, ``dot(x, y) + b`` (a bias broadcast over rows or columns),
``z - dot(x, y)`` and ``dot(x, y) - z`` become ``gemm(z, alpha, x, y, beta)``: with a BLAS,
one gemm call that accumulates the product into a copy of the broadcast ``z``, instead of
a product followed by an elementwise pass over its result.

It runs in the specialize phase, after canonicalize has flattened add/mul chains and before
fusion would absorb the addition into a fused elementwise loop.
"""
from __future__ import annotations

from ..graph.basic import Apply, Variable
from ..graph.fg import FunctionGraph
from ..ops import api as A
from ..ops.blas import Dot
from ..ops.elemwise import DimShuffle, Elemwise, dimshuffle
from ..ops.basic import as_tensor_variable
from ..ops.gemm import GEMM_DTYPES, Gemm, gemm
from .canonicalize import _elemwise_name, _same_type_or_none
from .engine import NodePass, node_rewriter


def _single_use(fgraph: FunctionGraph, v: Variable) -> bool:
    """Whether ``v`` feeds exactly one node and is not a graph output itself."""
    clients = fgraph.clients.get(v, ())
    return len(clients) == 1 and isinstance(clients[0][0], Apply)


def _as_scalar(v: Variable) -> Variable:
    """A 0-d view of an operand whose every dimension is broadcastable."""
    if v.owner is not None and isinstance(v.owner.op, DimShuffle) and v.owner.inputs[0].ndim == 0:
        return v.owner.inputs[0]
    return dimshuffle(v, ())


def _split_scale(fgraph: FunctionGraph, v: Variable) -> tuple:
    """``v`` as ``(scale, operand)``: for ``mul(s1, ..., operand)`` whose other factors are
    broadcast scalars (and whose result is used once), the product of those scalars as a
    0-d tensor; else ``(None, v)``."""
    node = v.owner
    if node is None or _elemwise_name(node) != "mul" or not _single_use(fgraph, v):
        return None, v
    scalars = [i for i in node.inputs if all(i.broadcastable)]
    others = [i for i in node.inputs if not all(i.broadcastable)]
    if len(others) != 1 or not scalars or others[0].dtype != v.dtype or others[0].type != v.type:
        return None, v
    parts = [_as_scalar(s) for s in scalars]
    return (parts[0] if len(parts) == 1 else A.mul(*parts)), others[0]


def _matrix_dot(fgraph: FunctionGraph, v: Variable, dtype: str) -> Apply | None:
    """The node computing ``v`` if it is a used-once matrix product of two ``dtype`` matrices."""
    node = v.owner
    if node is None or not isinstance(node.op, Dot) or not _single_use(fgraph, v):
        return None
    x, y = node.inputs
    if x.ndim != 2 or y.ndim != 2 or not x.dtype == y.dtype == v.dtype == dtype:
        return None
    return node


def _scaled(alpha: Variable | None, sign: int):
    """``sign * alpha`` (a Python number when alpha is None)."""
    if alpha is None:
        return sign
    return alpha if sign > 0 else -alpha


def _as_matrix(z: Variable) -> Variable:
    """A term of lower rank, padded on the left as broadcasting does."""
    return z if z.ndim == 2 else dimshuffle(z, ["x"] * (2 - z.ndim) + list(range(z.ndim)))


def _signed_terms(node: Apply) -> list | None:
    name = _elemwise_name(node)
    if name == "add":
        return [(v, 1) for v in node.inputs]
    if name == "sub":
        return [(node.inputs[0], 1), (node.inputs[1], -1)]
    return None


@node_rewriter([Elemwise], name="gemm")
def dot_add_to_gemm(fgraph: FunctionGraph, node: Apply):
    """alpha * dot(x, y) + beta * z (also with ``-``, and any number of other terms) ->
    gemm(z, alpha, x, y, beta), for float32/float64 matrices of one dtype.

    Declines when the product is used elsewhere (it would be computed twice), and when ``z``
    could be larger than the product along an axis where the product broadcasts."""
    terms = _signed_terms(node)
    out = node.outputs[0]
    if terms is None or out.ndim != 2 or out.dtype not in GEMM_DTYPES:
        return None
    for k, (term, sign) in enumerate(terms):
        alpha, core = _split_scale(fgraph, term)
        dot_node = _matrix_dot(fgraph, core, out.dtype)
        if dot_node is None:
            continue
        rest = terms[:k] + terms[k + 1:]
        if len(rest) == 1:
            beta, z = _split_scale(fgraph, rest[0][0])
            beta = _scaled(beta, rest[0][1])
        else:   # only an add has more than two terms, all with sign +1
            beta, z = 1, A.add(*[t for t, _ in rest])
        if z.dtype != out.dtype or z.ndim > 2:
            continue
        z = _as_matrix(z)
        product_shape = dot_node.outputs[0].type.shape
        if any(p == 1 and s != 1 for p, s in zip(product_shape, z.type.shape)):
            continue   # z may broadcast the product: the result would be larger than gemm's
        x, y = dot_node.inputs
        return _same_type_or_none(node, gemm(z, _scaled(alpha, sign), x, y, beta))
    return None


def _product(*factors):
    """The product of scalar factors (Python numbers and 0-d variables, None meaning 1): a
    Python number when every factor is one, else a 0-d variable."""
    number, variables = 1, []
    for f in factors:
        if f is None:
            continue
        if isinstance(f, Variable):
            variables.append(f)
        else:
            number *= f
    if not variables:
        return number
    if number != 1:
        variables.append(number)
    return variables[0] if len(variables) == 1 else A.mul(*variables)


def _used_gemm(fgraph: FunctionGraph, v: Variable, dtype: str) -> Apply | None:
    """The node computing ``v`` if it is a used-once ``Gemm`` of ``dtype``."""
    node = v.owner
    if node is None or not isinstance(node.op, Gemm) or v.dtype != dtype or not _single_use(fgraph, v):
        return None
    return node


@node_rewriter([Elemwise], name="gemm_absorb")
def gemm_absorb(fgraph: FunctionGraph, node: Apply):
    """beta2 * w +- s * gemm(c * w, a, x, y, b) -> gemm(w, +-s*a, x, y, beta2 +- s*b*c), and
    r +- s * gemm(z, a, x, y, b) -> gemm(r +- s*b*z, +-s*a, x, y, 1) for any other term r.

    An SGD step ``w - lr * (dot(x, y) + l2 * w)`` becomes one gemm into a copy of ``w``,
    instead of a gemm followed by an elementwise pass over its result. Terms with the same
    operand are merged by adding their scales (Theano's gemm optimizer does the same)."""
    terms = _signed_terms(node)
    out = node.outputs[0]
    if terms is None or len(terms) != 2 or out.ndim != 2 or out.dtype not in GEMM_DTYPES:
        return None
    for k, (term, sign) in enumerate(terms):
        scale, core = _split_scale(fgraph, term)
        g = _used_gemm(fgraph, core, out.dtype)
        if g is None or g.outputs[0].type.shape != out.type.shape and None not in out.type.shape:
            continue
        z2, a2, x, y, b2 = g.inputs
        rest, rest_sign = terms[1 - k]
        beta_r, zr = _split_scale(fgraph, rest)
        if zr.dtype != out.dtype or zr.ndim != 2:
            continue
        product_shape = g.outputs[0].type.shape
        if any(p == 1 and s != 1 for p, s in zip(product_shape, zr.type.shape)):
            continue   # the other term may broadcast the product
        c2, w2 = _split_scale(fgraph, z2)
        alpha = _product(sign, scale, a2)
        if w2 is zr:
            beta = A.add(*[_as_scalar(as_tensor_variable(t, dtype=out.dtype))
                           for t in (_product(rest_sign, beta_r), _product(sign, scale, b2, c2))])
            new = gemm(zr, alpha, x, y, beta)
        else:
            z = A.add(A.mul(_product(rest_sign, beta_r), zr), A.mul(_product(sign, scale, b2), z2))
            if z.dtype != out.dtype:
                continue
            new = gemm(z, alpha, x, y, 1)
        return _same_type_or_none(node, new)
    return None


BLAS_SPECIALIZE = [NodePass("local_blas", [dot_add_to_gemm]),
                   NodePass("local_blas_absorb", [gemm_absorb])]
