"""Fixtures for the C backend tests: every test compiles into its own private cache dir; the
dispatch extension's tests share its fixtures and the outcome comparison below."""
import os

import numpy as np
import pytest

from symtensor.backends import c as cbackend
from symtensor.backends.c import cache, dispatch, toolchain
from symtensor.config import config

needs_compiler = pytest.mark.skipif(toolchain.find_compiler() is None, reason="no C compiler on PATH")


@pytest.fixture(autouse=True)
def _fresh_state():
    """Forget per-process memo tables so each test sees only its own cache dir."""
    cbackend.clear_loaded()
    cache.reset()
    yield
    cbackend.clear_loaded()
    cache.reset()


@pytest.fixture
def compiledir(tmp_path):
    """A fresh compiledir under tmp_path, set in config for the test's duration."""
    path = str(tmp_path / "compiledir")
    with config.change_flags(compiledir=path):
        yield path


@pytest.fixture
def compile_calls(monkeypatch):
    """Counts compiler invocations (the real compiler still runs)."""
    calls = []
    real = toolchain.compile_shared

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(toolchain, "compile_shared", counting)
    return calls


@pytest.fixture
def fresh_dispatch():
    """Forget which dispatch extension is loaded, before and after the test."""
    dispatch.reset()
    yield
    dispatch.reset()


@pytest.fixture
def ext(fresh_dispatch):
    """The dispatch extension for the configured compile directory; the test is skipped without it."""
    module = dispatch.extension()
    if module is None:
        pytest.skip("the dispatch extension cannot be built here (no Python or numpy headers?)")
    return module


def outcome(call, *args, **kwargs):
    """("ok", result) or ("error", (type, message)): what a call gave, to compare two paths."""
    try:
        return "ok", call(*args, **kwargs)
    except Exception as err:   # the error itself is the result compared
        return "error", (type(err), str(err))


def assert_same_outcome(got, want):
    """Two outcomes agree: the same error, or arrays of the same type, dtype, shape and values."""
    assert got[0] == want[0], (got, want)
    if got[0] == "error":
        assert got[1] == want[1]
        return
    g = got[1] if isinstance(got[1], (list, tuple)) else [got[1]]
    w = want[1] if isinstance(want[1], (list, tuple)) else [want[1]]
    assert len(g) == len(w)
    for a, b in zip(g, w):
        assert type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def entry_files(directory):
    """The module and manifest files in a cache directory (scratch dirs excluded)."""
    return sorted(f for f in os.listdir(directory) if not f.startswith("."))


__all__ = ["needs_compiler", "entry_files", "outcome", "assert_same_outcome"]
