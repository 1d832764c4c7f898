"""Elementwise kernels through the C backend: fused chains with mixed dtypes and inlined
constants, broadcasting, strided and transposed inputs, zero-size arrays, rank 0 to 4, run-time
shape errors, fall-backs, and that no kernel writes into its inputs.

Each test compiles one graph holding many cases (one compiler run); the reference is the same
graph through the numpy reference mode.
"""
from __future__ import annotations

import numpy as np
import pytest

import symtensor as T
from symtensor.backends.c import toolchain
from symtensor.backends.c.executor import CExecutor
from symtensor.graph.fg import FunctionGraph
from symtensor.ops import scalar as ps
from symtensor.ops.elemwise import Elemwise
from symtensor.ops.fused import FusedElemwise
from symtensor.rewrite import optimize

pytestmark = pytest.mark.skipif(toolchain.find_compiler() is None, reason="no C compiler on PATH")


def tensor(dtype, shape, name):
    return T.TensorType(dtype, shape=shape)(name)


def compile_c(inputs, outputs, rewrite=True):
    fg = FunctionGraph(inputs, outputs)
    if rewrite:
        optimize(fg)
    return CExecutor(fg)


def reference(inputs, outputs, values):
    return T.function(inputs, outputs, mode="FAST_COMPILE", on_unused_input="ignore")(*values)


def elementwise_fallbacks(ex):
    """The elementwise nodes that did not get a C kernel."""
    return [n for n in ex.fallbacks if isinstance(n.op, (Elemwise, FusedElemwise))]


def run_checked(ex, values):
    """Call ``ex`` on ``values`` and check that no input array was modified."""
    before = [np.array(v, copy=True) for v in values]
    got = ex(values)
    for b, v in zip(before, values):
        np.testing.assert_array_equal(b, v, err_msg="a kernel wrote into its input")
    return got


def assert_matches(got, want, rtol64=1e-14):
    """Equal dtypes and shapes, values equal to rounding. ``rtol64``: the tolerance of float64
    outputs, float32-sized where they are computed from float32 intermediates (whose last bit
    depends on the math library)."""
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        w = np.asarray(w)
        assert g.dtype == w.dtype, (k, g.dtype, w.dtype)
        assert g.shape == w.shape, (k, g.shape, w.shape)
        rtol = {"float32": 2e-6, "float64": rtol64}.get(str(w.dtype))
        if rtol is None:
            np.testing.assert_array_equal(g, w, err_msg=f"output {k}")
        else:
            np.testing.assert_allclose(g, w, rtol=rtol, atol=0, err_msg=f"output {k}")


def strided(a):
    """The same values in a view that steps every axis by 2."""
    a = np.asarray(a)
    if a.ndim == 0:
        return a.copy()
    big = np.zeros(tuple(2 * s for s in a.shape), a.dtype)
    view = big[tuple(slice(None, None, 2) for _ in a.shape)]
    view[...] = a
    return view


def transposed(a):
    """The same values in a Fortran-ordered (transposed) layout."""
    return np.asfortranarray(a)


@pytest.fixture(scope="module")
def mixed_chain():
    """Fused chains over float32/float64/int32/int8 with constants and broadcasting of a
    row, a column, a matrix and a 0-d scalar."""
    x = tensor("float32", (None, None), "x")
    r = tensor("float64", (1, None), "r")
    c = tensor("int32", (None, 1), "c")
    s = tensor("int8", (), "s")
    outs = [
        T.exp(x) * 2.5 + r - c // 3,
        (s + c) % 4 - (c * -7) // s.astype("int32").clip(1, 5),
        T.sqrt(abs(x)) + s,
        T.cast(x * 3.5, "int32") + c,
        T.maximum(x, r) - T.minimum(x, 0.5) * T.tanh(r),
        T.switch(x > 0, x, c) + T.sigmoid(x) / (1.0 + r * r),
        T.log1p(x * x).astype("float64") + T.cast(c > 2, "float64"),
        (x - T.floor(x)) * 10,
    ]
    inputs = [x, r, c, s]
    return inputs, outs, compile_c(inputs, outs)


