"""Theano's ``updates`` module: a public face."""
from .ops.scan import OrderedUpdates  # noqa: F401
