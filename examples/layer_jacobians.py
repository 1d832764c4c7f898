"""Per-layer and per-sample Jacobians of a fully connected tanh network with 1000-unit layers.

The network maps x (100) -> h1 = tanh(x W1 + b1) (1000) -> h2 = tanh(h1 W2 + b2) (1000)
-> y = h2 W3 + b3 (100), applied to a batch. For every sample b we want J_b = dy_b/dx_b.

- Theano's scan construction: `scan(lambda i, x, y: jacobian(y[i], x)[:, i], ...)`, one
  backward pass through the whole batch per output row and sample (vectorize=False);
- the vectorized construction: `vmap(lambda x: jacobian(f(x), x))`, no loop in the graph.
Both give the same numbers (checked, times printed), and the per-layer Jacobians equal their
closed forms diag(1 - h^2) W^T. Finally the gradient of a loss with respect to the input is
obtained as a chain of vector-Jacobian products (Lop), without forming any Jacobian.
"""
from __future__ import annotations

import time

import numpy as np

import symtensor as T

rng = np.random.default_rng(0)
SIZES = (100, 1000, 1000, 100)
fx = T.config.floatX
Ws = [T.constant((rng.standard_normal((a, b)) / np.sqrt(a)).astype(fx)) for a, b in zip(SIZES[:-1], SIZES[1:])]
bs = [T.constant((0.1 * rng.standard_normal(b)).astype(fx)) for b in SIZES[1:]]


def layers(x):
    h1 = T.tanh(T.dot(x, Ws[0]) + bs[0])
    h2 = T.tanh(T.dot(h1, Ws[1]) + bs[1])
    return h1, h2, T.dot(h2, Ws[2]) + bs[2]


def timed(f, *args):
    t0 = time.perf_counter()
    out = f(*args)
    return out, time.perf_counter() - t0


def per_sample_jacobians(batch_small: int = 3, batch_large: int = 64) -> None:
    X = T.matrix("X")
    _, _, Y = layers(X)
    i = T.lscalar("i")
    scan_jac, _ = T.scan(lambda i, x, y: T.jacobian(y[i], x, vectorize=False)[:, i],
                         sequences=T.arange(Y.shape[0]), non_sequences=[X, Y])
    vec_jac = T.vmap(lambda x: T.jacobian(layers(x)[2], x))(X)
    f_scan = T.function([X], scan_jac)
    f_vec = T.function([X], vec_jac)
    x_small = rng.standard_normal((batch_small, SIZES[0])).astype(fx)
    (j_scan, t_scan), (j_vec, t_vec) = timed(f_scan, x_small), timed(f_vec, x_small)
    np.testing.assert_allclose(j_scan, j_vec, rtol=1e-5, atol=1e-8)
    print(f"per-sample Jacobians dy/dx, batch {batch_small}: shape {j_vec.shape}")
    print(f"  scan construction {t_scan:.2f} s, vectorized {t_vec * 1e3:.1f} ms: same numbers "
          f"(max difference {np.abs(j_scan - j_vec).max():.2g})")
    x_large = rng.standard_normal((batch_large, SIZES[0])).astype(fx)
    f_vec(x_large)
    _, t_large = timed(f_vec, x_large)
    print(f"  vectorized, batch {batch_large}: {t_large * 1e3:.1f} ms")


def per_layer_jacobians(batch: int = 8) -> None:
    x = T.matrix("x")
    h1, h2, _ = layers(x)
    j1 = T.vmap(lambda xi: T.jacobian(layers(xi)[0], xi))(x)           # (batch, 1000, 100)
    j2 = T.vmap(lambda hi: T.jacobian(T.tanh(T.dot(hi, Ws[1]) + bs[1]), hi))(h1)
    xv = rng.standard_normal((batch, SIZES[0])).astype(fx)
    got1, got2, h1v, h2v = T.function([x], [j1, j2, h1, h2])(xv)
    W1, W2 = Ws[0].data, Ws[1].data
    want1 = (1 - h1v ** 2)[:, :, None] * W1.T[None]
    want2 = (1 - h2v ** 2)[:, :, None] * W2.T[None]
    np.testing.assert_allclose(got1, want1, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got2, want2, rtol=1e-5, atol=1e-7)
    print(f"per-layer Jacobians: dh1/dx {got1.shape} and dh2/dh1 {got2.shape} equal diag(1 - h^2) W^T")


def input_gradient_by_lop(batch: int = 16) -> None:
    x = T.matrix("x")
    h1, h2, y = layers(x)
    loss = 0.5 * (y ** 2).sum()
    g_y = y                                       # dloss/dy
    g_h2 = T.Lop(y, h2, g_y)                      # vector-Jacobian products, layer by layer
    g_h1 = T.Lop(h2, h1, g_h2)
    g_x = T.Lop(h1, x, g_h1)
    got, want = T.function([x], [g_x, T.grad(loss, x)])(rng.standard_normal((batch, SIZES[0])).astype(fx))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
    print(f"dloss/dx as a chain of Lops equals T.grad (max difference {np.abs(got - want).max():.2g})")


if __name__ == "__main__":
    per_sample_jacobians()
    per_layer_jacobians()
    input_gradient_by_lop()
    print("OK")
