"""The rewrite phases, in the order they run, listed explicitly (nothing registers itself).

canonicalize -> stabilize -> specialize -> fuse. ``optimize(fgraph, excluded)`` runs them;
any phase, pass or rule can be excluded by name (``Mode.excluding('log1p')``)."""
from __future__ import annotations

from typing import Iterable

from ..config import config
from ..graph.fg import FunctionGraph
from .blas import BLAS_SPECIALIZE
from .canonicalize import CANONICALIZE, merge_pass
from .engine import GraphPass, Phase, Pipeline, RewriteLog
from .fuse import FUSE
from .stabilize import SPECIALIZE, STABILIZE
from .nnet_rules import NNET_STABILIZE
from .indexing_rules import INDEXING_SPECIALIZE
from .scan_rules import SCAN_CANONICALIZE

STABILIZE = STABILIZE + NNET_STABILIZE   # softmax family: logsoftmax, crossentropy, logsumexp
CANONICALIZE = CANONICALIZE + SCAN_CANONICALIZE   # scan: drop unused outputs, hoist invariants

FAST_RUN = Pipeline([
    Phase("canonicalize", CANONICALIZE),
    Phase("stabilize", STABILIZE),
    Phase("specialize", SPECIALIZE + BLAS_SPECIALIZE + INDEXING_SPECIALIZE),
    Phase("canonicalize_again", CANONICALIZE),
    Phase("fuse", FUSE),
])

STABILIZE_ONLY = Pipeline([
    Phase("canonicalize", CANONICALIZE),
    Phase("stabilize", STABILIZE),
])

MERGE_ONLY = Pipeline([Phase("merge_only", [GraphPass("merge", merge_pass)])])

# the optimizer names a Mode accepts ("default" is fast_run)
PIPELINES = {"fast_run": FAST_RUN, "fast_run_stable": FAST_RUN, "default": FAST_RUN,
             "stabilize": STABILIZE_ONLY, "merge": MERGE_ONLY}


# Theano's names for the same rewrites (``mode.excluding('fusion')``), and Theano tags for
# stages this library does not have as separate rewrites, accepted so such code still runs.
ALIASES = {"fusion": ("fuse",), "elemwise_fusion": ("fuse",), "local_elemwise_fusion": ("fuse_elemwise",),
           "local_log1p": ("log1p",), "local_expm1": ("expm1",), "local_pow_specialize": ("pow_specialize",),
           "local_neg_neg": ("double_negation",), "local_dimshuffle_lift": ("lift_dimshuffle",),
           "MergeOptimizer": ("merge",), "constant_folding": ("constant_folding",),
           "local_logsoftmax": ("logsoftmax",), "local_logsoftmax_grad": ("softmax_grad_closed_form",),
           "crossentropy_to_crossentropy_with_softmax": ("crossentropy_softmax",),
           "inplace": (), "gpu": (), "gpuarray": (), "cxx_only": ()}


def resolve_names(names: Iterable[str]) -> set:
    """The rewrite names meant by ``names`` (Theano's aliases replaced by ours)."""
    out: set = set()
    for n in names:
        out.update(ALIASES.get(n, (n,)))
    return out


def config_excluded() -> tuple:
    """The rule names the ``optimizer_excluding`` flag lists (colon-separated)."""
    return tuple(n.strip() for n in str(config.optimizer_excluding or "").split(":") if n.strip())


def known_names() -> list:
    """Every phase, pass and rule name of every pipeline, once each."""
    out: dict = {}
    for p in PIPELINES.values():
        out.update((n, None) for n in p.names())
    return list(out)


def optimize(fgraph: FunctionGraph, optimizer: str | None = "fast_run",
             excluded: Iterable[str] = ()) -> RewriteLog:
    """Rewrite ``fgraph`` in place with the named pipeline; returns what was done.

    ``excluded`` (and the names in the ``optimizer_excluding`` flag) are phases, passes or
    rules to skip; an unknown name raises ValueError listing the known ones."""
    if optimizer is None or optimizer == "fast_compile":
        return RewriteLog()
    try:
        pipeline = PIPELINES[optimizer]
    except KeyError:
        raise ValueError(f"unknown optimizer {optimizer!r}; expected one of {sorted(PIPELINES)}, "
                         f"'fast_compile' or None") from None
    if isinstance(excluded, str):
        excluded = (excluded,)
    excluded = resolve_names(excluded) | resolve_names(config_excluded())
    known = known_names()
    unknown = excluded - set(known)
    if unknown:
        raise ValueError(f"cannot exclude unknown rewrite(s) {sorted(unknown)}; known: {', '.join(known)} "
                         f"(and Theano's names {', '.join(ALIASES)})")
    own = set(pipeline.names())
    return pipeline.run(fgraph, [n for n in excluded if n in own])
