"""Theano's ``raw_random`` functions: each takes a random state variable and returns
``(new_state, sample)``. ``RandomStreams`` (compile/) calls them with the state held in a
shared variable and makes the new state that variable's default update.

``size`` is None (the parameters' broadcast shape), an int, a tuple of ints and int scalars,
or an int vector such as ``x.shape``; ``ndim`` checks it (or gives the length of a vector of
unknown length). Errors that can be found while building name the argument; parameter values
(probabilities outside [0, 1], ...) are checked when the function runs.
"""
from __future__ import annotations

import functools
from typing import Any, Sequence

import numpy as np

from ..config import config
from ..graph.basic import Constant, Variable, user_source_line
from ..graph.type import FLOAT_DTYPES, INT_DTYPES, upcast
from .basic import as_tensor_variable, constant
from .elemwise import cast
from .misc import disconnected_grad
from .random import RandomStateType, RandomVariable
from .shape import as_int_scalar, shape_i, specify_shape


# ---------------------------------------------------------------------------------------------
# size and parameter handling
# ---------------------------------------------------------------------------------------------
def normalize_size(size: Any, ndim: int | None, what: str) -> list | None:
    """``size`` as a list of int64 scalar variables; None stays None. ``ndim``, when given,
    must match the number of entries (it gives the length of a vector of unknown length)."""
    if size is None:
        return None
    if isinstance(size, Variable):
        if isinstance(size, Constant):
            return normalize_size(np.asarray(size.data).tolist(), ndim, what)
        if size.ndim == 0:
            entries = [size]
        elif size.ndim == 1:
            n = size.type.shape[0]
            if n is None and ndim is None:
                raise ValueError(f"{what}: size {size} is a vector of unknown length; pass ndim")
            from .subtensor import getitem
            entries = [getitem(size, i) for i in range(n if n is not None else ndim)]
        else:
            raise TypeError(f"{what}: size must be a tuple or an int vector, got {size} ({size.type})")
    elif isinstance(size, (int, np.integer)) and not isinstance(size, (bool, np.bool_)):
        entries = [size]
    elif isinstance(size, (tuple, list, np.ndarray)):
        entries = list(size)
    else:
        raise TypeError(f"{what}: size must be None, an int, a tuple or an int vector, got {size!r}")
    out = [as_int_scalar(e, f"{what}: size[{i}]") for i, e in enumerate(entries)]
    for i, e in enumerate(out):
        if isinstance(e, Constant) and int(e.data) < 0:
            raise ValueError(f"{what}: size[{i}] must be >= 0, got {int(e.data)} (size={size!r})")
    if ndim is not None and ndim != len(out):
        raise ValueError(f"{what}: ndim={ndim} disagrees with size {size!r} of {len(out)} entries")
    return out


def broadcast_shape(params: Sequence[Variable], core_ndims: Sequence[int] | None = None) -> list:
    """The shape the parameters broadcast to, as int64 scalars (Theano's size=None).
    ``core_ndims[i]``: trailing axes of parameter i that are not broadcast (a multinomial's
    categories)."""
    core_ndims = core_ndims or [0] * len(params)
    lead = [p.ndim - c for p, c in zip(params, core_ndims)]
    ndim = max(lead, default=0)
    out = []
    for axis in range(ndim):
        entries, known = [], None
        for p, nd in zip(params, lead):
            j = axis - (ndim - nd)
            if j < 0 or p.type.shape[j] == 1:
                continue
            known = p.type.shape[j] if p.type.shape[j] is not None else known
            entries.append(shape_i(p, j))
        if known is not None:
            out.append(constant(known, dtype="int64"))
        elif not entries:
            out.append(constant(1, dtype="int64"))
        else:
            from .api import maximum
            out.append(functools.reduce(maximum, entries))
    return out


def _size_for(size: Any, ndim: int | None, params: Sequence[tuple], what: str,
              core_ndims: Sequence[int] | None = None) -> list:
    """The explicit size, or the parameters' broadcast shape. ``params`` are (name, variable)
    pairs; none may have more (non-core) dimensions than an explicit size (numpy's rule)."""
    core_ndims = core_ndims or [0] * len(params)
    entries = normalize_size(size, ndim, what)
    if entries is None:
        entries = broadcast_shape([p for _, p in params], core_ndims)
        if ndim is not None and ndim != len(entries):
            raise ValueError(f"{what}: ndim={ndim} but the parameters broadcast to {len(entries)} dimension(s); "
                             f"give size")
        return entries
    for (name, p), core in zip(params, core_ndims):
        if p.ndim - core > len(entries):
            raise ValueError(f"{what}: {name} has {p.ndim} dimension(s) ({p.type}), more than the "
                             f"{len(entries) + core} that size {size!r} allows")
    return entries


