"""Logistic regression, as in Theano's tutorial: shared weights, a cross-entropy cost with
L2 decay, its gradient from ``T.grad`` and a compiled training step that updates the weights.

Run: python examples/logistic_regression.py
"""
import numpy as np

import symtensor as T

rng = np.random.default_rng(1234)

N = 400          # training samples
feats = 784      # input features
D = (rng.standard_normal((N, feats)), rng.integers(0, 2, size=N).astype("float64"))
training_steps = 1000

# Symbolic inputs
x = T.dmatrix("x")
y = T.dvector("y")

# Model parameters, shared between the compiled functions. Small initial weights keep the
# plain cross-entropy formula below finite from the first step.
w = T.shared(0.01 * rng.standard_normal(feats), name="w")
b = T.shared(0.0, name="b")

# The expression graph
p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))          # probability that the target is 1
prediction = p_1 > 0.5                            # the prediction, thresholded
xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)  # cross-entropy per sample
cost = xent.mean() + 0.01 * (w ** 2).sum()        # the cost to minimise
gw, gb = T.grad(cost, [w, b])                     # its gradient w.r.t. w and b

# Compile
train = T.function(inputs=[x, y], outputs=[prediction, xent],
                   updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)])
predict = T.function(inputs=[x], outputs=prediction)

# Train
losses = []
for step in range(training_steps):
    pred, err = train(D[0], D[1])
    losses.append(float(err.mean()))
    if step % 200 == 0 or step == training_steps - 1:
        print(f"step {step:4d}  cross-entropy {losses[-1]:.4f}  "
              f"training accuracy {np.mean(pred == D[1]):.3f}")

accuracy = float(np.mean(predict(D[0]) == D[1]))
print(f"final cross-entropy {losses[-1]:.4f} (from {losses[0]:.4f}), "
      f"final training accuracy {accuracy:.3f}")

assert np.all(np.isfinite(losses)), "the loss must stay finite"
assert losses[-1] < 0.25 * losses[0], "the loss must fall"
assert accuracy >= 0.95, f"training accuracy too low: {accuracy}"
print("OK")
