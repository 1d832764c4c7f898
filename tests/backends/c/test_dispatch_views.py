"""The compiled views of shape and indexing ops (``ViewCall``): taken in compiled programs,
the same results as ``perform`` (values, dtype, shape, strides, views of the input) in every
layout, the Python path's errors on bad input, no leaks."""
import gc
import sys
import tracemalloc

import numpy as np
import pytest

import symtensor as T
from symtensor.backends.c import dispatch_program, dispatch_views
from symtensor.graph.type import TensorType
from symtensor.ops.elemwise import DimShuffle
from symtensor.ops.shape import Reshape, Shape, Shape_i
from symtensor.ops.subtensor import Subtensor

from ...helpers import layouts, noncontiguous, rand, run
from .conftest import needs_compiler, outcome

pytestmark = [needs_compiler, pytest.mark.usefixtures("fresh_dispatch")]


def var(shape, dtype="float64", name=None):
    return TensorType(dtype, shape=shape)(name)


def calls_of(node):
    """(C call, Python path) for ``node``, as a compiled program builds them."""
    fallback = dispatch_program._performer(node.op.perform, node, len(node.outputs))
    call = dispatch_views.view_call(node, fallback)
    assert call is not None, node
    return call, fallback


def _assert_same(got, want, args):
    assert got[0] == want[0], (got, want)
    if got[0] == "error":
        assert got[1] == want[1]
        return
    assert type(got[1]) is tuple and len(got[1]) == len(want[1]) == 1
    a, b = got[1][0], want[1][0]
    assert type(a) is type(b)
    assert a.dtype == b.dtype and a.shape == b.shape and a.strides == b.strides
    assert a.flags.writeable == b.flags.writeable
    np.testing.assert_array_equal(a, b)
    x = args[0]
    if isinstance(x, np.ndarray) and x.size:
        assert np.shares_memory(a, x) == np.shares_memory(b, x)


def check(node, *args, in_c=True):
    """The C call's outcome equals the Python path's; whether C completed it is ``in_c``."""
    call, fallback = calls_of(node)
    before = call.calls
    _assert_same(outcome(call, *args), outcome(fallback, *args), args)
    assert call.calls == before + (1 if in_c else 0)


def node_of(op, *inputs):
    return op.make_node(*inputs)


# --------------------------------------------------------------------------- each op, every layout

DIMSHUFFLES = [
    ((None, None), (1, 0)),                 # a transpose
    ((None, None, None), (2, 0, 1)),
    ((None, None), ("x", 0, "x", 1)),       # axes inserted in order: an index
    ((None, None), (1, "x", 0)),            # inserted while reordering
    ((None, 1, None), (0, 2)),              # an axis dropped
    ((1, None, None), (2, "x", 1)),         # dropped, reordered, inserted
    ((1,), ()),                             # to 0-d
    ((), ("x", "x")),                       # from 0-d
    ((None,), (0,)),                        # the identity
]


@pytest.mark.parametrize("shape,pattern", DIMSHUFFLES)
def test_dimshuffle_same_as_perform(ext, rng, shape, pattern):
    x = var(shape)
    node = node_of(DimShuffle(len(shape), pattern), x)
    concrete = tuple(3 if s is None else s for s in shape)
    for _, value in layouts(rng, concrete):
        if value.ndim and value.shape[0] == 0 and shape and shape[0] == 1:
            continue   # a size-1 axis of the type cannot be empty
        check(node, value)


@pytest.mark.parametrize("shape", [(), (4,), (2, 3), (0, 3, 2)])
def test_shape_and_shape_i_same_as_perform(ext, rng, shape):
    x = var((None,) * len(shape))
    for _, value in layouts(rng, shape):
        check(node_of(Shape(), x), value)
        for i in range(len(shape)):
            check(node_of(Shape_i(i), x), value)


