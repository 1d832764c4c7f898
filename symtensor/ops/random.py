"""Random sampling ops (Theano's ``raw_random``): a random state as a graph value, and
``RandomVariable``, which draws one sample from a state and returns the advanced state.

A state is a ``numpy.random.Generator``; ``perform`` never changes the state it is given
(it draws from a copy), so a graph is a pure function of its inputs: running a node twice on
the same state gives the same sample, a failed call leaves a shared state untouched, and
DebugMode can run the graph twice. The user-facing streams (``RandomStreams``) that keep the
states in shared variables live in compile/.

Where Theano's distributions are a location-scale family (uniform, normal) the sample is
built as ``low + (high - low) * u`` / ``avg + std * z`` from a standard draw: numpy's own
formula, and it makes the sample differentiable with respect to the parameters (the
reparameterization gradient, as with Theano's MRG streams). Draws of the other distributions
are constants for the gradient (disconnected from their parameters).
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Sequence

import numpy as np

from ..graph.basic import Apply, Constant, Op, Variable
from ..graph.null import disconnected_type
from ..graph.type import FLOAT_DTYPES, TensorType, Type
from .basic import as_tensor_variable
from .elemwise import cast
from .shape import as_int_scalar, shape_i


class RandomStateType(Type):
    """The type of a random state: its values are ``numpy.random.Generator`` objects."""

    def filter(self, data: Any, strict: bool = False, allow_downcast: bool | None = None) -> np.random.Generator:
        if isinstance(data, np.random.Generator):
            return data
        if not strict and isinstance(data, np.random.BitGenerator):
            return np.random.Generator(data)
        raise TypeError(f"a random state must be a numpy.random.Generator (e.g. numpy.random.default_rng(seed)), "
                        f"got {type(data).__name__}")

    def values_eq(self, a: Any, b: Any) -> bool:
        return _state_eq(a.bit_generator.state, b.bit_generator.state)

    def __eq__(self, other: Any) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))

    def __str__(self) -> str:
        return "RandomStateType"

    __repr__ = __str__


def _state_eq(a: Any, b: Any) -> bool:
    """Equality of bit-generator states (nested dicts of ints and arrays)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_state_eq(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(a, b))
    return a == b


random_state_type = RandomStateType()


class RandomParameterError(ValueError):
    """A distribution parameter or size has a value the distribution does not accept."""


# ---------------------------------------------------------------------------------------------
# samplers: numpy draws, one per distribution
# ---------------------------------------------------------------------------------------------
def _float_kind(dtype: str) -> str:
    """The dtype numpy's float samplers draw in (they know float32 and float64)."""
    return "float64" if dtype == "float64" else "float32"


def _draw_uniform01(op: "RandomVariable", gen: np.random.Generator, params: list, size: tuple) -> np.ndarray:
    return gen.random(size, dtype=_float_kind(op.dtype))


def _draw_standard_normal(op: "RandomVariable", gen: np.random.Generator, params: list, size: tuple) -> np.ndarray:
    return gen.standard_normal(size, dtype=_float_kind(op.dtype))


def _draw_truncated_normal(op: "RandomVariable", gen: np.random.Generator, params: list,
                           size: tuple) -> np.ndarray:
    """Standard normal values, those beyond 2 standard deviations drawn again (MRG's truncate)."""
    kind = _float_kind(op.dtype)
    z = gen.standard_normal(size, dtype=kind)
    bad = np.abs(z) > 2
    while bad.any():
        z[bad] = gen.standard_normal(int(bad.sum()), dtype=kind)
        bad = np.abs(z) > 2
    return z


def _describe_bad(values: np.ndarray, bad: np.ndarray) -> str:
    first = np.asarray(values)[bad].reshape(-1)[0]
    where = tuple(int(i) for i in np.argwhere(bad)[0]) if np.ndim(values) else ()
    return f"{first!r}" + (f" at index {where}" if where else "")


def _check_range(name: str, arg: str, values: np.ndarray, low: float | None, high: float | None) -> None:
    """Raise a ValueError naming the argument and its first value outside [low, high]."""
    v = np.asarray(values)
    bad = np.isnan(v) if v.dtype.kind == "f" else np.zeros(v.shape, dtype=bool)
    if low is not None:
        bad = bad | (v < low)
    if high is not None:
        bad = bad | (v > high)
    if bad.any():
        span = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise RandomParameterError(f"{name}: {arg} must be in {span}, got {_describe_bad(v, bad)}")


def _draw_binomial(op: "RandomVariable", gen: np.random.Generator, params: list, size: tuple) -> np.ndarray:
    n, p = params
    _check_range("binomial", "n", n, 0, None)
    _check_range("binomial", "p", p, 0, 1)
    return gen.binomial(n, p, size)


