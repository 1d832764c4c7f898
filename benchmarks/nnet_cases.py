"""Neural-network benchmark cases: rows (case, implementation, seconds per call), like cases.py.

- ``lenet()``: one SGD training step of LeNet on a batch of 64 (1, 28, 28) images:
  conv 20@5x5 -> max pool 2 -> tanh -> conv 50@5x5 -> max pool 2 -> tanh -> 500 tanh ->
  10 softmax, mean negative log-likelihood. symtensor (FAST_RUN, updates on shared
  parameters), a hand-written numpy im2col step, PyTorch eager, torch.compile (in a child
  process, skipped when it does not compile in time) and JAX jit. Before timing, the loss
  after one step of each is checked against symtensor's (same initial values).
- ``conv2d_case()``: the second LeNet convolution, (64, 20, 12, 12) * (50, 20, 5, 5),
  forward and its gradients with respect to the input and the filters, symtensor vs PyTorch.

symtensor's ``conv2d`` convolves (flips the filters, as Theano does); the others correlate,
so they get the flipped filters, which makes every step compute the same numbers.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .peers import have
from .timing import median_time

BATCH, LR = 64, 0.1
#: Seconds torch.compile may take (child process, compile + measurement) before it is skipped.
TORCH_COMPILE_LIMIT_S = 120


# --- data and parameters ----------------------------------------------------------------------
def lenet_data(seed: int = 0) -> tuple:
    """(X, Y, params): images in [0, 1), labels, and Glorot-uniform weights (zero biases),
    weights in symtensor's orientation (convolution filters, (in, out) dense matrices)."""
    rng = np.random.default_rng(seed)
    X = rng.random((BATCH, 1, 28, 28), dtype=np.float32)
    Y = rng.integers(0, 10, BATCH).astype("int64")

    def glorot(shape, fan_in, fan_out):
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-bound, bound, shape).astype("float32")

    params = [glorot((20, 1, 5, 5), 25, 20 * 25 / 4), np.zeros(20, "float32"),
              glorot((50, 20, 5, 5), 20 * 25, 50 * 25 / 4), np.zeros(50, "float32"),
              glorot((800, 500), 800, 500), np.zeros(500, "float32"),
              glorot((500, 10), 500, 10), np.zeros(10, "float32")]
    return X, Y, params


def flipped(params: list) -> list:
    """Copies of the parameters with the convolution filters flipped (for correlating libraries)."""
    return [np.ascontiguousarray(p[:, :, ::-1, ::-1]) if p.ndim == 4 else p.copy() for p in params]


# --- symtensor --------------------------------------------------------------------------------
def symtensor_lenet_step(params: list, lr: float = LR):
    """The compiled training function ``f(X, Y) -> loss`` updating shared parameters."""
    import symtensor as T
    from symtensor.tensor.nnet import conv2d
    from symtensor.tensor.signal.pool import pool_2d
    shared = [T.shared(p.copy(), name=f"p{i}") for i, p in enumerate(params)]
    W1, b1, W2, b2, W3, b3, W4, b4 = shared
    x, y = T.ftensor4("x"), T.lvector("y")
    h1 = T.tanh(pool_2d(conv2d(x, W1), (2, 2), ignore_border=True) + b1.dimshuffle("x", 0, "x", "x"))
    h2 = T.tanh(pool_2d(conv2d(h1, W2), (2, 2), ignore_border=True) + b2.dimshuffle("x", 0, "x", "x"))
    h3 = T.tanh(T.dot(h2.flatten(2), W3) + b3)
    p_y = T.nnet.softmax(T.dot(h3, W4) + b4)
    cost = T.nnet.categorical_crossentropy(p_y, y).mean()
    grads = T.grad(cost, shared)
    return T.function([x, y], cost, updates=[(p, p - np.float32(lr) * g) for p, g in zip(shared, grads)],
                      mode="FAST_RUN")


# --- numpy im2col -----------------------------------------------------------------------------
def _im2col(x: np.ndarray, k: int) -> np.ndarray:
    """(batch * oh * ow, channels * k * k) windows of a valid k x k correlation."""
    b, c, h, w = x.shape
    win = sliding_window_view(x, (k, k), axis=(2, 3))            # b, c, oh, ow, k, k
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(b * (h - k + 1) * (w - k + 1), c * k * k)