@pytest.mark.parametrize("shape,target", [
    ((2, 3), (6,)), ((2, 3), (3, -1)), ((2, 3), (-1,)), ((4,), (2, 1, 2)), ((), (1, 1)), ((1, 1), ()),
    ((0, 3), (3, 0)), ((0, 3), (-1, 3)), ((2, 3, 4), (4, -1, 2)),
])
def test_reshape_same_as_perform(ext, rng, shape, target):
    x = var((None,) * len(shape))
    node = node_of(Reshape(len(target)), x, var((len(target),), "int64"))
    for _, value in layouts(rng, shape):
        if value.size != int(np.prod(shape)):
            continue   # the zero-size layout has another size
        shp = np.array(target, dtype="int64").reshape(len(target))
        check(node, value, shp)
        if len(target):
            check(node, value, noncontiguous(shp))   # a strided shape vector


@pytest.mark.parametrize("index", [
    (1,), (slice(None, None, -1),), (1, slice(None, None, -2)), (slice(1, None), -1), (-1, -1),
    (None, slice(1, None), -1), (slice(None), None), (slice(5, 1, -1), slice(None, None, 3)),
])
def test_constant_subtensor_same_as_perform(ext, rng, index):
    x = T.matrix("x")
    out = x[index]
    assert type(out.owner.op) is Subtensor and len(out.owner.inputs) == 1
    for _, value in layouts(rng, (4, 5)):
        in_range = value.shape[0] > 0 or all(isinstance(i, slice) or i is None for i in index[:1])
        check(out.owner, value, in_c=in_range)


# --------------------------------------------------------------------------- symbolic subtensors

def _scalars(*names, dtype="int64"):
    return [T.scalar(n, dtype=dtype) for n in names]


SYMBOLIC = [   # (builder of x[...] from x and the scalars i, j, k; the scalars' values to try)
    (lambda x, i, j, k: x[i], [(0,), (3,), (-1,), (-4,)]),
    (lambda x, i, j, k: x[i, j], [(1, 2), (-1, -5), (0, 4)]),
    (lambda x, i, j, k: x[i:j], [(1, 3), (-3, -1), (3, 1), (-10, 10), (0, 0)]),
    (lambda x, i, j, k: x[::k], [(2,), (-1,), (-3,), (7,)]),
    (lambda x, i, j, k: x[i:j:k], [(3, 0, -1), (-1, -10, -2), (0, 4, 3), (10, -10, -4), (1, 3, 1)]),
    (lambda x, i, j, k: x[i, 2:j:k], [(1, 5, 1), (-2, 0, -1), (0, -1, 2), (3, 2, -3)]),
    (lambda x, i, j, k: x[None, 1:i, j], [(3, -1), (4, 0), (0, 2)]),
    (lambda x, i, j, k: x[:i:-1, None], [(0,), (-2,), (-7,)]),
]


@pytest.mark.parametrize("case", range(len(SYMBOLIC)))
def test_symbolic_subtensor_same_as_perform(ext, rng, case):
    build, values = SYMBOLIC[case]
    out = build(T.matrix("x"), *_scalars("i", "j", "k"))
    node = out.owner
    assert type(node.op) is Subtensor and len(node.inputs) > 1
    for _, value in layouts(rng, (4, 5)):
        for ints in values:
            scalars = [np.array(v, dtype="int64") for v in ints[:len(node.inputs) - 1]]
            args = (value, *scalars)
            try:
                node.op.perform(node, list(args), [[None]])
                in_c = True
            except IndexError:
                in_c = False   # out of range (the zero-size layout): the Python path raises
            check(node, *args, in_c=in_c)


def test_symbolic_subtensor_scalar_kinds(ext, rng):
    x, i = T.matrix("x"), T.scalar("i", dtype="int32")
    node = x[i, ::i].owner
    value = rand(rng, (4, 5))
    for scalar in (np.array(2, "int32"), np.array(-1, "int8"), np.array(3, "uint64"), np.int16(-2), 1,
                   noncontiguous(np.array(2, "int32"))):
        check(node, value, scalar, scalar)
    check(node, value, np.array(1.0), np.array(1.0), in_c=False)    # no __index__: perform's int()
    check(node, value, np.array([1]), np.array([1]), in_c=False)    # not a scalar: perform decides


