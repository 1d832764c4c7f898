"""LeNet in the style of the classic Theano tutorial: two ConvPoolLayers (conv2d -> max-pool ->
tanh), a tanh hidden layer and a softmax output, trained by minibatch SGD on shared parameters.

Trains on the 8x8 UCI digits shipped in examples/data with 3x3 filters (or on MNIST with the
tutorial's 5x5 filters: ``python examples/cnn.py --mnist ~/data/mnist``). Prints the training
loss and the validation error per epoch and checks that the error ends far below chance (90%).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import symtensor as T
from symtensor.tensor.nnet import conv2d
from symtensor.tensor.signal.pool import pool_2d
from datasets import load_digits, load_mnist


class ConvPoolLayer:
    """conv2d with a bank of filters, 2x2 max-pooling, then tanh of the pooled maps plus a bias."""

    def __init__(self, rng, x, filter_shape: tuple, pool: tuple = (2, 2), border_mode="valid"):
        fan_in = np.prod(filter_shape[1:])
        fan_out = filter_shape[0] * np.prod(filter_shape[2:]) / np.prod(pool)
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        self.W = T.shared(rng.uniform(-bound, bound, filter_shape).astype(T.config.floatX), name="W_conv")
        self.b = T.shared(np.zeros(filter_shape[0], T.config.floatX), name="b_conv")
        conv = conv2d(x, self.W, filter_shape=filter_shape, border_mode=border_mode)
        pooled = pool_2d(conv, ws=pool, ignore_border=True, mode="max")
        self.output = T.tanh(pooled + self.b.dimshuffle("x", 0, "x", "x"))
        self.params = [self.W, self.b]


def build(rng, x, image: int, kernels: tuple, filter_size: int, n_hidden: int, border_mode) -> tuple:
    layer0 = ConvPoolLayer(rng, x, (kernels[0], 1, filter_size, filter_size), border_mode=border_mode)
    layer1 = ConvPoolLayer(rng, layer0.output, (kernels[1], kernels[0], filter_size, filter_size),
                           border_mode=border_mode)
    side = image
    for _ in range(2):
        side = (side - (filter_size - 1 if border_mode == "valid" else 0)) // 2
    n_flat = kernels[1] * side * side
    bound = np.sqrt(6.0 / (n_flat + n_hidden))
    W2 = T.shared(rng.uniform(-bound, bound, (n_flat, n_hidden)).astype(T.config.floatX), name="W_hidden")
    b2 = T.shared(np.zeros(n_hidden, T.config.floatX), name="b_hidden")
    hidden = T.tanh(T.dot(layer1.output.flatten(2), W2) + b2)
    W3 = T.shared(np.zeros((n_hidden, 10), T.config.floatX), name="W_out")
    b3 = T.shared(np.zeros(10, T.config.floatX), name="b_out")
    p_y = T.nnet.softmax(T.dot(hidden, W3) + b3)
    return p_y, layer0.params + layer1.params + [W2, b2, W3, b3]


def main(mnist: str | None = None, epochs: int = 12, batch: int = 32, lr: float = 0.1) -> float:
    if mnist:
        (train_x, train_y), (valid_x, valid_y) = load_mnist(mnist)
        image, kernels, filter_size, n_hidden, border = 28, (20, 50), 5, 500, "valid"
    else:
        (train_x, train_y), (valid_x, valid_y) = load_digits()
        image, kernels, filter_size, n_hidden, border = 8, (8, 16), 3, 64, "half"
    train_x, valid_x = train_x.astype(T.config.floatX), valid_x.astype(T.config.floatX)
    rng = np.random.default_rng(23455)
    x, y = T.tensor4("x"), T.lvector("y")
    p_y, params = build(rng, x, image, kernels, filter_size, n_hidden, border)
    cost = T.nnet.categorical_crossentropy(p_y, y).mean()
    grads = T.grad(cost, params)
    step = T.cast(lr, T.config.floatX)
    train = T.function([x, y], cost, updates=[(p, p - step * g) for p, g in zip(params, grads)])
    validate = T.function([x, y], T.mean(T.neq(T.argmax(p_y, axis=1), y)))

    n_batches = len(train_x) // batch
    print(f"LeNet with {kernels} kernels of {filter_size}x{filter_size} on {len(train_x)} images")
    error = 1.0
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        order = rng.permutation(len(train_x))
        losses = [train(train_x[idx], train_y[idx])
                  for idx in (order[k * batch:(k + 1) * batch] for k in range(n_batches))]
        error = float(validate(valid_x, valid_y))
        print(f"epoch {epoch:3d}  training loss {np.mean(losses):.4f}  validation error {100 * error:5.2f}%"
              f"  ({time.perf_counter() - t0:.2f} s)")
    return error


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", help="directory holding MNIST's idx files (default: the shipped digits)")
    parser.add_argument("--epochs", type=int, default=12)
    args = parser.parse_args()
    final = main(args.mnist, args.epochs)
    assert final < 0.10, f"validation error {final:.3f} is not far below chance (0.9)"
    print(f"final validation error {100 * final:.2f}% (chance: 90%)")
    print("OK")