def _conv_fwd(x: np.ndarray, w: np.ndarray) -> tuple:
    """Valid correlation of x with w as one matmul; returns (output, im2col matrix)."""
    b, _, h, wd = x.shape
    f, k = w.shape[0], w.shape[2]
    cols = _im2col(x, k)
    out = (cols @ w.reshape(f, -1).T).reshape(b, h - k + 1, wd - k + 1, f).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(out), cols


def _conv_bwd(gout: np.ndarray, cols: np.ndarray, w: np.ndarray, x_shape: tuple, need_dx: bool) -> tuple:
    """(dx or None, dw) of the correlation, dx by col2im (one strided add per filter tap)."""
    f, c, k, _ = w.shape
    b, _, oh, ow = gout.shape
    g = gout.transpose(0, 2, 3, 1).reshape(-1, f)
    dw = (g.T @ cols).reshape(w.shape)
    if not need_dx:
        return None, dw
    dcols = (g @ w.reshape(f, -1)).reshape(b, oh, ow, c, k, k).transpose(0, 3, 4, 5, 1, 2)
    dx = np.zeros(x_shape, gout.dtype)
    for i in range(k):
        for j in range(k):
            dx[:, :, i:i + oh, j:j + ow] += dcols[:, :, i, j]
    return dx, dw