def test_symbolic_subtensor_zero_d_and_zero_size(ext, rng):
    v, i, j = T.vector("v"), *_scalars("i", "j")
    check(v[i].owner, rand(rng, (3,)), np.array(-3))                 # a 0-d view
    got = calls_of(v[i].owner)[0](rand(rng, (3,)), np.array(1))[0]
    assert got.ndim == 0 and got.base is not None
    check(v[i:j].owner, rand(rng, (0,)), np.array(0), np.array(5))   # zero-size in, zero-size out
    check(v[i:j].owner, rand(rng, (3,)), np.array(2), np.array(1))   # an empty slice
    check(T.matrix("x")[i, j:].owner, rand(rng, (2, 0)), np.array(1), np.array(-1))


def test_symbolic_subtensor_errors_are_performs(ext, rng):
    x, (i, j, k) = T.matrix("x"), _scalars("i", "j", "k")
    value = rand(rng, (4, 5))
    check(x[i].owner, value, np.array(4), in_c=False)                # out of range: IndexError
    check(x[i].owner, value, np.array(-5), in_c=False)
    check(x[i].owner, value, np.array(2**62), in_c=False)
    check(x[1, j].owner, value, np.array(9), in_c=False)
    check(x[::k].owner, value, np.array(0), in_c=False)              # a zero step: ValueError
    call, fallback = calls_of(x[i].owner)
    with pytest.raises(IndexError) as c_err:
        call(value, np.array(7))
    with pytest.raises(IndexError) as py_err:
        fallback(value, np.array(7))
    assert str(c_err.value) == str(py_err.value)
    check(x[i].owner, value, in_c=False)                             # too few arguments: Python
    check(x[i].owner, in_c=False)                                    # none at all
    check(x[i].owner, rand(rng, (2, 3, 4)), np.array(1), in_c=False) # another rank


def test_symbolic_subtensor_compiled_equals_fast_compile(ext, monkeypatch, rng):
    made = []
    real = dispatch_views.view_call

    def recording(node, fallback):
        call = real(node, fallback)
        made.append(call)
        return call

    monkeypatch.setattr(dispatch_views, "view_call", recording)
    x, (i, j, k) = T.tensor3("x"), _scalars("i", "j", "k")
    outs = [x[i], x[i:j, ::k], x[-1, j:i:k, None, i], x[:, i]]
    fast = T.function([x, i, j, k], outs, mode="FAST_RUN")
    slow = T.function([x, i, j, k], outs, mode="FAST_COMPILE")
    views = [c for c in made if c is not None and c.kind == dispatch_views.SUBTENSOR]
    assert views
    for _, value in layouts(rng, (3, 4, 5)):
        for ints in [(1, 3, 1), (-1, 0, -1), (2, -4, -2), (0, 4, 3)]:
            if value.shape[0] == 0:
                continue   # x[i] is out of range: the error test below covers it
            got, want = fast(value, *ints), slow(value, *ints)
            for g, w in zip(got, want):
                assert g.dtype == w.dtype and g.shape == w.shape
                np.testing.assert_array_equal(g, w)
    assert all(c.calls > 0 for c in views), [c.calls for c in views]
    for f in (fast, slow):
        with pytest.raises(IndexError, match="out of bounds"):
            f(rand(rng, (3, 4, 5)), 3, 0, 1)


def test_bad_subtensor_template_is_refused(ext):
    for n, template in [(1, ((2,), Ellipsis)), (1, ((0,), Ellipsis)), (2, ((1, 2),)), (1, ((1.0,),)),
                        (1, ((True,),)), (1, (((1, 2), None, None),))]:
        with pytest.raises(ValueError, match="unsupported view"):
            ext.ViewCall(dispatch_views.SUBTENSOR, 2, n, (), (), (), template, print)


# --------------------------------------------------------------------------- the Python path decides

