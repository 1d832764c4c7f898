"""Benchmark cases for loops and derivatives beyond ``grad``: each returns rows
(case, implementation, seconds per call), like ``cases.py``.

- ``per_sample_jacobian``: the Jacobian of each sample's output with respect to its input,
  for a 100-1000-1000-100 tanh MLP (float32), by ``vmap(jacobian)``, by scan, by the numpy
  closed form (batched products of ``diag(1 - h^2) W``) and by the peers when installed.
- ``rnn_step``: one BPTT training step (SGD) of a tanh RNN, by scan + grad, by hand-written
  numpy and by ``jax.lax.scan`` + ``jax.grad``.
- ``scalar_recurrence``: ``x_t = a * x_{t-1} + b`` for 1000 steps, by scan and by numpy.

Every case checks that its implementations agree before timing them. symtensor runs in
FAST_RUN; JAX and PyTorch are optional peers.
"""
from __future__ import annotations

import numpy as np

from .peers import have
from .timing import median_time

MLP_SIZES = (100, 1000, 1000, 100)


# --- per-sample Jacobian -------------------------------------------------------------------------
def _mlp_params(rng) -> tuple:
    """float32 weights (scaled to keep tanh out of saturation) and biases of the MLP."""
    ws = [(rng.standard_normal((a, b)) / np.sqrt(a)).astype("float32")
          for a, b in zip(MLP_SIZES, MLP_SIZES[1:])]
    bs = [(rng.standard_normal(b) * 0.1).astype("float32") for b in MLP_SIZES[1:]]
    return ws, bs


def numpy_jacobian(X: np.ndarray, ws: list, bs: list) -> np.ndarray:
    """Per-sample Jacobians by the closed form: J = D3 W3^T D2 W2^T D1 W1^T with
    D = diag(1 - h^2), accumulated from the output side, each step one batched product
    with a shared weight (so one gemm on the (batch * 100) rows)."""
    hs, h = [], X
    for w, b in zip(ws, bs):
        h = np.tanh(h @ w + b)
        hs.append(h)
    n, out = X.shape[0], ws[-1].shape[1]
    acc = (1 - hs[-1] ** 2)[:, :, None] * ws[-1].T[None]            # (n, out, hidden)
    for w, h in zip(ws[-2::-1], hs[-2::-1]):
        acc *= (1 - h ** 2)[:, None, :]
        acc = (acc.reshape(n * out, -1) @ w.T).reshape(n, out, -1)
    return acc


def _symtensor_mlp(ws: list, bs: list):
    import symtensor as T
    wv, bv = [T.constant(w) for w in ws], [T.constant(b) for b in bs]

    def f(x):
        h = x
        for w, b in zip(wv, bv):
            h = T.tanh(T.dot(h, w) + b)
        return h
    return f


def symtensor_vmap_jacobian(ws: list, bs: list):
    """The compiled ``vmap(lambda x: jacobian(f(x), x))``."""
    import symtensor as T
    f = _symtensor_mlp(ws, bs)
    x = T.fmatrix("x")
    return T.function([x], T.vmap(lambda xi: T.jacobian(f(xi), xi))(x))


def symtensor_scan_jacobian(ws: list, bs: list):
    """The scan construction over the samples: row i of the batch output differentiated
    with respect to the whole batch input, keeping sample i's block (cost grows as batch^2)."""
    import symtensor as T
    f = _symtensor_mlp(ws, bs)
    x = T.fmatrix("x")
    y = f(x)
    jac, _ = T.scan(lambda i, x, y: T.jacobian(y[i], x)[:, i], sequences=T.arange(y.shape[0]),
                    non_sequences=[x, y])
    return T.function([x], jac)


def symtensor_scan_map_jacobian(ws: list, bs: list):
    """A scan over the samples, each step the Jacobian of one sample's MLP (a per-sample loop)."""
    import symtensor as T
    f = _symtensor_mlp(ws, bs)
    x = T.fmatrix("x")
    jac, _ = T.scan(lambda xi: T.jacobian(f(xi), xi), sequences=x)
    return T.function([x], jac)


