"""Theano's ``tensor.signal.pool``: a public face over ops/pool."""
from ...ops.pool import Pool, max_pool_2d_same_size, pool_2d  # noqa: F401
from ...ops.pool_grad import AveragePoolGrad, DownsampleFactorMaxGradGrad, MaxPoolGrad  # noqa: F401
