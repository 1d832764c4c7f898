"""Modes: the predefined names, Mode objects, get_mode, config.mode, and DebugMode catching
ops that break their contract (writing into an input, returning the wrong type, an
undeclared view)."""
import numpy as np
import pytest

import symtensor as T
from symtensor.graph.basic import Apply, Op
from tests.helpers import rand


class _Double(Op):
    """x * 2. ``how`` picks a bug: 'inplace' writes into the input, 'dtype' returns float32,
    'view' returns the input itself, 'none' forgets to store an output, 'ok' is correct."""

    __props__ = ("how",)

    def __init__(self, how: str):
        self.how = how

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, outputs):
        (x,) = inputs
        if self.how == "inplace":
            x *= 2
            outputs[0][0] = x.copy()
        elif self.how == "dtype":
            outputs[0][0] = (x * 2).astype("float32")
        elif self.how == "view":
            outputs[0][0] = x
        elif self.how == "ok":
            outputs[0][0] = x * 2


def test_predefined_modes_agree_with_numpy(mode, rng):
    x = T.dmatrix("x")
    f = T.function([x], T.exp(x).sum(axis=1), mode=mode)
    a = rand(rng, (3, 4))
    np.testing.assert_allclose(f(a), np.exp(a).sum(axis=1), rtol=1e-12)
    assert f.maker.mode == T.get_mode(mode)


def test_get_mode():
    assert T.get_mode("FAST_RUN").name == "FAST_RUN"
    assert T.get_mode("FAST_COMPILE").linker == "py"
    assert T.get_mode("DebugMode") is T.get_mode("DEBUG_MODE")
    m = T.Mode(linker="py", optimizer=None)
    assert T.get_mode(m) is m
    with T.config.change_flags(mode="FAST_COMPILE"):
        assert T.get_mode(None) == T.get_mode("FAST_COMPILE")
    assert T.get_mode(None) == T.get_mode(T.config.mode)


def test_bad_mode_names():
    with pytest.raises(ValueError, match=r"unknown mode 'FAST_RAN'; expected one of"):
        T.get_mode("FAST_RAN")
    with pytest.raises(TypeError, match="mode must be None, a mode name or a Mode, got list"):
        T.get_mode(["FAST_RUN"])
    with pytest.raises(ValueError, match="linker must be one of"):
        T.Mode(linker="fortran")
    with pytest.raises(ValueError, match="optimizer must be one of"):
        T.Mode(optimizer="fastest")


def test_mode_objects_compile_and_run(rng):
    x = T.dvector("x")
    a = rand(rng, (5,))
    for m in (T.Mode(linker="py", optimizer=None), T.Mode(linker="cvm"), T.Mode(linker="c", optimizer="fast_run"),
              T.Mode(linker="debug"), T.get_mode("FAST_RUN").excluding("fusion"),
              T.get_mode("FAST_RUN").including("fast_run")):
        np.testing.assert_allclose(T.function([x], T.tanh(x), mode=m)(a), np.tanh(a), rtol=1e-12)


def test_mode_equality_and_excluding():
    m = T.Mode(linker="py", optimizer="fast_compile")
    assert m == T.Mode(linker="py", optimizer="fast_compile")
    assert hash(m) == hash(T.Mode(linker="py", optimizer="fast_compile"))
    ex = m.excluding("constant_folding")
    assert ex != m and ex.excluded == ("constant_folding",) and m.excluded == ()
    assert T.Mode(linker="vm").linker == "c"  # Theano's linker names map to the compiled backend


@pytest.mark.parametrize("how", ["inplace", "view"])
def test_debugmode_catches_writing_into_or_viewing_an_input(how):
    x = T.dvector("x")
    a = np.arange(3.0)
    with pytest.raises(AssertionError, match=r"DebugMode: .*_Double"):
        T.function([x], _Double(how)(x) + 1, mode="DebugMode")(a)
    np.testing.assert_array_equal(a, np.arange(3.0))  # the caller's array was protected


def test_debugmode_catches_a_wrong_output_type():
    x = T.dvector("x")
    with pytest.raises(TypeError, match="DebugMode: .*does not match its output type"):
        T.function([x], _Double("dtype")(x), mode="DebugMode")(np.ones(2))
    with pytest.raises(TypeError, match="DebugMode"):
        T.function([x], _Double("none")(x), mode="DebugMode")(np.ones(2))


def test_other_modes_still_protect_the_callers_array():
    x = T.dvector("x")
    a = np.arange(3.0)
    out = T.function([x], _Double("view")(x), mode="FAST_COMPILE")(a)
    assert not np.shares_memory(out, a)


def test_correct_op_passes_debugmode():
    x = T.dvector("x")
    np.testing.assert_array_equal(T.function([x], _Double("ok")(x), mode="DebugMode")(np.ones(2)), [2.0, 2.0])
