"""Toolchain discovery: no compiler means one clear warning and a catchable exception."""
import pytest

from symtensor.backends import c as cbackend
from symtensor.backends.c import prelude, toolchain


@pytest.fixture
def no_compiler(monkeypatch, compiledir):
    """PATH without gcc: the lookup finds nothing."""
    toolchain.reset()
    monkeypatch.setenv("PATH", "")
    yield
    toolchain.reset()


def test_missing_compiler_warns_and_raises(no_compiler):
    assert toolchain.find_compiler() is None
    with pytest.warns(cbackend.CompilerUnavailableWarning, match="numpy"):
        with pytest.raises(cbackend.CompilerUnavailable, match="numpy backend"):
            cbackend.build("int f(void) { return 1; }", "int f(void);", "f")


def test_available_is_false_without_compiler(no_compiler):
    with pytest.warns(cbackend.CompilerUnavailableWarning):
        assert cbackend.available() is False


def test_missing_compiler_warns_only_once(no_compiler, recwarn):
    for _ in range(3):
        with pytest.raises(cbackend.CompilerUnavailable):
            cbackend.build("int f(void) { return 1; }", "int f(void);", "f")
    assert len([w for w in recwarn if issubclass(w.category, cbackend.CompilerUnavailableWarning)]) == 1


def test_broken_compiler_is_unavailable(monkeypatch, compiledir, tmp_path):
    fake = tmp_path / "gcc"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    toolchain.reset()
    monkeypatch.setenv("PATH", str(tmp_path))
    try:
        with pytest.warns(cbackend.CompilerUnavailableWarning, match="does not run"):
            assert cbackend.available() is False
            with pytest.raises(cbackend.CompilerUnavailable, match="numpy backend"):
                cbackend.build("int f(void) { return 1; }", "int f(void);", "f")
    finally:
        toolchain.reset()


@pytest.mark.skipif(toolchain.find_compiler() is None, reason="no C compiler on PATH")
@pytest.mark.skipif(toolchain.find_compiler() is None, reason="no C compiler on PATH")
def test_toolchain_identity_needs_no_subprocess(monkeypatch):
    toolchain.reset()
    monkeypatch.setattr(toolchain.subprocess, "run", lambda *a, **k: pytest.fail("a subprocess ran"))
    first = toolchain.get_toolchain()
    assert toolchain.get_toolchain() is first
    assert len(first.identity) == 64 and len(first.cpu_target) == 64


@pytest.mark.skipif(toolchain.find_compiler() is None, reason="no C compiler on PATH")
def test_compiler_version_is_probed_once(monkeypatch):
    tc = toolchain.get_toolchain()
    version = toolchain.compiler_version(tc)
    monkeypatch.setattr(toolchain, "_probe_version", lambda path: pytest.fail("compiler probed twice"))
    assert toolchain.compiler_version(tc) == version and "version" in version


def test_prelude_declares_vector_math_without_fast_math():
    text = prelude.PRELUDE
    assert "#pragma omp declare simd notinbranch\ndouble exp(double);" in text
    assert "float expf(float);" in text and "double pow(double, double);" in text
    assert "ST_OMP_THRESHOLD" in text
    assert "-ffast-math" not in toolchain.BASE_FLAGS
