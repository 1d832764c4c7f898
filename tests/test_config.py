"""config: the flags' defaults and checks, change_flags as a context manager and decorator
(restoring on exit, even after an exception), and SYMTENSOR_FLAGS read at import."""
import os
import subprocess
import sys

import numpy as np
import pytest

import symtensor as T
from symtensor.config import config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _python(code: str, flags: str | None) -> subprocess.CompletedProcess:
    """Run ``code`` in a new interpreter with SYMTENSOR_FLAGS set to ``flags`` (unset if None)."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("SYMTENSOR_FLAGS", None)
    if flags is not None:
        env["SYMTENSOR_FLAGS"] = flags
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_defaults_and_public_faces():
    assert T.config is config and T.change_flags is not None
    assert config.floatX in ("float64", "float32", "float16")
    assert config.device.startswith(("cpu", "cuda"))
    assert config.mode in ("FAST_RUN", "FAST_COMPILE", "DebugMode", "DEBUG_MODE", "Mode")
    assert isinstance(config.compiledir, str) and config.compiledir
    import symtensor
    assert symtensor.config is config and symtensor.config.floatX == config.floatX


def test_floatx_drives_new_variables():
    with config.change_flags(floatX="float32"):
        assert config.floatX == "float32"
        assert T.matrix("m").dtype == "float32"
        assert T.TensorType("floatX", (False,)).dtype == "float32"
    assert config.floatX == "float64" or os.environ.get("SYMTENSOR_FLAGS")
    assert T.matrix().dtype == config.floatX


def test_change_flags_restores_after_exception():
    before = (config.floatX, config.mode, config.compiledir)
    with pytest.raises(RuntimeError, match="boom"):
        with config.change_flags(floatX="float32", mode="FAST_COMPILE", compiledir="/nonexistent/cache"):
            assert (config.floatX, config.mode, config.compiledir) == ("float32", "FAST_COMPILE",
                                                                       "/nonexistent/cache")
            raise RuntimeError("boom")
    assert (config.floatX, config.mode, config.compiledir) == before


def test_change_flags_nested_and_as_decorator():
    outer = config.floatX

    @config.change_flags(floatX="float32")
    def inside():
        return config.floatX, T.vector().dtype

    with config.change_flags(floatX="float16"):
        assert inside() == ("float32", "float32")
        assert config.floatX == "float16"
    assert config.floatX == outer
    assert inside() == ("float32", "float32") and config.floatX == outer


def test_mode_flag_selects_the_default_mode():
    x = T.dvector("x")
    with config.change_flags(mode="DebugMode"):
        f = T.function([x], x * 2)
    assert f.maker.mode.name == "DebugMode"
    np.testing.assert_array_equal(f(np.ones(2)), [2.0, 2.0])


@pytest.mark.parametrize("name, value", [("floatX", "int32"), ("mode", "FASTEST"), ("device", "gpu"),
                                         ("on_unused_input", "maybe"), ("profile", "perhaps")])
def test_bad_flag_values_raise_and_change_nothing(name, value):
    before = config.flags()
    with pytest.raises(ValueError, match=rf"config.{name}"):
        setattr(config, name, value)
    with pytest.raises(ValueError, match=rf"config.{name}"):
        config.change_flags(**{"compiledir": "/elsewhere", name: value})
    assert config.flags() == before


def test_unknown_flags_raise():
    with pytest.raises(AttributeError, match="no flag 'floatx'"):
        config.floatx = "float32"
    with pytest.raises(AttributeError, match="no flag 'nonsense'"):
        config.nonsense  # noqa: B018
    with pytest.raises(AttributeError, match="no flag 'floatx'"):
        config.change_flags(floatx="float32")


def test_device_and_boolean_flags_convert():
    with config.change_flags(device="cuda0", profile="true"):
        assert config.device == "cuda0" and config.profile is True
    with config.change_flags(profile="0"):
        assert config.profile is False


def test_environment_flags_read_at_import():
    code = ("import symtensor as T\n"
            "print(T.config.floatX, T.config.mode, T.matrix().dtype, T.config.compiledir)")
    proc = _python(code, "floatX=float32, mode=FAST_COMPILE,compiledir=/tmp/st-cache")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["float32", "FAST_COMPILE", "float32", "/tmp/st-cache"]
    plain = _python(code, None)
    assert plain.stdout.split()[:3] == ["float64", "FAST_RUN", "float64"]


def test_environment_flags_errors():
    bad = _python("import symtensor", "floatX=float8")
    assert bad.returncode != 0 and "SYMTENSOR_FLAGS" in bad.stderr and "float8" in bad.stderr
    malformed = _python("import symtensor", "floatX")
    assert malformed.returncode != 0 and "expected name=value" in malformed.stderr
    unknown = _python("import symtensor as T; print(T.config.floatX)", "floatX=float32,lib.cnmem=0.5")
    assert unknown.returncode == 0, unknown.stderr
    assert unknown.stdout.strip() == "float32" and "unknown flag 'lib.cnmem'" in unknown.stderr
