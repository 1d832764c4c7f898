"""A compiledir that passes the checks but cannot take a build (a pseudo file system, a full
disk, a quota) makes the build fall back to a private temporary directory with one warning,
instead of raising the raw OSError."""
import errno
import os
import warnings

import pytest

from symtensor.backends import c as cbackend
from symtensor.backends.c import cache

from .conftest import needs_compiler

pytestmark = needs_compiler

CDEF = "long answer(void);"


def _source(value):
    return f"ST_EXPORT long answer(void) {{ return {value}L; }} /* cache-fallback {value} */"


def _refusing(compiledir, monkeypatch, stage, error):
    """Make ``stage`` ('scratch_dir' or 'publish') raise ``error`` inside ``compiledir`` only."""
    real = getattr(cache, stage)
    blocked = os.path.realpath(compiledir)

    def refuse(directory, *args, **kwargs):
        if directory == blocked:
            raise error
        return real(directory, *args, **kwargs)

    monkeypatch.setattr(cache, stage, refuse)
    return blocked


@pytest.mark.parametrize("stage, error", [
    ("scratch_dir", FileNotFoundError(errno.ENOENT, "No such file or directory")),
    ("scratch_dir", OSError(errno.ENOSPC, "No space left on device")),
    ("publish", OSError(errno.EDQUOT, "Disk quota exceeded")),
])
def test_build_falls_back_when_the_dir_refuses_files(compiledir, monkeypatch, stage, error):
    blocked = _refusing(compiledir, monkeypatch, stage, error)
    value = 4100 + error.errno   # a module unique to this case
    with pytest.warns(cache.CompileDirWarning, match="cannot write to compiledir") as record:
        mod = cbackend.build(_source(value), CDEF, "fallback")
    assert mod.lib.answer() == value
    assert not mod.path.startswith(blocked + os.sep)
    assert len([w for w in record if issubclass(w.category, cache.CompileDirWarning)]) == 1


def test_second_build_reuses_the_fallback_without_warning_again(compiledir, monkeypatch):
    _refusing(compiledir, monkeypatch, "scratch_dir", OSError(errno.EROFS, "Read-only file system"))
    with pytest.warns(cache.CompileDirWarning):
        first = cbackend.build(_source(4201), CDEF, "first")
    with warnings.catch_warnings():
        warnings.simplefilter("error", cache.CompileDirWarning)
        second = cbackend.build(_source(4202), CDEF, "second")
    assert (first.lib.answer(), second.lib.answer()) == (4201, 4202)
    assert os.path.dirname(first.path) == os.path.dirname(second.path)
