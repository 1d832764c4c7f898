"""Theano's ``tensor.nnet`` namespace: a public face (neural-network ops)."""
from ...ops.api import sigmoid, softplus  # noqa: F401
