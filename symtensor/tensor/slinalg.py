"""Theano's ``tensor.slinalg`` namespace: a public face (solves and factorizations)."""
from ..ops.linalg import (Cholesky, Solve, cholesky, solve, solve_lower_triangular,  # noqa: F401
                          solve_upper_triangular)
