"""Indexing specialize rules: ``x[arange(k), y]`` -> RowPick and its increment -> RowPickInc.
The graph before and after, unchanged results (both row counts, shorter y, broadcasting),
unchanged errors, the cases each rule declines, and the rules' place in FAST_RUN (the
gradient of a classifier loss, exclusion by name)."""
import numpy as np
import pytest

import symtensor as T
from symtensor.graph.fg import FunctionGraph
from symtensor.ops.advanced_subtensor import AdvancedIncSubtensor, AdvancedSubtensor
from symtensor.ops.alloc import ARange
from symtensor.ops.row_pick import RowPick, RowPickInc
from symtensor.ops.shape import shape_i
from symtensor.rewrite.engine import Phase, Pipeline
from symtensor.rewrite.indexing_rules import INDEXING_SPECIALIZE
from symtensor.rewrite.pipeline import known_names

from . import FLOATS, applied, op_types, rewrite_and_compare


def picks(fg) -> list:
    return [n.op.rows_from for n in fg.toposort() if isinstance(n.op, (RowPick, RowPickInc))]


def test_pick_by_len_y_becomes_row_pick(rng):
    x, y = T.dmatrix("x"), T.lvector("y")
    out = x[T.arange(y.shape[0]), y]
    before = FunctionGraph([x, y], [out])
    assert {"AdvancedSubtensor", "ARange"} <= set(op_types(before))
    X = rng.standard_normal((5, 4))
    for Y in (np.array([3, 0, -1, 2, 1]), np.array([1, -4])):          # a shorter y picks a prefix
        fg, log = rewrite_and_compare([x, y], out, values=[X, Y], passes=INDEXING_SPECIALIZE)
        assert applied(log) == ["row_pick"]
        assert op_types(fg) == ["RowPick"] and picks(fg) == ["y"]


@pytest.mark.parametrize("stop", ["shape", "shape_i"])
def test_pick_by_rows_of_x_becomes_row_pick(rng, stop):
    x, y = T.dmatrix("x"), T.lvector("y")
    n = x.shape[0] if stop == "shape" else shape_i(x, 0)
    out = x[T.arange(n), y]
    for shape, Y in [((4, 3), [2, 0, 1, -1]), ((4, 3), [2]), ((1, 3), [2, 0, 2])]:   # numpy broadcasting kept
        fg, log = rewrite_and_compare([x, y], out, values=[rng.standard_normal(shape), np.array(Y)],
                                      passes=INDEXING_SPECIALIZE)
        assert op_types(fg) == ["RowPick"] and picks(fg) == ["x"]


def test_constant_stop_matching_a_static_size(rng):
    x, y = T.matrix("x", shape=(3, None)), T.lvector("y")
    fg, _ = rewrite_and_compare([x, y], x[T.arange(3), y], values=[rng.standard_normal((3, 4)), np.array([3, 0, 1])],
                                passes=INDEXING_SPECIALIZE)
    assert picks(fg) == ["x"] and fg.outputs[0].type.shape == (3,)
    x, y = T.dmatrix("x"), T.vector("y", dtype="int32", shape=(2,))
    fg, _ = rewrite_and_compare([x, y], x[T.arange(2), y], values=[rng.standard_normal((3, 4)),
                                                                   np.array([3, 0], "int32")],
                                passes=INDEXING_SPECIALIZE)
    assert picks(fg) == ["y"]


def test_single_index_keeps_the_indexing_type(rng):
    """y of static length 1: RowPick knows its output has length 1, indexing does not."""
    x, y = T.dmatrix("x"), T.vector("y", dtype="int64", shape=(1,))
    out = x[T.arange(y.shape[0]), y]
    assert out.type.shape == (None,)
    fg, log = rewrite_and_compare([x, y], out, values=[rng.standard_normal((3, 4)), np.array([-2])],
                                  passes=INDEXING_SPECIALIZE)
    assert picks(fg) == ["y"] and fg.outputs[0].type == out.type


@pytest.mark.parametrize("dtype", FLOATS)
def test_increment_becomes_row_pick_inc(rng, dtype):
    x, g, y = T.matrix("x", dtype=dtype), T.vector("g", dtype=dtype), T.ivector("y")
    out = T.inc_subtensor(x[T.arange(y.shape[0]), y], g)
    vals = [rng.standard_normal((4, 3)).astype(dtype), rng.standard_normal(4).astype(dtype),
            np.array([2, 2, -1, 0], "int32")]
    fg, log = rewrite_and_compare([x, g, y], out, values=vals, passes=INDEXING_SPECIALIZE)
    assert applied(log) == ["row_pick_inc"] and op_types(fg) == ["RowPickInc"]


