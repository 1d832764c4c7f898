"""The content-addressed disk cache of compiled modules.

Layout of ``config.compiledir`` (created mode 0700)::

    m<key>.so     the module            (published with os.replace: never half-written)
    m<key>.py     cffi's pre-parsed cdef ("out-of-line ABI mode"): loading it needs no
                  C parser, which keeps a warm hit in a fresh process at about a millisecond
    m<key>.json   its manifest: key, size and sha256 of each file, compiler command
    .build-*/     private scratch directories of builds in progress

Concurrency is lock-free and per key: every builder compiles in its own scratch directory
inside the cache directory (same file system) and publishes with ``os.replace``, the files
first and the manifest last. Two processes building one key both succeed; builds are
byte-for-byte reproducible, so whichever file wins matches either manifest.

Integrity: an entry is trusted only when its manifest parses, names the right key, and
each file on disk has the recorded size and sha256. This catches truncated or corrupt files
before ``dlopen`` ever sees them; the caller rebuilds such entries.

Safety: modules are loaded only from a directory owned by the current user and not
writable by group or others (and with no world-writable, non-sticky ancestor). Otherwise,
or when the directory cannot be created or written, a private ``tempfile.mkdtemp()``
directory is used for the rest of the process, with one :class:`CompileDirWarning`.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
import warnings
from typing import Optional, Sequence

#: Bump when the layout, manifest or module conventions change.
CACHE_FORMAT = "symtensor-c-1"

_FALLBACK: dict[str, str] = {}


class CompileDirWarning(RuntimeWarning):
    """The configured compile directory is unusable or unsafe; a private temp dir is used."""


def current_uid() -> int:
    """The effective user id (a function so tests can pretend to be someone else)."""
    return os.geteuid()


def compute_key(source: str, flags: Sequence[str], toolchain_parts: Sequence[str], version: str) -> str:
    """sha256 over everything that decides the bytes of a module."""
    h = hashlib.sha256()
    for part in (CACHE_FORMAT, version, *toolchain_parts, "\0".join(flags), source):
        h.update(part.encode("utf-8"))
        h.update(b"\0\1\0")
    return h.hexdigest()


# --------------------------------------------------------------------------- directory

def unsafe_reason(path: str) -> Optional[str]:
    """Why ``path`` may not hold loadable modules, or None when it is safe."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"cannot stat it ({exc.strerror})"
    if not stat.S_ISDIR(st.st_mode):
        return "it is not a directory"
    if st.st_uid != current_uid():
        return f"it is owned by uid {st.st_uid}, not by the current user (uid {current_uid()})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"it is writable by group or others (mode {stat.S_IMODE(st.st_mode):o})"
    return _unsafe_ancestor(path)


def _unsafe_ancestor(path: str) -> Optional[str]:
    """A world-writable ancestor without the sticky bit lets others swap our directory."""
    parent = os.path.dirname(path)
    while parent and parent != path:
        try:
            mode = os.stat(parent).st_mode
        except OSError:
            return None
        if mode & stat.S_IWOTH and not mode & stat.S_ISVTX:
            return f"its ancestor {parent!r} is world-writable without the sticky bit"
        path, parent = parent, os.path.dirname(parent)
    return None


def _prepare(path: str) -> Optional[str]:
    """Create ``path`` private if missing; return why it is unusable, or None."""
    try:
        if not os.path.isdir(path):
            os.makedirs(path, mode=0o700, exist_ok=True)
            os.chmod(path, 0o700)   # makedirs' mode is filtered by the umask
    except OSError as exc:
        return f"it cannot be created ({exc.strerror or exc})"
    reason = unsafe_reason(path)
    if reason is None and not os.access(path, os.W_OK | os.X_OK):
        reason = "it is not writable"
    return reason


def resolve_dir(configured: str) -> str:
    """The directory to use for ``configured``: itself when usable and safe, else a fallback."""
    if configured in _FALLBACK:
        return _FALLBACK[configured]
    path = os.path.realpath(os.path.expanduser(configured))
    reason = _prepare(path)
    if reason is None:
        return path
    return fallback_dir(configured, f"compiledir {configured!r} is unusable: {reason}")


def fallback_dir(configured: str, why: str) -> str:
    """A private temp directory used instead of ``configured`` for the rest of the process."""
    if configured not in _FALLBACK:
        _FALLBACK[configured] = tempfile.mkdtemp(prefix="symtensor-compiledir-")
        warnings.warn(f"{why}; compiling into the private temporary directory "
                      f"{_FALLBACK[configured]!r} instead (not kept across processes)",
                      CompileDirWarning, stacklevel=4)
    return _FALLBACK[configured]


def reset() -> None:
    """Forget fallback directories (tests)."""
    _FALLBACK.clear()


# --------------------------------------------------------------------------- entries

#: The files of one entry besides its manifest: the library and cffi's pre-parsed cdef.
ENTRY_FILES = ("so", "py")


def entry_paths(directory: str, key: str) -> dict[str, str]:
    """Paths of ``key``'s files in ``directory``, by suffix (``so``, ``py``, ``json``)."""
    stem = os.path.join(directory, "m" + key)
    return {suffix: f"{stem}.{suffix}" for suffix in ENTRY_FILES + ("json",)}


def file_digest(path: str) -> dict:
    """Size and sha256 hex digest of a file, as recorded in manifests."""
    with open(path, "rb") as f:
        data = f.read()
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def verify_entry(directory: str, key: str) -> Optional[dict[str, str]]:
    """The entry's paths when it is complete and intact, else None.

    None covers a missing entry as well as a truncated file, a manifest that does not
    parse, or one that names another key or other bytes: all are rebuilt the same way.
    """
    paths = entry_paths(directory, key)
    try:
        with open(paths["json"], "rb") as f:
            manifest = json.loads(f.read().decode("utf-8"))
        if not isinstance(manifest, dict) or (manifest.get("format"), manifest.get("key")) != (CACHE_FORMAT, key):
            return None
        recorded = manifest.get("files")
        if not isinstance(recorded, dict):
            return None
        for suffix in ENTRY_FILES:
            if recorded.get(suffix) != file_digest(paths[suffix]):
                return None
    except (OSError, ValueError):
        return None
    return paths


def scratch_dir(directory: str) -> str:
    """A private scratch directory inside the cache directory, for one build."""
    return tempfile.mkdtemp(prefix=".build-", dir=directory)


def publish(directory: str, key: str, built: dict[str, str], info: dict) -> dict[str, str]:
    """Atomically move freshly built files and their manifest into place; return the paths.

    ``built`` maps each suffix of :data:`ENTRY_FILES` to a file in a scratch directory of
    ``directory``. The manifest goes last, so a reader never trusts a partial entry (and
    its digests catch files damaged later, so nothing needs an fsync).
    """
    paths = entry_paths(directory, key)
    files = {suffix: file_digest(built[suffix]) for suffix in ENTRY_FILES}
    tmp_manifest = os.path.join(os.path.dirname(built["so"]), "manifest.json")
    with open(tmp_manifest, "w", encoding="utf-8") as f:
        json.dump(dict(info, format=CACHE_FORMAT, key=key, files=files), f, indent=1, sort_keys=True)
    for suffix in ENTRY_FILES:
        os.chmod(built[suffix], 0o700 if suffix == "so" else 0o600)
        os.replace(built[suffix], paths[suffix])
    os.replace(tmp_manifest, paths["json"])
    return paths


def discard(path: str) -> None:
    """Remove a scratch directory, ignoring errors (it may already be gone)."""
    shutil.rmtree(path, ignore_errors=True)
