"""``symtensor.linalg``: both linear-algebra faces (nlinalg and slinalg) in one namespace."""
from .tensor.nlinalg import *  # noqa: F401,F403
from .tensor.slinalg import *  # noqa: F401,F403
from .tensor.nlinalg import (AllocDiag, Det, ExtractDiag, MatrixInverse, alloc_diag, det, diag,  # noqa: F401
                             extract_diag, matrix_inverse, trace)
from .tensor.slinalg import (Cholesky, Solve, cholesky, solve, solve_lower_triangular,  # noqa: F401
                             solve_upper_triangular)
