"""The C toolchain: which compiler, what it is, which flags, and running it.

Everything that identifies the compiler and the CPU goes into the cache key. It is found
without running a subprocess (the compiler file's path, size and mtime; /proc/cpuinfo) and
memoised per process, so a warm cache hit never starts the compiler, not even for
``gcc -v``. The compiler is run for its version (once per process) only when something
must actually be compiled.

Flags, and why:

* ``-O3 -march=native``: full optimisation for the CPU we run on (the CPU goes into the
  cache key, so a shared home directory on a different machine gets its own entries).
* ``-fno-math-errno -fno-trapping-math``: lets gcc vectorise calls to ``exp``/``log``/...
  and if-converted loops. Neither changes any result: errno is never read, and no code
  installs floating-point traps. ``-ffast-math`` is *not* used, so NaN and Inf propagate
  exactly as in numpy.
* ``-ffp-contract=off``: no silent fusing of ``a*b + c`` into one FMA, which rounds once
  instead of twice and so differs from numpy in the last bit; generated code that wants
  an FMA calls ``fma()`` explicitly.
* ``-fopenmp``: honours ``#pragma omp simd`` (vector loops, ``declare simd`` math) and
  ``#pragma omp parallel for if(n > ST_OMP_THRESHOLD)`` (threads only for big loops, so
  small calls never pay for waking a thread pool). When libgomp is missing the build
  falls back to ``-fopenmp-simd`` (vectorisation only, no threads).
* ``-Wl,-z,nodelete``: a module is never unmapped, even when cffi drops its last
  reference; unloading it could unload libgomp under its own live worker threads.
* ``-lmvec``: glibc's vector math library, whose variants the prelude's
  ``#pragma omp declare simd`` prototypes select (glibc only declares them itself under
  ``__FAST_MATH__``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import platform
import re
import shutil
import subprocess
import warnings
from typing import Optional, Sequence, Union

#: Optimisation and code-generation flags shared by every module.
BASE_FLAGS: tuple[str, ...] = (
    "-O3", "-march=native", "-std=gnu11", "-fPIC", "-shared", "-pipe", "-g0",
    "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off", "-fno-semantic-interposition",
    "-Wl,-z,nodelete",
)

#: Seconds a single compiler run may take before it is treated as failed.
COMPILE_TIMEOUT_S = 300


class CompilerUnavailable(RuntimeError):
    """No working C compiler: callers catch this and run the numpy reference instead."""


class CompilerUnavailableWarning(RuntimeWarning):
    """Issued once per process when C compilation is impossible and numpy is used."""


class CompileError(RuntimeError):
    """The compiler rejected a generated module; the message carries its diagnostics."""


@dataclasses.dataclass(frozen=True)
class Toolchain:
    """A compiler and the machine it targets, identified without running anything."""

    path: str
    identity: str         # sha256 of the compiler's real path, size and mtime
    cpu_target: str       # sha256 of the CPU model and feature flags
    libc: str             # e.g. "glibc 2.36"

    def key_parts(self) -> tuple[str, ...]:
        """What about this toolchain decides the bytes of a compiled module."""
        return (self.identity, self.cpu_target, self.libc)


_FOUND: dict[str, Optional[str]] = {}
_TOOLCHAIN: dict[str, Optional[Toolchain]] = {}
_VERSION: dict[str, Optional[str]] = {}
_LINK: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
_WARNED: set[str] = set()


def find_compiler() -> Optional[str]:
    """The absolute path of gcc (else ``cc``) on PATH, or None; memoised per PATH value."""
    search = os.environ.get("PATH", "")
    if search not in _FOUND:
        _FOUND[search] = next(filter(None, (shutil.which(n, path=search) for n in ("gcc", "cc"))), None)
    return _FOUND[search]


def _run(args: Sequence[str], cwd: Optional[str] = None, timeout: float = 30) -> subprocess.CompletedProcess:
    """Run a compiler command with a C locale so its messages are predictable."""
    env = dict(os.environ, LC_ALL="C", LANG="C")
    return subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _cpu_target() -> str:
    """A hash of the CPU model and feature flags (what ``-march=native`` depends on)."""
    text = platform.machine()
    try:
        with open("/proc/cpuinfo", "rb") as f:
            block = f.read(1 << 16).split(b"\n\n", 1)[0]
        keep = (b"vendor_id", b"cpu family", b"model", b"flags", b"Features", b"CPU part")
        text += b"\n".join(ln for ln in block.splitlines() if ln.startswith(keep)).decode("ascii", "replace")
    except OSError:
        pass
    return hashlib.sha256(text.encode()).hexdigest()


def _libc() -> str:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") or "unknown"
    except (ValueError, OSError, AttributeError):
        return " ".join(platform.libc_ver()) or "unknown"


def _identify(path: str) -> Optional[Toolchain]:
    """Identify the compiler by its resolved file's path, size and mtime.

    A compiler upgrade replaces that file, so this changes exactly when the compiler
    version does, and costs two ``stat`` calls instead of a subprocess.
    """
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError:
        return None
    stamp = f"{real}\n{st.st_size}\n{st.st_mtime_ns}"
    return Toolchain(path, hashlib.sha256(stamp.encode()).hexdigest(), _cpu_target(), _libc())


def get_toolchain() -> Optional[Toolchain]:
    """The memoised toolchain for this process, or None (with one warning) if none is found.

    Runs no subprocess, so a warm cache hit stays cheap; :func:`compiler_version` checks
    that the compiler actually works, before anything is compiled.
    """
    path = find_compiler()
    if path is None:
        warn_unavailable("no C compiler (gcc or cc) was found on PATH")
        return None
    if path not in _TOOLCHAIN:
        _TOOLCHAIN[path] = _identify(path)
    return _TOOLCHAIN[path]


def require_toolchain() -> Toolchain:
    """The toolchain, or raise :class:`CompilerUnavailable` (after one warning)."""
    tc = get_toolchain()
    if tc is None:
        raise CompilerUnavailable(
            "C compilation is unavailable (no C compiler on PATH); use the numpy backend")
    return tc


def compiler_version(tc: Toolchain) -> str:
    """The compiler's version line (``gcc version 12.2.0 ...``), probed once per process.

    Raises :class:`CompilerUnavailable` (after one warning) when it does not run or does
    not look like gcc or clang.
    """
    if tc.path not in _VERSION:
        _VERSION[tc.path] = _probe_version(tc.path)
    version = _VERSION[tc.path]
    if version is None:
        reason = f"the C compiler {tc.path!r} does not run or is not gcc-compatible"
        warn_unavailable(reason)
        raise CompilerUnavailable(f"C compilation is unavailable: {reason}; use the numpy backend")
    return version


def _probe_version(path: str) -> Optional[str]:
    try:
        proc = _run([path, "-v"], timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"^(?:gcc|clang) version .*$", proc.stderr + proc.stdout, re.MULTILINE)
    return match.group(0).strip() if proc.returncode == 0 and match else None


def warn_unavailable(reason: str) -> None:
    """Warn once per process and reason that compiled C is off and numpy runs instead."""
    if reason in _WARNED:
        return
    _WARNED.add(reason)
    warnings.warn(f"{reason}; symtensor falls back to numpy execution (slower)",
                  CompilerUnavailableWarning, stacklevel=3)


def reset() -> None:
    """Forget probed toolchains and issued warnings (tests change PATH)."""
    _FOUND.clear()
    _VERSION.clear()
    _TOOLCHAIN.clear()
    _LINK.clear()
    _WARNED.clear()


def _has_library(tc: Toolchain, filename: str) -> bool:
    """Whether the compiler can link ``filename`` (it prints a full path if so)."""
    try:
        out = _run([tc.path, f"-print-file-name={filename}"]).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return False
    return os.path.isabs(out) and os.path.exists(out)


def link_config(tc: Toolchain) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Extra (flags, libraries) for this toolchain: OpenMP and libmvec when available.

    Probed only when something must be compiled (never on a warm cache hit); the result
    is a function of the compiler and libc, which are both in the cache key.
    """
    if tc.path not in _LINK:
        omp = "-fopenmp" if _has_library(tc, "libgomp.so") else "-fopenmp-simd"
        flags = [omp]
        libs = ["-lm"]
        if tc.libc.startswith("glibc") and _has_library(tc, "libmvec.so"):
            minor = _glibc_minor(tc.libc)
            flags += ["-DST_HAVE_MVEC=1", f"-DST_GLIBC_MINOR={minor}"]
            libs.insert(0, "-lmvec")
        _LINK[tc.path] = (tuple(flags), tuple(libs))
    return _LINK[tc.path]


