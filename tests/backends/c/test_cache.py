"""The disk cache: hits without the compiler, damaged entries, unsafe dirs, concurrent builds."""
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import time
import warnings
import zlib

import numpy as np
import pytest

from symtensor.backends import c as cbackend
from symtensor.backends.c import cache, toolchain
from symtensor.config import config

from .conftest import entry_files, needs_compiler

pytestmark = needs_compiler

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _expected(tag):
    return zlib.crc32(tag.encode()) % 100000


def _source(tag):
    """A small module unique to ``tag``, so no other test shares its cache key."""
    return f"ST_EXPORT long answer(void) {{ return {_expected(tag)}L; }} /* {tag} */"


CDEF = "long answer(void);"


def _no_compiler(*args, **kwargs):
    raise AssertionError("the compiler ran although the module was cached")


def test_cache_hit_does_not_invoke_compiler(compiledir, monkeypatch):
    first = cbackend.build(_source("hit"), CDEF, "hit")
    cbackend.clear_loaded()
    toolchain.reset()    # as in a fresh process: nothing about the compiler is memoised
    monkeypatch.setattr(toolchain, "compile_shared", _no_compiler)
    monkeypatch.setattr(toolchain.subprocess, "run", _no_compiler)   # not even ``gcc -v``
    start = time.perf_counter()
    second = cbackend.build(_source("hit"), CDEF, "hit")
    elapsed = time.perf_counter() - start
    assert second.path == first.path and second.lib.answer() == _expected("hit")
    assert "pycparser" not in sys.modules or elapsed < 0.05
    assert elapsed < 0.5, f"a warm cache hit took {elapsed:.3f} s"
    toolchain.reset()


def test_key_depends_on_source_and_flags(compiledir, compile_calls):
    cbackend.build(_source("k1"), CDEF, "k")
    cbackend.build(_source("k2"), CDEF, "k")
    cbackend.build(_source("k1"), CDEF, "k", flags=["-DSOMETHING=1"])
    assert len(compile_calls) == 3
    assert len([f for f in entry_files(compiledir) if f.endswith(".so")]) == 3


