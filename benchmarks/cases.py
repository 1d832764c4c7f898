"""The benchmark cases: each returns rows (case, implementation, seconds per call).

symtensor runs in FAST_RUN; numpy is hand-written; PyTensor, JAX and PyTorch run only when
installed (they are optional peers, never dependencies of symtensor).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap

import numpy as np

from .peers import have
from .timing import median_time




# --- (a) elementwise chain ---------------------------------------------------------------------
def elementwise(n: int = 4_000_000) -> list:
    """tanh(x*y + exp(-x)) * sigmoid(y) - log1p(x*x) on n float32 values."""
    import symtensor as T
    rng = np.random.default_rng(0)
    a = rng.standard_normal(n).astype("float32")
    b = rng.standard_normal(n).astype("float32")
    x, y = T.fvector("x"), T.fvector("y")
    f = T.function([x, y], T.tanh(x * y + T.exp(-x)) * T.nnet.sigmoid(y) - T.log1p(x * x))

    def numpy_chain():
        return np.tanh(a * b + np.exp(-a)) * (1 / (1 + np.exp(-b))) - np.log1p(a * a)

    np.testing.assert_allclose(f(a, b), numpy_chain(), rtol=1e-4, atol=1e-5)
    name = f"(a) elementwise chain, {n / 1e6:g}M float32"
    rows = [(name, "one copy of the same bytes (yardstick)", median_time(lambda: a.copy())),
            (name, "numpy", median_time(numpy_chain)),
            (name, "symtensor", median_time(lambda: f(a, b)))]
    if have("jax"):
        import jax
        import jax.numpy as jnp
        jf = jax.jit(lambda x, y: jnp.tanh(x * y + jnp.exp(-x)) * jax.nn.sigmoid(y) - jnp.log1p(x * x))
        ja, jb = jnp.asarray(a), jnp.asarray(b)
        rows.append((name, "JAX jit", median_time(lambda: jf(ja, jb).block_until_ready())))
    if have("pytensor"):
        import pytensor
        import pytensor.tensor as pt
        px, py = pt.fvector(), pt.fvector()
        pf = pytensor.function([px, py], pt.tanh(px * py + pt.exp(-px)) * pt.sigmoid(py) - pt.log1p(px * px))
        rows.append((name, "PyTensor", median_time(lambda: pf(a, b))))
    if have("torch"):
        import torch
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        rows.append((name, "PyTorch eager", median_time(
            lambda: torch.tanh(ta * tb + torch.exp(-ta)) * torch.sigmoid(tb) - torch.log1p(ta * ta))))
    return rows


# --- (b) MLP training step ------------------------------------------------------------------------
def _mlp_data(batch: int, rng) -> tuple:
    X = rng.standard_normal((batch, 784)).astype("float32")
    Y = rng.integers(0, 10, batch).astype("int64")
    W1 = (rng.standard_normal((784, 500)) * 0.05).astype("float32")
    W2 = (rng.standard_normal((500, 10)) * 0.05).astype("float32")
    return X, Y, W1, np.zeros(500, "float32"), W2, np.zeros(10, "float32")


def symtensor_mlp_step(values: tuple, lr: float = 0.01):
    """The training function of a 784-500-10 tanh MLP (softmax NLL + 1e-4 L2, SGD)."""
    import symtensor as T
    _, _, W1v, b1v, W2v, b2v = values
    W1, b1, W2, b2 = (T.shared(v.copy(), name=n) for v, n in zip((W1v, b1v, W2v, b2v), ("W1", "b1", "W2", "b2")))
    x, y = T.fmatrix("x"), T.lvector("y")
    h = T.tanh(T.dot(x, W1) + b1)
    z = T.dot(h, W2) + b2
    z = z - z.max(axis=1, keepdims=True)
    logp = z - T.log(T.exp(z).sum(axis=1, keepdims=True))
    cost = -logp[T.arange(y.shape[0]), y].mean() + 1e-4 * ((W1 ** 2).sum() + (W2 ** 2).sum())
    params = [W1, b1, W2, b2]
    grads = T.grad(cost, params)
    return T.function([x, y], cost, updates=[(p, p - np.float32(lr) * g) for p, g in zip(params, grads)])


def numpy_mlp_step(values: tuple, lr: float = 0.01):
    _, _, W1, b1, W2, b2 = [v.copy() for v in values]

    def step(X, Y):
        h = np.tanh(X @ W1 + b1)
        z = h @ W2 + b2
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        p = e / e.sum(axis=1, keepdims=True)
        n = X.shape[0]
        cost = -np.log(p[np.arange(n), Y]).mean() + 1e-4 * ((W1 ** 2).sum() + (W2 ** 2).sum())
        gz = p
        gz[np.arange(n), Y] -= 1
        gz /= n
        gW2 = h.T @ gz + 2e-4 * W2
        gb2 = gz.sum(0)
        gh = (gz @ W2.T) * (1 - h * h)
        gW1 = X.T @ gh + 2e-4 * W1
        gb1 = gh.sum(0)
        for param, grad in ((W1, gW1), (b1, gb1), (W2, gW2), (b2, gb2)):
            param -= lr * grad      # in place: the parameters live in the enclosing scope
        return cost
    return step


def mlp(batches: tuple = (256, 20, 1)) -> list:
    rows = []
    for batch in batches:
        rng = np.random.default_rng(1)
        values = _mlp_data(batch, rng)
        X, Y = values[0], values[1]
        name = f"(b) MLP 784-500-10 training step, batch {batch}"
        f = symtensor_mlp_step(values)
        g = numpy_mlp_step(values)
        rows.append((name, "numpy", median_time(lambda: g(X, Y))))
        rows.append((name, "symtensor", median_time(lambda: f(X, Y))))
        if have("jax"):
            rows.append((name, "JAX jit", _jax_mlp(values)))
    return rows


def _jax_mlp(values: tuple, lr: float = 0.01) -> float:
    import jax
    import jax.numpy as jnp
    X, Y, *params = [jnp.asarray(v) for v in values]

    def loss(params, X, Y):
        W1, b1, W2, b2 = params
        h = jnp.tanh(X @ W1 + b1)
        logp = jax.nn.log_softmax(h @ W2 + b2)
        return -logp[jnp.arange(X.shape[0]), Y].mean() + 1e-4 * ((W1 ** 2).sum() + (W2 ** 2).sum())

    @jax.jit
    def step(params, X, Y):
        cost, grads = jax.value_and_grad(loss)(params, X, Y)
        return cost, [p - lr * g for p, g in zip(params, grads)]

    state = {"p": params}

    def run():
        cost, state["p"] = step(state["p"], X, Y)
        cost.block_until_ready()
    return median_time(run)


# --- (c) call overhead ------------------------------------------------------------------------------
def call_overhead() -> list:
    import symtensor as T
    x = T.fvector("x")
    f = T.function([x], x + 1)
    ft = T.function([x], x + 1, trust_input=True)
    a = np.ones(10, "float32")
    name = "(c) call overhead, f(x) = x + 1 on 10 floats"
    return [(name, "numpy (a + 1)", median_time(lambda: a + 1)),
            (name, "symtensor", median_time(lambda: f(a))),
            (name, "symtensor, trust_input", median_time(lambda: ft(a)))]


# --- (d) compile time ----------------------------------------------------------------------------------
_COMPILE_SCRIPT = textwrap.dedent("""
    import time, sys
    t0 = time.perf_counter()
    import numpy as np
    import symtensor as T
    from benchmarks.cases import symtensor_mlp_step, _mlp_data
    values = _mlp_data(4, np.random.default_rng(0))
    t1 = time.perf_counter()
    f = symtensor_mlp_step(values)
    f(values[0], values[1])
    print(time.perf_counter() - t1)
""")


def compile_time() -> list:
    """Cold: a fresh process and an empty cache; warm: a second process, same cache."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, SYMTENSOR_FLAGS=f"compiledir={cache}",
                   PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
        times = []
        for _ in range(2):
            out = subprocess.run([sys.executable, "-c", _COMPILE_SCRIPT], env=env, cwd=root,
                                 capture_output=True, text=True, check=True)
            times.append(float(out.stdout.strip().splitlines()[-1]))
    name = "(d) compile + first call of (b)'s training function"
    return [(name, "symtensor, cold (empty cache, new process)", times[0]),
            (name, "symtensor, warm (second process)", times[1])]


CASES = {"elementwise": elementwise, "mlp": mlp, "overhead": call_overhead, "compile": compile_time}

# the cases of the derivative issue (per-sample Jacobians, RNN BPTT, scalar recurrence)
from .grad_cases import GRAD_CASES  # noqa: E402

CASES.update(GRAD_CASES)

# the cases of the neural-network issue (LeNet training step, conv2d and its gradients)
from .nnet_cases import NNET_CASES  # noqa: E402

CASES.update(NNET_CASES)
