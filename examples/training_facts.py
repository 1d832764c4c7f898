"""Five facts about training networks, each computed symbolically and checked numerically.

1. Dropout (inverted scaling 1/(1-p), the same mask) commutes with ReLU and LeakyReLU, which
   are positively homogeneous, but not with the sigmoid.
2. PyTorch's default initialisation U(-1/sqrt(n), 1/sqrt(n)) of weights and biases gives, through
   linear layers, Var[y_l] = 1/(3 n_{l-1}) + Var[y_{l-1}] / 3 (empirical vs formula).
3. A residual block y -> sigma(A y + b) + y has Jacobian diag(sigma'(A y + b)) A + I, which keeps
   gradients alive through many saturated layers where the plain block's vanish.
4. The split-transform-merge block (32 paths of 256->4 1x1, 4->4 3x3, 4->256 1x1), built with
   grouped convolutions, has 78,592 parameters against 213,504 for the plain bottleneck, and
   equals the sum of its 32 paths.
5. Ridge regression theta* = solve(X~^T X~ + lambda I, X~^T y) with X~ = ReLU(w x) equals numpy.
"""
from __future__ import annotations

import numpy as np

import symtensor as T
from symtensor.tensor.nnet import conv2d

rng = np.random.default_rng(2018)


def dropout_commutes() -> None:
    p = 0.3
    x = T.matrix("x")
    srng = T.RandomStreams(seed=7)
    mask = srng.binomial(size=x.shape, n=1, p=1 - p, dtype="float64")
    drop = lambda v: v * mask / (1 - p)                       # noqa: E731 - inverted dropout
    leaky = lambda v: T.nnet.relu(v, alpha=0.1)               # noqa: E731
    pairs = {"ReLU": T.nnet.relu, "LeakyReLU": leaky, "sigmoid": T.nnet.sigmoid}
    outputs = []
    for f in pairs.values():
        outputs += [drop(f(x)), f(drop(x))]                   # one mask: one random draw per call
    values = T.function([x], outputs)(rng.standard_normal((200, 50)))
    for k, name in enumerate(pairs):
        gap = np.abs(values[2 * k] - values[2 * k + 1]).max()
        print(f"  dropout then {name:9s} vs {name:9s} then dropout: max difference {gap:.3g}")
        assert (gap < 1e-12) == (name != "sigmoid"), name
    print("1. dropout commutes with ReLU and LeakyReLU, not with the sigmoid")


def default_init_variance(widths=(400, 300, 200, 100), n_samples: int = 4000) -> None:
    x = T.matrix("x")
    y, layers = x, []
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        bound = 1 / np.sqrt(n_in)
        A = T.shared(rng.uniform(-bound, bound, (n_in, n_out)))
        b = T.shared(rng.uniform(-bound, bound, n_out))
        y = T.dot(y, A) + b
        layers.append(y)
    variances = T.function([x], [v.var() for v in layers])(rng.standard_normal((n_samples, widths[0])))
    predicted = 1.0
    for n_in, got in zip(widths[:-1], variances):
        predicted = 1 / (3 * n_in) + predicted / 3
        print(f"  after a layer with n_in={n_in}: Var[y] = {float(got):.5f}, formula {predicted:.5f}")
        assert abs(float(got) - predicted) < 0.15 * predicted
    print("2. Var[y_l] = 1/(3 n_(l-1)) + Var[y_(l-1)]/3 under PyTorch's default initialisation")