@pytest.mark.parametrize("suffix", ["so", "py"])
def test_truncated_file_is_detected_and_rebuilt(compiledir, compile_calls, suffix):
    paths, key = cbackend.ensure_built(_source("trunc-" + suffix), CDEF, "trunc")
    data = open(paths[suffix], "rb").read()
    _replace(paths[suffix], data[: len(data) // 2])
    assert cache.verify_entry(os.path.realpath(compiledir), key) is None
    mod = cbackend.build(_source("trunc-" + suffix), CDEF, "trunc")
    assert len(compile_calls) == 2 and mod.lib.answer() == _expected("trunc-" + suffix)
    assert cache.verify_entry(os.path.realpath(compiledir), key) == paths


def _replace(path, data):
    """Swap in new contents as a new file: never rewrite a library that may be mapped."""
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)


@pytest.mark.parametrize("damage", ["garbage", "empty", "wrong_key", "wrong_hash", "missing"])
def test_damaged_manifest_is_detected_and_rebuilt(compiledir, compile_calls, damage):
    paths, key = cbackend.ensure_built(_source("manifest-" + damage), CDEF, "m")
    manifest = paths["json"]
    text = open(manifest).read()
    replacement = {"garbage": "{not json", "empty": "", "wrong_key": text.replace(key, "0" * 64),
                   "wrong_hash": text.replace('"sha256": "', '"sha256": "f00'), "missing": None}[damage]
    if replacement is None:
        os.unlink(manifest)
    else:
        with open(manifest, "w") as f:
            f.write(replacement)
    assert cache.verify_entry(os.path.realpath(compiledir), key) is None
    mod = cbackend.build(_source("manifest-" + damage), CDEF, "m")
    assert len(compile_calls) == 2 and mod.lib.answer() == _expected("manifest-" + damage)


def test_unloadable_module_with_valid_manifest_is_rebuilt(compiledir, compile_calls):
    """A module that passes the manifest check but fails dlopen is rebuilt, not fatal."""
    paths, key = cbackend.ensure_built(_source("unloadable"), CDEF, "u")
    directory = os.path.realpath(compiledir)
    scratch = cache.scratch_dir(directory)
    junk = {"so": os.path.join(scratch, "m.so"), "py": os.path.join(scratch, "m.py")}
    with open(junk["so"], "wb") as f:
        f.write(b"\x7fELF" + b"\0" * 60)
    shutil.copy(paths["py"], junk["py"])
    cache.publish(directory, key, junk, {})   # a manifest that vouches for the junk
    assert cache.verify_entry(directory, key) == paths
    mod = cbackend.build(_source("unloadable"), CDEF, "u")
    assert len(compile_calls) == 2 and mod.lib.answer() == _expected("unloadable")


def test_created_dir_is_private(tmp_path):
    target = tmp_path / "a" / "b" / "cache"
    old = os.umask(0o022)
    try:
        with config.change_flags(compiledir=str(target)):
            mod = cbackend.build(_source("private"), CDEF, "p")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o700
    assert os.path.dirname(mod.path) == str(target)
    assert not [f for f in os.listdir(target) if f.startswith(".build-")], "scratch dirs left behind"


def _build_expecting_fallback(path, tag, match):
    with config.change_flags(compiledir=path):
        with pytest.warns(cbackend.CompileDirWarning, match=match):
            mod = cbackend.build(_source(tag), CDEF, tag)
    assert mod.lib.answer() == _expected(tag)
    assert not mod.path.startswith(os.path.realpath(path) + os.sep)
    assert stat.S_IMODE(os.stat(os.path.dirname(mod.path)).st_mode) == 0o700
    return mod


def test_uncreatable_compiledir_falls_back(tmp_path):
    """A path below a regular file cannot be created, even by root."""
    (tmp_path / "file").write_text("not a directory")
    _build_expecting_fallback(str(tmp_path / "file" / "cache"), "uncreatable", "cannot be created")


def test_read_only_compiledir_falls_back(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("running as root: chmod 0o500 does not stop root from writing "
                    "(test_uncreatable_compiledir_falls_back covers the fallback)")
    target = tmp_path / "ro"
    target.mkdir(mode=0o700)
    os.chmod(target, 0o500)
    try:
        _build_expecting_fallback(str(target), "readonly", "not writable")
    finally:
        os.chmod(target, 0o700)


def test_write_failure_during_publish_falls_back(compiledir, monkeypatch):
    """A directory that looked fine but refuses writes (e.g. read-only mount) falls back."""
    real = cache.scratch_dir

    def refuse(directory):
        if directory == os.path.realpath(compiledir):
            raise PermissionError(13, "Permission denied", directory)
        return real(directory)

    monkeypatch.setattr(cache, "scratch_dir", refuse)
    with pytest.warns(cbackend.CompileDirWarning, match="cannot write"):
        mod = cbackend.build(_source("publish-fail"), CDEF, "pf")
    assert mod.lib.answer() == _expected("publish-fail")


def test_group_or_other_writable_compiledir_is_refused(tmp_path):
    target = tmp_path / "shared"
    target.mkdir()
    os.chmod(target, 0o777)
    _build_expecting_fallback(str(target), "shared", "writable by group or others")
    assert not [f for f in os.listdir(target) if f.endswith(".so")]


def test_compiledir_owned_by_another_user_is_refused(compiledir, monkeypatch):
    os.makedirs(compiledir, mode=0o700)
    monkeypatch.setattr(cache, "current_uid", lambda: os.geteuid() + 1)
    _build_expecting_fallback(compiledir, "foreign", "owned by uid")


def test_world_writable_ancestor_without_sticky_bit_is_refused(tmp_path):
    parent = tmp_path / "open"
    parent.mkdir()
    os.chmod(parent, 0o777)
    _build_expecting_fallback(str(parent / "cache"), "ancestor", "world-writable without the sticky bit")


def test_fallback_warns_once_per_process(tmp_path):
    (tmp_path / "file").write_text("x")
    path = str(tmp_path / "file" / "cache")
    _build_expecting_fallback(path, "once-a", "cannot be created")
    with config.change_flags(compiledir=path), warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cbackend.build(_source("once-b"), CDEF, "b").lib.answer() == _expected("once-b")


WORKER = textwrap.dedent("""
    import os, sys, time
    from symtensor.config import config
    from symtensor.backends import c
    compiledir, go, source = sys.argv[1], sys.argv[2], sys.argv[3]
    while not os.path.exists(go):
        time.sleep(0.001)
    with config.change_flags(compiledir=compiledir):
        mod = c.build(source, "long answer(void);", "race")
    print(mod.lib.answer())
""")


def test_two_processes_building_the_same_module_both_succeed(compiledir, tmp_path):
    go = tmp_path / "go"
    source = _source(f"race-{os.getpid()}-{time.time()}")
    env = dict(os.environ, PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, compiledir, str(go), source], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    time.sleep(0.5)   # both interpreters import and wait at the barrier
    go.write_text("go")
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, results):
        assert proc.returncode == 0, err
    values = {out.strip() for out, _ in results}
    with config.change_flags(compiledir=compiledir):
        here = cbackend.build(source, CDEF, "race")
    assert values == {str(here.lib.answer())}
    assert len([f for f in entry_files(compiledir) if f.endswith(".so")]) == 1
    assert cache.verify_entry(os.path.realpath(compiledir), here.key)["so"] == here.path


def test_builds_are_reproducible(tmp_path):
    """Identical bytes from independent builds: racing publishers never mismatch a manifest."""
    digests = []
    for sub in ("one", "two"):
        with config.change_flags(compiledir=str(tmp_path / sub)):
            paths, _ = cbackend.ensure_built(_source("repro"), CDEF, "repro")
        digests.append([cache.file_digest(paths[s]) for s in ("so", "py")])
    assert digests[0] == digests[1]


def test_numpy_arrays_round_trip_through_cached_module(compiledir):
    src = """ST_EXPORT void twice(const float *ST_RESTRICT x, float *ST_RESTRICT y, st_index n) {
        #pragma omp simd
        for (st_index i = 0; i < n; i++) y[i] = 2.0f * x[i];
    }"""
    cdef = "void twice(const float *x, float *y, ptrdiff_t n);"
    cbackend.build(src, cdef, "twice")
    cbackend.clear_loaded()
    mod = cbackend.build(src, cdef, "twice")
    x = np.arange(37, dtype=np.float32)
    y = np.empty_like(x)
    mod.lib.twice(mod.ffi.cast("float *", x.ctypes.data), mod.ffi.cast("float *", y.ctypes.data), x.size)
    np.testing.assert_array_equal(y, 2 * x)
