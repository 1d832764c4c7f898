"""Theano's ``tensor.signal`` namespace: public faces (pooling)."""
from . import downsample, pool  # noqa: F401
