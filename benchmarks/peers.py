"""Which optional peers (PyTensor, JAX, PyTorch) are measured: installed ones, and only while
the runner's peer phase is on (symtensor and numpy are measured first; see ``__main__``)."""
from __future__ import annotations

import importlib.util

#: Set to False by the runner while it measures symtensor and numpy.
PEERS = {"enabled": True}


def have(module: str) -> bool:
    """Whether the peer ``module`` is installed and peers are being measured."""
    return PEERS["enabled"] and importlib.util.find_spec(module) is not None
