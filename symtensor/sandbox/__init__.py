"""Theano's ``sandbox`` namespace: public faces only."""
from . import rng_mrg  # noqa: F401
