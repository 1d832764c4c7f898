"""A multilayer perceptron in the style of the classic Theano tutorial: one tanh hidden layer,
a softmax output, L1 and L2 regularisation, minibatch SGD on shared parameters.

Trains on the 8x8 UCI digits shipped in examples/data (or on MNIST: pass the directory holding
its idx files, e.g. ``python examples/mlp.py --mnist ~/data/mnist``). Prints the training loss
and the validation error per epoch, and checks that the error ends far below chance (90%).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import symtensor as T
from datasets import load_digits, load_mnist


class HiddenLayer:
    def __init__(self, rng, x, n_in: int, n_out: int):
        bound = np.sqrt(6.0 / (n_in + n_out))          # Glorot & Bengio's tanh initialisation
        self.W = T.shared(rng.uniform(-bound, bound, (n_in, n_out)).astype(T.config.floatX), name="W")
        self.b = T.shared(np.zeros(n_out, T.config.floatX), name="b")
        self.output = T.tanh(T.dot(x, self.W) + self.b)
        self.params = [self.W, self.b]


class SoftmaxLayer:
    def __init__(self, x, n_in: int, n_out: int):
        self.W = T.shared(np.zeros((n_in, n_out), T.config.floatX), name="W_out")
        self.b = T.shared(np.zeros(n_out, T.config.floatX), name="b_out")
        self.p_y = T.nnet.softmax(T.dot(x, self.W) + self.b)
        self.y_pred = T.argmax(self.p_y, axis=1)
        self.params = [self.W, self.b]

    def negative_log_likelihood(self, y):
        return T.nnet.categorical_crossentropy(self.p_y, y).mean()

    def errors(self, y):
        return T.mean(T.neq(self.y_pred, y))


def main(mnist: str | None = None, epochs: int = 30, batch: int = 20, lr: float = 0.1,
         n_hidden: int = 100, l1: float = 0.0, l2: float = 1e-4) -> float:
    (train_x, train_y), (valid_x, valid_y) = load_mnist(mnist) if mnist else load_digits()
    train_x, valid_x = (a.reshape(len(a), -1).astype(T.config.floatX) for a in (train_x, valid_x))
    n_in = train_x.shape[1]
    rng = np.random.default_rng(1234)

    x, y = T.matrix("x"), T.lvector("y")
    hidden = HiddenLayer(rng, x, n_in, n_hidden)
    out = SoftmaxLayer(hidden.output, n_hidden, 10)
    params = hidden.params + out.params
    l1_norm = abs(hidden.W).sum() + abs(out.W).sum()
    l2_sqr = (hidden.W ** 2).sum() + (out.W ** 2).sum()
    cost = out.negative_log_likelihood(y) + l1 * l1_norm + l2 * l2_sqr
    grads = T.grad(cost, params)
    step = T.cast(lr, T.config.floatX)
    train = T.function([x, y], cost, updates=[(p, p - step * g) for p, g in zip(params, grads)])
    validate = T.function([x, y], out.errors(y))

    n_batches = len(train_x) // batch
    print(f"MLP {n_in}-{n_hidden}-10 on {len(train_x)} training and {len(valid_x)} validation images")
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
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    final = main(args.mnist, args.epochs)
    assert final < 0.10, f"validation error {final:.3f} is not far below chance (0.9)"
    print(f"final validation error {100 * final:.2f}% (chance: 90%)")
    print("OK")