def _glibc_minor(libc: str) -> int:
    match = re.search(r"2\.(\d+)", libc)
    return int(match.group(1)) if match else 0


def compile_shared(tc: Toolchain, source_path: Union[str, Sequence[str]], out_path: str,
                   flags: Sequence[str]) -> list[str]:
    """Compile C source into a shared library; return the (link) command line used.

    ``source_path`` is one C file, or several in one directory: they are compiled to object
    files by concurrent compiler processes (one per file) and then linked, so a module's
    kernels use every core. Raises :class:`CompileError` when the compiler rejects a file.

    Runs in the source's directory with relative names so the output bytes do not depend
    on the (random) build directory: two processes racing on one key publish identical
    files.
    """
    extra, libs = link_config(tc)
    if "-fno-openmp" in flags:   # threads off: keep the simd pragmas only
        extra = tuple("-fopenmp-simd" if f == "-fopenmp" else f for f in extra)
        flags = [f for f in flags if f != "-fno-openmp"]
    sources = [source_path] if isinstance(source_path, str) else list(source_path)
    cwd = os.path.dirname(sources[0])
    common = [tc.path, *BASE_FLAGS, *extra, *flags]
    inputs = [os.path.basename(p) for p in sources]
    if len(sources) > 1:
        inputs = _compile_objects(common, inputs, cwd)
    args = [*common, *inputs, "-o", os.path.relpath(out_path, cwd), *libs]
    _check(args, _run_checked(args, cwd))
    return args


