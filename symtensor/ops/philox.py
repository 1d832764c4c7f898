"""Counter-based random numbers: Philox4x32-10 (Salmon et al., "Parallel random numbers: as
easy as 1, 2, 3", SC 2011) and ``PhiloxDraw``, the op ``MRG_RandomStreams`` samples with.

A Philox state is a uint32 vector of 4 words: ``(key_lo, key_hi, call_lo, call_hi)``. One
call of ``PhiloxDraw`` encrypts the counters ``(j_lo, j_hi, call_lo, call_hi)`` for blocks
j = 0, 1, ... under the key, and returns the state with the 64-bit call counter plus one.
Every element of a sample is therefore a pure function of (key, call counter, element index):
any loop order or thread count gives the same bits, which is what lets the C rendering
(codegen/c/philox.py) run in parallel and still equal this numpy ``perform`` bit for bit.

Which block words feed which element (``n`` elements, C order):

- uniform float32: block j gives elements 4j..4j+3, one word each, ``(w >> 8) * 2**-24``;
- uniform float64: block j gives elements 2j, 2j+1 from words (0, 1) and (2, 3):
  ``((a >> 5) * 2**26 + (b >> 6)) * 2**-53``. Uniforms are in [0, 1) (0 included);
- normal: block j gives elements 2j, 2j+1 by Box-Muller on the pair of 53-bit uniforms
  ``u1`` (words 0, 1; taken as ``(k + 1) * 2**-53`` in (0, 1] so the log is finite) and
  ``u2`` (words 2, 3): ``r = sqrt(-2 log u1)``, ``(r cos 2 pi u2, r sin 2 pi u2)``;
- truncated_normal (MRG's ``truncate``: |z| <= 2): element i tries blocks 4i..4i+3, each
  giving two Box-Muller candidates in order, and takes the first with |z| <= 2. If all 8 fail
  (probability about 2e-11) it takes ``4 u - 2`` with u the 53-bit uniform of words (0, 1) of
  block 4i: inside [-2, 2), not a clamp, and a fixed amount of work per element.

Normals are computed in float64 and rounded to the sample dtype. ``log``, ``cos`` and ``sin``
are the small functions below (frexp plus a series; a quadrant reduction of 2 pi u done
exactly on u), written with the same operations in C, so that no libm or numpy SIMD math
routine (which differ from each other by an ulp) decides a bit of the result.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph.basic import Apply, Constant, Op, Variable
from ..graph.null import disconnected_type
from ..graph.type import FLOAT_DTYPES, TensorType, Type
from .basic import as_tensor_variable
from .random import RandomDraw, RandomParameterError, _check_range
from .shape import as_int_scalar

M0, M1 = 0xD2511F53, 0xCD9E8D57
W0, W1 = 0x9E3779B9, 0xBB67AE85
ROUNDS = 10
MASK32 = np.uint64(0xFFFFFFFF)
#: Blocks an element of a truncated normal may use (two candidates each).
TRUNCATED_BLOCKS = 4
#: The standard draws ``PhiloxDraw`` makes.
DISTRIBUTIONS = ("uniform", "normal", "truncated_normal")
STATE_WORDS = 4


# ---------------------------------------------------------------------------------------------
# the block function
# ---------------------------------------------------------------------------------------------
def philox4x32(counters: np.ndarray, key: Any, rounds: int = ROUNDS) -> np.ndarray:
    """Philox4x32 of each row of ``counters`` (an (n, 4) array of uint32 words) under ``key``
    (2 words): an (n, 4) uint32 array. 32x32-bit products are taken in uint64 and split."""
    c = np.asarray(counters, dtype=np.uint64).reshape(-1, 4).T.copy()
    k0, k1 = (int(w) & 0xFFFFFFFF for w in np.asarray(key).reshape(2))
    m0, m1 = np.uint64(M0), np.uint64(M1)
    c0, c1, c2, c3 = c
    for _ in range(rounds):
        p0, p1 = m0 * c0, m1 * c2
        c0, c1, c2, c3 = ((p1 >> np.uint64(32)) ^ c1 ^ np.uint64(k0), p1 & MASK32,
                          (p0 >> np.uint64(32)) ^ c3 ^ np.uint64(k1), p0 & MASK32)
        k0, k1 = (k0 + W0) & 0xFFFFFFFF, (k1 + W1) & 0xFFFFFFFF
    return np.stack([c0, c1, c2, c3], axis=1).astype(np.uint32)


def block_words(state: np.ndarray, blocks: Any) -> np.ndarray:
    """The (n, 4) words of the given block indices (ints < 2**64) of the call ``state``
    describes: Philox of the counters (j_lo, j_hi, call_lo, call_hi) under the state's key."""
    j = np.asarray(blocks, dtype=np.uint64).reshape(-1)
    call = int(state[2]) | (int(state[3]) << 32)
    ctr = np.empty((j.size, 4), dtype=np.uint64)
    ctr[:, 0], ctr[:, 1] = j & MASK32, j >> np.uint64(32)
    ctr[:, 2], ctr[:, 3] = call & 0xFFFFFFFF, call >> 32
    return philox4x32(ctr, state[:2])


