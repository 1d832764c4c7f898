"""Theano's ``tensor.nnet.abstract_conv`` names: a public face over ops/conv."""
from ...ops.conv import Conv2d as AbstractConv2d, conv2d  # noqa: F401
from ...ops.conv_grad import (Conv2dGradInputs as AbstractConv2d_gradInputs,  # noqa: F401
                              Conv2dGradWeights as AbstractConv2d_gradWeights,
                              conv2d_grad_wrt_inputs, conv2d_grad_wrt_weights)
