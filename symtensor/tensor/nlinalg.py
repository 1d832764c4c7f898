"""Theano's ``tensor.nlinalg`` namespace: a public face (linear algebra on numpy's routines)."""
from ..ops.linalg import (AllocDiag, Det, ExtractDiag, MatrixInverse, alloc_diag, det, diag,  # noqa: F401
                          extract_diag, matrix_inverse, trace)