def check_state(state: Any, what: str = "PhiloxDraw") -> np.ndarray:
    """``state`` as a uint32 vector of 4 words, or a ValueError saying what was expected."""
    s = np.asarray(state)
    if s.dtype != np.uint32 or s.shape != (STATE_WORDS,):
        raise ValueError(f"{what}: a Philox state must be a uint32 array of shape ({STATE_WORDS},) "
                         f"(key_lo, key_hi, call_lo, call_hi), got {s.dtype} of shape {s.shape}")
    return s


def advanced(state: np.ndarray) -> np.ndarray:
    """A new state array: the same key, the 64-bit call counter plus one (wrapping)."""
    call = ((int(state[2]) | (int(state[3]) << 32)) + 1) & 0xFFFFFFFFFFFFFFFF
    return np.array([state[0], state[1], call & 0xFFFFFFFF, call >> 32], dtype=np.uint32)


def make_state(key: Any, call: int = 0) -> np.ndarray:
    """The state of key (a 64-bit int or 2 words) at call counter ``call``."""
    if np.ndim(key) == 0:
        key = [int(key) & 0xFFFFFFFF, (int(key) >> 32) & 0xFFFFFFFF]
    if len(key) != 2:
        raise ValueError(f"a Philox key is an int or 2 words, got {list(key)}")
    k = [int(w) & 0xFFFFFFFF for w in key]
    return np.array(k + [call & 0xFFFFFFFF, (call >> 32) & 0xFFFFFFFF], dtype=np.uint32)


