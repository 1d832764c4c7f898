"""Theano's ``tensor.nnet`` namespace: a public face (neural-network ops)."""
from ...ops.api import sigmoid, softplus  # noqa: F401
from ...ops.nnet import (elu, hard_sigmoid, logsoftmax, relu, softmax, softmax_grad,  # noqa: F401
                         ultra_fast_sigmoid)
from ...ops.nnet_xent import (binary_crossentropy, categorical_crossentropy,  # noqa: F401
                              crossentropy_categorical_1hot, crossentropy_softmax_1hot)
from ...ops.conv import conv2d  # noqa: F401
from ...ops.conv_grad import conv2d_grad_wrt_inputs, conv2d_grad_wrt_weights  # noqa: F401
from . import abstract_conv, conv  # noqa: F401
from ...ops.extra_ops import softmax_with_bias  # noqa: F401
