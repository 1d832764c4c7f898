"""Every name the API contract lists is reachable at the top level and at its Theano path."""
import importlib

import pytest

import symtensor as T

TOP_LEVEL = """scalar vector matrix row col tensor3 tensor4 tensor5 fmatrix ivector lscalar dtensor4 tensor
TensorType constant as_tensor_variable shared function In Out Mode config exp log log2 log10 log1p expm1 sqrt sqr
inv abs_ sgn floor ceil round_half_to_even iround sin cos tan arcsin arccos arctan arctan2 sinh cosh tanh arcsinh
arccosh arctanh erf erfc maximum minimum clip switch where and_ or_ xor invert isnan isinf cast lt gt le ge eq neq
sum prod mean var std max min argmax argmin all any flatten reshape shape_padleft shape_padright addbroadcast
patternbroadcast concatenate stack join split repeat tile zeros ones zeros_like ones_like alloc fill eye
identity_like arange diag set_subtensor inc_subtensor dot tensordot outer batched_dot batched_tensordot grad Lop
Rop jacobian hessian disconnected_grad zero_grad verify_grad vectorize_graph vmap debugprint dprint pp pydotprint
scan map reduce foldl foldr RandomStreams nnet linalg""".split()

PATHS = {
    "symtensor.tensor": ["dot", "tanh", "matrix", "grad", "jacobian", "hessian"],
    "symtensor.tensor.nnet": ["sigmoid", "ultra_fast_sigmoid", "hard_sigmoid", "softplus", "relu", "elu", "softmax",
                              "logsoftmax", "categorical_crossentropy", "binary_crossentropy", "conv2d"],
    "symtensor.tensor.nnet.conv": ["conv2d"],
    "symtensor.tensor.signal.pool": ["pool_2d"],
    "symtensor.tensor.signal.downsample": ["max_pool_2d"],
    "symtensor.tensor.nlinalg": ["matrix_inverse", "det", "trace", "diag"],
    "symtensor.tensor.slinalg": ["solve", "cholesky"],
    "symtensor.linalg": ["matrix_inverse", "det", "trace", "diag", "solve", "cholesky"],
    "symtensor.tensor.shared_randomstreams": ["RandomStreams"],
    "symtensor.sandbox.rng_mrg": ["MRG_RandomStreams"],
    "symtensor.gradient": ["grad", "Lop", "Rop", "jacobian", "hessian", "disconnected_grad", "zero_grad",
                           "verify_grad"],
    "symtensor.printing": ["debugprint", "pp", "pydotprint", "Print"],
    "symtensor.scalar": ["upcast"],
    "symtensor.ifelse": ["ifelse"],
    "symtensor.tensor.extra_ops": ["cumsum", "cumprod", "diff", "bincount", "to_one_hot"],
}


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_top_level_name(name):
    assert hasattr(T, name), f"T.{name} is missing"


@pytest.mark.parametrize("module", sorted(PATHS))
def test_theano_paths(module):
    mod = importlib.import_module(module)
    missing = [n for n in PATHS[module] if not hasattr(mod, n)]
    assert not missing, f"{module} lacks {missing}"


def test_tensor_is_both_module_and_constructor():
    v = T.tensor("float32", (False, True))
    assert v.dtype == "float32" and v.broadcastable == (False, True)
    assert T.tensor.matrix is T.matrix
