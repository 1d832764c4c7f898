"""Fixtures for the C backend tests: every test compiles into its own private cache dir."""
import os

import pytest

from symtensor.backends import c as cbackend
from symtensor.backends.c import cache, toolchain
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


def entry_files(directory):
    """The module and manifest files in a cache directory (scratch dirs excluded)."""
    return sorted(f for f in os.listdir(directory) if not f.startswith("."))


__all__ = ["needs_compiler", "entry_files"]