def _jax_jacobian(ws: list, bs: list):
    import jax
    import jax.numpy as jnp
    params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in zip(ws, bs)]

    def f(x):
        for w, b in params:
            x = jnp.tanh(x @ w + b)
        return x
    fn = jax.jit(jax.vmap(jax.jacrev(f)))
    return lambda X: fn(X).block_until_ready()


def _torch_jacobian(ws: list, bs: list):
    import torch
    from torch.func import jacrev, vmap
    params = [(torch.from_numpy(w), torch.from_numpy(b)) for w, b in zip(ws, bs)]

    def f(x):
        for w, b in params:
            x = torch.tanh(x @ w + b)
        return x
    fn = vmap(jacrev(f))

    def run(X):
        with torch.no_grad():
            return fn(torch.from_numpy(X)).numpy()
    return run


def per_sample_jacobian(batches: tuple = (256, 1000), scan_batch: int = 16) -> list:
    """Per-sample Jacobians of the 100-1000-1000-100 tanh MLP at each batch size.

    The scan construction differentiates the whole batch at every step, so its cost grows
    as batch^2: it is timed at ``scan_batch`` samples (its row says so), next to the
    vmap version at the same batch; the per-sample scan map runs at every batch size."""
    rng = np.random.default_rng(0)
    ws, bs = _mlp_params(rng)
    fv = symtensor_vmap_jacobian(ws, bs)
    fm = symtensor_scan_map_jacobian(ws, bs)
    peers = {}
    if have("jax"):
        peers["jax.vmap(jax.jacrev)"] = _jax_jacobian(ws, bs)
    if have("torch"):
        peers["torch.func.vmap(jacrev)"] = _torch_jacobian(ws, bs)
    rows = []
    for batch in batches:
        X = rng.standard_normal((batch, MLP_SIZES[0])).astype("float32")
        ref = numpy_jacobian(X, ws, bs)
        name = f"per-sample Jacobian, 100-1000-1000-100 tanh MLP, batch {batch}, float32"
        impls = {"numpy closed form": lambda: numpy_jacobian(X, ws, bs),
                 "symtensor vmap(jacobian)": lambda: fv(X),
                 "symtensor scan over samples (per-sample jacobian)": lambda: fm(X)}
        impls.update({k: (lambda run=run: run(X)) for k, run in peers.items()})
        for impl, run in impls.items():
            np.testing.assert_allclose(np.asarray(run()), ref, rtol=2e-3, atol=2e-4, err_msg=impl)
            rows.append((name, impl, median_time(run, repeat=5, budget_s=3.0)))
    X = rng.standard_normal((scan_batch, MLP_SIZES[0])).astype("float32")
    ref = numpy_jacobian(X, ws, bs)
    fs = symtensor_scan_jacobian(ws, bs)
    name = f"per-sample Jacobian, 100-1000-1000-100 tanh MLP, batch {scan_batch} (scan construction), float32"
    for impl, run in {"numpy closed form": lambda: numpy_jacobian(X, ws, bs),
                      "symtensor vmap(jacobian)": lambda: fv(X),
                      "symtensor scan construction (jacobian(y[i], x)[:, i])": lambda: fs(X)}.items():
        np.testing.assert_allclose(run(), ref, rtol=2e-3, atol=2e-4, err_msg=impl)
        rows.append((name, impl, median_time(run, repeat=5, budget_s=3.0)))
    return rows


# --- RNN training step ----------------------------------------------------------------------------
RNN = dict(hidden=100, inputs=50, outputs=50, length=100, batch=32, lr=0.01)


