"""Every scalar op of the scalar-op table, and Cast to every dtype, through the C kernels,
against the numpy reference on special values.

Each dtype combination gets one fused node computing every applicable op as one output, so a
whole table compiles into one module (one compiler run per test). The reference is the plain
graph of one Elemwise per op run through numpy ``perform``, the specification of the C code.
Results must agree to rounding (float32 rtol 1e-6, float64 1e-14), integers and booleans
exactly, with NaN where numpy gives NaN and the same sign of zero where numpy defines it.
"""
from __future__ import annotations

import numpy as np
import pytest

from symtensor.backends.c import toolchain
from symtensor.backends.c.executor import CExecutor
from symtensor.graph.fg import FunctionGraph
from symtensor.graph.interpreter import Interpreter
from symtensor.graph.type import TensorType
from symtensor.ops import scalar as ps
from symtensor.ops.elemwise import Elemwise
from symtensor.ops.fused import FusedElemwise

pytestmark = pytest.mark.skipif(toolchain.find_compiler() is None, reason="no C compiler on PATH")

DTYPES = ["float32", "float64", "int8", "int32", "int64", "uint8", "bool"]
MIXED = [("int8", "float32"), ("int32", "float32"), ("int64", "float64"), ("uint8", "int8"),
         ("bool", "int8"), ("float32", "float64"), ("int64", "uint8"), ("bool", "float32"),
         ("int8", "int32"), ("uint8", "float64")]
RTOL = {"float32": 1e-6, "float64": 1e-14}
# numpy leaves the sign of a zero result of these to the SIMD instruction it happens to use
UNSIGNED_ZERO_OPS = {"maximum", "minimum"}
# exact integer powers raise for negative exponents in numpy: no C rendering, by design
FALLBACK = {("pow", kinds) for kinds in ("ii", "iu", "ui", "uu", "bi", "ib", "bu", "ub", "bb")}


def specials(dtype: str) -> np.ndarray:
    """Values where C and numpy semantics tend to part: zeros of both signs, halves, NaN,
    infinities, the largest and smallest magnitudes, integer extremes."""
    dt = np.dtype(dtype)
    if dt.kind == "f":
        fi = np.finfo(dt)
        big_odd = 2.0 ** (fi.nmant + 1) + 1 if dt.itemsize == 8 else 2.0 ** 24 - 1
        return np.array([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, 2.5, -2.5, 3.0, -7.0, 7.25, -0.3, 0.9,
                         0.49999999999999994, big_odd, 100.0, np.nan, np.inf, -np.inf, float(fi.max),
                         -float(fi.max), float(fi.smallest_subnormal), float(fi.tiny)], dtype=dt)
    if dt.kind == "b":
        return np.array([False, True])
    info = np.iinfo(dt)
    if dt.kind == "u":
        return np.array([0, 1, 2, 3, 7, 100, 127, 128, 200, info.max - 1, info.max], dtype=dt)
    return np.array([0, 1, -1, 2, -2, 3, -3, 7, -7, 100, -100, info.min, info.min + 1, info.max],
                    dtype=dt)


def in_range_floats(src: str, dst: str) -> np.ndarray:
    """Float values whose conversion to the integer dtype ``dst`` is defined (truncation fits)."""
    info = np.iinfo(dst)
    vals = [0.0, -0.0, 0.9, 1.5, 2.7, 100.9, float(info.max) if info.bits < 32 else 2.0 ** 30 + 0.5]
    if info.min < 0:
        vals += [-0.9, -1.5, -2.7, -100.9, float(info.min) if info.bits < 32 else -2.0 ** 30 - 0.5]
    else:
        vals += [-0.9, float(info.max) + 0.5 if info.bits < 32 else 2.0 ** 31 + 0.5]
    return np.array(vals, dtype=src)


def _kinds(combo) -> str:
    return "".join(np.dtype(d).kind for d in combo)


def _grid(arrays):
    """Every combination of the values (the cartesian product), one flat array per operand."""
    return [g.ravel().copy() for g in np.meshgrid(*arrays, indexing="ij")]


