"""Compiling graphs into callables: function, In/Out, shared variables, modes."""
from ..graph import _hooks
from .function import Function, FunctionMaker, UnusedInputError, function
from .io import In, Out
from .mode import Mode, PREDEFINED, get_mode
from .shared import SharedVariable, TensorSharedVariable, shared

_hooks.function_factory = function