def _compile_objects(common: list, sources: list, cwd: str) -> list[str]:
    """Compile each of ``sources`` (names in ``cwd``) to an object file, all at once; the
    object files' names."""
    objects = [os.path.splitext(s)[0] + ".o" for s in sources]
    env = dict(os.environ, LC_ALL="C", LANG="C")
    procs = []
    try:
        for src, obj in zip(sources, objects):
            args = [*common, "-c", src, "-o", obj]
            try:
                proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
            except OSError as exc:
                raise CompilerUnavailable(f"could not run the C compiler {common[0]!r}: {exc}") from exc
            procs.append((args, proc))
        for args, proc in procs:
            try:
                _, err = proc.communicate(timeout=COMPILE_TIMEOUT_S)
            except subprocess.TimeoutExpired as exc:
                raise CompileError(f"compiler timed out after {COMPILE_TIMEOUT_S} s: {' '.join(args)}") from exc
            _check(args, subprocess.CompletedProcess(args, proc.returncode, "", err))
    finally:
        for _, proc in procs:   # after an error: stop the others
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return objects


def _run_checked(args: list, cwd: str) -> subprocess.CompletedProcess:
    """Run one compiler command, mapping a timeout and a missing compiler to our errors."""
    try:
        return _run(args, cwd=cwd, timeout=COMPILE_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise CompileError(f"compiler timed out after {COMPILE_TIMEOUT_S} s: {' '.join(args)}") from exc
    except OSError as exc:
        raise CompilerUnavailable(f"could not run the C compiler {args[0]!r}: {exc}") from exc


def _check(args: list, proc: subprocess.CompletedProcess) -> None:
    if proc.returncode != 0:
        raise CompileError(f"C compilation failed ({' '.join(args)}):\n{_tail(proc.stderr)}")


def _tail(text: str, limit: int = 8000) -> str:
    return text if len(text) <= limit else "...\n" + text[-limit:]
