"""Random streams: factories of random variables whose states live in shared variables.

``RandomStreams(seed)`` is Theano's ``shared_randomstreams.RandomStreams``: every random
variable it makes gets its own state (a ``numpy.random.Generator`` seeded from the stream's
seed) in a shared variable whose ``default_update`` is the advanced state, so each call of a
compiled function that uses the variable draws new numbers. ``seed(n)`` puts every state
back to what ``RandomStreams(n)`` would have given it.

``MRG_RandomStreams(seed=12345)`` has the signatures of Theano's ``sandbox.rng_mrg`` and the
same bookkeeping, but its states are counter-based Philox states (uint32 vectors) drawn from
by ``PhiloxDraw`` (ops/philox.py), which has a C rendering: its samples do not depend on the
mode or the thread count.

This lives in compile/ (not ops/) because it owns shared variables; the sampling ops it
builds graphs with are in ops/random.py and ops/philox.py.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..graph.basic import Constant, Variable, user_source_line
from ..ops import api as A
from ..ops import random_functions as rf
from ..ops.misc import disconnected_grad
from ..ops.philox import CheckProbabilities, PhiloxDraw, check_state, make_state, state_type as philox_state_type
from ..ops.random import random_state_type
from ..ops.shape import as_int_scalar, shape_i
from .shared import SharedVariable


def _seed_sequence(seed: Any) -> Any:
    """A seed numpy accepts: None, a non-negative int or a sequence of them (MRG's 6 ints)."""
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError(f"seed must be an int or a sequence of ints, got {seed!r}")
    if isinstance(seed, (int, np.integer)):
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        return int(seed)
    if isinstance(seed, (list, tuple, np.ndarray)) and all(isinstance(s, (int, np.integer)) for s in seed):
        if any(s < 0 for s in seed):
            raise ValueError(f"seed entries must be >= 0, got {list(seed)}")
        return [int(s) for s in seed]
    raise TypeError(f"seed must be an int or a sequence of ints, got {seed!r}")


class RandomStreams:
    """Theano's ``shared_randomstreams.RandomStreams``.

    ``state_updates``: the (state shared variable, new state) pair of every random variable
    made so far; ``updates()`` returns them as a list. Each random variable ``v`` carries
    ``v.rng`` (its state variable) and ``v.update`` (that pair).
    """

    def __init__(self, seed: Any = None):
        self.state_updates: list = []
        self.default_instance_seed = _seed_sequence(seed)
        self.gen_seedgen = np.random.default_rng(self.default_instance_seed)

    # --- states ------------------------------------------------------------------------------
    def _new_state(self) -> np.random.Generator:
        return np.random.default_rng(int(self.gen_seedgen.integers(2 ** 30)))

    def updates(self) -> list:
        """The (state, new state) pairs of every random variable made by this stream."""
        return list(self.state_updates)

    def seed(self, seed: Any = None) -> None:
        """Re-seed every state made so far (and the ones to come) from ``seed`` (default: the
        seed given at construction), in the order they were made."""
        if seed is None:
            seed = self.default_instance_seed
        self.gen_seedgen = np.random.default_rng(_seed_sequence(seed))
        for state, _ in self.state_updates:
            state.set_value(self._new_state(), borrow=True)

    def __getitem__(self, item: Variable) -> np.random.Generator:
        """The current state of the random variable ``item`` (not a copy)."""
        return self._state_of(item).get_value(borrow=True)

    def __setitem__(self, item: Variable, value: np.random.Generator) -> None:
        self._state_of(item).set_value(value, borrow=True)

    def _state_of(self, item: Variable) -> SharedVariable:
        rng = getattr(item, "rng", None)
        if rng is None or all(rng is not s for s, _ in self.state_updates):
            raise KeyError(f"{item} is not a random variable of this stream")
        return rng

    def _state_variable(self, name: str) -> SharedVariable:
        """A new shared variable holding a fresh state."""
        return SharedVariable(random_state_type, self._new_state(), name=name)

    def gen(self, op: Callable, *args: Any, **kwargs: Any) -> Variable:
        """``op(state, *args, **kwargs)`` (a function returning (new state, sample)) with a fresh
        shared state; the new state becomes the state's default update."""
        state = self._state_variable(f"random_state_{len(self.state_updates)}")
        new_state, out = op(state, *args, **kwargs)
        state.default_update = new_state
        out.rng = state
        out.update = (state, new_state)
        self.state_updates.append(out.update)
        return out

    # --- distributions (Theano's signatures) -------------------------------------------------
    def uniform(self, size: Any = None, low: Any = 0.0, high: Any = 1.0, ndim: int | None = None,
                dtype: Any = None) -> Variable:
        """Uniform samples in [low, high); differentiable with respect to low and high."""
        return self.gen(rf.uniform, size, low, high, ndim=ndim, dtype=dtype)

    def normal(self, size: Any = None, avg: Any = 0.0, std: Any = 1.0, ndim: int | None = None,
               dtype: Any = None) -> Variable:
        """Normal samples of mean avg and standard deviation std; differentiable in both."""
        return self.gen(rf.normal, size, avg, std, ndim=ndim, dtype=dtype)

    def binomial(self, size: Any = None, n: Any = 1, p: Any = 0.5, ndim: int | None = None,
                 dtype: Any = "int64", prob: Any = None) -> Variable:
        """Successes in n trials of probability p (p outside [0, 1] raises when run)."""
        return self.gen(rf.binomial, size, n, p, ndim=ndim, dtype=dtype, prob=prob)

    def poisson(self, size: Any = None, lam: Any = 1.0, ndim: int | None = None, dtype: Any = "int64") -> Variable:
        return self.gen(rf.poisson, size, lam, ndim=ndim, dtype=dtype)

    def random_integers(self, size: Any = None, low: Any = 0, high: Any = 1, ndim: int | None = None,
                        dtype: Any = "int64") -> Variable:
        """Integers uniform in [low, high], both included."""
        return self.gen(rf.random_integers, size, low, high, ndim=ndim, dtype=dtype)

    def choice(self, size: Any = None, a: Any = 2, replace: bool = True, p: Any = None, ndim: int | None = None,
               dtype: Any = None) -> Variable:
        """Samples of ``a`` (an int n: ``arange(n)``; a vector: its elements) with probabilities p."""
        return self.gen(rf.choice, size, a, replace, p, ndim=ndim, dtype=dtype)

    def permutation(self, size: Any = None, n: Any = 1, ndim: int | None = None, dtype: Any = "int64") -> Variable:
        """Permutations of ``arange(n)``: shape ``size + (n,)``."""
        return self.gen(rf.permutation, size, n, ndim=ndim, dtype=dtype)

    def multinomial(self, size: Any = None, n: Any = 1, pvals: Any = (0.5, 0.5), ndim: int | None = None,
                    dtype: Any = "int64") -> Variable:
        """Category counts of n draws from pvals: shape ``size + (len(pvals),)``."""
        return self.gen(rf.multinomial, size, n, pvals, ndim=ndim, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# MRG streams: counter-based (Philox) states, samples built from PhiloxDraw and graph ops
# ---------------------------------------------------------------------------------------------
def _philox(state: Variable, dist: str, dtype: str, size: Sequence) -> tuple:
    """(new state, standard draw in ``dtype``): a float32 draw cast for other narrow floats;
    the draw is a constant for the gradient."""
    kind = "float64" if dtype == "float64" else "float32"
    node = PhiloxDraw(dist, kind).make_node(state, *size)
    node.tag.trace = user_source_line()
    new_state, draw = node.outputs
    return new_state, disconnected_grad(draw if kind == dtype else A.cast(draw, dtype))


def _constant_int(n: Any, what: str) -> int:
    """A non-negative Python int from an int or a constant integer scalar; a symbolic n is
    not supported (as in Theano's MRG streams)."""
    if isinstance(n, Variable):
        if not isinstance(n, Constant):
            raise NotImplementedError(f"{what}: MRG_RandomStreams needs n to be a constant int, got the "
                                      f"symbolic {n}; use RandomStreams for a symbolic n")
        n = n.data
    if isinstance(n, (bool, np.bool_)) or np.ndim(n) != 0 or np.asarray(n).dtype.kind not in "iu":
        raise TypeError(f"{what}: n must be an int, got {n!r}")
    if int(n) < 0:
        raise ValueError(f"{what}: n must be >= 0, got {int(n)}")
    return int(n)


def _category(u: Variable, cdf: Variable) -> Variable:
    """The category index of each uniform ``u`` (shape ``lead``) under the cumulative
    probabilities ``cdf`` (shape ``lead + (k,)`` after broadcasting): the number of the first
    k - 1 cumulative sums that are <= u, so the last category takes any rounding shortfall."""
    return A.sum(A.ge(A.shape_padright(u), cdf[..., :-1]), axis=-1)


class MRG_RandomStreams(RandomStreams):
    """Theano's ``sandbox.rng_mrg.MRG_RandomStreams`` with a counter-based generator.

    Each random variable has a Philox4x32-10 state (a uint32 vector of 4 words: a key derived
    from the stream's seed and the variable's rank, and a call counter) in a shared variable;
    each call of a function draws with ``PhiloxDraw`` (ops/philox.py) and advances the counter.
    A sample is a pure function of (key, counter, element index), so the compiled C kernels
    give the same numbers as numpy whatever the thread count. The numbers differ from Theano's
    MRG31k3p. ``nstreams`` is accepted and ignored. Distributions are built from standard
    uniform / normal draws: location-scale (differentiable in low/high, avg/std), binomial
    ``u < p`` (summed over n draws for a constant n), multinomial and choice by inverting the
    cumulative probabilities, choice without replacement by exponential keys ``E / p``.
    """

    def __init__(self, seed: Any = 12345):
        super().__init__(seed)

    def _new_state(self) -> np.ndarray:
        return make_state([int(w) for w in self.gen_seedgen.integers(0, 2 ** 32, size=2, dtype=np.uint64)])

    def _state_variable(self, name: str) -> SharedVariable:
        return SharedVariable(philox_state_type, self._new_state(), name=name)

    def __setitem__(self, item: Variable, value: Any) -> None:
        self._state_of(item).set_value(check_state(value, "MRG_RandomStreams state"), borrow=True)

    def uniform(self, size: Any = None, low: Any = 0.0, high: Any = 1.0, ndim: int | None = None,
                dtype: Any = None, nstreams: Any = None, **kwargs: Any) -> Variable:
        """Uniform samples in [low, high); differentiable with respect to low and high."""
        def op(state: Variable) -> tuple:
            lo, hi = rf._real(low, "uniform: low"), rf._real(high, "uniform: high")
            dt = rf._float_dtype(dtype, [lo, hi], "uniform")
            shape = rf._size_for(size, ndim, [("low", lo), ("high", hi)], "uniform")
            new_state, u = _philox(state, "uniform", dt, shape)
            return new_state, rf._affine(u, lo, A.cast(hi, dt) - A.cast(lo, dt), shape, dt)
        return self.gen(op)

    def normal(self, size: Any = None, avg: Any = 0.0, std: Any = 1.0, ndim: int | None = None,
               dtype: Any = None, nstreams: Any = None, truncate: bool = False, **kwargs: Any) -> Variable:
        """Normal samples ``avg + std * z``; ``truncate=True`` keeps |z| <= 2 (see ops/philox.py)."""
        def op(state: Variable) -> tuple:
            mu, sd = rf._real(avg, "normal: avg"), rf._real(std, "normal: std")
            dt = rf._float_dtype(dtype, [mu, sd], "normal")
            shape = rf._size_for(size, ndim, [("avg", mu), ("std", sd)], "normal")
            new_state, z = _philox(state, "truncated_normal" if truncate else "normal", dt, shape)
            return new_state, rf._affine(z, mu, sd, shape, dt)
        return self.gen(op)

    def binomial(self, size: Any = None, n: Any = 1, p: Any = 0.5, ndim: int | None = None,
                 dtype: Any = "int64", nstreams: Any = None, prob: Any = None, **kwargs: Any) -> Variable:
        """Successes in n trials of probability p: ``u < p`` for each of n uniform draws,
        summed (n must be a constant int). With n=1 and a float dtype: a dropout mask."""
        trials = _constant_int(n, "binomial")

        def op(state: Variable) -> tuple:
            pr = CheckProbabilities("binomial: p")(rf._real(p if prob is None else prob, "binomial: p"))
            out_dtype = rf._dtype_name(dtype, "binomial")
            shape = rf._size_for(size, ndim, [("p", pr)], "binomial")
            udtype = rf._float_dtype(None, [pr], "binomial")
            lead = [] if trials == 1 else [A.constant(trials, dtype="int64")]
            new_state, u = _philox(state, "uniform", udtype, lead + list(shape))
            hits = A.lt(u, A.cast(pr, udtype))
            out = A.cast(hits if trials == 1 else A.sum(hits, axis=0), out_dtype)
            return new_state, A.specify_shape(out, shape) if pr.ndim else out
        return self.gen(op)

    def multinomial(self, size: Any = None, n: Any = 1, pvals: Any = None, ndim: int | None = None,
                    dtype: Any = "int64", nstreams: Any = None, **kwargs: Any) -> Variable:
        """Counts of n draws (a constant int) per row of ``pvals`` (the last axis holds one
        distribution); the result has pvals' shape. As in Theano, size and ndim must be left out."""
        if pvals is None:
            raise TypeError("multinomial: you have to specify pvals")
        if size is not None or ndim is not None:
            raise ValueError("multinomial: MRG_RandomStreams.multinomial takes its shape from pvals; leave "
                             f"size and ndim out (got size={size!r}, ndim={ndim!r})")
        trials = _constant_int(n, "multinomial")

        def op(state: Variable) -> tuple:
            pv = rf._real(pvals, "multinomial: pvals")
            if pv.ndim < 1:
                raise ValueError(f"multinomial: pvals must have at least one dimension, got {pv}")
            pv = CheckProbabilities("multinomial: pvals", sum_to_one=True)(pv)
            out_dtype = rf._dtype_name(dtype, "multinomial")
            lead = [shape_i(pv, i) for i in range(pv.ndim - 1)]
            new_state, u = _philox(state, "uniform", "float64", [A.constant(trials, dtype="int64")] + lead)
            cat = _category(u, A.cumsum(A.cast(pv, "float64"), axis=-1))       # (n,) + lead
            k = shape_i(pv, pv.ndim - 1)
            onehot = A.eq(A.shape_padright(cat), A.arange(k, dtype="int64"))   # (n,) + lead + (k,)
            return new_state, A.cast(A.sum(onehot, axis=0), out_dtype)
        return self.gen(op)

    def choice(self, size: Any = 1, a: Any = None, replace: bool = True, p: Any = None, ndim: int | None = None,
               dtype: Any = "int64", nstreams: Any = None, **kwargs: Any) -> Variable:
        """``size`` category indices per row of the probability matrix ``p``: shape
        ``(p.shape[0], size)``. As in Theano, ``a`` must be None; unlike Theano 1.0, sampling
        with replacement is supported too. Without replacement: the ``size`` smallest keys
        ``E / p`` (E exponential; zero probabilities get +inf) of each row."""
        if a is not None:
            raise TypeError("choice: a has to be None in MRG_RandomStreams.choice; the sampled values are "
                            "between 0 and p.shape[1] - 1")
        if p is None:
            raise TypeError("choice: p has to be specified in MRG_RandomStreams.choice")
        if ndim is not None:
            raise ValueError(f"choice: ndim is not used by MRG_RandomStreams.choice, got ndim={ndim!r}")

        def op(state: Variable) -> tuple:
            pm = rf._real(p, "choice: p")
            if pm.ndim != 2:
                raise ValueError(f"choice: p must be a matrix (one distribution per row), got {pm} with "
                                 f"{pm.ndim} dimension(s)")
            draws = as_int_scalar(size, "choice: size")
            out_dtype = rf._dtype_name(dtype, "choice")
            pm = A.cast(CheckProbabilities("choice: p", sum_to_one=True)(pm), "float64")
            rows, k = shape_i(pm, 0), shape_i(pm, 1)
            if replace:
                new_state, u = _philox(state, "uniform", "float64", [rows, draws])
                cdf = A.shape_padaxis(A.cumsum(pm, axis=1), 1)                  # (rows, 1, k)
                return new_state, A.cast(_category(u, cdf), out_dtype)
            new_state, u = _philox(state, "uniform", "float64", [rows, k])
            keys = A.switch(A.gt(pm, 0), -A.log1p(-u) / A.maximum(pm, 1e-300), np.inf)
            picked = A.argsort(keys, axis=1, kind="stable")[:, :draws]
            # a row has only k categories: asking for more fails when run (shape check)
            return new_state, A.cast(A.specify_shape(picked, [rows, draws]), out_dtype)
        return self.gen(op)

    def multinomial_wo_replacement(self, size: Any = 1, a: Any = None, p: Any = None, ndim: int | None = None,
                                   dtype: Any = "int64", nstreams: Any = None, **kwargs: Any) -> Variable:
        """Theano's old name of ``choice(replace=False)``."""
        return self.choice(size, a, False, p, ndim, dtype)

    def _not_mrg(self, name: str) -> None:
        raise NotImplementedError(f"{name}: MRG_RandomStreams has no {name} (neither had Theano's); use "
                                  f"RandomStreams")

    def poisson(self, *args: Any, **kwargs: Any) -> Variable:
        self._not_mrg("poisson")

    def random_integers(self, *args: Any, **kwargs: Any) -> Variable:
        self._not_mrg("random_integers")

    def permutation(self, *args: Any, **kwargs: Any) -> Variable:
        self._not_mrg("permutation")


__all__: Sequence[str] = ["RandomStreams", "MRG_RandomStreams"]
