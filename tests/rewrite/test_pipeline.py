"""The FAST_RUN pipeline end to end, and the optimizer names a Mode can give."""
import numpy as np
import pytest

import symtensor as T
from symtensor.graph.fg import FunctionGraph
from symtensor.rewrite import FAST_RUN, optimize
from symtensor.rewrite.pipeline import PIPELINES, known_names

from . import FLOATS, applied, op_types, rewrite_and_compare, scalar_op_names


@pytest.fixture
def rng():
    return np.random.default_rng(5)


@pytest.mark.parametrize("dtype", FLOATS)
def test_fast_run_end_to_end(rng, dtype):
    x, y = T.vectors("x", "y", dtype=dtype)
    out = T.log(1 + T.exp(x) * 1) + (2 * y * 3) ** 2 + T.exp(x) * 1
    fg, log = rewrite_and_compare([x, y], out, rng, specials=False)
    names = applied(log)
    for rule in ("neutral_operands", "combine_constants", "pow_specialize", "merge", "fuse_elemwise"):
        assert rule in names, rule
    assert op_types(fg) == ["FusedElemwise"]
    assert scalar_op_names(fg).count("exp") == 1 and "sqr" in scalar_op_names(fg)


def test_phases_run_in_order():
    assert [p.name for p in FAST_RUN.phases] == ["canonicalize", "stabilize", "specialize",
                                                 "canonicalize_again", "fuse"]


@pytest.mark.parametrize("optimizer", [None, "fast_compile"])
def test_no_rewrites(optimizer):
    x = T.vector("x")
    fg = FunctionGraph([x], [T.log(1 + x)])
    log = optimize(fg, optimizer)
    assert log.applied == [] and scalar_op_names(fg) == ["add", "log"]


@pytest.mark.parametrize("optimizer", sorted(PIPELINES))
def test_every_mode_optimizer_keeps_results(rng, optimizer):
    x = T.vector("x")
    out = T.log(1 + x) * T.log(1 + x) + 0
    fg, log = rewrite_and_compare([x], out, rng, optimizer=optimizer)
    assert "merge" in applied(log)
    if optimizer == "stabilize":
        assert "log1p" in applied(log) and "fuse_elemwise" not in applied(log)


def test_unknown_optimizer_raises():
    with pytest.raises(ValueError, match="unknown optimizer 'fastest'"):
        x = T.vector("x")
        optimize(FunctionGraph([x], [x + 1]), "fastest")


def test_exclusion_names_are_valid_for_every_pipeline():
    x = T.vector("x")
    fg = FunctionGraph([x], [T.log(1 + x)])
    optimize(fg, "merge", excluded=["log1p"])      # a FAST_RUN rule name is fine for "merge"
    assert "log1p" in known_names() and "fuse_elemwise" in known_names()


def test_each_rule_can_be_excluded_and_results_stay(rng):
    x, y = T.vectors("x", "y")
    out = T.log(1 + T.exp(x) * 1) + (2 * y * 3) ** 2 - T.log(T.sigmoid(-(-y)))
    for name in known_names():
        fg, log = rewrite_and_compare([x, y], out, rng, excluded=[name], specials=False)
        assert name not in applied(log)


def test_theano_names_are_aliases(rng):
    x = T.vector("x")
    fg, log = rewrite_and_compare([x], T.exp(x) * 2, rng, excluded=["fusion", "inplace"])
    assert "fuse_elemwise" not in applied(log)
    fg, log = rewrite_and_compare([x], T.log(1 + x), rng, excluded=["local_log1p"])
    assert "log1p" not in applied(log)
