"""Modules built from several translation units: compiled in parallel, linked into one library,
cached under one key like any module; errors name the part and a malformed cdef still wins."""
import os

import cffi
import pytest

from symtensor.backends import c as cbackend
from symtensor.backends.c.executor import MAX_PARTS, PART_CHARS, split_parts

from .conftest import entry_files, needs_compiler

CDEF = "long first(long x);\nlong second(long x);"


def _parts(tag):
    """Two units, each with a static helper of the same name (a unit's statics are its own)."""
    return [f"static long helper(long x) {{ return 3 * x; }} /* {tag} */\n"
            f"ST_EXPORT long first(long x) {{ return helper(x) + 1; }}",
            f"static long helper(long x) {{ return 5 * x; }} /* {tag} */\n"
            f"ST_EXPORT long second(long x) {{ return helper(x) - 1; }}"]


@needs_compiler
def test_parts_link_into_one_module(compiledir, compile_calls):
    mod = cbackend.build(_parts("link"), CDEF, "parts")
    assert (mod.lib.first(10), mod.lib.second(10)) == (31, 49)
    assert len(compile_calls) == 1
    assert len(entry_files(compiledir)) == 3          # one entry: .so, .py, .json


@needs_compiler
def test_parts_are_cached_under_one_key(compiledir, compile_calls):
    first = cbackend.build(_parts("cached"), CDEF, "parts")
    cbackend.clear_loaded()
    second = cbackend.build(_parts("cached"), CDEF, "parts")
    assert second.path == first.path and len(compile_calls) == 1
    swapped = cbackend.build(_parts("cached")[::-1], CDEF, "parts")   # the order is content too
    assert swapped.key != first.key and len(compile_calls) == 2
    assert (swapped.lib.first(1), swapped.lib.second(1)) == (4, 4)


@needs_compiler
def test_parts_build_reproducibly(tmp_path):
    """Object files come from relative names, so the library does not depend on the scratch dir."""
    from symtensor.config import config
    blobs = []
    for k in range(2):
        with config.change_flags(compiledir=str(tmp_path / f"dir{k}")):
            paths, _ = cbackend.ensure_built(_parts("repro"), CDEF, "repro")
            with open(paths["so"], "rb") as f:
                blobs.append(f.read())
    assert blobs[0] == blobs[1]


@needs_compiler
def test_compile_error_names_the_part(compiledir):
    parts = _parts("error")
    parts[1] = "ST_EXPORT long second(long x) {\n  return undefined_name; }"
    with pytest.raises(cbackend.CompileError, match=r"parts\.1\.c:2"):
        cbackend.build(parts, CDEF, "parts")
    assert not [f for f in os.listdir(compiledir) if f.startswith(".build-")]   # scratch removed


@needs_compiler
def test_malformed_cdef_is_reported_even_when_a_part_fails(compiledir):
    parts = _parts("cdef")
    parts[0] = "this is not C"
    with pytest.raises(cffi.CDefError):
        cbackend.build(parts, "long first(long x;", "parts")


@needs_compiler
def test_empty_part_list_is_refused(compiledir):
    with pytest.raises(ValueError, match="no source"):
        cbackend.build([], CDEF, "nothing")


class _Kernel:
    def __init__(self, name, size):
        self.name, self.source = name, "x" * size


def test_split_parts_is_balanced_complete_and_deterministic():
    kernels = [_Kernel(f"k{i}", 2000 + 997 * (i % 7)) for i in range(30)]
    parts = split_parts(kernels)
    names = sorted(k.name for part in parts for k in part)
    assert names == sorted(k.name for k in kernels)                      # each kernel once
    total = sum(len(k.source) for k in kernels)
    assert len(parts) == max(1, min(MAX_PARTS, round(total / PART_CHARS)))
    weights = [sum(len(k.source) for k in part) for part in parts]
    assert max(weights) - min(weights) <= max(len(k.source) for k in kernels)
    again = split_parts(list(reversed(kernels)))                        # order of discovery: irrelevant
    assert [[k.name for k in p] for p in again] == [[k.name for k in p] for p in parts]


def test_small_modules_stay_one_part():
    assert len(split_parts([_Kernel("a", 500), _Kernel("b", 700)])) == 1
    assert len(split_parts([_Kernel("a", 10 * PART_CHARS)])) == 1
