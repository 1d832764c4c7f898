"""Turn C source into a loaded, callable library through cffi, with a disk cache.

cffi's ABI mode is used: the module is an ordinary ``gcc -shared`` library opened with
``ffi.dlopen``, and the functions are described by a ``cdef``. Compared with API mode
(``ffi.set_source`` + ``ffi.compile``), it builds about three times faster (no generated
CPython wrapper, no Python headers to parse), needs no Python development headers, and the
library does not depend on the interpreter, so one cache serves every Python version. The
price is a slower call (libffi instead of a direct wrapper, about a microsecond), which
is negligible because a compiled function makes one native call per Python call.

The cdef is parsed once, at build time, and cached next to the library as cffi's
"out-of-line" Python module; a warm hit loads that and so never imports the C parser
(pycparser alone costs about 7 ms per process).

Lookup order for ``build``: this process's table of loaded modules, then the disk cache
(verified before ``dlopen``; the module's exported key is checked after), then the
compiler. Damaged entries are rebuilt; nothing holds a lock.
"""
from __future__ import annotations

import dataclasses
import os
import shlex
import threading
from typing import Any, Optional, Sequence, Union

import cffi

from ...config import config
from . import cache, prelude, toolchain


@dataclasses.dataclass(frozen=True)
class CModule:
    """A loaded module: ``lib`` holds the functions declared in the cdef."""

    ffi: Any          # cffi's runtime FFI: cast, from_buffer, new, string, NULL
    lib: Any
    path: str
    key: str
    name: str


_LOADED: dict[tuple[str, str], CModule] = {}
_KEEP_ALIVE: list[CModule] = []   # never emptied: see -Wl,-z,nodelete in toolchain


def _version() -> str:
    """symtensor's version, read lazily to avoid importing the package root at import time."""
    from ... import __version__
    return __version__


def _config_flags() -> tuple[str, ...]:
    """Extra compiler flags from optional config flags (absent flags mean defaults)."""
    flags = tuple(shlex.split(str(getattr(config, "gcc__cxxflags", "") or "")))
    threshold = getattr(config, "openmp_elemwise_minsize", None)
    if threshold is not None:
        flags += (f"-DST_OMP_THRESHOLD={int(threshold)}",)
    if not getattr(config, "openmp", True):
        flags += ("-fno-openmp",)
    return flags


#: C source of a module: one text, or several compiled as separate translation units.
Source = Union[str, Sequence[str]]


def render_parts(source: Source, name: str, with_prelude: bool = True) -> tuple[str, ...]:
    """The compiled text of each translation unit of ``source`` (each with the prelude)."""
    if isinstance(source, str):
        return (prelude.render(source, name, with_prelude),)
    if not source:
        raise ValueError(f"module {name!r}: no source")
    return tuple(prelude.render(part, f"{name}.{k}", with_prelude) for k, part in enumerate(source))


def module_key(source: Source, cdef: str, name: str, flags: Sequence[str] = (), with_prelude: bool = True,
               tc: Optional[toolchain.Toolchain] = None) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """(key, full C text of each translation unit without the key function, all flags)."""
    tc = tc or toolchain.require_toolchain()
    texts = render_parts(source, name, with_prelude)
    all_flags = tuple(flags) + _config_flags()
    versions = f"symtensor {_version()} cffi {cffi.__version__}"
    key = cache.compute_key("\0part\0".join(texts) + "\0cdef\0" + cdef, all_flags, tc.key_parts(), versions)
    return key, texts, all_flags


def ensure_built(source: Source, cdef: str, name: str = "module", flags: Sequence[str] = (),
                 with_prelude: bool = True) -> tuple[dict[str, str], str]:
    """Make sure an intact entry for ``source`` is in the cache; return (paths, key).

    ``paths`` maps ``so``, ``py`` and ``json`` to the entry's files. Raises
    :class:`CompilerUnavailable` without a compiler and :class:`CompileError` when the
    compiler rejects the source.
    """
    tc = toolchain.require_toolchain()
    key, texts, all_flags = module_key(source, cdef, name, flags, with_prelude, tc)
    directory = cache.resolve_dir(config.compiledir)
    paths = cache.verify_entry(directory, key)
    if paths is None:
        paths = _compile_into(directory, tc, key, texts, cdef, all_flags)
    return paths, key


def _compile_into(directory: str, tc: toolchain.Toolchain, key: str, texts: tuple[str, ...], cdef: str,
                  flags: tuple[str, ...]) -> dict[str, str]:
    """Compile in a scratch dir and publish; when the directory passed the checks but
    still cannot take the files (no permission, a full disk, a quota, a pseudo file system),
    retry in a private fallback directory (one :class:`cache.CompileDirWarning`)."""
    try:
        return _compile_once(directory, tc, key, texts, cdef, flags)
    except OSError as exc:
        fallback = cache.fallback_dir(config.compiledir, f"cannot write to compiledir {directory!r} ({exc})")
        if fallback == directory:
            raise
        return cache.verify_entry(fallback, key) or _compile_once(fallback, tc, key, texts, cdef, flags)