def _dtype_name(dtype: Any, what: str) -> str:
    if dtype == "floatX":
        return config.floatX
    try:
        return str(np.dtype(dtype))
    except TypeError:
        raise TypeError(f"{what}: dtype must be a numpy dtype name, got {dtype!r}") from None


def _float_dtype(dtype: Any, params: Sequence[Variable], what: str) -> str:
    """``dtype`` (default: floatX upcast with the parameters' float dtypes), a float dtype."""
    if dtype is None:
        dtype = upcast(config.floatX, *[p.dtype for p in params if p.dtype in FLOAT_DTYPES])
    dtype = _dtype_name(dtype, what)
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"{what}: dtype must be a float dtype, got {dtype}")
    return dtype


def _real(v: Any, what: str) -> Variable:
    v = as_tensor_variable(v)
    if v.dtype[0] not in "fiub":
        raise TypeError(f"{what} must be a real tensor, got {v} of type {v.type}")
    return v


def _integer(v: Any, what: str) -> Variable:
    v = as_tensor_variable(v)
    if v.dtype not in INT_DTYPES and v.dtype != "bool":
        raise TypeError(f"{what} must be an integer tensor, got {v} of type {v.type}")
    return cast(v, "int64")


def _check_state(rng: Any, what: str) -> None:
    if not isinstance(rng, Variable) or not isinstance(rng.type, RandomStateType):
        raise TypeError(f"{what}: random_state must be a random state variable, got {rng!r}")


def _draw(dist: str, dtype: str, rng: Variable, params: list, size: list, replace: bool = True) -> tuple:
    """(new state, sample); the sample is a constant for the gradient (Theano's rule for raw
    random draws: no gradient flows into a distribution's parameters through a draw)."""
    node = RandomVariable(dist, dtype, replace).make_node(rng, *params, *size)
    node.tag.trace = user_source_line()
    new_rng, sample = node.outputs
    return new_rng, disconnected_grad(sample)


def _affine(base: Variable, shift: Variable, scale: Variable, size: list, dtype: str) -> Variable:
    """``shift + scale * base`` in ``dtype``, asserted to have the sample's shape when the
    parameters are arrays (they must broadcast to ``size``, not beyond it)."""
    out = cast(shift, dtype) + cast(scale, dtype) * base
    if shift.ndim or scale.ndim:
        out = specify_shape(out, size)
    return out


# ---------------------------------------------------------------------------------------------
# distributions
# ---------------------------------------------------------------------------------------------
def uniform(random_state: Variable, size: Any = None, low: Any = 0.0, high: Any = 1.0, ndim: int | None = None,
            dtype: Any = None) -> tuple:
    """Uniform samples in [low, high): ``low + (high - low) * u`` with u uniform in [0, 1),
    differentiable with respect to low and high."""
    _check_state(random_state, "uniform")
    low, high = _real(low, "uniform: low"), _real(high, "uniform: high")
    dtype = _float_dtype(dtype, [low, high], "uniform")
    shape = _size_for(size, ndim, [("low", low), ("high", high)], "uniform")
    new_rng, u = _draw("uniform01", dtype, random_state, [], shape)
    return new_rng, _affine(u, low, cast(high, dtype) - cast(low, dtype), shape, dtype)


def normal(random_state: Variable, size: Any = None, avg: Any = 0.0, std: Any = 1.0, ndim: int | None = None,
           dtype: Any = None, truncate: bool = False) -> tuple:
    """Normal samples ``avg + std * z`` with z standard normal, differentiable with respect to
    avg and std. ``truncate``: z beyond 2 standard deviations is drawn again (MRG's option)."""
    _check_state(random_state, "normal")
    avg, std = _real(avg, "normal: avg"), _real(std, "normal: std")
    dtype = _float_dtype(dtype, [avg, std], "normal")
    shape = _size_for(size, ndim, [("avg", avg), ("std", std)], "normal")
    dist = "truncated_normal" if truncate else "standard_normal"
    new_rng, z = _draw(dist, dtype, random_state, [], shape)
    return new_rng, _affine(z, avg, std, shape, dtype)


def binomial(random_state: Variable, size: Any = None, n: Any = 1, p: Any = 0.5, ndim: int | None = None,
             dtype: Any = "int64", prob: Any = None) -> tuple:
    """Numbers of successes in ``n`` trials of probability ``p`` (``prob`` is Theano's old
    name of p). With n=1 and dtype floatX this is a dropout mask."""
    _check_state(random_state, "binomial")
    if prob is not None:
        p = prob
    n, p = _integer(n, "binomial: n"), _real(p, "binomial: p")
    shape = _size_for(size, ndim, [("n", n), ("p", p)], "binomial")
    return _draw("binomial", _dtype_name(dtype, "binomial"), random_state, [n, p], shape)


