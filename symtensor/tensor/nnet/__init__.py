"""Theano's ``tensor.nnet`` namespace: a public face (neural-network ops)."""
from ...ops.api import sigmoid, softplus  # noqa: F401
from ...ops.nnet import (elu, hard_sigmoid, logsoftmax, relu, softmax, softmax_grad,  # noqa: F401
                         ultra_fast_sigmoid)
from ...ops.nnet_xent import (binary_crossentropy, categorical_crossentropy,  # noqa: F401
                              crossentropy_categorical_1hot, crossentropy_softmax_1hot)
