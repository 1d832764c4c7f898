"""The dispatch extension: build, cache and load it; make an elementwise node's C caller.

The extension (source in :mod:`.dispatch_source`) is a small CPython module compiled on
first use against this interpreter's ``Python.h`` and numpy's headers. It lives in the same
disk cache as the kernels (content-addressed, verified, published atomically, private
directory); its key covers the source, the flags, the compiler (its identity, as for
kernels), the CPU, and the Python and numpy versions, since the module depends on their ABIs.

Everything here is optional: without the headers, when the compiler rejects the source or the
module does not import, :func:`extension` returns None (logged at debug level) and the
elementwise thunks keep their generated Python fast path.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import logging
import os
import subprocess
import sys
import sysconfig
import threading
from types import ModuleType
from typing import Callable, Optional, Sequence

import numpy as np

from ...config import config
from . import cache, toolchain
from .dispatch_source import MAX_OPERANDS, MODULE_NAME, SOURCE

_log = logging.getLogger(__name__)

#: Calls of at least this many elements release the GIL while the kernel runs.
NOGIL_MIN_ELEMENTS = 8192

_MODULES: dict[str, Optional[ModuleType]] = {}   # by configured compiledir: the module, or None
_BUILDING: dict[str, threading.Thread] = {}      # background builds in flight, by compiledir
_LOCK = threading.Lock()          # guards the two tables
_SETTLE_LOCK = threading.Lock()   # one build or load at a time


def _include_dirs() -> Optional[list[str]]:
    """Python's and numpy's header directories, or None when either header is missing."""
    py_inc = sysconfig.get_paths().get("include") or ""
    np_inc = np.get_include()
    if not os.path.isfile(os.path.join(py_inc, "Python.h")):
        return None
    if not os.path.isfile(os.path.join(np_inc, "numpy", "arrayobject.h")):
        return None
    return [py_inc, np_inc]


def _versions() -> str:
    """What besides the source, flags and toolchain decides whether the module fits: the
    interpreter's ABI and numpy's C API."""
    from ... import __version__
    return " ".join(["symtensor", __version__, "python", sys.version, sys.implementation.cache_tag,
                     str(sysconfig.get_config_var("EXT_SUFFIX")), "numpy", np.__version__, "dispatch"])


def module_key(tc: toolchain.Toolchain, flags: Sequence[str]) -> str:
    """The cache key of the extension for toolchain ``tc`` and compiler ``flags``."""
    return cache.compute_key(SOURCE, flags, tc.key_parts(), _versions())


def extension(wait: bool = True) -> Optional[ModuleType]:
    """The loaded extension for the configured compile directory, or None when it cannot be
    had (no headers, no compiler, a build or import failure: logged at debug level).
    Decided once per process and directory.

    ``wait=False`` (what compiling a function uses) never waits for gcc: a cached extension is
    loaded at once, a missing one is built by a background thread and None is returned until
    it is ready, so a first compile in an empty cache does not pay for it (functions compiled
    meanwhile keep the Python fast path)."""
    configured = config.compiledir
    if configured in _MODULES:
        return _MODULES[configured]
    if not wait:
        with _LOCK:
            if configured in _BUILDING or configured in _MODULES:
                return _MODULES.get(configured)
            if not _cached(configured):
                _BUILDING[configured] = thread = threading.Thread(
                    target=_settle, args=(configured,), name="symtensor-dispatch-build", daemon=True)
                thread.start()
                return None
    _settle(configured)
    return _MODULES[configured]


def _cached(configured: str) -> bool:
    """Whether an intact entry of the extension is in the cache (False on any doubt)."""
    try:
        target = _target(configured)
        return target is not None and cache.verify_entry(target[3], target[2]) is not None
    except Exception:
        return False


def _settle(configured: str) -> None:
    """Build (if needed) and load the extension for ``configured``, once."""
    with _SETTLE_LOCK:
        if configured in _MODULES:
            return
        try:
            module = _build_and_load(configured)
        except Exception as exc:   # optional: any failure means "use the Python path"
            _log.debug("symtensor's dispatch extension is unavailable: %s", exc, exc_info=True)
            module = None
        with _LOCK:
            _MODULES[configured] = module
            _BUILDING.pop(configured, None)


def reset() -> None:
    """Forget which extension is loaded (tests); the module itself stays mapped. Waits for a
    background build to finish first."""
    for thread in list(_BUILDING.values()):
        thread.join()
    with _LOCK:
        _MODULES.clear()


def _target(configured: Optional[str] = None) -> Optional[tuple]:
    """(toolchain, flags, key, directory) of the extension's entry for the compile directory
    ``configured`` (default: the configured one, read now); None without headers. A
    background build passes the directory it was started for, so a later change of the
    setting cannot redirect it."""
    includes = _include_dirs()
    if includes is None:
        return None
    tc = toolchain.require_toolchain()
    flags = [f"-I{d}" for d in includes]
    return tc, flags, module_key(tc, flags), cache.resolve_dir(config.compiledir if configured is None else configured)


def ensure_built(configured: Optional[str] = None) -> Optional[dict[str, str]]:
    """Make sure an intact entry of the extension is in the cache, without importing it;
    its paths (``so``, ``py``, ``json``), or None when Python's or numpy's headers are
    missing. Raises :class:`toolchain.CompilerUnavailable` or :class:`toolchain.CompileError`."""
    target = _target(configured)
    if target is None:
        return None
    tc, flags, key, directory = target
    return cache.verify_entry(directory, key) or _compile(directory, tc, key, flags)


def _build_and_load(configured: Optional[str] = None) -> Optional[ModuleType]:
    paths = ensure_built(configured)
    if paths is None:
        _log.debug("symtensor's dispatch extension is not built: Python.h or numpy's headers are missing")
        return None
    module = _load(paths["so"])
    if module is None:   # intact but not importable (another ABI, a foreign file): rebuild it
        tc, flags, key, directory = _target(configured)
        paths = _compile(directory, tc, key, flags)
        module = _load(paths["so"])
        if module is None:
            raise ImportError(f"the dispatch extension was built at {paths['so']!r} but does not import")
    return module


def _compile(directory: str, tc: toolchain.Toolchain, key: str, flags: list) -> dict[str, str]:
    """Compile the extension in a scratch directory and publish it (the entry's ``py`` file
    is a note naming the module; the cache's integrity checks cover both files). The kernels'
    link options (OpenMP, vector math) are not needed here, so the compiler is run directly."""
    toolchain.compiler_version(tc)   # raises CompilerUnavailable when it does not run
    scratch = cache.scratch_dir(directory)
    try:
        source = os.path.join(scratch, "dispatch.c")
        with open(source, "w", encoding="utf-8") as f:
            f.write(SOURCE)
        built = {"so": os.path.join(scratch, "dispatch.so"), "py": os.path.join(scratch, "note.py")}
        with open(built["py"], "w", encoding="utf-8") as f:
            f.write(f"# the CPython extension {MODULE_NAME} (symtensor's elementwise dispatch)\n")
        argv = [tc.path, *toolchain.BASE_FLAGS, *flags, "dispatch.c", "-o", "dispatch.so"]
        proc = subprocess.run(argv, cwd=scratch, env=dict(os.environ, LC_ALL="C", LANG="C"),
                              capture_output=True, text=True, timeout=toolchain.COMPILE_TIMEOUT_S)
        if proc.returncode != 0:
            raise toolchain.CompileError(f"the dispatch extension does not compile ({' '.join(argv)}):\n"
                                         f"{proc.stderr[-4000:]}")
        info = {"compiler": toolchain.compiler_version(tc), "command": " ".join(argv)}
        return cache.publish(directory, key, built, info)
    finally:
        cache.discard(scratch)


def _load(path: str) -> Optional[ModuleType]:
    """Import the extension from ``path``; None when it does not import or is not ours."""
    try:
        loader = importlib.machinery.ExtensionFileLoader(MODULE_NAME, path)
        spec = importlib.util.spec_from_file_location(MODULE_NAME, path, loader=loader)
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
    except Exception as exc:   # unreadable, not a library, built for another ABI
        _log.debug("the cached dispatch extension %r does not import: %s", path, exc)
        return None
    return module if isinstance(getattr(module, "ElemwiseCall", None), type) else None


def elemwise_call(fn, ffi, consts, in_dtypes: Sequence[np.dtype], out_dtypes: Sequence[np.dtype], ndim: int,
                  scalar_inputs: Sequence[bool], pinned: dict, fixed: Sequence[int],
                  fallback: Callable) -> Optional[Callable]:
    """A C callable for one elementwise node, or None when the extension is unavailable or
    the node is outside what it handles (then ``fallback`` alone serves the node).

    ``fn`` is the kernel (a cffi function: ``fn(n, ndim, shape, strides, data, contiguous,
    consts)``), ``consts`` the cffi pointer to the node's constants (or NULL); ``pinned``
    maps an input to the constant array it always is; ``fixed`` lists the dimensions where
    the output must have size 1; ``fallback`` takes every call the C checks refuse, with
    the same arguments, and so decides every result and error outside the common case."""
    module = extension(wait=False)
    if module is None or len(in_dtypes) + len(out_dtypes) > MAX_OPERANDS:
        return None
    try:
        return module.ElemwiseCall(
            int(ffi.cast("uintptr_t", fn)), int(ffi.cast("uintptr_t", consts)),
            tuple(np.dtype(d).num for d in in_dtypes), tuple(np.dtype(d).num for d in out_dtypes), ndim,
            tuple(bool(s) for s in scalar_inputs), tuple(pinned.get(k) for k in range(len(in_dtypes))),
            tuple(fixed), fallback, (fn, consts), NOGIL_MIN_ELEMENTS)
    except (ValueError, TypeError, OverflowError) as exc:
        _log.debug("no C dispatch for this elementwise kernel: %s", exc)
        return None