def mixed_values(rng, layout, n=5, m=7):
    x = rng.standard_normal((n, m)).astype("float32")
    r = rng.standard_normal((1, m))
    c = rng.integers(-9, 10, size=(n, 1)).astype("int32")
    s = np.array(3, dtype="int8")
    return [layout(x), layout(r), layout(c), s]


@pytest.mark.parametrize("layout", [np.ascontiguousarray, strided, transposed], ids=["contig", "strided", "transposed"])
def test_fused_mixed_dtypes_constants_broadcasting(mixed_chain, layout):
    inputs, outs, ex = mixed_chain
    assert elementwise_fallbacks(ex) == []
    assert any(isinstance(n.op, FusedElemwise) for n in ex.nodes)
    consts = [a for n in ex.nodes if isinstance(n.op, FusedElemwise)
              for _, args, _ in n.op.program[1] for a in args if a[0] == "c"]
    assert consts, "constants should be inlined into the fused loops"
    values = mixed_values(np.random.default_rng(0), layout)
    assert_matches(run_checked(ex, values), reference(inputs, outs, values), rtol64=2e-6)


def test_zero_size_inputs(mixed_chain):
    inputs, outs, ex = mixed_chain
    rng = np.random.default_rng(1)
    for n, m in ((0, 7), (5, 0), (0, 0)):
        values = mixed_values(rng, np.ascontiguousarray, n, m)
        got = run_checked(ex, values)
        assert_matches(got, reference(inputs, outs, values))
        assert got[0].shape == (n, m)