def _rnn_data(rng) -> tuple:
    """(xs, targets, h0, Wx, Wh, bh, Wy, by), float32, sequences time-major."""
    c = RNN
    xs = rng.standard_normal((c["length"], c["batch"], c["inputs"])).astype("float32")
    ys = rng.standard_normal((c["length"], c["batch"], c["outputs"])).astype("float32")
    h0 = np.zeros((c["batch"], c["hidden"]), "float32")
    Wx = (rng.standard_normal((c["inputs"], c["hidden"])) / np.sqrt(c["inputs"])).astype("float32")
    Wh = (rng.standard_normal((c["hidden"], c["hidden"])) / np.sqrt(c["hidden"])).astype("float32")
    Wy = (rng.standard_normal((c["hidden"], c["outputs"])) / np.sqrt(c["hidden"])).astype("float32")
    return xs, ys, h0, Wx, Wh, np.zeros(c["hidden"], "float32"), Wy, np.zeros(c["outputs"], "float32")


def symtensor_rnn_step(data: tuple):
    """A compiled training step: h_t = tanh(x_t Wx + h_{t-1} Wh + bh), y_t = h_t Wy + by,
    cost = mean squared error, SGD on (Wx, Wh, bh, Wy, by); returns the cost."""
    import symtensor as T
    _, _, _, *values = data
    params = [T.shared(v.copy(), name=n) for v, n in zip(values, ("Wx", "Wh", "bh", "Wy", "by"))]
    Wx, Wh, bh, Wy, by = params
    xs, ys, h0 = T.tensor3("xs", dtype="float32"), T.tensor3("ys", dtype="float32"), T.fmatrix("h0")
    hs, _ = T.scan(lambda x, h: T.tanh(T.dot(x, Wx) + T.dot(h, Wh) + bh), sequences=xs, outputs_info=h0)
    cost = ((T.dot(hs, Wy) + by - ys) ** 2).mean()
    grads = T.grad(cost, params)
    lr = np.float32(RNN["lr"])
    return T.function([xs, ys, h0], cost, updates=[(p, p - lr * g) for p, g in zip(params, grads)])


def numpy_rnn_step(data: tuple):
    """The same step by hand-written BPTT; the parameters live in the closure."""
    _, _, _, *values = data
    Wx, Wh, bh, Wy, by = [v.copy() for v in values]
    lr = np.float32(RNN["lr"])

    def step(xs, ys, h0):
        n = xs.shape[0]
        hs = np.empty((n,) + h0.shape, "float32")
        h = h0
        for t in range(n):
            h = np.tanh(xs[t] @ Wx + h @ Wh + bh)
            hs[t] = h
        err = hs @ Wy + by - ys
        cost = (err ** 2).mean()
        gy = (2 / err.size) * err                                  # d cost / d y_t
        gWy = np.tensordot(hs, gy, axes=([0, 1], [0, 1]))
        gby = gy.sum((0, 1))
        gh_out = gy @ Wy.T                                         # d cost / d h_t through y_t
        gWx, gWh, gbh = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(bh)
        carry = np.zeros_like(h0)
        for t in range(n - 1, -1, -1):
            ga = (gh_out[t] + carry) * (1 - hs[t] ** 2)            # through tanh
            h_prev = hs[t - 1] if t else h0
            gWx += xs[t].T @ ga
            gWh += h_prev.T @ ga
            gbh += ga.sum(0)
            carry = ga @ Wh.T
        for p, g in ((Wx, gWx), (Wh, gWh), (bh, gbh), (Wy, gWy), (by, gby)):
            p -= lr * g
        return cost
    step.params = (Wx, Wh, bh, Wy, by)
    return step


