"""config.device='cuda': no CUDA backend exists yet, so compiling warns once per process that
the function runs on the CPU, instead of silently ignoring the request."""
import importlib
import warnings

import numpy as np
import pytest

import symtensor as T
from symtensor.config import config

# the module, not the function of the same name that the package exports
function_module = importlib.import_module("symtensor.compile.function")


@pytest.fixture
def fresh_warning_state(monkeypatch):
    """Pretend no CUDA warning was given yet in this process."""
    monkeypatch.setattr(function_module, "_WARNED_DEVICE", [])


@pytest.mark.parametrize("device", ["cuda", "cuda0"])
def test_cuda_device_warns_once_and_runs_on_cpu(fresh_warning_state, device):
    x = T.dvector("x")
    with config.change_flags(device=device):
        with pytest.warns(RuntimeWarning, match="CUDA backend is not available yet; running on the CPU"):
            f = T.function([x], x * 2)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            g = T.function([x], x + 1)
    np.testing.assert_array_equal(f(np.arange(3.0)), [0.0, 2.0, 4.0])
    np.testing.assert_array_equal(g(np.arange(3.0)), [1.0, 2.0, 3.0])


def test_cpu_device_does_not_warn(fresh_warning_state):
    x = T.dvector("x")
    with config.change_flags(device="cpu"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            f = T.function([x], x * 2)
    np.testing.assert_array_equal(f(np.ones(2)), [2.0, 2.0])
    assert function_module._WARNED_DEVICE == []
