"""Theano's ``ifelse`` module: a public face."""
from .ops.ifelse import IfElse, ifelse  # noqa: F401