def test_bad_input_gets_the_python_paths_errors(ext, rng):
    x = var((None, None))
    value = rand(rng, (2, 3))
    reshape = node_of(Reshape(2), x, var((2,), "int64"))
    for bad in ([4, 2], [-1, -1], [-2, -3], [0, -1], [2, 2**62]):
        check(reshape, value, np.array(bad, dtype="int64"), in_c=False)
    check(reshape, value, np.array([3, 2], dtype="int32"), in_c=False)      # another dtype: Python
    check(reshape, value, np.array([3, 2, 1], dtype="int64"), in_c=False)   # another length
    sub = T.matrix("x")[3, 1].owner
    check(sub, value, in_c=False)                                           # out of bounds
    dropped = node_of(DimShuffle(2, (1,)), var((1, None)))
    check(dropped, rand(rng, (2, 3)), in_c=False)                           # not size 1 at run time
    check(node_of(DimShuffle(2, (1, 0)), x), rand(rng, (2, 3, 4)), in_c=False)   # another rank
    check(node_of(Shape_i(2), var((None,) * 3)), value, in_c=False)        # axis beyond the rank
    check(node_of(Shape(), x), [[1.0, 2.0]], in_c=False)                    # not an ndarray


def test_subclass_and_scalar_inputs_go_to_python(ext):
    x = var((None, None))
    check(node_of(DimShuffle(2, (1, 0)), x), np.ma.masked_array(np.ones((2, 3))), in_c=False)
    check(node_of(Shape(), var(())), np.float64(2.0), in_c=False)


# --------------------------------------------------------------------------- compiled functions

def test_compiled_function_takes_the_c_path(ext, monkeypatch, rng):
    made = []
    real = dispatch_views.view_call

    def recording(node, fallback):
        call = real(node, fallback)
        made.append(call)
        return call

    monkeypatch.setattr(dispatch_views, "view_call", recording)
    x = T.matrix("x")
    v = T.vector("v", dtype="int64")
    outs = [x.T, x[::-1, 1], x.dimshuffle(0, "x", 1), x.reshape(v, ndim=2), x.shape]
    f = T.function([x, v], outs, mode="FAST_RUN")
    value = rand(rng, (3, 4))
    got = f(value, np.array([2, 6]))
    want = [value.T, value[::-1, 1], value[:, None, :], value.reshape(2, 6), np.array([3, 4])]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    views = [c for c in made if c is not None]
    assert views and all(isinstance(c, ext.ViewCall) for c in views)
    assert all(c.calls == 1 for c in views), [(c.kind, c.calls) for c in views]
    assert {c.kind for c in views} == {dispatch_views.DS_TRANSPOSE, dispatch_views.SUBTENSOR, dispatch_views.DS_INDEX,
                                       dispatch_views.RESHAPE, dispatch_views.SHAPE}


def test_every_mode_equals_numpy(mode, rng):
    x = T.tensor3("x")
    v = T.vector("v", dtype="int64")
    outs = [x.dimshuffle(2, 0, 1), x.dimshuffle("x", 0, 1, 2), x[1:, ::-1, -1], x[-1, None, 0],
            x.reshape(v, ndim=2), x.shape, x.shape[2], x.reshape((-1,)).shape]
    for name, value in layouts(rng, (2, 3, 4)):
        target = np.array([-1, 4], dtype="int64")
        if value.shape[0] == 0:
            got = run(mode, [x, v], outs[:2] + outs[4:], value, target)
            want = [np.transpose(value, (2, 0, 1)), value[None], value.reshape(-1, 4), np.array(value.shape),
                    np.array(value.shape[2]), np.array([value.size])]
        else:
            got = run(mode, [x, v], outs, value, target)
            want = [np.transpose(value, (2, 0, 1)), value[None], value[1:, ::-1, -1], value[-1, None, 0],
                    value.reshape(-1, 4), np.array(value.shape), np.array(value.shape[2]),
                    np.array([value.size])]
        for g, w in zip(got, want):
            assert g.shape == w.shape, name
            np.testing.assert_array_equal(g, w)