def _jax_rnn_step(data: tuple):
    import jax
    import jax.numpy as jnp
    _, _, _, *values = data
    lr = RNN["lr"]

    def loss(params, xs, ys, h0):
        Wx, Wh, bh, Wy, by = params

        def cell(h, x):
            h = jnp.tanh(x @ Wx + h @ Wh + bh)
            return h, h
        _, hs = jax.lax.scan(cell, h0, xs)
        return ((hs @ Wy + by - ys) ** 2).mean()

    @jax.jit
    def step(params, xs, ys, h0):
        cost, grads = jax.value_and_grad(loss)(params, xs, ys, h0)
        return cost, [p - lr * g for p, g in zip(params, grads)]

    state = {"p": [jnp.asarray(v) for v in values]}

    def run(xs, ys, h0):
        cost, state["p"] = step(state["p"], xs, ys, h0)
        return float(cost.block_until_ready())
    run.state = state
    return run


def rnn_step() -> list:
    """One BPTT training step (hidden 100, input 50, output 50, length 100, batch 32)."""
    rng = np.random.default_rng(1)
    data = _rnn_data(rng)
    xs, ys, h0 = data[:3]
    impls = {"numpy hand-written BPTT": numpy_rnn_step(data), "symtensor scan + grad": symtensor_rnn_step(data)}
    if have("jax"):
        impls["jax.lax.scan + grad"] = _jax_rnn_step(data)
    costs = {k: [float(run(xs, ys, h0)) for _ in range(3)] for k, run in impls.items()}
    ref = costs["numpy hand-written BPTT"]
    for k, c in costs.items():       # same costs over three SGD steps: same gradients too
        np.testing.assert_allclose(c, ref, rtol=1e-4, err_msg=k)
    c = RNN
    name = (f"RNN training step (BPTT + SGD), hidden {c['hidden']}, input {c['inputs']}, output "
            f"{c['outputs']}, length {c['length']}, batch {c['batch']}, float32")
    return [(name, k, median_time(lambda run=run: run(xs, ys, h0), budget_s=2.0)) for k, run in impls.items()]


# --- scalar recurrence ------------------------------------------------------------------------------
def symtensor_scalar_recurrence(n_steps: int = 1000):
    """The compiled ``scan`` of x_t = a * x_{t-1} + b over ``n_steps`` steps (float64)."""
    import symtensor as T
    a, b, x0 = T.dscalar("a"), T.dscalar("b"), T.dscalar("x0")
    xs, _ = T.scan(lambda x, a, b: a * x + b, outputs_info=x0, non_sequences=[a, b], n_steps=n_steps)
    return T.function([a, b, x0], xs)


def numpy_scalar_recurrence(a: float, b: float, x0: float, n_steps: int = 1000) -> np.ndarray:
    """The same loop in Python over numpy float64 scalars."""
    out = np.empty(n_steps)
    x = np.float64(x0)
    for t in range(n_steps):
        x = a * x + b
        out[t] = x
    return out


def scalar_recurrence(n_steps: int = 1000) -> list:
    """x_t = a * x_{t-1} + b for ``n_steps`` steps, returning the whole trajectory."""
    a, b, x0 = np.float64(0.999), np.float64(0.5), np.float64(1.0)
    f = symtensor_scalar_recurrence(n_steps)
    ref = numpy_scalar_recurrence(a, b, x0, n_steps)
    np.testing.assert_allclose(f(a, b, x0), ref, rtol=1e-12)
    name = f"scalar recurrence x_t = a x_(t-1) + b, {n_steps} steps, float64"
    rows = [(name, "numpy (Python loop)", median_time(lambda: numpy_scalar_recurrence(a, b, x0, n_steps))),
            (name, "symtensor scan", median_time(lambda: f(a, b, x0)))]
    if have("jax"):
        import jax
        import jax.numpy as jnp
        jf = jax.jit(lambda a, b, x0: jax.lax.scan(lambda x, _: (a * x + b,) * 2, x0, None, length=n_steps)[1])
        rows.append((name, "jax.lax.scan (float32)", median_time(lambda: jf(jnp.float32(a), jnp.float32(b),
                                                                             jnp.float32(x0)).block_until_ready())))
    return rows


GRAD_CASES = {"jacobian": per_sample_jacobian, "rnn": rnn_step, "recurrence": scalar_recurrence}
