"""The elementwise fast path for operands that broadcast as their types say (a matrix minus
its row maxima, a bias added to every row): same numbers and errors as the general path,
for every broadcast pattern, rank, zero sizes and values that do not fit."""
import numpy as np
import pytest

import symtensor as T

PATTERNS = [((False, True), (False, False)), ((True, False), (False, False)), ((True, True), (False, False)),
            ((False, True, False), (True, False, True)), ((True, False, True), (False, True, False))]


@pytest.mark.parametrize("pa,pb", PATTERNS)
def test_broadcast_patterns_match_numpy(pa, pb, rng):
    a = T.TensorType("float32", pa)("a")
    b = T.TensorType("float32", pb)("b")
    f = T.function([a, b], [T.exp(a) * b - a, a + 1], mode="FAST_RUN")
    for full in [(3, 4, 5)[:len(pa)], (1, 7, 2)[:len(pa)], (0, 3, 2)[:len(pa)]]:
        sa = tuple(1 if p else s for p, s in zip(pa, full))
        sb = tuple(1 if p else s for p, s in zip(pb, full))
        va = rng.standard_normal(sa).astype("float32")
        vb = rng.standard_normal(sb).astype("float32")
        got, plus = f(va, vb)
        np.testing.assert_allclose(got, np.exp(va) * vb - va, rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(plus, va + 1)


def test_a_value_that_does_not_fit_its_pattern_raises(rng):
    x = T.fmatrix("x")
    col = T.TensorType("float32", (False, True))("col")
    f = T.function([x, col], x - col, mode="FAST_RUN")
    with pytest.raises(ValueError, match="broadcastable"):
        f(np.ones((3, 4), "float32"), np.ones((3, 2), "float32"))
    f.trust_input = True    # unchecked arguments reach the kernel's own checks
    with pytest.raises(ValueError, match="input 1 has shape"):
        f(np.ones((3, 4), "float32"), np.ones((3, 2), "float32"))
    with pytest.raises(ValueError, match="dimension 0"):
        f(np.ones((3, 4), "float32"), np.ones((2, 1), "float32"))


def test_strided_operands_take_the_general_path_with_the_same_result(rng):
    x = T.fmatrix("x")
    col = T.TensorType("float32", (False, True))("col")
    f = T.function([x, col], x - col, mode="FAST_RUN")
    big = rng.standard_normal((6, 8)).astype("float32")
    view = big[::2, ::2]
    c = rng.standard_normal((3, 1)).astype("float32")
    np.testing.assert_array_equal(f(view, c), view - c)
    np.testing.assert_array_equal(f(np.ascontiguousarray(view), c), view - c)
