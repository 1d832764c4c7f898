"""Shared test fixtures: every op test runs in every compile mode."""
import numpy as np
import pytest

MODES = ["FAST_COMPILE", "FAST_RUN", "DebugMode"]


@pytest.fixture(params=MODES)
def mode(request):
    """The name of a compile mode; op tests compile with ``function(..., mode=mode)``."""
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
