"""Global configuration flags (Theano's ``config``).

Flags are read once at import from the ``SYMTENSOR_FLAGS`` environment variable
(``"floatX=float32,mode=FAST_COMPILE"``) and can be changed temporarily with
``config.change_flags(floatX='float32')`` as a context manager or decorator.
"""
from __future__ import annotations

import contextlib
import os
import re
import warnings
from typing import Any, Callable


class _Flag:
    def __init__(self, default: Any, allowed: tuple | None = None, convert: Callable = str, doc: str = ""):
        self.default = default
        self.allowed = allowed
        self.convert = convert
        self.doc = doc

    def check(self, name: str, value: Any) -> Any:
        try:
            value = self.convert(value)
        except (TypeError, ValueError) as err:
            raise ValueError(f"config.{name}: {err}") from None
        if self.allowed is not None and value not in self.allowed:
            raise ValueError(f"config.{name}: {value!r} is not one of {self.allowed}")
        return value


def _device(value: Any) -> str:
    value = str(value)
    if not re.fullmatch(r"cpu|cuda\d*", value):
        raise ValueError(f"expected 'cpu', 'cuda' or 'cudaN' (N a GPU number), got {value!r}")
    return value


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected a boolean, got {value!r}")
    return bool(value)


_FLAGS: dict[str, _Flag] = {
    "floatX": _Flag("float64", ("float64", "float32", "float16"), doc="default float dtype"),
    "device": _Flag("cpu", None, convert=_device, doc="'cpu' or 'cuda' (or 'cuda0', ...)"),
    "mode": _Flag("FAST_RUN", ("FAST_RUN", "FAST_COMPILE", "DebugMode", "DEBUG_MODE", "Mode"), doc="default compile mode"),
    "compiledir": _Flag(os.path.join(os.path.expanduser("~"), ".cache", "symtensor"), doc="compiled-code cache"),
    "on_unused_input": _Flag("raise", ("raise", "warn", "ignore")),
    "compute_test_value": _Flag("off", ("off", "ignore", "warn", "raise")),
    "exception_verbosity": _Flag("low", ("low", "high")),
    "optimizer_excluding": _Flag("", None, doc="colon-separated rewrite names to exclude"),
    "profile": _Flag(False, None, convert=_to_bool),
    "cast_policy": _Flag("custom", ("custom", "numpy+floatX")),
    "gcc__cxxflags": _Flag("", None, doc="extra flags for every compiled C module"),
    "openmp": _Flag(True, None, convert=_to_bool, doc="threads in compiled loops above openmp_elemwise_minsize"),
    "openmp_elemwise_minsize": _Flag(65536, None, convert=int, doc="elements above which C loops use threads"),
    "on_c_fallback": _Flag("ignore", ("ignore", "warn"),
                           doc="'warn': compiling a function lists the ops it runs through numpy perform"),
}


class Config:
    """Attribute access to the flags; unknown names raise AttributeError."""

    def __init__(self) -> None:
        object.__setattr__(self, "_values", {k: f.default for k, f in _FLAGS.items()})

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"config has no flag {name!r}; known flags: {sorted(_FLAGS)}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in _FLAGS:
            raise AttributeError(f"config has no flag {name!r}; known flags: {sorted(_FLAGS)}")
        self._values[name] = _FLAGS[name].check(name, value)

    def change_flags(self, **flags: Any) -> "_FlagChange":
        """Set flags for the duration of a ``with`` block (or a decorated function)."""
        return _FlagChange(self, flags)

    def flags(self) -> dict[str, Any]:
        return dict(self._values)

    def __dir__(self):
        return list(_FLAGS) + ["change_flags", "flags"]


class _FlagChange(contextlib.ContextDecorator):
    """Sets flags on entry and restores the previous values on exit, even after an exception.
    Names and values are checked when it is created, so a bad flag changes nothing."""

    def __init__(self, cfg: Config, flags: dict[str, Any]):
        self.cfg = cfg
        for k, v in flags.items():
            if k not in _FLAGS:
                raise AttributeError(f"change_flags: config has no flag {k!r}; known flags: {sorted(_FLAGS)}")
            flags[k] = _FLAGS[k].check(k, v)
        self.flags = flags
        self.saved: list[dict[str, Any]] = []

    def __enter__(self):
        self.saved.append({k: getattr(self.cfg, k) for k in self.flags})
        self.cfg._values.update(self.flags)
        return self

    def __exit__(self, *exc):
        self.cfg._values.update(self.saved.pop())
        return False


def _parse_env(cfg: Config, text: str, source: str = "SYMTENSOR_FLAGS") -> None:
    """Apply ``name=value,name=value``; unknown names warn (they may belong to another
    version), bad values of known flags raise."""
    for item in filter(None, (s.strip() for s in text.split(","))):
        if "=" not in item:
            raise ValueError(f"{source}: expected name=value, got {item!r}")
        name, value = (s.strip() for s in item.split("=", 1))
        if name not in _FLAGS:
            warnings.warn(f"{source}: unknown flag {name!r} ignored; known flags: {sorted(_FLAGS)}",
                          stacklevel=2)
            continue
        try:
            setattr(cfg, name, value)
        except ValueError as err:
            raise ValueError(f"{source}: {err}") from None


config = Config()
_parse_env(config, os.environ.get("SYMTENSOR_FLAGS", ""))
change_flags = config.change_flags

__all__ = ["config", "change_flags", "Config"]
