"""Late-bound services that later stages lend to graph objects.

``Variable.eval`` needs ``function`` (a later stage); compile/ installs it here when it
is imported, so graph/ never imports compile/.
"""
from __future__ import annotations

from typing import Any, Callable

function_factory: Callable | None = None


def evaluate(variable: Any, inputs_to_values: dict) -> Any:
    """``variable``'s value given {input variable: value}; the compiled function is cached on
    the variable, keyed by the set of inputs."""
    if function_factory is None:
        raise RuntimeError("Variable.eval needs symtensor.compile; import symtensor first")
    if not isinstance(inputs_to_values, dict):
        raise TypeError(f"{variable}.eval: expected a dict {{input variable: value}}, got "
                        f"{type(inputs_to_values).__name__}")
    from .basic import Variable
    for key in inputs_to_values:
        if not isinstance(key, Variable):
            raise TypeError(f"{variable}.eval: the key {key!r} is not a symbolic variable; use the variable "
                            f"itself (not its name) as the key")
    inputs = sorted(inputs_to_values, key=id)
    key = tuple(id(v) for v in inputs)
    cache = variable.__dict__.setdefault("_eval_cache", {})
    if key not in cache:
        cache[key] = function_factory(inputs, variable, on_unused_input="ignore")
    return cache[key](*[inputs_to_values[v] for v in inputs])
