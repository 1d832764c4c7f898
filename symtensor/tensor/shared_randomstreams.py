"""Theano's ``tensor.shared_randomstreams``: a public face."""
from ..compile.random_streams import RandomStreams  # noqa: F401
