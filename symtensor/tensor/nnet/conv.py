"""Theano's old ``tensor.nnet.conv`` module: ``conv2d`` with ``image_shape``/``filter_shape``."""
from ...ops.conv import conv2d_legacy as conv2d  # noqa: F401