class Table:
    """Builds the plain reference graph and the fused C graph for many (op, dtypes) cases."""

    def __init__(self):
        self.inputs, self.values, self.plain, self.labels = [], [], [], []
        self.fused_outputs, self.plain_nodes = [], []

    def add_combo(self, combo, values, ops, fuse=True):
        xs = [TensorType(d, shape=(None,))(f"x{k}_{'_'.join(combo)}") for k, d in enumerate(combo)]
        outs, labels = [], []
        for sop in ops:
            try:
                outs.append(Elemwise(sop)(*xs))
            except (TypeError, ValueError):
                continue       # numpy rejects these dtypes: no node to test
            labels.append((sop.name, combo))
        if not outs:
            return
        self.inputs += xs
        self.values += values
        self.plain += outs
        self.labels += labels
        if fuse:
            args = tuple(("i", k) for k in range(len(xs)))
            steps = tuple((o.owner.op.scalar_op, args, o.dtype) for o in outs)
            fused = FusedElemwise((len(xs), steps, tuple(range(len(steps)))),
                                  tuple(o.type for o in outs))(*xs)
            self.fused_outputs += fused if isinstance(fused, list) else [fused]
        else:
            self.fused_outputs += [o.owner.op(*xs) for o in outs]

    def run(self):
        """(C results, reference results, C executor) on copies of the inputs."""
        ref = Interpreter(FunctionGraph(self.inputs, self.plain))([v.copy() for v in self.values])
        ex = CExecutor(FunctionGraph(self.inputs, self.fused_outputs))
        args = [v.copy() for v in self.values]
        got = ex(args)
        for a, v in zip(args, self.values):      # the kernels never write into their inputs
            np.testing.assert_array_equal(a, v)
        return got, ref, ex

    def check(self, skip=lambda name, combo, inputs: None):
        got, ref, ex = self.run()
        errors = []
        for (name, combo), g, w, out in zip(self.labels, got, ref, self.plain):
            inputs = [self.values[self.inputs.index(i)] for i in out.owner.inputs]
            keep = skip(name, combo, inputs)
            if keep is not None:
                g, w, inputs = g[keep], w[keep], [i[keep] for i in inputs]
            msg = compare(name, g, w, inputs)
            if msg:
                errors.append(f"{name}{combo}: {msg}")
        assert not errors, "\n".join(errors)
        return ex


def compare(name: str, got: np.ndarray, want: np.ndarray, inputs) -> str | None:
    """None when ``got`` equals ``want`` to rounding, else a description of the differences."""
    if got.dtype != want.dtype or got.shape != want.shape:
        return f"dtype/shape {got.dtype}{got.shape}, expected {want.dtype}{want.shape}"
    if want.dtype.kind == "f":
        with np.errstate(all="ignore"):
            close = (got == want) | (np.abs(got - want) <= RTOL[str(want.dtype)] * np.abs(want))
        bad = ~(close | (np.isnan(got) & np.isnan(want)))
        if name not in UNSIGNED_ZERO_OPS:
            bad |= (got == 0) & (want == 0) & (np.signbit(got) != np.signbit(want))
    else:
        bad = got != want
    if not bad.any():
        return None
    idx = np.nonzero(bad)[0][:5]
    return (f"{int(bad.sum())} differ, e.g. inputs {[list(i[idx]) for i in inputs]}: "
            f"C gives {list(got[idx])}, numpy {list(want[idx])}")


def _ops(nin):
    return [op for op in ps.SCALAR_OPS.values() if op.nin == nin]


def _not_fallback(ops, combo):
    return [op for op in ops if (op.name, _kinds(combo)) not in FALLBACK]


def test_unary_ops_and_casts():
    table = Table()
    casts = [ps.Cast(d) for d in DTYPES + ["int16", "uint16", "uint32", "uint64"]]
    for d in DTYPES:
        ok_casts = [c for c in casts if np.dtype(d).kind != "f" or np.dtype(c.dtype).kind in "fb"]
        table.add_combo((d,), [specials(d)], _ops(1) + ok_casts)
    for src in ("float32", "float64"):          # float -> int only where the value fits
        for c in casts:
            if np.dtype(c.dtype).kind in "iu":
                table.add_combo((src,), [in_range_floats(src, c.dtype)], [c])

    def skip(name, combo, inputs):
        # the reference rounds int64 through float64 (loses |x| > 2**53); C keeps the integer
        if name == "round_half_away_from_zero" and combo == ("int64",):
            return np.abs(inputs[0].astype(float)) < 2.0 ** 53
        return None

    ex = table.check(skip)
    assert ex.fallbacks == []
    assert ex.n_kernels == len(ex.nodes)


def test_binary_ops():
    table = Table()
    combos = [(d, d) for d in DTYPES] + MIXED
    for combo in combos:
        table.add_combo(combo, _grid([specials(d) for d in combo]), _not_fallback(_ops(2), combo))
    ex = table.check()
    assert ex.fallbacks == []


