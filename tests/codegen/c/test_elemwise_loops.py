"""Each loop of an elementwise kernel, on both sides of the thread threshold: the contiguous
loop (in blocks when threads run it, so sizes around block boundaries), the row loop (a row
or column broadcast over a matrix) and the strided loop; numpy is the reference."""
from __future__ import annotations

import numpy as np
import pytest

import symtensor as T
from symtensor.backends.c import DEFAULT_OMP_THRESHOLD, toolchain
from symtensor.backends.c.executor import CExecutor
from symtensor.codegen.c.elemwise import BLOCK
from symtensor.graph.fg import FunctionGraph
from symtensor.rewrite import optimize

pytestmark = pytest.mark.skipif(toolchain.find_compiler() is None, reason="no C compiler on PATH")


def _compile(inputs, outputs):
    fg = FunctionGraph(inputs, outputs)
    optimize(fg)
    ex = CExecutor(fg)
    assert ex.n_kernels >= 1 and not [n for n in ex.fallbacks if "Elemwise" in type(n.op).__name__]
    return ex


def test_contiguous_loop_at_block_boundaries():
    x = T.fvector("x")
    y = T.fvector("y")
    ex = _compile([x, y], [T.tanh(x) * y + 1])
    rng = np.random.default_rng(0)
    for n in (1, BLOCK - 1, DEFAULT_OMP_THRESHOLD, DEFAULT_OMP_THRESHOLD + 1, 5 * BLOCK, 5 * BLOCK + 7):
        a, b = rng.standard_normal(n).astype("float32"), rng.standard_normal(n).astype("float32")
        np.testing.assert_allclose(ex([a, b])[0], np.tanh(a) * b + 1, rtol=2e-6, atol=1e-6, err_msg=str(n))


@pytest.mark.parametrize("rows", [3, 400], ids=["serial", "threads"])
def test_row_loop_with_a_row_and_a_column_broadcast(rows):
    x = T.matrix("x")
    r = T.row("r")
    c = T.col("c")
    ex = _compile([x, r, c], [T.exp(x - c) * r])
    rng = np.random.default_rng(1)
    a = rng.standard_normal((rows, 301))
    rv, cv = rng.standard_normal((1, 301)), rng.standard_normal((rows, 1))
    assert (rows * 301 > DEFAULT_OMP_THRESHOLD) == (rows == 400)
    np.testing.assert_allclose(ex([a, rv, cv])[0], np.exp(a - cv) * rv, rtol=1e-14)
    for view in (np.zeros((rows, 400))[:, :301], np.zeros((rows, 602))[:, ::2]):   # rows with gaps: rows
        view[...] = a                                                            # loop; stride 2: strided
        np.testing.assert_allclose(ex([view, rv, cv])[0], np.exp(a - cv) * rv, rtol=1e-14)


def test_strided_loop_on_transposed_and_reversed_operands():
    x = T.tensor3("x")
    y = T.tensor3("y")
    ex = _compile([x, y], [T.log1p(x * x) - y])
    rng = np.random.default_rng(2)
    a = rng.standard_normal((5, 6, 7))
    b = rng.standard_normal((7, 6, 5)).transpose(2, 1, 0)
    got = ex([a[::-1, :, ::-1], b])[0]
    np.testing.assert_allclose(got, np.log1p(a[::-1, :, ::-1] ** 2) - b, rtol=1e-14)
