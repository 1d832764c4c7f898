"""Theano's ``sandbox.rng_mrg``: a public face."""
from ..compile.random_streams import MRG_RandomStreams  # noqa: F401