def test_increment_with_a_value_of_another_dtype_or_a_scalar(rng):
    x, f, s, y = T.dmatrix("x"), T.fvector("f"), T.dscalar("s"), T.lvector("y")
    vals = [rng.standard_normal((3, 4)), rng.standard_normal(3).astype("float32"), np.array(1.5), np.array([3, 0, 1])]
    fg, _ = rewrite_and_compare([x, f, s, y], [T.inc_subtensor(x[T.arange(x.shape[0]), y], f),
                                               T.inc_subtensor(x[T.arange(y.shape[0]), y], s)],
                                values=vals, passes=INDEXING_SPECIALIZE)
    assert sorted(picks(fg)) == ["x", "y"]
    assert not [n for n in fg.toposort() if isinstance(n.op, AdvancedIncSubtensor)]


def test_rules_decline_other_indices():
    x, y, z, g, x3 = T.dmatrix("x"), T.lvector("y"), T.lvector("z"), T.dvector("g"), T.tensor3("x3")
    declined = [([x, y], x[T.arange(1, y.shape[0] + 1), y]),            # start 1
                ([x, y], x[T.arange(0, y.shape[0], 2), y]),             # step 2
                ([x, y], x[T.arange(x.shape[1]), y]),                   # the number of columns
                ([x, y, z], x[T.arange(z.shape[0]), y]),                # another vector's length
                ([x, y], x[T.arange(5), y]),                            # a constant no static size equals
                ([x, y], x[y, T.arange(y.shape[0])]),                   # columns, not rows
                ([x, y, z], x[y, z]),                                   # no arange
                ([x3, y], x3[T.arange(y.shape[0]), y]),                 # not a matrix
                ([x, g, y], T.set_subtensor(x[T.arange(y.shape[0]), y], g))]   # a set, not an increment
    for inputs, out in declined:
        fg = FunctionGraph(inputs, [out])
        log = Pipeline([Phase("test", INDEXING_SPECIALIZE)]).run(fg, ())
        assert applied(log) == [], out
        assert not picks(fg)


def test_errors_unchanged_in_fast_run():
    x, y = T.dmatrix("x"), T.lvector("y")
    X = np.ones((3, 2))
    for out, Y, message in [(x[T.arange(y.shape[0]), y], np.zeros(4, "int64"), "index 3 is out of bounds for axis 0"),
                            (x[T.arange(x.shape[0]), y], np.zeros(2, "int64"), "shape mismatch"),
                            (x[T.arange(x.shape[0]), y], np.array([0, 2, 1]), "index 2 is out of bounds for axis 1")]:
        f = T.function([x, y], out, mode="FAST_RUN")
        assert any(isinstance(n.op, RowPick) for n in f.maker.fgraph.toposort())
        for fn in (f, T.function([x, y], out, mode="FAST_COMPILE")):
            with pytest.raises(IndexError, match=message):
                fn(X, Y)


def test_classifier_loss_gradient_in_fast_run(rng):
    """-mean(log_softmax(z)[arange(n), y]) and its gradient: the pick and the increment are
    rewritten, no arange or advanced indexing is left, and the values are unchanged."""
    for name in ("indexing_specialize", "row_pick", "row_pick_inc"):
        assert name in known_names()
    z, y = T.fmatrix("z"), T.lvector("y")
    zs = z - z.max(axis=1, keepdims=True)
    logp = zs - T.log(T.exp(zs).sum(axis=1, keepdims=True))
    cost = -logp[T.arange(y.shape[0]), y].mean()
    outs = [cost, T.grad(cost, z)]
    f = T.function([z, y], outs, mode="FAST_RUN")
    kinds = {type(n.op) for n in f.maker.fgraph.toposort()}
    assert RowPick in kinds and RowPickInc in kinds
    assert not kinds & {AdvancedSubtensor, AdvancedIncSubtensor, ARange}
    ref = T.function([z, y], outs, mode="FAST_COMPILE")
    Z, Y = rng.standard_normal((7, 5)).astype("float32"), rng.integers(0, 5, 7)
    for got, want in zip(f(Z, Y), ref(Z, Y)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    excluded = T.function([z, y], outs, mode=T.Mode().excluding("row_pick", "row_pick_inc"))
    kinds = {type(n.op) for n in excluded.maker.fgraph.toposort()}
    assert AdvancedSubtensor in kinds and AdvancedIncSubtensor in kinds and RowPick not in kinds
    for got, want in zip(excluded(Z, Y), ref(Z, Y)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