# ---------------------------------------------------------------------------------------------
# words -> floats (the same operations as the C rendering)
# ---------------------------------------------------------------------------------------------
def _u53(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The integer in [0, 2**53) of two words, as float64 (exact)."""
    return (a >> np.uint32(5)).astype(np.float64) * 67108864.0 + (b >> np.uint32(6)).astype(np.float64)


_LOG_COEFS = [1.0 / (2 * k + 1) for k in range(12)]
_SIN_COEFS = [(-1) ** k / float(np.prod(np.arange(1, 2 * k + 2, dtype=np.float64))) for k in range(13)]
_COS_COEFS = [(-1) ** k / float(np.prod(np.arange(1, 2 * k + 1, dtype=np.float64))) for k in range(13)]
LN2 = 0.6931471805599453
HALF_PI = 1.5707963267948966
SQRT_HALF = 0.7071067811865476
EPS53 = 2.0 ** -53


def _horner(coefs: list, x: np.ndarray) -> np.ndarray:
    acc = np.full_like(x, coefs[-1])
    for c in reversed(coefs[:-1]):
        acc = acc * x + c
    return acc


def philox_log(x: np.ndarray) -> np.ndarray:
    """log of positive normal float64 values: ``e ln2 + 2 atanh(s)``, s = (m-1)/(m+1)."""
    m, e = np.frexp(x)
    low = m < SQRT_HALF
    m = np.where(low, m * 2.0, m)
    e = (e - low).astype(np.float64)
    f = m - 1.0
    s = f / (f + 2.0)
    s2 = s * s
    return e * LN2 + 2.0 * (s * _horner(_LOG_COEFS, s2))


def philox_cos_sin(u: np.ndarray) -> tuple:
    """(cos 2 pi u, sin 2 pi u) for u in [0, 1): the quadrant is taken exactly from 4u, the
    rest ``a = (pi/2) r`` (r in [0, 1)) goes through Taylor series."""
    t = u * 4.0
    q = np.floor(t)
    a = (t - q) * HALF_PI
    a2 = a * a
    s = a * _horner(_SIN_COEFS, a2)
    c = _horner(_COS_COEFS, a2)
    q = q.astype(np.int64)
    cos = np.choose(q, [c, -s, -c, s])
    sin = np.choose(q, [s, c, -s, -c])
    return cos, sin


def box_muller(w: np.ndarray) -> tuple:
    """The two float64 normals of each block row of words ``w`` (n, 4)."""
    u1 = (_u53(w[:, 0], w[:, 1]) + 1.0) * EPS53
    u2 = _u53(w[:, 2], w[:, 3]) * EPS53
    r = np.sqrt(-2.0 * philox_log(u1))
    cos, sin = philox_cos_sin(u2)
    return r * cos, r * sin


def _truncated(state: np.ndarray, n: int) -> np.ndarray:
    out = np.empty(n, dtype=np.float64)
    todo = np.arange(n, dtype=np.int64)
    for attempt in range(TRUNCATED_BLOCKS):
        if todo.size == 0:
            break
        blocks = todo.astype(np.uint64) * np.uint64(TRUNCATED_BLOCKS) + np.uint64(attempt)
        w = block_words(state, blocks)
        z0, z1 = box_muller(w)
        ok0 = np.abs(z0) <= 2.0
        ok1 = ~ok0 & (np.abs(z1) <= 2.0)
        out[todo[ok0]] = z0[ok0]
        out[todo[ok1]] = z1[ok1]
        todo = todo[~(ok0 | ok1)]
    if todo.size:
        w = block_words(state, todo.astype(np.uint64) * np.uint64(TRUNCATED_BLOCKS))
        out[todo] = _u53(w[:, 0], w[:, 1]) * EPS53 * 4.0 - 2.0
    return out


def sample(state: np.ndarray, distribution: str, dtype: str, n: int) -> np.ndarray:
    """The ``n`` values (flat) of one call of ``distribution`` in ``dtype`` from ``state``."""
    if distribution == "truncated_normal":
        return _truncated(state, n).astype(dtype)
    per = 4 if (distribution == "uniform" and dtype == "float32") else 2
    w = block_words(state, np.arange(-(-n // per), dtype=np.uint64))
    if distribution == "uniform" and dtype == "float32":
        out = (w >> np.uint32(8)).astype(np.float32) * np.float32(2.0 ** -24)
    elif distribution == "uniform":
        out = _u53(w[:, 0::2], w[:, 1::2]) * EPS53
    else:
        out = np.stack(box_muller(w), axis=1)
    return out.reshape(-1)[:n].astype(dtype)


# ---------------------------------------------------------------------------------------------
# the op
# ---------------------------------------------------------------------------------------------
class PhiloxStateType(Type):
    """The type of a Philox state: a uint32 array of 4 words (key_lo, key_hi, call_lo,
    call_hi). Not a tensor type, so that graphs (scan, the gradient) treat it like the other
    random states: threaded through, never differentiated, draws from it constants."""

    dtype = "uint32"     # the dtype of its values (DebugMode compares them exactly)

    def filter(self, data: Any, strict: bool = False, allow_downcast: bool | None = None) -> np.ndarray:
        arr = np.asarray(data)
        if not strict and arr.dtype != np.uint32 and arr.dtype.kind in "iu" and arr.shape == (STATE_WORDS,):
            if arr.size and (arr.min() < 0 or arr.max() > 0xFFFFFFFF):
                raise ValueError(f"a Philox state's words must be in [0, 2**32), got {arr.tolist()}")
            arr = arr.astype(np.uint32)
        return check_state(arr, "PhiloxStateType")

    def values_eq(self, a: Any, b: Any) -> bool:
        return bool(np.array_equal(a, b))

    def __eq__(self, other: Any) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))

    def __str__(self) -> str:
        return "PhiloxStateType"

    __repr__ = __str__


state_type = PhiloxStateType()


class PhiloxDraw(RandomDraw):
    """One standard draw of ``distribution`` ("uniform" in [0, 1), "normal", or
    "truncated_normal": normal with |z| <= 2) in the float ``dtype``.

    Inputs: the Philox state (``PhiloxStateType``: 4 uint32 words), then one int64 scalar per entry of
    the sample's shape. Outputs: the state with its call counter advanced (a new array: the
    input is never changed), and the sample. The draw is a constant for the gradient.
    """

    __props__ = ("distribution", "dtype")
    default_output = 1

    def __init__(self, distribution: str, dtype: str = "float64"):
        if distribution not in DISTRIBUTIONS:
            raise ValueError(f"PhiloxDraw: unknown distribution {distribution!r}; expected one of {DISTRIBUTIONS}")
        self.distribution = distribution
        self.dtype = str(np.dtype(dtype))
        if self.dtype not in FLOAT_DTYPES or self.dtype == "float16":
            raise TypeError(f"PhiloxDraw: dtype must be float32 or float64, got {self.dtype}")

    def __str__(self) -> str:
        return f"PhiloxDraw{{{self.distribution}, {self.dtype}}}"

    def make_node(self, state: Any, *size: Any) -> Apply:
        if not isinstance(state, Variable) or not isinstance(state.type, PhiloxStateType):
            raise TypeError(f"{self}: the first input must be a Philox state variable (PhiloxStateType), "
                            f"got {state!r}")
        size = [as_int_scalar(s, f"{self.distribution}: size[{i}]") for i, s in enumerate(size)]
        static = [int(s.data) if isinstance(s, Constant) else None for s in size]
        for i, s in enumerate(static):
            if s is not None and s < 0:
                raise ValueError(f"{self.distribution}: size[{i}] must be >= 0, got {s}")
        sample = TensorType(self.dtype, shape=tuple(static))()
        return Apply(self, [state] + size, [state_type(), sample])

    def shape_of(self, inputs: list) -> tuple:
        """The sample's shape from the run-time size inputs (checked)."""
        shape = tuple(int(s) for s in inputs[1:])
        if any(s < 0 for s in shape):
            raise ValueError(f"{self.distribution}: size must not hold negative entries, got {shape}")
        return shape

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        state = check_state(inputs[0], str(self))
        shape = self.shape_of(inputs)
        n = int(np.prod(shape, dtype=np.int64))
        out = sample(state, self.distribution, self.dtype, n).reshape(shape)
        output_storage[0][0] = advanced(state)
        output_storage[1][0] = out

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [None, tuple(node.inputs[1:])]