def _draw_poisson(op: "RandomVariable", gen: np.random.Generator, params: list, size: tuple) -> np.ndarray:
    (lam,) = params
    _check_range("poisson", "lam", lam, 0, None)
    return gen.poisson(lam, size)


def _draw_integers(op: "RandomVariable", gen: np.random.Generator, params: list, size: tuple) -> np.ndarray:
    low, high = params
    if np.any(np.asarray(low) > np.asarray(high)):
        raise RandomParameterError(f"random_integers: low must be <= high, got low={np.asarray(low).tolist()} and "
                         f"high={np.asarray(high).tolist()}")
    return gen.integers(low, high, size, dtype="int64", endpoint=True)


def _check_probabilities(name: str, p: np.ndarray, k: int) -> np.ndarray:
    """``p`` (the last axis holds one distribution over ``k`` outcomes) checked and rescaled to
    sum to exactly 1 in float64 (float32 sums are off by rounding)."""
    p = np.asarray(p, dtype="float64")
    if p.shape[-1] != k:
        raise RandomParameterError(f"{name}: p has {p.shape[-1]} entries along its last axis, expected {k}")
    _check_range(name, "p", p, 0, 1)
    sums = p.sum(axis=-1, keepdims=True)
    if p.size and not np.allclose(sums, 1, rtol=0, atol=1e-4):
        raise RandomParameterError(f"{name}: the probabilities p must sum to 1, got sums {sums.reshape(-1).tolist()}")
    return p / np.where(sums > 0, sums, 1)


def _draw_choice(op: "RandomVariable", gen: np.random.Generator, params: list, size: tuple) -> np.ndarray:
    a, *rest = params
    n = int(a) if np.ndim(a) == 0 else len(a)
    if np.ndim(a) == 0 and n < 0:
        raise RandomParameterError(f"choice: a must be >= 0 (the number of elements), got {n}")
    p = _check_probabilities("choice", rest[0], n) if rest else None
    if not op.replace and int(np.prod(size)) > n:
        raise RandomParameterError(f"choice: cannot take {int(np.prod(size))} samples (size={size}) without replacement "
                         f"from {n} elements")
    if n == 0 and int(np.prod(size)) > 0:
        raise RandomParameterError(f"choice: cannot take samples (size={size}) from an empty population a")
    if int(np.prod(size)) == 0:
        return np.zeros(size, dtype=op.dtype)
    return gen.choice(a, size, replace=op.replace, p=p)


def _draw_choice_rows(op: "RandomVariable", gen: np.random.Generator, params: list, size: tuple) -> np.ndarray:
    """One row of ``size[1]`` category indices per row of the probability matrix p."""
    (p,) = params
    rows, k = p.shape
    if size[0] != rows:
        raise RandomParameterError(f"choice: size {size} must start with the number of rows of p ({rows})")
    p = _check_probabilities("choice", p, k)
    if not op.replace and size[1] > k:
        raise RandomParameterError(f"choice: cannot take {size[1]} samples per row without replacement from {k} categories")
    out = np.zeros(size, dtype="int64")
    for r in range(rows):
        out[r] = gen.choice(k, size[1], replace=op.replace, p=p[r])
    return out


def _draw_permutation(op: "RandomVariable", gen: np.random.Generator, params: list, size: tuple) -> np.ndarray:
    (n,) = params
    _check_range("permutation", "n", n, 0, None)
    out = np.empty(size + (int(n),), dtype="int64")
    for idx in np.ndindex(*size):
        out[idx] = gen.permutation(int(n))
    return out


def _draw_multinomial(op: "RandomVariable", gen: np.random.Generator, params: list, size: tuple) -> np.ndarray:
    n, pvals = params
    _check_range("multinomial", "n", n, 0, None)
    pvals = _check_probabilities("multinomial", pvals, np.shape(pvals)[-1])
    return gen.multinomial(n, pvals, size)


class _Dist:
    """What ``RandomVariable`` needs to know about one distribution."""

    def __init__(self, draw: Callable, params: Sequence[str], core: Callable | None = None,
                 floats_only: bool = False):
        self.draw = draw
        self.params = tuple(params)
        self.core = core            # (params) -> symbolic trailing dims beyond ``size``
        self.floats_only = floats_only


def _core_permutation(params: list) -> list:
    return [cast(params[0], "int64")]


def _core_multinomial(params: list) -> list:
    pvals = params[1]
    return [shape_i(pvals, pvals.ndim - 1)]


