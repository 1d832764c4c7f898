"""Scalar constants of elementwise kernels are run-time parameters, not source literals.

A kernel's name covers its program with each constant replaced by a slot of the same dtype, so
programs that differ only in their constants share one compiled function; each node passes its
own values. These tests check the values that are easy to get wrong on the way (NaN, the
infinities, -0.0, float32 values, integer extremes, integers too big for a double, which stay
inlined) against numpy's ``perform`` in every mode, on the contiguous, row and strided loops,
and that the sharing really happens (one function, no second compile).
"""
from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

import symtensor as T
from symtensor.backends import c as cbackend
from symtensor.backends.c import cache, toolchain
from symtensor.backends.c.executor import MODULE_FLAGS, CExecutor
from symtensor.codegen.c import SCALAR_PRELUDE
from symtensor.codegen.c.elemwise import constant_slots, render_elemwise
from symtensor.config import config
from symtensor.graph.fg import FunctionGraph
from symtensor.ops import scalar as ps
from symtensor.ops.elemwise import Elemwise
from symtensor.ops.fused import FusedElemwise
from symtensor.rewrite import optimize

pytestmark = pytest.mark.skipif(toolchain.find_compiler() is None, reason="no C compiler on PATH")

FLOATS = [0.0, -0.0, 1.0, -2.5, 0.1, 1e-300, 5e-324, -1.7976931348623157e308, np.inf, -np.inf, np.nan]
INT64 = [0, -1, 7, 2**53, -2**53, 2**53 + 1, -2**53 - 1, 2**62 + 3, 2**63 - 1, -2**63]


def assert_identical(got: list, want: list, rtol: float = 0.0) -> None:
    """Same dtype, shape and bits (NaN where NaN, the sign of every zero); ``rtol`` allows the
    last bit of a math-library function to differ."""
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        g, w = np.asarray(g), np.asarray(w)
        assert (g.dtype, g.shape) == (w.dtype, w.shape), (k, g.dtype, w.dtype, g.shape, w.shape)
        if rtol:
            np.testing.assert_allclose(g, w, rtol=rtol, atol=0, err_msg=f"output {k}")
        else:
            np.testing.assert_array_equal(g, w, err_msg=f"output {k}")
        if g.dtype.kind == "f":
            np.testing.assert_array_equal(np.signbit(g), np.signbit(w), err_msg=f"signs of output {k}")


def check(mode, inputs, outputs, values):
    """``outputs`` in ``mode`` equal, bit for bit, the numpy reference (FAST_COMPILE)."""
    got = T.function(inputs, outputs, mode=mode)(*values)
    want = T.function(inputs, outputs, mode="FAST_COMPILE")(*values)
    assert_identical(got, want)


def float_outputs(x, consts):
    outs = []
    for c in consts:
        outs += [x * c, x + c, x - c, x / c, T.maximum(x, c), T.minimum(x, c), T.switch(x > c, x, c),
                 x * c - c]
    return outs


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_float_constants_match_numpy(mode, dtype):
    x = T.TensorType(dtype, shape=(None,))("x")
    with np.errstate(over="ignore"):     # the largest double is -inf in float32
        consts = [np.asarray(c, dtype=dtype)[()] for c in FLOATS]
    # float32 values that are not doubles rounded once: exact in a double, kept exactly
    if dtype == "float32":
        consts += [np.float32(1) / np.float32(3), np.nextafter(np.float32(1), np.float32(2))]
    xv = np.array([0.0, -0.0, 1.0, -3.0, 0.1, np.inf, -np.inf, np.nan, 1e-30], dtype=dtype)
    check(mode, [x], float_outputs(x, consts), [xv])


def test_integer_extremes_match_numpy(mode):
    i = T.lvector("i")
    iv = np.array([0, 1, -1, 2**53, -2**63, 2**63 - 1, 12345], dtype="int64")
    outs = []
    for c in INT64:
        c = np.int64(c)
        outs += [i + c, i * c, i - c, T.maximum(i, c), i < c, T.eq(i, c), T.switch(i > 0, i, c)]
    u = T.TensorType("uint64", shape=(None,))("u")
    uv = np.array([0, 1, 2**63, 2**64 - 1], dtype="uint64")
    for c in (0, 1, 2**53, 2**53 + 1, 2**63, 2**64 - 1):
        c = np.uint64(c)
        outs += [u + c, u * c, T.maximum(u, c), u >= c]
    b = T.TensorType("int8", shape=(None,))("b")
    bv = np.array([-128, -1, 0, 1, 127], dtype="int8")
    for c in (-128, -1, 127):
        c = np.int8(c)
        outs += [b + c, b * c, T.minimum(b, c)]
    check(mode, [i, u, b], outs, [iv, uv, bv])


def test_constants_on_row_and_strided_loops_match_numpy(mode):
    """A column broadcast over a matrix (row loop) and a transposed matrix (strided loop)."""
    m, col = T.dmatrix("m"), T.TensorType("float64", shape=(None, 1))("col")
    outs = []
    for c in (np.nan, -0.0, np.inf, 0.75):
        outs += [m * c + col, T.switch(m > c, col, c) - m]
    mv = np.arange(-6.0, 6.0).reshape(3, 4)
    mv[1, 2] = np.nan
    colv = np.array([[1.0], [-0.0], [np.inf]])
    check(mode, [m, col], outs, [mv, colv])
    check(mode, [m, col], outs, [np.ascontiguousarray(mv.T).T[:, :], colv])
    check(mode, [m, col], outs, [np.asfortranarray(mv), colv])