def test_rank_0_to_4_and_broadcastable_dims():
    rng = np.random.default_rng(2)
    inputs, outs, values = [], [], []
    for nd in range(5):
        shape = tuple(range(2, 2 + nd))
        x = tensor("float64", (None,) * nd, f"x{nd}")
        y = tensor("float32", (None,) * nd, f"y{nd}")
        # a broadcastable dimension (static size 1) in the middle
        b_shape = tuple(1 if k == nd // 2 else None for k in range(nd))
        b = tensor("int64", b_shape, f"b{nd}")
        inputs += [x, y, b]
        outs += [x * y + T.exp(y) - b, T.sin(x) + 1.5]
        values += [rng.standard_normal(shape), rng.standard_normal(shape).astype("float32"),
                   rng.integers(-3, 4, size=tuple(1 if k == nd // 2 else s for k, s in enumerate(shape)))]
    ex = compile_c(inputs, outs)
    assert elementwise_fallbacks(ex) == []
    want = reference(inputs, outs, values)
    assert_matches(run_checked(ex, values), want, rtol64=2e-6)
    assert_matches(run_checked(ex, [strided(v) for v in values]), want, rtol64=2e-6)
    rev = [np.transpose(strided(np.transpose(v))) for v in values]     # reversed-order strides
    assert_matches(run_checked(ex, rev), want, rtol64=2e-6)
    neg = [v[(slice(None, None, -1),) * v.ndim] for v in values]       # negative strides
    assert_matches(run_checked(ex, neg), reference(inputs, outs, neg), rtol64=2e-6)


def test_plain_elemwise_nodes_render_without_rewrites():
    x = tensor("float64", (None, None), "x")
    y = tensor("int8", (None, None), "y")
    outs = [x + y, T.exp(y), T.eq(x, y), Elemwise(ps.SCALAR_OPS["add"])(y, y, x)]
    ex = compile_c([x, y], outs, rewrite=False)
    assert ex.fallbacks == []
    rng = np.random.default_rng(3)
    values = [rng.standard_normal((3, 4)), rng.integers(-100, 100, size=(3, 4)).astype("int8")]
    assert_matches(run_checked(ex, values), reference([x, y], outs, values))


def test_large_arrays_use_the_parallel_loop():
    x = tensor("float32", (None, None), "x")
    outs = [T.tanh(x) * 2 + 3]
    ex = compile_c([x], outs)
    values = [np.random.default_rng(4).standard_normal((300, 301)).astype("float32")]
    assert_matches(run_checked(ex, values), reference([x], outs, values))
    assert_matches(run_checked(ex, [values[0][:, ::2]]), reference([x], outs, [values[0][:, ::2]]))


@pytest.mark.parametrize("rewrite", [False, True], ids=["elemwise", "fused"])
def test_non_broadcastable_size_one_dimension_raises(rewrite):
    x = tensor("float64", (None, None), "x")
    y = tensor("float64", (None, None), "y")
    out = T.exp(x) * y + 1
    ex = compile_c([x, y], [out], rewrite=rewrite)
    assert elementwise_fallbacks(ex) == []
    with pytest.raises(ValueError, match="size-1 dimension that is not marked broadcastable"):
        ex([np.ones((3, 1)), np.ones((3, 4))])
    with pytest.raises(ValueError, match="size-1 dimension that is not marked broadcastable"):
        reference([x, y], [out], [np.ones((3, 1)), np.ones((3, 4))])


def test_inputs_of_another_dtype_or_byte_order_are_converted():
    x = tensor("float64", (None,), "x")
    ex = compile_c([x], [x * 2.0])
    big_endian = np.arange(5, dtype=">f8")
    np.testing.assert_array_equal(ex([big_endian])[0], np.arange(5) * 2.0)
    np.testing.assert_array_equal(ex([np.arange(5, dtype="float32")])[0], np.arange(5) * 2.0)


def test_steps_without_exact_c_semantics_fall_back():
    """An integer power in a fused chain makes the node run through numpy, with numpy's result."""
    a = tensor("int32", (None,), "a")
    b = tensor("int32", (None,), "b")
    outs = [a ** b + 1, a * 2]
    ex = compile_c([a, b], outs)
    fb = elementwise_fallbacks(ex)
    assert len(fb) == 1 and "pow" in str(fb[0].op)
    values = [np.array([2, -3, 5], dtype="int32"), np.array([3, 2, 0], dtype="int32")]
    assert_matches(run_checked(ex, values), reference([a, b], outs, values))


def test_many_outputs_and_inputs_in_one_fused_node():
    xs = [tensor(d, (None,), f"x{k}") for k, d in enumerate(["float32", "int8", "uint8", "bool",
                                                             "int64", "float64"] * 2)]
    total = xs[0]
    for v in xs[1:]:
        total = total + v
    prog_out = [total, T.invert(xs[3]) | xs[9], xs[1] ^ xs[7], T.isnan(xs[5] / xs[11])]
    ex = compile_c(xs, prog_out)
    assert elementwise_fallbacks(ex) == []
    rng = np.random.default_rng(5)
    values = [np.asarray(rng.integers(0 if d in ("uint8", "bool") else -50, 50, size=6)).astype(d)
              if d not in ("float32", "float64") else rng.standard_normal(6).astype(d)
              for d in (x.dtype for x in xs)]
    values[11][0] = 0.0
    values[5][0] = 0.0
    assert_matches(run_checked(ex, values), reference(xs, prog_out, values))


def test_zero_d_inputs_of_another_dtype_keep_their_rank():
    s = tensor("float64", (), "s")
    ex = compile_c([s], [T.exp(s) + 1.0])
    got = ex([np.array(0.5, dtype=">f8")])[0]
    assert got.shape == () and np.isclose(got, np.exp(0.5) + 1.0)
    got = ex([np.float32(0.5)])[0]
    assert got.shape == () and np.isclose(got, np.exp(0.5) + 1.0)


def test_values_that_do_not_fit_the_type_are_refused():
    """A broadcastable (size-1) dimension holding more elements, or a value of another rank,
    raises instead of being read out of bounds."""
    r = tensor("float64", (1, None), "r")
    m = tensor("float64", (None, None), "m")
    ex = compile_c([r, m], [r + m])
    with pytest.raises(ValueError, match="does not fit its type"):
        ex([np.ones((3, 4)), np.ones((5, 4))])
    with pytest.raises(ValueError, match="does not fit its type"):
        ex([np.ones((1, 4)), np.ones(4)])