DISTRIBUTIONS = {
    "uniform01": _Dist(_draw_uniform01, (), floats_only=True),
    "standard_normal": _Dist(_draw_standard_normal, (), floats_only=True),
    "truncated_normal": _Dist(_draw_truncated_normal, (), floats_only=True),
    "binomial": _Dist(_draw_binomial, ("n", "p")),
    "poisson": _Dist(_draw_poisson, ("lam",)),
    "integers": _Dist(_draw_integers, ("low", "high")),
    "choice": _Dist(_draw_choice, ("a",)),
    "choice_p": _Dist(_draw_choice, ("a", "p")),
    "choice_rows": _Dist(_draw_choice_rows, ("p",)),
    "permutation": _Dist(_draw_permutation, ("n",), core=_core_permutation),
    "multinomial": _Dist(_draw_multinomial, ("n", "pvals"), core=_core_multinomial),
}


class RandomDraw(Op):
    """A draw: ``(state, ...) -> (new state, sample)``. The sample is a constant for the gradient
    (disconnected from every input, no forward-mode tangent), and a draw is never folded into a
    constant, since each call must give new numbers."""

    def connection_pattern(self, node: Apply) -> list:
        return [[False, False] for _ in node.inputs]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        return [disconnected_type() for _ in inputs]

    def R_op(self, inputs: list, eval_points: list) -> list:
        return [None, None]

    def do_constant_folding(self, node: Apply) -> bool:
        return False


class RandomVariable(RandomDraw):
    """Draw one sample of ``dist`` from a random state.

    Inputs: the state, the distribution's parameters, then one int64 scalar per entry of
    ``size``. Outputs: the advanced state, then the sample (``dtype``) whose shape is ``size``
    followed by the distribution's trailing dimensions (a permutation's length, the number of
    multinomial categories). ``replace`` matters only for choice.
    """

    __props__ = ("dist", "dtype", "replace")
    default_output = 1

    def __init__(self, dist: str, dtype: str, replace: bool = True):
        if dist not in DISTRIBUTIONS:
            raise ValueError(f"unknown distribution {dist!r}; expected one of {sorted(DISTRIBUTIONS)}")
        self.dist = dist
        self.dtype = str(np.dtype(dtype))
        self.replace = bool(replace)
        if DISTRIBUTIONS[dist].floats_only and self.dtype not in FLOAT_DTYPES:
            raise TypeError(f"{dist}: dtype must be a float dtype, got {self.dtype}")

    def __str__(self) -> str:
        return f"RandomVariable{{{self.dist}, {self.dtype}}}"

    def _split(self, inputs: Sequence) -> tuple:
        n = len(DISTRIBUTIONS[self.dist].params)
        return inputs[0], list(inputs[1:1 + n]), list(inputs[1 + n:])

    def make_node(self, rng: Any, *args: Any) -> Apply:
        spec = DISTRIBUTIONS[self.dist]
        if not isinstance(rng, Variable) or not isinstance(rng.type, RandomStateType):
            raise TypeError(f"{self}: the first input must be a random state variable, got {rng!r}")
        if len(args) < len(spec.params):
            raise TypeError(f"{self}: expected the parameters {spec.params}, got {len(args)} input(s)")
        _, params, size = self._split((rng,) + args)
        params = [as_tensor_variable(p) for p in params]
        size = [as_int_scalar(s, f"{self.dist}: size[{i}]") for i, s in enumerate(size)]
        static = [int(s.data) if isinstance(s, Constant) else None for s in size]
        for i, s in enumerate(static):
            if s is not None and s < 0:
                raise ValueError(f"{self.dist}: size[{i}] must be >= 0, got {s}")
        if spec.core is not None:
            static += [int(c.data) if isinstance(c, Constant) else None for c in spec.core(params)]
        sample = TensorType(self.dtype, shape=tuple(static))()
        return Apply(self, [rng] + params + size, [rng.type(), sample])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        rng, params, size = self._split(inputs)
        size = tuple(int(s) for s in size)
        if any(s < 0 for s in size):
            raise RandomParameterError(f"{self.dist}: size must not hold negative entries, got {size}")
        gen = copy.deepcopy(rng)  # the input state is never changed
        try:
            sample = DISTRIBUTIONS[self.dist].draw(self, gen, params, size)
        except RandomParameterError:
            raise
        except ValueError as err:   # numpy's own complaint (e.g. shapes that do not broadcast)
            shapes = ", ".join(f"{n} {np.shape(p)}" for n, p in zip(DISTRIBUTIONS[self.dist].params, params))
            raise ValueError(f"{self.dist}: {err} (size {size}; parameter shapes: {shapes or 'none'})") from None
        output_storage[0][0] = gen
        output_storage[1][0] = np.asarray(sample).astype(self.dtype, copy=False)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        _, params, size = self._split(node.inputs)
        core = DISTRIBUTIONS[self.dist].core
        return [None, tuple(size) + tuple(core(params) if core is not None else ())]

