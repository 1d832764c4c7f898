"""CExecutor: C kernels for elementwise nodes, numpy ``perform`` for the rest, one compiled
module per function."""
from __future__ import annotations

import numpy as np
import pytest

import symtensor as T
from symtensor.backends.c import executor as cexec
from symtensor.backends.c import toolchain
from symtensor.graph.fg import FunctionGraph
from symtensor.graph.interpreter import Interpreter
from symtensor.ops.elemwise import Elemwise
from symtensor.ops.fused import FusedElemwise
from symtensor.rewrite import optimize

from .conftest import needs_compiler

pytestmark = needs_compiler


def _mixed_graph():
    """Two elementwise chains around a join (which has no C rendering)."""
    x = T.TensorType("float64", shape=(None, None))("x")
    y = T.TensorType("float64", shape=(None, None))("y")
    b = T.TensorType("float64", shape=(1, None))("b")
    h = T.concatenate([T.exp(x) * 0.5 - 1.0, y], axis=0)
    outs = [T.tanh(h + b) * 2.0, T.sqr(h) + abs(b)]
    return [x, y, b], outs


def _values(rng):
    return [rng.standard_normal((4, 3)), rng.standard_normal((2, 3)), rng.standard_normal((1, 3))]


def _optimized(inputs, outputs):
    fg = FunctionGraph(inputs, outputs)
    optimize(fg)
    return fg


def test_mixes_c_kernels_and_perform(compiledir):
    inputs, outs = _mixed_graph()
    ex = cexec.CExecutor(_optimized(inputs, outs))
    elementwise = [n for n in ex.nodes if isinstance(n.op, (Elemwise, FusedElemwise))]
    assert ex.n_kernels == len(elementwise) >= 2
    assert all(not isinstance(n.op, (Elemwise, FusedElemwise)) for n in ex.fallbacks)
    assert any("join" in str(n.op).lower() for n in ex.fallbacks)
    values = _values(np.random.default_rng(0))
    before = [v.copy() for v in values]
    got = ex(values)
    want = T.function(inputs, outs, mode="FAST_COMPILE")(*values)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-15)
    for b, v in zip(before, values):
        np.testing.assert_array_equal(b, v)
    # the executor can be called again (intermediate storage is reset between calls)
    for g, w in zip(ex(values), want):
        np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-15)


def test_one_module_per_function(compiledir, compile_calls, monkeypatch):
    builds = []
    real_build = cexec.build

    def counting_build(*args, **kwargs):
        builds.append(args)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(cexec, "build", counting_build)
    inputs, outs = _mixed_graph()
    ex = cexec.CExecutor(_optimized(inputs, outs))
    assert ex.n_kernels >= 2
    assert len(builds) == 1 and len(compile_calls) == 1
    # the same function again: the module is found (no compiler run)
    cexec.CExecutor(_optimized(*_mixed_graph()))
    assert len(builds) == 2 and len(compile_calls) == 1


def test_graph_without_kernels_builds_nothing(compiledir, compile_calls):
    x = T.TensorType("float64", shape=(None, None))("x")
    ex = cexec.CExecutor(FunctionGraph([x], [T.concatenate([x, x], axis=1)]))
    assert ex.n_kernels == 0 and len(ex.fallbacks) == len(ex.nodes)
    assert compile_calls == []
    v = np.arange(4.0).reshape(2, 2)
    np.testing.assert_allclose(ex([v])[0], np.concatenate([v, v], axis=1))


def test_identical_kernels_are_compiled_once(compiledir):
    x = T.TensorType("float32", shape=(None,))("x")
    y = T.TensorType("float32", shape=(None,))("y")
    fg = FunctionGraph([x, y], [T.exp(x), T.exp(y)])
    ex = cexec.CExecutor(fg)
    assert ex.n_kernels == 2
    thunks = {step[1] for step in ex.steps}
    assert len(thunks) == 2
    a = np.linspace(-1, 1, 7, dtype="float32")
    got = ex([a, a[::-1]])
    np.testing.assert_allclose(got[0], np.exp(a), rtol=1e-6)
    np.testing.assert_allclose(got[1], np.exp(a[::-1]), rtol=1e-6)


def test_kernel_errors_name_the_node(compiledir):
    x = T.TensorType("float64", shape=(None, None))("x")
    y = T.TensorType("float64", shape=(None, None))("y")
    ex = cexec.CExecutor(FunctionGraph([x, y], [x * y]))
    with pytest.raises(ValueError, match="while computing"):
        ex([np.ones((2, 1)), np.ones((2, 3))])


def test_without_compiler_make_executor_uses_numpy(compiledir, monkeypatch):
    def unavailable(*args, **kwargs):
        raise toolchain.CompilerUnavailable("no compiler in this test")

    monkeypatch.setattr(cexec, "build", unavailable)
    inputs, outs = _mixed_graph()
    ex = cexec.make_executor(_optimized(inputs, outs))
    assert type(ex) is Interpreter
    values = _values(np.random.default_rng(1))
    want = T.function(inputs, outs, mode="FAST_COMPILE")(*values)
    for g, w in zip(ex(values), want):
        np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-15)


def test_on_c_fallback_warn_lists_the_perform_nodes():
    import warnings as _w
    import symtensor as T
    x = T.dmatrix("x")
    with T.config.change_flags(on_c_fallback="warn"):
        with pytest.warns(RuntimeWarning, match="no C rendering.*Sort"):
            T.function([x], T.sort(x, axis=1) + 1)
    with _w.catch_warnings():
        _w.simplefilter("error")
        T.function([x], T.sort(x, axis=1) + 1)     # the default says nothing