def test_only_integers_exact_in_a_double_become_slots():
    """Larger integers stay literals (a double would round them); everything else is a slot,
    read back as the same value."""
    add = ps.get("add")
    args = (("i", 0), ("c", "int64", 2**53), ("c", "int64", 2**53 + 1), ("c", "uint64", 2**64 - 1),
            ("c", "float64", -0.0), ("c", "float32", np.float32(np.nan)), ("c", "bool", True),
            ("c", "int8", -128))
    program = (1, ((add, args, "float64"),), (0,))
    slotted, values, dtypes = constant_slots(program)
    kinds = [a[0] for a in slotted[1][0][1]]
    assert kinds == ["i", "k", "c", "c", "k", "k", "k", "k"]
    assert dtypes == ("int64", "float64", "float32", "bool", "int8")
    assert values[0] == 2**53 and values[3:] == (1.0, -128.0)
    assert str(values[1]) == "-0.0" and values[2] != values[2]


def _fused_nodes(fg):
    return [n for n in fg.toposort() if isinstance(n.op, (Elemwise, FusedElemwise))]


def test_programs_differing_only_in_constants_share_one_kernel(rng):
    x = T.dvector("x")
    outs = [T.tanh(x) * 1.5 + 2.0, T.tanh(x) * np.nan + np.inf, T.tanh(x) * -0.0 + 0.25]
    fg = FunctionGraph([x], outs)
    optimize(fg)
    nodes = [n for n in _fused_nodes(fg) if isinstance(n.op, FusedElemwise)]   # tanh is shared
    kernels = [render_elemwise(n) for n in nodes]
    assert len(nodes) == 3 and all(k is not None for k in kernels)
    assert len({k.shared.name for k in kernels}) == 1
    assert len({repr(k.consts) for k in kernels}) == 3
    assert "1.5" not in kernels[0].shared.source and "0x1.8p+0" not in kernels[0].shared.source
    ex = CExecutor(fg)
    xv = rng.standard_normal(50)
    got = ex([xv])
    want = T.function([x], outs, mode="FAST_COMPILE")(xv)
    assert_identical(got, want, rtol=1e-15)


def test_function_differing_only_in_constants_reuses_the_module(tmp_path, monkeypatch, rng):
    """The module's source does not depend on the constants: no second compiler run."""
    calls = []
    real = toolchain.compile_shared

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(toolchain, "compile_shared", counting)
    x = T.dvector("x")
    xv = rng.standard_normal(20)
    cbackend.clear_loaded()
    cache.reset()
    try:
        with config.change_flags(compiledir=str(tmp_path / "compiledir")):
            results = []
            for c in (1.0001, 0.5, np.nan):
                f = T.function([x], T.exp(x) * c + 3.0 * c, mode="FAST_RUN")
                results.append(f(xv))
                np.testing.assert_allclose(results[-1], np.exp(xv) * c + 3.0 * c, rtol=1e-14)
    finally:
        cbackend.clear_loaded()
        cache.reset()
    assert len(calls) == 1


def test_shared_kernel_vectorizes_and_bound_form_runs(tmp_path, rng):
    """The constants are loaded into typed locals before the loops: the contiguous loop still
    calls glibc's vector tanh. The self-contained form (constants bound, for C callers such as
    a scan loop) gives the same values."""
    x = T.fvector("x")
    fg = FunctionGraph([x], [T.tanh(x) * np.float32(1.25) + np.float32(-0.0)])
    optimize(fg)
    (node,) = _fused_nodes(fg)
    kernel = render_elemwise(node)
    assert kernel.consts
    xv = rng.standard_normal(1000).astype("float32")
    want = np.tanh(xv) * np.float32(1.25) + np.float32(-0.0)
    with config.change_flags(compiledir=str(tmp_path / "compiledir")):
        shared = cbackend.build(SCALAR_PRELUDE + kernel.shared.source, kernel.shared.cdef, "consts_shared",
                                flags=MODULE_FLAGS)
        bound = cbackend.build(SCALAR_PRELUDE + kernel.source, kernel.cdef, "consts_bound", flags=MODULE_FLAGS)
    for module, extra in ((shared, (shared.ffi.new("double[]", list(kernel.consts)),)), (bound, ())):
        out = np.empty_like(xv)
        ptrs = module.ffi.new("intptr_t[]", [xv.ctypes.data, out.ctypes.data])
        name = kernel.shared.name if module is shared else kernel.name
        getattr(module.lib, name)(xv.size, 1, module.ffi.NULL, module.ffi.NULL, ptrs, 1, *extra)
        np.testing.assert_allclose(out, want, rtol=2e-6, atol=0)
    nm = shutil.which("nm")
    if nm is None or "ST_HAVE_MVEC" not in open(shared.path[: -len(".so")] + ".json").read():
        pytest.skip("no nm or no libmvec on this toolchain: the vector-math check cannot run")
    symbols = subprocess.run([nm, "-D", shared.path], capture_output=True, text=True, check=True).stdout
    assert re.search(r"_ZGV[bcde]N\d+v_tanhf\b", symbols), symbols
