"""Random streams: factories of random variables whose states live in shared variables.

``RandomStreams(seed)`` is Theano's ``shared_randomstreams.RandomStreams``: every random
variable it makes gets its own state (a ``numpy.random.Generator`` seeded from the stream's
seed) in a shared variable whose ``default_update`` is the advanced state, so each call of a
compiled function that uses the variable draws new numbers. ``seed(n)`` puts every state
back to what ``RandomStreams(n)`` would have given it. ``MRG_RandomStreams(seed=12345)`` is
the same machinery with the signatures of Theano's ``sandbox.rng_mrg``.

This lives in compile/ (not ops/) because it owns shared variables; the sampling ops it
builds graphs with are in ops/random.py.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..graph.basic import Variable
from ..ops import random_functions as rf
from ..ops.random import random_state_type
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

    def gen(self, op: Callable, *args: Any, **kwargs: Any) -> Variable:
        """``op(state, *args, **kwargs)`` (a function returning (new state, sample)) with a fresh
        shared state; the new state becomes the state's default update."""
        state = SharedVariable(random_state_type, self._new_state(), name=f"random_state_{len(self.state_updates)}")
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


class MRG_RandomStreams(RandomStreams):
    """Theano's ``sandbox.rng_mrg.MRG_RandomStreams``: the same streams (numpy generators, not
    the MRG31k3p algorithm, so the numbers differ from Theano's), with MRG's signatures.
    ``nstreams`` is accepted and ignored."""

    def __init__(self, seed: Any = 12345):
        super().__init__(seed)

    def uniform(self, size: Any = None, low: Any = 0.0, high: Any = 1.0, ndim: int | None = None,
                dtype: Any = None, nstreams: Any = None, **kwargs: Any) -> Variable:
        return super().uniform(size, low, high, ndim=ndim, dtype=dtype)

    def normal(self, size: Any = None, avg: Any = 0.0, std: Any = 1.0, ndim: int | None = None,
               dtype: Any = None, nstreams: Any = None, truncate: bool = False, **kwargs: Any) -> Variable:
        """Normal samples; ``truncate=True`` redraws values beyond 2 standard deviations."""
        return self.gen(rf.normal, size, avg, std, ndim=ndim, dtype=dtype, truncate=truncate)

    def binomial(self, size: Any = None, n: Any = 1, p: Any = 0.5, ndim: int | None = None,
                 dtype: Any = "int64", nstreams: Any = None, **kwargs: Any) -> Variable:
        return super().binomial(size, n, p, ndim=ndim, dtype=dtype)

    def multinomial(self, size: Any = None, n: Any = 1, pvals: Any = None, ndim: int | None = None,
                    dtype: Any = "int64", nstreams: Any = None, **kwargs: Any) -> Variable:
        """Counts of n draws per row of the matrix ``pvals`` (one distribution per row); the
        result has pvals' shape. As in Theano, size and ndim must be left out."""
        if pvals is None:
            raise TypeError("multinomial: you have to specify pvals")
        if size is not None or ndim is not None:
            raise ValueError("multinomial: MRG_RandomStreams.multinomial takes its shape from pvals; leave "
                             f"size and ndim out (got size={size!r}, ndim={ndim!r})")
        return self.gen(rf.multinomial, None, n, pvals, dtype=dtype)

    def choice(self, size: Any = 1, a: Any = None, replace: bool = True, p: Any = None, ndim: int | None = None,
               dtype: Any = "int64", nstreams: Any = None, **kwargs: Any) -> Variable:
        """``size`` category indices per row of the probability matrix ``p``: shape
        ``(p.shape[0], size)``. As in Theano, ``a`` must be None; unlike Theano 1.0, sampling
        with replacement is supported too."""
        if a is not None:
            raise TypeError("choice: a has to be None in MRG_RandomStreams.choice; the sampled values are "
                            "between 0 and p.shape[1] - 1")
        if p is None:
            raise TypeError("choice: p has to be specified in MRG_RandomStreams.choice")
        if ndim is not None:
            raise ValueError(f"choice: ndim is not used by MRG_RandomStreams.choice, got ndim={ndim!r}")
        return self.gen(rf.choice_rows, p, size, replace=replace, dtype=dtype)

    def multinomial_wo_replacement(self, size: Any = 1, a: Any = None, p: Any = None, ndim: int | None = None,
                                   dtype: Any = "int64", nstreams: Any = None, **kwargs: Any) -> Variable:
        """Theano's old name of ``choice(replace=False)``."""
        return self.choice(size, a, False, p, ndim, dtype)


__all__: Sequence[str] = ["RandomStreams", "MRG_RandomStreams"]
