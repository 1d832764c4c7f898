"""The tensor-level function namespace: every op family's public functions in one place.

Tensor methods (``x.sum()``), derivative rules and the public faces all look names up
here, so each operation is defined once, in its family module.
"""
from __future__ import annotations

from .basic import (CONSTRUCTORS, TensorConstant, TensorVariable, as_tensor_variable, constant,
                    tensor)
from .elemwise import (ELEMWISE_FUNCTIONS, DimShuffle, Elemwise, cast, dimshuffle, shape_padaxis,
                       shape_padleft, shape_padright, sum_to_broadcastable, transpose)
from .reduce import (all, any, argmax, argmin, max, max_and_argmax, mean, min, norm, prod, std, sum,
                     var)
from .shape import (addbroadcast, flatten, patternbroadcast, reshape, shape, specify_broadcastable_like,
                    specify_shape, squeeze, unbroadcast)
from .alloc import (alloc, arange, eye, fill, identity_like, ones, ones_like, second, tensor_copy,
                    zeros, zeros_like)
from .join import concatenate, join, split, stack
from .tile import repeat, tile
from .subtensor import getitem, inc_subtensor, set_subtensor
from .advanced_subtensor import (advanced_inc_subtensor1, advanced_set_subtensor1, advanced_subtensor1,
                                 take)
from .blas import batched_dot, batched_tensordot, dot, outer, tensordot
from .misc import zero_grad, disconnected_grad, grad_clip
from .opfromgraph import OpFromGraph
from .linalg import diag, tril, triu
from .extra_ops import bincount, cumprod, cumsum, diff, fill_diagonal, to_one_hot
from .sort import argsort, sort

globals().update(ELEMWISE_FUNCTIONS)
globals().update(CONSTRUCTORS)

# Theano's spellings of a few elementwise functions
abs_ = ELEMWISE_FUNCTIONS["abs"]
where = switch = ELEMWISE_FUNCTIONS["switch"]
round_half_to_even = ELEMWISE_FUNCTIONS["round_half_to_even"]
round_half_away_from_zero = ELEMWISE_FUNCTIONS["round_half_away_from_zero"]
iround = ELEMWISE_FUNCTIONS["iround"]
true_div = ELEMWISE_FUNCTIONS["true_div"]
int_div = floor_div = ELEMWISE_FUNCTIONS["int_div"]
pow = ELEMWISE_FUNCTIONS["pow"]
add = ELEMWISE_FUNCTIONS["add"]
mul = ELEMWISE_FUNCTIONS["mul"]
bitwise_and, bitwise_or, bitwise_xor = and_, or_, xor = (
    ELEMWISE_FUNCTIONS["and_"], ELEMWISE_FUNCTIONS["or_"], ELEMWISE_FUNCTIONS["xor"])
invert = bitwise_not = ELEMWISE_FUNCTIONS["invert"]


def round(x, mode: str | None = None):
    """Round to the nearest integer value: mode 'half_away_from_zero' (Theano 1.0's default, also
    taken for mode=None) or 'half_to_even' (numpy's ``np.round``)."""
    if mode is None or mode == "half_away_from_zero":
        return round_half_away_from_zero(x)
    if mode == "half_to_even":
        return round_half_to_even(x)
    raise ValueError(f"round: mode must be 'half_to_even' or 'half_away_from_zero', got {mode!r}")


def _annotate_build_errors() -> None:
    """Every public function here reports build errors with the user's source line."""
    import types
    from ..graph.basic import traced
    namespace = globals()
    for name, value in list(namespace.items()):
        if not name.startswith("_") and isinstance(value, types.FunctionType) \
                and not hasattr(value, "__wrapped__"):
            namespace[name] = traced(value)


_annotate_build_errors()
