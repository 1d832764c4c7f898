"""The C backend's bottom layer: compile C source with gcc, cache it on disk, load it with cffi.

A code generator calls :func:`build` with C source (placed after :data:`PRELUDE`) and a
cffi ``cdef`` of the functions to call, and gets a :class:`CModule` whose ``lib`` holds
them. Without a working compiler :func:`build` raises :class:`CompilerUnavailable` (after
one :class:`CompilerUnavailableWarning`); callers then run the numpy reference instead.
:func:`available` asks the same question without raising.
"""
from __future__ import annotations

from .build import CModule, build, clear_loaded, ensure_built, load
from .cache import CompileDirWarning
from .prelude import DEFAULT_OMP_THRESHOLD, PRELUDE
from .toolchain import (CompileError, CompilerUnavailable, CompilerUnavailableWarning,
                        compiler_version, get_toolchain)


def available() -> bool:
    """Whether C modules can be compiled here (warns once per process if not).

    Runs the compiler once per process (``-v``); :func:`build` alone avoids that on a
    warm cache hit.
    """
    tc = get_toolchain()
    if tc is None:
        return False
    try:
        compiler_version(tc)
    except CompilerUnavailable:
        return False
    return True


__all__ = [
    "CModule", "build", "ensure_built", "load", "clear_loaded", "available", "PRELUDE",
    "DEFAULT_OMP_THRESHOLD", "CompileError", "CompilerUnavailable",
    "CompilerUnavailableWarning", "CompileDirWarning",
]