def _compile_once(directory: str, tc: toolchain.Toolchain, key: str, texts: tuple[str, ...], cdef: str,
                  flags: tuple[str, ...]) -> dict[str, str]:
    """Build the entry in a scratch directory and publish it.

    cffi parses the cdef in a thread while the compiler runs (the parse, with the import of
    its C parser, is about a tenth of a second); a malformed cdef is still reported first."""
    toolchain.compiler_version(tc)   # raises CompilerUnavailable if it does not run
    scratch = cache.scratch_dir(directory)
    try:
        built = {"so": os.path.join(scratch, "module.so"), "py": os.path.join(scratch, "module_ffi.py")}
        sources = _write_sources(scratch, key, texts)
        parse = _Background(_write_ffi_module, cdef, built["py"])
        try:
            argv = toolchain.compile_shared(tc, sources if len(sources) > 1 else sources[0], built["so"], flags)
        finally:
            parse.result()   # a cdef error wins over a compile error, as if it were parsed first
        info = {"compiler": toolchain.compiler_version(tc), "command": " ".join(argv)}
        return cache.publish(directory, key, built, info)
    finally:
        cache.discard(scratch)


def _write_sources(scratch: str, key: str, texts: tuple[str, ...]) -> list[str]:
    """Write each translation unit (the first one exports the key) and return the paths."""
    paths = []
    for k, text in enumerate(texts):
        path = os.path.join(scratch, "module.c" if len(texts) == 1 else f"module{k}.c")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text + (prelude.key_function(key) if k == 0 else ""))
        paths.append(path)
    return paths


class _Background:
    """Run ``fn(*args)`` in a thread; :meth:`result` waits and re-raises its exception."""

    def __init__(self, fn, *args):
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, args=(fn, args), daemon=True)
        self._thread.start()

    def _run(self, fn, args) -> None:
        try:
            fn(*args)
        except BaseException as exc:   # re-raised in the caller's thread
            self._error = exc

    def result(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error


def _write_ffi_module(cdef: str, path: str) -> None:
    """Parse ``cdef`` (raises ``cffi.CDefError``) and save cffi's pre-parsed module."""
    from cffi import recompiler   # imported only when something is compiled
    ffi = cffi.FFI()
    ffi.cdef(cdef + "\n" + prelude.KEY_CDEF)
    recompiler.make_py_source(ffi, "_symtensor_module_ffi", path)


def _read_ffi(path: str) -> Any:
    """The runtime FFI object defined by a cached pre-parsed module."""
    with open(path, encoding="utf-8") as f:
        code = compile(f.read(), path, "exec")
    namespace: dict[str, Any] = {}
    exec(code, namespace)   # the entry's digest was verified; its directory is private
    return namespace["ffi"]


def load(paths: dict[str, str], key: str, name: str = "module") -> Optional[CModule]:
    """dlopen an entry; None when it does not load or carries another key.

    Raises :class:`CompileError` when the cdef names a function the module lacks.
    """
    try:
        ffi = _read_ffi(paths["py"])
        lib = ffi.dlopen(paths["so"])
        found = ffi.string(getattr(lib, prelude.KEY_SYMBOL)()).decode("ascii", "replace")
    except Exception:   # unreadable, not a library, not ours: all mean "rebuild it"
        return None
    if found != key:
        return None
    _resolve_all(ffi, lib, name)
    return CModule(ffi, lib, paths["so"], key, name)


def _resolve_all(ffi: Any, lib: Any, name: str) -> None:
    """Look every declared symbol up now, so a wrong cdef fails at build time."""
    for symbol in dir(lib):
        try:
            getattr(lib, symbol)
        except (AttributeError, ffi.error) as exc:
            raise toolchain.CompileError(
                f"module {name!r}: the cdef declares {symbol!r} but the C source does not define it") from exc


def build(source: Source, cdef: str, name: str = "module", flags: Sequence[str] = (),
          with_prelude: bool = True) -> CModule:
    """Compile (or fetch from cache) ``source`` and load it with ``cdef``.

    ``source`` is C code placed after :data:`prelude.PRELUDE` (unless ``with_prelude`` is
    False), or a sequence of such codes: separate translation units, compiled in parallel
    and linked into one library (a part's ``static`` helpers are its own); ``cdef`` declares, in cffi syntax, the functions Python will call; ``name``
    only labels diagnostics; ``flags`` are extra compiler flags. All four are part of the
    cache key. The same module is loaded once per process.

    Raises :class:`CompilerUnavailable` (after one :class:`CompilerUnavailableWarning`)
    when no compiler works, so callers can fall back to numpy; :class:`CompileError`
    when the source does not compile; ``cffi.CDefError`` for a malformed cdef.
    """
    tc = toolchain.require_toolchain()
    key, texts, all_flags = module_key(source, cdef, name, flags, with_prelude, tc)
    directory = cache.resolve_dir(config.compiledir)
    module = _LOADED.get((directory, key))
    if module is not None:
        return module
    paths = cache.verify_entry(directory, key)
    module = load(paths, key, name) if paths else None
    if module is None:   # missing, damaged, or not loadable: (re)build it
        paths = _compile_into(directory, tc, key, texts, cdef, all_flags)
        module = load(paths, key, name)
        if module is None:
            raise toolchain.CompileError(f"module {name!r} was built at {paths['so']!r} but cannot be loaded")
    _KEEP_ALIVE.append(module)
    return _LOADED.setdefault((directory, key), module)


def clear_loaded() -> None:
    """Forget which modules are loaded (tests); the libraries themselves stay mapped."""
    _LOADED.clear()
