"""Compilation modes: which rewrites run and which backend executes.

FAST_COMPILE: no rewrites, numpy reference backend. FAST_RUN: rewrites and the compiled
backend (the numpy reference until the C backend is available). DebugMode: reference
execution with per-node contract checks.
"""
from __future__ import annotations

from typing import Any

from ..config import config

LINKERS = ("py", "c", "debug")
# Theano's linker names; every compiled one maps to the compiled backend.
LINKER_ALIASES = {"c|py": "c", "vm": "c", "cvm": "c", "c|py_nogc": "c", "vm_nogc": "c", "cvm_nogc": "c",
                  "c&py": "debug"}
OPTIMIZERS = (None, "fast_run", "fast_compile", "merge", "fast_run_stable", "stabilize", "default")


class Mode:
    """A (linker, optimizer) pair; ``excluding``/``including`` return new modes naming rewrites."""

    def __init__(self, linker: str | None = "c", optimizer: str | None = "fast_run", excluded: tuple = (),
                 included: tuple = (), name: str | None = None):
        linker = "c" if linker is None else LINKER_ALIASES.get(linker, linker)
        if linker not in LINKERS:
            raise ValueError(f"Mode: linker must be one of {LINKERS + tuple(LINKER_ALIASES)}, got {linker!r}")
        optimizer = None if optimizer in (None, "None") else optimizer
        if optimizer == "default":
            optimizer = "fast_run"
        if optimizer is not None and (not isinstance(optimizer, str) or optimizer not in OPTIMIZERS):
            raise ValueError(f"Mode: optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
        self.linker = linker
        self.optimizer = optimizer
        self.excluded = tuple(excluded)
        self.included = tuple(included)
        self.name = name

    def excluding(self, *names: str) -> "Mode":
        return Mode(self.linker, self.optimizer, self.excluded + names, self.included, None)

    def including(self, *names: str) -> "Mode":
        return Mode(self.linker, self.optimizer, self.excluded, self.included + names, None)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Mode) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple:
        return (self.linker, self.optimizer, self.excluded, self.included)

    def __repr__(self) -> str:
        return self.name or f"Mode(linker={self.linker!r}, optimizer={self.optimizer!r})"


PREDEFINED = {
    "FAST_RUN": Mode("c", "fast_run", name="FAST_RUN"),
    "FAST_COMPILE": Mode("py", "fast_compile", name="FAST_COMPILE"),
    "DebugMode": Mode("debug", "fast_run", name="DebugMode"),
}
PREDEFINED["DEBUG_MODE"] = PREDEFINED["DebugMode"]
PREDEFINED["Mode"] = PREDEFINED["FAST_RUN"]  # Theano's name for "the default linker and optimizer"


def get_mode(mode: Any) -> Mode:
    """A Mode from None (config.mode), a name or a Mode."""
    if mode is None:
        mode = config.mode
    if isinstance(mode, Mode):
        return mode
    if isinstance(mode, str):
        try:
            return PREDEFINED[mode]
        except KeyError:
            raise ValueError(f"unknown mode {mode!r}; expected one of {sorted(PREDEFINED)} or a Mode") from None
    raise TypeError(f"mode must be None, a mode name or a Mode, got {type(mode).__name__}")