def test_every_mode_raises_the_same_reshape_error(mode, rng):
    x = T.matrix("x")
    v = T.vector("v", dtype="int64")
    f = T.function([x, v], x.reshape(v, ndim=2) * 2, mode=mode)
    with pytest.raises(ValueError, match="cannot reshape an array of shape"):
        f(rand(rng, (2, 3)), np.array([4, 2]))
    with pytest.raises(ValueError, match="at most one -1"):
        f(rand(rng, (2, 3)), np.array([-1, -1]))


def test_fallback_is_replaceable(ext):
    call, fallback = calls_of(node_of(Shape(), var((None,))))
    assert call.fallback is fallback
    with pytest.raises(TypeError, match="must be callable"):
        call.fallback = 3
    call.fallback = lambda *a: ("python",)
    assert call([1.0]) == ("python",)


def test_bad_construction_is_refused(ext):
    with pytest.raises(ValueError, match="unsupported view"):
        ext.ViewCall(99, 1, 0, (), (), (), None, print)
    with pytest.raises(ValueError, match="unsupported view"):
        ext.ViewCall(dispatch_views.SUBTENSOR, 1, 0, (), (), (), None, print)
    with pytest.raises(ValueError, match="axes out of range"):
        ext.ViewCall(dispatch_views.DS_GENERAL, 2, 0, (0,), (5,), (False,), None, print)


# --------------------------------------------------------------------------- leaks

def test_no_reference_or_memory_leak(ext, rng):
    x2, shp = var((None, None)), var((2,), "int64")
    calls = [calls_of(node_of(op, *ins))[0] for op, ins in [
        (DimShuffle(2, (1, 0)), (x2,)), (DimShuffle(2, ("x", 0, 1)), (x2,)),
        (DimShuffle(3, (2, "x", 1)), (var((1, None, None)),)), (Shape(), (x2,)), (Shape_i(1), (x2,)),
        (Reshape(2), (x2, shp))]]
    calls.append(calls_of(T.matrix("x")[1, ::-1].owner)[0])
    i, j, k = (T.scalar(n, dtype="int64") for n in "ijk")
    calls.append(calls_of(T.matrix("x")[i, j:-1:k].owner)[0])
    calls.append(calls_of(T.matrix("x")[None, i:j].owner)[0])
    x, x3, target, bad = rand(rng, (3, 4)), rand(rng, (1, 3, 4)), np.array([2, 6]), np.array([5, 5])
    si, sj, sk = np.array(-1), np.array(3), np.array(-2)
    args = [(x,), (x,), (x3,), (x,), (x,), (x, target), (x,), (x, si, sj, sk), (x, si, sj)]
    reshape, symbolic = calls[5], calls[7]

    def once():
        for call, a in zip(calls, args):
            call(*a)

    once()
    gc.collect()
    tracked = (x, x3, target, bad, si, sj, sk) + tuple(calls)
    before = [sys.getrefcount(o) for o in tracked]
    tracemalloc.start()
    try:
        for _ in range(2000):
            once()
            with pytest.raises(ValueError):
                reshape(x, bad)
            with pytest.raises(IndexError):
                symbolic(x, sj, si, sk)   # out of range: built in C, then the Python path
        gc.collect()
        start = tracemalloc.take_snapshot()
        for _ in range(100_000):
            once()
        for _ in range(2000):
            with pytest.raises(ValueError):
                reshape(x, bad)
            with pytest.raises(IndexError):
                symbolic(x, sj, si, sk)
        gc.collect()
        end = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    ours = [tracemalloc.Filter(True, __file__), tracemalloc.Filter(True, dispatch_program.__file__)]
    diffs = end.filter_traces(ours).compare_to(start.filter_traces(ours), "traceback")
    grown = sum(d.count_diff for d in diffs)
    assert [sys.getrefcount(o) for o in tracked] == before
    assert grown < 1000, f"{grown} more memory blocks after 10^5 calls: {[str(d) for d in diffs[:3]]}"
    out = calls[0](x)[0]
    assert sys.getrefcount(out) == 2   # only ``out`` and the call's argument
    assert all(c.calls >= 102_000 for c in calls)
