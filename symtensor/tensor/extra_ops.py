"""Theano's ``tensor.extra_ops``: a public face."""
from ..ops.extra_ops import (BinCount, CumOp, FillDiagonal, OneHot, bincount, cumprod, cumsum, diff,  # noqa: F401
                             fill_diagonal, to_one_hot)
from ..ops.api import repeat, squeeze  # noqa: F401
