"""Theano's ``scalar`` module: a public face (dtype helpers and the scalar-op table)."""
from .graph.type import upcast  # noqa: F401
from .ops.scalar import SCALAR_OPS, Cast, ScalarOp  # noqa: F401
