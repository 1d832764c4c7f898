"""Late-bound services that later stages lend to graph objects.

``Variable.eval`` needs ``function`` (a later stage); compile/ installs it here when it
is imported, so graph/ never imports compile/.
"""
from __future__ import annotations

from typing import Any, Callable

function_factory: Callable | None = None


def evaluate(variable: Any, inputs_to_values: dict) -> Any:
    if function_factory is None:
        raise RuntimeError("Variable.eval needs symtensor.compile; import symtensor first")
    inputs = sorted(inputs_to_values, key=id)
    key = tuple(id(v) for v in inputs)
    cache = variable.__dict__.setdefault("_eval_cache", {})
    if key not in cache:
        cache[key] = function_factory(inputs, variable, on_unused_input="ignore")
    return cache[key](*[inputs_to_values[v] for v in inputs])