def _pool_fwd(x: np.ndarray) -> np.ndarray:
    b, c, h, w = x.shape
    return x.reshape(b, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def _pool_bwd(x: np.ndarray, z: np.ndarray, gz: np.ndarray) -> np.ndarray:
    """Max-pool gradient: each window's gradient goes to the cells equal to its maximum."""
    b, c, h, w = x.shape
    hit = x.reshape(b, c, h // 2, 2, w // 2, 2) == z[:, :, :, None, :, None]
    return np.where(hit, gz[:, :, :, None, :, None], 0).reshape(x.shape).astype(x.dtype)


def numpy_lenet_step(params: list, lr: float = LR):
    """A hand-written numpy training step (correlating filters: pass ``flipped`` params)."""
    W1, b1, W2, b2, W3, b3, W4, b4 = [p.copy() for p in params]
    lr = np.float32(lr)

    def step(X, Y):
        c1, cols1 = _conv_fwd(X, W1)
        p1 = _pool_fwd(c1)
        h1 = np.tanh(p1 + b1[:, None, None])
        c2, cols2 = _conv_fwd(h1, W2)
        p2 = _pool_fwd(c2)
        h2 = np.tanh(p2 + b2[:, None, None])
        flat = h2.reshape(len(X), -1)
        h3 = np.tanh(flat @ W3 + b3)
        z = h3 @ W4 + b4
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        prob = e / e.sum(axis=1, keepdims=True)
        n = len(X)
        cost = -np.log(prob[np.arange(n), Y]).mean()
        gz = prob
        gz[np.arange(n), Y] -= 1
        gz /= n
        gW4, gb4 = h3.T @ gz, gz.sum(0)
        g3 = (gz @ W4.T) * (1 - h3 * h3)
        gW3, gb3 = flat.T @ g3, g3.sum(0)
        g2 = (g3 @ W3.T).reshape(h2.shape) * (1 - h2 * h2)
        gb2 = g2.sum((0, 2, 3))
        gc2 = _pool_bwd(c2, p2, g2)
        gh1, gW2 = _conv_bwd(gc2, cols2, W2, h1.shape, True)
        g1 = gh1 * (1 - h1 * h1)
        gb1 = g1.sum((0, 2, 3))
        _, gW1 = _conv_bwd(_pool_bwd(c1, p1, g1), cols1, W1, X.shape, False)
        for p, g in zip((W1, b1, W2, b2, W3, b3, W4, b4), (gW1, gb1, gW2, gb2, gW3, gb3, gW4, gb4)):
            p -= lr * g
        return cost
    return step


# --- PyTorch ----------------------------------------------------------------------------------
def torch_lenet_step(params: list, lr: float = LR, compile: bool = False):
    """A PyTorch training step (correlating filters: pass ``flipped`` params); with ``compile``,
    the forward and loss go through torch.compile, the update stays eager."""
    import torch
    import torch.nn.functional as F
    ps = [torch.tensor(p.T if p.ndim == 2 else p).requires_grad_() for p in params]  # dense: (out, in)

    def loss_fn(X, Y, W1, b1, W2, b2, W3, b3, W4, b4):
        h1 = torch.tanh(F.max_pool2d(F.conv2d(X, W1), 2) + b1[:, None, None])
        h2 = torch.tanh(F.max_pool2d(F.conv2d(h1, W2), 2) + b2[:, None, None])
        h3 = torch.tanh(F.linear(h2.flatten(1), W3, b3))
        return F.cross_entropy(F.linear(h3, W4, b4), Y)

    fn = torch.compile(loss_fn) if compile else loss_fn

    def step(X, Y):
        loss = fn(X, Y, *ps)
        grads = torch.autograd.grad(loss, ps)
        with torch.no_grad():
            torch._foreach_add_(ps, grads, alpha=-lr)
        return loss.item()
    return step


_TORCH_COMPILE_SCRIPT = textwrap.dedent("""
    import torch
    from benchmarks.nnet_cases import lenet_data, flipped, torch_lenet_step
    from benchmarks.timing import median_time
    X, Y, params = lenet_data()
    step = torch_lenet_step(flipped(params), compile=True)
    tX, tY = torch.from_numpy(X), torch.from_numpy(Y)
    step(tX, tY)
    print("loss", step(tX, tY))
    print("time", median_time(lambda: step(tX, tY)))
""")


def _torch_compile_row() -> tuple:
    """(seconds or None, loss after one step or None, note) from a child process."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
    try:
        out = subprocess.run([sys.executable, "-c", _TORCH_COMPILE_SCRIPT], env=env, cwd=root,
                             capture_output=True, text=True, timeout=TORCH_COMPILE_LIMIT_S)
    except subprocess.TimeoutExpired:
        return None, None, f"did not finish within {TORCH_COMPILE_LIMIT_S} s"
    values = dict(line.split() for line in out.stdout.splitlines() if line.startswith(("loss", "time")))
    if out.returncode or "time" not in values:
        return None, None, "failed: " + (out.stderr.strip().splitlines() or ["?"])[-1]
    return float(values["time"]), float(values["loss"]), ""


# --- JAX --------------------------------------------------------------------------------------
def jax_lenet_step(params: list, lr: float = LR):
    """A jitted JAX training step (correlating filters: pass ``flipped`` params)."""
    import jax
    import jax.numpy as jnp

    def conv(x, w):
        return jax.lax.conv_general_dilated(x, w, (1, 1), "VALID", dimension_numbers=("NCHW", "OIHW", "NCHW"))

    def pool(x):
        return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    def loss(ps, X, Y):
        W1, b1, W2, b2, W3, b3, W4, b4 = ps
        h1 = jnp.tanh(pool(conv(X, W1)) + b1[:, None, None])
        h2 = jnp.tanh(pool(conv(h1, W2)) + b2[:, None, None])
        h3 = jnp.tanh(h2.reshape(X.shape[0], -1) @ W3 + b3)
        logp = jax.nn.log_softmax(h3 @ W4 + b4)
        return -logp[jnp.arange(X.shape[0]), Y].mean()

    @jax.jit
    def jstep(ps, X, Y):
        cost, grads = jax.value_and_grad(loss)(ps, X, Y)
        return cost, [p - lr * g for p, g in zip(ps, grads)]

    state = {"p": [jnp.asarray(p) for p in params]}

    def step(X, Y):
        cost, state["p"] = jstep(state["p"], X, Y)
        return float(cost)
    return step


# --- the cases --------------------------------------------------------------------------------
def _second_loss(step, X, Y) -> float:
    """The loss a step function reports on its second call (after one update)."""
    step(X, Y)
    return float(step(X, Y))


def lenet() -> list:
    """LeNet training step, batch 64: symtensor vs numpy, PyTorch (eager, compiled) and JAX."""
    X, Y, params = lenet_data()
    name = f"(e) LeNet training step, batch {BATCH}"
    f = symtensor_lenet_step(params)
    ref = _second_loss(symtensor_lenet_step(params), X, Y)
    steps = {"numpy im2col": (numpy_lenet_step(flipped(params)), X, Y)}
    if have("torch"):
        import torch
        tX, tY = torch.from_numpy(X), torch.from_numpy(Y)
        steps["PyTorch eager"] = (torch_lenet_step(flipped(params)), tX, tY)
    if have("jax"):
        import jax.numpy as jnp
        steps["JAX jit"] = (jax_lenet_step(flipped(params)), jnp.asarray(X), jnp.asarray(Y))
    for impl, (step, a, b) in steps.items():
        loss = _second_loss(step, a, b)
        if not np.isclose(loss, ref, rtol=2e-4, atol=1e-5):
            raise AssertionError(f"LeNet: the loss after one step differs: symtensor {ref}, {impl} {loss}")
    rows = [(name, "symtensor", median_time(lambda: f(X, Y)))]
    rows += [(name, impl, median_time(lambda s=step, a=a, b=b: s(a, b))) for impl, (step, a, b) in steps.items()]
    if have("torch"):
        seconds, loss, note = _torch_compile_row()
        if seconds is None:
            rows.append((name, f"torch.compile (skipped: {note})", None))
        else:
            if not np.isclose(loss, ref, rtol=2e-4, atol=1e-5):
                raise AssertionError(f"LeNet: the loss after one step differs: symtensor {ref}, "
                                     f"torch.compile {loss}")
            rows.append((name, "torch.compile", seconds))
    return rows


def conv2d_case(shape: tuple = (64, 20, 12, 12), filters: tuple = (50, 20, 5, 5)) -> list:
    """conv2d forward and its two gradients, symtensor vs PyTorch, checked equal first."""
    import symtensor as T
    from symtensor.tensor.nnet import conv2d, conv2d_grad_wrt_inputs, conv2d_grad_wrt_weights
    rng = np.random.default_rng(2)
    xv = rng.standard_normal(shape).astype("float32")
    wv = rng.standard_normal(filters).astype("float32")
    out_shape = (shape[0], filters[0], shape[2] - filters[2] + 1, shape[3] - filters[3] + 1)
    gv = rng.standard_normal(out_shape).astype("float32")
    x, w, gz = T.ftensor4("x"), T.ftensor4("w"), T.ftensor4("gz")
    out = conv2d(x, w, filter_flip=False)
    gx = conv2d_grad_wrt_inputs(gz, w, shape, filter_flip=False)
    gw = conv2d_grad_wrt_weights(x, gz, filters, filter_flip=False)
    fns = {"forward": (T.function([x, w], out), (xv, wv)),
           "grad wrt inputs": (T.function([w, gz], gx), (wv, gv)),
           "grad wrt filters": (T.function([x, gz], gw), (xv, gv))}
    name = f"(f) conv2d {shape} * {filters}"
    rows = []
    torch_fns = _torch_conv_fns(xv, wv, gv) if have("torch") else {}
    for what, (fn, args) in fns.items():
        got = fn(*args)
        if what in torch_fns:
            expect = torch_fns[what]().numpy()
            np.testing.assert_allclose(got, expect, rtol=1e-3, atol=1e-3 * np.abs(expect).max())
        rows.append((f"{name}, {what}", "symtensor", median_time(lambda fn=fn, args=args: fn(*args))))
        if what in torch_fns:
            rows.append((f"{name}, {what}", "PyTorch eager", median_time(torch_fns[what])))
    return rows


def _torch_conv_fns(xv: np.ndarray, wv: np.ndarray, gv: np.ndarray) -> dict:
    """PyTorch's forward and backward convolution kernels (aten's, as autograd calls them)."""
    import torch
    x, w, g = (torch.from_numpy(a) for a in (xv, wv, gv))
    conv_bwd = torch.ops.aten.convolution_backward

    def bwd(mask):
        return conv_bwd(g, x, w, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1, mask)

    return {"forward": lambda: torch.nn.functional.conv2d(x, w),
            "grad wrt inputs": lambda: bwd([True, False, False])[0],
            "grad wrt filters": lambda: bwd([False, True, False])[1]}


NNET_CASES = {"lenet": lenet, "conv2d": conv2d_case}

if __name__ == "__main__":
    from .__main__ import table
    names = sys.argv[1:] or list(NNET_CASES)
    print(table([row for n in names for row in NNET_CASES[n]()]))
