"""Theano's old ``tensor.signal.downsample`` module: a public face over ops/pool."""
from ...ops.pool import Pool as DownsampleFactorMax, max_pool_2d, max_pool_2d_same_size  # noqa: F401
from ...ops.pool_grad import AveragePoolGrad, DownsampleFactorMaxGradGrad, MaxPoolGrad  # noqa: F401