def test_integer_division_edge_cases():
    """x // 0 and x % 0 give 0, INT_MIN // -1 wraps to INT_MIN and INT_MIN % -1 is 0, floor
    division and remainder round towards -inf with the divisor's sign, as in numpy."""
    table = Table()
    ops = [ps.SCALAR_OPS["int_div"], ps.SCALAR_OPS["mod"]]
    for d in ("int8", "int32", "int64"):
        lo = np.iinfo(d).min
        a = np.array([lo, lo, lo, 7, -7, 7, -7, 0, 5, -5, lo + 1], dtype=d)
        b = np.array([-1, 0, 1, 2, 2, -2, -2, -1, 0, -1, -1], dtype=d)
        table.add_combo((d, d), [a, b], ops)
    got, ref, ex = table.run()
    for g, w in zip(got, ref):
        np.testing.assert_array_equal(g, w)
    lo = np.iinfo("int8").min
    assert list(got[0]) == [lo, 0, lo, 3, -4, -4, 3, 0, 0, 5, 127]
    assert list(got[1]) == [0, 0, 0, 1, 1, -1, -1, 0, 0, 0, 0]


def test_ternary_ops():
    table = Table()
    for d in DTYPES + ["int8_float32"]:
        combo = (d, d, d) if "_" not in d else ("int8", "float32", "float32")
        vals = [specials(combo[0]), specials(combo[1])[:9], specials(combo[2])[:9]]
        if np.dtype(combo[1]).kind == "f":
            vals[1] = np.append(vals[1], np.nan)
        table.add_combo(combo, _grid(vals), _ops(3))
    cond = np.array([0, 1, 2, 0, 1], dtype="int8")
    table.add_combo(("float64", "float32", "int32"),
                    [np.array([0.0, np.nan, -0.0, 2.0, 1.0]), cond.astype("float32"),
                     cond.astype("int32") - 5], [ps.SCALAR_OPS["switch"]])
    ex = table.check()
    assert ex.fallbacks == []


def test_clip_follows_numpy_order_and_nan():
    """clip is max(x, lo) then min(., hi): lo > hi gives hi, NaN in any operand propagates,
    clip(-0.0, 0.0, 1.0) is +0.0."""
    table = Table()
    x = np.array([5.0, -0.0, np.nan, 0.5, 0.5, 3.0])
    lo = np.array([10.0, 0.0, 0.0, np.nan, 0.0, 0.0])
    hi = np.array([0.0, 1.0, 1.0, 1.0, np.nan, 2.0])
    table.add_combo(("float64",) * 3, [x, lo, hi], [ps.SCALAR_OPS["clip"]])
    table.add_combo(("int32",) * 3, [np.array([5, 1, -3]), np.array([10, 0, 0]), np.array([0, 1, 1])],
                    [ps.SCALAR_OPS["clip"]], fuse=False)
    got, ref, ex = table.run()
    assert ex.fallbacks == []
    np.testing.assert_array_equal(got[0], ref[0])
    assert np.signbit(got[0][1]) == np.signbit(ref[0][1])
    np.testing.assert_array_equal(got[1], [0, 1, 0])


def test_integer_powers_fall_back_to_numpy():
    """An exact integer power raises in numpy for a negative exponent, which a C expression
    cannot: the node runs through numpy perform (and still gives numpy's result)."""
    table = Table()
    table.add_combo(("int32", "int32"), [np.array([2, -3, 7]), np.array([3, 3, 0])],
                    [ps.SCALAR_OPS["pow"]], fuse=False)
    got, ref, ex = table.run()
    assert len(ex.fallbacks) == 1 and ex.fallbacks[0].op.scalar_op.name == "pow"
    np.testing.assert_array_equal(got[0], [8, -27, 1])


def test_int64_against_uint64():
    """numpy compares int64 with uint64 exactly (no C rendering: falls back), while arithmetic
    on the pair goes through float64 (rendered)."""
    table = Table()
    a = np.array([-1, 0, 2 ** 62, -2 ** 63, 5], dtype="int64")
    b = np.array([2 ** 64 - 1, 0, 2 ** 63, 0, 2 ** 53 + 1], dtype="uint64")
    cmp_ops = [ps.SCALAR_OPS[n] for n in ("lt", "le", "eq")]
    table.add_combo(("int64", "uint64"), [a, b], cmp_ops, fuse=False)
    table.add_combo(("int64", "uint64"), [a.copy(), b.copy()], [ps.SCALAR_OPS["add"]], fuse=False)
    got, ref, ex = table.run()
    assert sorted(n.op.scalar_op.name for n in ex.fallbacks) == ["eq", "le", "lt"]
    for g, w in zip(got, ref):
        np.testing.assert_array_equal(g, w)
    assert list(got[0]) == [True, False, True, True, True]
