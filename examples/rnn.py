"""A vanilla recurrent network trained with backpropagation through time (BPTT) through scan:

    a_t = b + W s_{t-1} + U x_t,   s_t = tanh(a_t),   o_t = c + V s_t,   p_t = softmax(o_t)

The task is self-generated: sequences of symbols drawn from a fixed random Markov chain whose
next symbol depends on the current one; the network reads one-hot symbols and predicts the
next. The cross-entropy per epoch is printed and must fall towards the chain's own entropy.
"""
from __future__ import annotations

import numpy as np

import symtensor as T


def markov_sequences(rng, n_seq: int, length: int, n_symbols: int, sharpness: float = 4.0) -> tuple:
    """One-hot inputs (length, n_seq, n_symbols), next-symbol targets (length, n_seq), and the
    chain's entropy rate (the best achievable mean cross-entropy)."""
    logits = sharpness * rng.standard_normal((n_symbols, n_symbols))
    P = np.exp(logits - logits.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    states = np.empty((length + 1, n_seq), dtype=np.int64)
    states[0] = rng.integers(0, n_symbols, n_seq)
    for t in range(length):
        cum = P[states[t]].cumsum(1)
        states[t + 1] = (rng.random((n_seq, 1)) > cum).sum(1)
    x = np.eye(n_symbols, dtype=T.config.floatX)[states[:-1]]
    stationary = np.bincount(states.ravel(), minlength=n_symbols) / states.size
    entropy = float(-(stationary[:, None] * P * np.log(P + 1e-12)).sum())
    return x, states[1:], entropy


def main(epochs: int = 40, n_hidden: int = 32, n_symbols: int = 8, lr: float = 0.5) -> tuple:
    rng = np.random.default_rng(7)
    x_data, y_data, entropy = markov_sequences(rng, n_seq=64, length=30, n_symbols=n_symbols)
    fx = T.config.floatX

    def param(shape, name, scale):
        return T.shared((scale * rng.standard_normal(shape)).astype(fx), name=name)

    U = param((n_symbols, n_hidden), "U", 0.3)
    W = param((n_hidden, n_hidden), "W", 1.0 / np.sqrt(n_hidden))
    V = param((n_hidden, n_symbols), "V", 0.3)
    b = T.shared(np.zeros(n_hidden, fx), name="b")
    c = T.shared(np.zeros(n_symbols, fx), name="c")

    x = T.tensor3("x")          # (time, batch, symbols)
    y = T.lmatrix("y")          # (time, batch)
    s0 = T.zeros((x.shape[1], n_hidden), dtype=fx)

    def step(x_t, s_prev):
        a_t = b + T.dot(s_prev, W) + T.dot(x_t, U)
        s_t = T.tanh(a_t)
        p_t = T.nnet.softmax(c + T.dot(s_t, V))
        return s_t, p_t

    (states, probs), _ = T.scan(step, sequences=x, outputs_info=[s0, None])
    flat_p = probs.reshape((probs.shape[0] * probs.shape[1], n_symbols))
    cost = T.nnet.categorical_crossentropy(flat_p, y.flatten()).mean()
    params = [U, W, V, b, c]
    grads = T.grad(cost, params)
    step_size = T.cast(lr, fx)
    train = T.function([x, y], cost, updates=[(p, p - step_size * g) for p, g in zip(params, grads)])

    print(f"RNN with {n_hidden} hidden units on {x_data.shape[1]} sequences of {x_data.shape[0]} symbols; "
          f"chance {np.log(n_symbols):.3f}, best possible {entropy:.3f} nats")
    losses = []
    for epoch in range(1, epochs + 1):
        losses.append(float(train(x_data, y_data)))
        if epoch == 1 or epoch % 5 == 0:
            print(f"epoch {epoch:3d}  cross-entropy {losses[-1]:.4f}")
    return losses, entropy, float(np.log(n_symbols))


if __name__ == "__main__":
    losses, entropy, chance = main()
    assert losses[-1] < losses[0] - 0.3, f"the loss did not fall enough: {losses[0]:.3f} -> {losses[-1]:.3f}"
    assert losses[-1] < chance, "the loss did not fall below chance"
    print(f"cross-entropy fell from {losses[0]:.3f} to {losses[-1]:.3f} (chain entropy {entropy:.3f})")
    print("OK")
