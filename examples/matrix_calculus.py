"""A gradient by matrix calculus, checked against ``T.grad``.

For y = c^T Psi((W + V) Phi(W x + b)) with Phi = tanh and Psi = sigmoid applied element-wise,
the differentials (z1 = W x + b, z2 = Phi(z1), z4 = (W + V) z2) give

    dy/dW = Psi'(z4) c z2^T + Phi'(z1) (W + V)^T Psi'(z4) c x^T

where Psi'(z4) and Phi'(z1) are the diagonal Jacobians of the element-wise functions.
W appears twice in y, so both terms are needed; symtensor's reverse mode must find both.

Run: python examples/matrix_calculus.py
"""
import numpy as np

import symtensor as T

n = 6
rng = np.random.default_rng(7)

# Symbolic network
x, b, c = T.dvector("x"), T.dvector("b"), T.dvector("c")
W, V = T.dmatrix("W"), T.dmatrix("V")
y = T.dot(c, T.sigmoid(T.dot(W + V, T.tanh(T.dot(W, x) + b))))
g = T.grad(y, W)

f = T.function([x, b, c, W, V], [y, g])

# Random point
x_val, b_val, c_val = (rng.standard_normal(n) for _ in range(3))
W_val, V_val = (rng.standard_normal((n, n)) / np.sqrt(n) for _ in range(2))
y_val, g_val = f(x_val, b_val, c_val, W_val, V_val)


# Closed form, in numpy, with explicit diagonal Jacobians
def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


z1 = W_val @ x_val + b_val
z2 = np.tanh(z1)
Z3 = W_val + V_val
z4 = Z3 @ z2
dPhi = np.diag(1.0 - np.tanh(z1) ** 2)                 # Phi'(z1)
dPsi = np.diag(sigmoid(z4) * (1.0 - sigmoid(z4)))     # Psi'(z4)
g_ref = np.outer(dPsi @ c_val, z2) + np.outer(dPhi @ Z3.T @ dPsi @ c_val, x_val)
y_ref = c_val @ sigmoid(z4)

print(f"y = {float(y_val):.6f} (numpy: {y_ref:.6f})")
print(f"dy/dW: shape {g_val.shape}, |g| = {np.linalg.norm(g_val):.4f}")
print(f"max |T.grad - closed form| = {np.abs(g_val - g_ref).max():.2e}")

np.testing.assert_allclose(y_val, y_ref, rtol=1e-12)
np.testing.assert_allclose(g_val, g_ref, rtol=1e-10, atol=1e-12)
print("OK")