class CheckProbabilities(Op):
    """The identity (a view) that first checks its values are probabilities: in [0, 1] and,
    with ``sum_to_one``, summing to 1 (within 1e-4) along the last axis. MRG samplers build
    binomial / multinomial / choice from comparisons with uniform draws, which would silently
    accept any number; this makes bad probabilities raise when the function runs (before any
    state is updated). Not differentiable: the samples are constants for the gradient."""

    __props__ = ("what", "sum_to_one")
    view_map = {0: [0]}

    def __init__(self, what: str, sum_to_one: bool = False):
        self.what = str(what)
        self.sum_to_one = bool(sum_to_one)

    def make_node(self, p: Any) -> Apply:
        p = as_tensor_variable(p)
        return Apply(self, [p], [p.type()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        (p,) = inputs
        name, arg = self.what.split(": ") if ": " in self.what else (self.what, "p")
        _check_range(name, arg, p, 0, 1)
        if self.sum_to_one and np.size(p):
            sums = np.sum(np.asarray(p, dtype=np.float64), axis=-1)
            if not np.allclose(sums, 1, rtol=0, atol=1e-4):
                raise RandomParameterError(f"{name}: the probabilities {arg} must sum to 1 along their last axis, "
                                           f"got sums {np.reshape(sums, -1).tolist()}")
        output_storage[0][0] = p

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [input_shapes[0]]

    def connection_pattern(self, node: Apply) -> list:
        return [[False]]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        return [disconnected_type()]


def philox_draw(state: Variable, distribution: str, dtype: str, size: Any) -> tuple:
    """(new state, sample) of one ``PhiloxDraw`` with the given size entries."""
    node = PhiloxDraw(distribution, dtype).make_node(state, *size)
    return node.outputs[0], node.outputs[1]


__all__ = ["PhiloxDraw", "PhiloxStateType", "CheckProbabilities", "philox_draw", "philox4x32", "state_type", "make_state", "advanced", "check_state",
           "sample", "block_words"]