def residual_jacobian(n: int = 20, depth: int = 30) -> None:
    y = T.vector("y")
    A = T.matrix("A")
    b = T.vector("b")
    z = T.dot(A, y) + b
    block = T.nnet.sigmoid(z) + y
    J = T.jacobian(block, y)
    s = T.nnet.sigmoid(z)
    closed = T.dot(T.diag(s * (1 - s)), A) + T.identity_like(A)
    Av, bv, yv = rng.standard_normal((n, n)), rng.standard_normal(n), rng.standard_normal(n)
    got, want = T.function([y, A, b], [J, closed])(yv, Av, bv)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    # gradients through `depth` saturated layers (large weights and a bias push the sigmoid into its tails)
    x0 = T.vector("x0")
    Ws = [T.constant(8 * rng.standard_normal((n, n)) / np.sqrt(n)) for _ in range(depth)]
    plain, resid = x0, x0
    for W in Ws:
        plain = T.nnet.sigmoid(T.dot(W, plain) + 4.0)     # a bias of 4 saturates the units
        resid = T.nnet.sigmoid(T.dot(W, resid) + 4.0) + resid
    norms = T.function([x0], [T.grad(plain.sum(), x0).norm(2), T.grad(resid.sum(), x0).norm(2)])
    g_plain, g_resid = (float(v) for v in norms(rng.standard_normal(n)))
    print(f"  |d sum(y_L) / d x| through {depth} layers: plain {g_plain:.3g}, residual {g_resid:.3g}")
    assert g_plain < 1e-4 * g_resid and g_resid > 1.0
    print("3. the residual block's Jacobian is diag(sigma'(Ay+b)) A + I; its gradients do not vanish")


def split_transform_merge(paths: int = 32, width: int = 4, channels: int = 256) -> None:
    x = T.tensor4("x")
    w1 = rng.standard_normal((paths * width, channels, 1, 1)) * 0.05
    b1 = rng.standard_normal(paths * width) * 0.05
    w2 = rng.standard_normal((paths * width, width, 3, 3)) * 0.05
    b2 = rng.standard_normal(paths * width) * 0.05
    w3 = rng.standard_normal((paths, channels, width, 1, 1)) * 0.05
    b3 = rng.standard_normal((paths, channels)) * 0.05
    n_params = w1.size + b1.size + w2.size + b2.size + w3.size + b3.size
    plain = (channels * 1 + 1) * 128 + (128 * 9 + 1) * 128 + (128 * 1 + 1) * channels
    print(f"  parameters: split-transform-merge {n_params:,}, plain bottleneck {plain:,}")
    assert (n_params, plain) == (78_592, 213_504)

    def bias(v, b):
        return v + T.constant(b).dimshuffle("x", 0, "x", "x")

    h = T.nnet.relu(bias(conv2d(x, w1), b1))
    h = T.nnet.relu(bias(conv2d(h, w2, border_mode="half", num_groups=paths), b2))
    merged = conv2d(h, w3.transpose(1, 0, 2, 3, 4).reshape(channels, paths * width, 1, 1)) + \
        T.constant(b3.sum(0)).dimshuffle("x", 0, "x", "x")
    path_sum = 0
    for k in range(paths):
        sl = slice(k * width, (k + 1) * width)
        hk = T.nnet.relu(bias(conv2d(x, w1[sl]), b1[sl]))
        hk = T.nnet.relu(bias(conv2d(hk, w2[sl], border_mode="half"), b2[sl]))
        path_sum = path_sum + bias(conv2d(hk, w3[k]), b3[k])
    got, want = T.function([x], [merged, path_sum])(rng.standard_normal((2, channels, 6, 6)))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
    print(f"  grouped block vs explicit sum of {paths} paths: max difference {np.abs(got - want).max():.3g}")
    print("4. the grouped split-transform-merge block equals the sum of its paths")


def ridge_regression(n: int = 200, features: int = 30, lam: float = 0.5) -> None:
    x, y, w = T.matrix("x"), T.vector("y"), T.matrix("w")
    Xt = T.nnet.relu(T.dot(x, w))
    theta = T.slinalg.solve(T.dot(Xt.T, Xt) + lam * T.identity_like(T.dot(Xt.T, Xt)), T.dot(Xt.T, y))
    xv, yv, wv = rng.standard_normal((n, 5)), rng.standard_normal(n), rng.standard_normal((5, features))
    got = T.function([x, y, w], theta)(xv, yv, wv)
    Xn = np.maximum(xv @ wv, 0)
    want = np.linalg.solve(Xn.T @ Xn + lam * np.eye(features), Xn.T @ yv)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    print(f"  |theta - numpy| = {np.abs(got - want).max():.3g}")
    print("5. ridge regression through solve equals numpy")


if __name__ == "__main__":
    dropout_commutes()
    default_init_variance()
    residual_jacobian()
    split_transform_merge()
    ridge_regression()
    print("OK")
