"""Between-unit covariance and Pearson correlation of a hidden layer's activations.

A minibatch X (t x n) goes through a tanh layer, A = tanh(X W + b) (t x d): rows are
observations, columns are units. With the row vector of column means o = mean(A, axis=0),

    Sigma = (A - 1 o)^T (A - 1 o) / (t - 1)
    rho   = Sigma / (s^T s),  s = sqrt(sum((A - 1 o)**2, axis=0) / (t - 1))

The "1 o" products are broadcasting, the Hadamard products element-wise squaring, and the
sums axis reductions. Both matrices are checked against numpy.cov and numpy.corrcoef.

Run: python examples/activation_statistics.py
"""
import numpy as np

import symtensor as T

t, n, d = 256, 20, 8     # minibatch size, input features, hidden units
rng = np.random.default_rng(0)

# Symbolic layer
X = T.dmatrix("X")
W = T.dmatrix("W")
b = T.dvector("b")
A = T.tanh(T.dot(X, W) + b)                       # t x d activations

# Covariance: centre each column (o broadcasts over the rows), then a matrix product.
centred = A - A.mean(axis=0).dimshuffle("x", 0)   # A - 1 o
t_sym = A.shape[0]                                # t, known only at run time
cov = T.dot(centred.T, centred) / (t_sym - 1)

# Correlation: per-unit standard deviations, divided out as an outer product.
s = T.sqrt((centred ** 2).sum(axis=0) / (t_sym - 1))   # row vector of std devs (length d)
corr = cov / (s.dimshuffle(0, "x") * s.dimshuffle("x", 0))

stats = T.function([X, W, b], [A, cov, corr])

# Run it on random data and compare with numpy, computed from the same activations.
X_val = rng.standard_normal((t, n))
W_val = rng.standard_normal((n, d)) / np.sqrt(n)
b_val = 0.1 * rng.standard_normal(d)
A_val, cov_val, corr_val = stats(X_val, W_val, b_val)

cov_ref = np.cov(A_val, rowvar=False)
corr_ref = np.corrcoef(A_val, rowvar=False)

print(f"activations: {A_val.shape[0]} observations x {A_val.shape[1]} units")
print(f"covariance   {cov_val.shape}, max |symtensor - numpy.cov|      = "
      f"{np.abs(cov_val - cov_ref).max():.2e}")
print(f"correlation  {corr_val.shape}, max |symtensor - numpy.corrcoef| = "
      f"{np.abs(corr_val - corr_ref).max():.2e}")
off_diag = corr_val[~np.eye(d, dtype=bool)]
print(f"unit variances: {np.array2string(np.diag(cov_val), precision=3)}")
print(f"off-diagonal correlations in [{off_diag.min():.3f}, {off_diag.max():.3f}], "
      f"mean |rho| = {np.abs(off_diag).mean():.3f}")

np.testing.assert_allclose(cov_val, cov_ref, rtol=1e-10, atol=1e-12)
np.testing.assert_allclose(corr_val, corr_ref, rtol=1e-10, atol=1e-12)
np.testing.assert_allclose(np.diag(corr_val), 1.0, rtol=1e-12)
np.testing.assert_allclose(cov_val, cov_val.T, rtol=1e-12)
print("OK")