def poisson(random_state: Variable, size: Any = None, lam: Any = 1.0, ndim: int | None = None,
            dtype: Any = "int64") -> tuple:
    """Poisson samples of rate ``lam``."""
    _check_state(random_state, "poisson")
    lam = _real(lam, "poisson: lam")
    shape = _size_for(size, ndim, [("lam", lam)], "poisson")
    return _draw("poisson", _dtype_name(dtype, "poisson"), random_state, [lam], shape)


def random_integers(random_state: Variable, size: Any = None, low: Any = 0, high: Any = 1,
                    ndim: int | None = None, dtype: Any = "int64") -> tuple:
    """Integers uniform in [low, high], both ends included (Theano's semantics)."""
    _check_state(random_state, "random_integers")
    low, high = _integer(low, "random_integers: low"), _integer(high, "random_integers: high")
    shape = _size_for(size, ndim, [("low", low), ("high", high)], "random_integers")
    return _draw("integers", _dtype_name(dtype, "random_integers"), random_state, [low, high], shape)


def choice(random_state: Variable, size: Any = None, a: Any = 2, replace: bool = True, p: Any = None,
           ndim: int | None = None, dtype: Any = None) -> tuple:
    """Samples from ``a`` (an int n means ``arange(n)``, a vector its elements), with
    probabilities ``p`` (a vector; None: uniform), with or without replacement. size=None
    gives one scalar sample. dtype: int64 for an int ``a``, else a's dtype."""
    _check_state(random_state, "choice")
    a = as_tensor_variable(a)
    if a.ndim > 1:
        raise ValueError(f"choice: a must be an int or a vector, got {a} with {a.ndim} dimensions")
    if a.ndim == 0:
        a = _integer(a, "choice: a")
    if dtype is None:
        dtype = "int64" if a.ndim == 0 else a.dtype
    params = [a]
    if p is not None:
        p = _real(p, "choice: p")
        if p.ndim != 1:
            raise ValueError(f"choice: p must be a vector, got {p} with {p.ndim} dimension(s)")
        params.append(p)
    shape = normalize_size(size, ndim, "choice") or []
    return _draw("choice_p" if p is not None else "choice", _dtype_name(dtype, "choice"), random_state,
                 params, shape, replace=replace)


def permutation(random_state: Variable, size: Any = None, n: Any = 1, ndim: int | None = None,
                dtype: Any = "int64") -> tuple:
    """Permutations of ``arange(n)``, one per entry of ``size``: shape ``size + (n,)``."""
    _check_state(random_state, "permutation")
    n = _integer(n, "permutation: n")
    if n.ndim != 0:
        raise ValueError(f"permutation: n must be a scalar, got {n} with {n.ndim} dimension(s)")
    shape = normalize_size(size, ndim, "permutation") or []
    return _draw("permutation", _dtype_name(dtype, "permutation"), random_state, [n], shape)


def multinomial(random_state: Variable, size: Any = None, n: Any = 1, pvals: Any = (0.5, 0.5),
                ndim: int | None = None, dtype: Any = "int64") -> tuple:
    """Counts of ``n`` draws over the categories of ``pvals`` (its last axis): shape
    ``size + (k,)``, where size=None means the broadcast of n and pvals' leading axes."""
    _check_state(random_state, "multinomial")
    n, pvals = _integer(n, "multinomial: n"), _real(pvals, "multinomial: pvals")
    if pvals.ndim < 1:
        raise ValueError(f"multinomial: pvals must have at least one dimension, got {pvals}")
    shape = _size_for(size, ndim, [("n", n), ("pvals", pvals)], "multinomial", core_ndims=[0, 1])
    return _draw("multinomial", _dtype_name(dtype, "multinomial"), random_state, [n, pvals], shape)


def choice_rows(random_state: Variable, p: Any, k: Any, replace: bool = False, dtype: Any = "int64") -> tuple:
    """``k`` category indices per row of the probability matrix ``p`` (MRG's choice): shape
    ``(p.shape[0], k)``."""
    _check_state(random_state, "choice")
    p = _real(p, "choice: p")
    if p.ndim != 2:
        raise ValueError(f"choice: p must be a matrix (one distribution per row), got {p} with {p.ndim} "
                         f"dimension(s)")
    shape = [shape_i(p, 0), as_int_scalar(k, "choice: size")]
    return _draw("choice_rows", _dtype_name(dtype, "choice"), random_state, [p], shape, replace=replace)
