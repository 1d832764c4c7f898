"""The graph IR: types, variables, apply nodes, ops, function graphs, the numpy
interpreter and printing."""
from .basic import (Apply, Constant, Op, Scratchpad, Variable, ancestors, clone_graph, clone_replace,
                    format_trace, graph_inputs, is_constant, toposort, user_source_line)
from .fg import OUTPUT, FunctionGraph, InconsistencyError, MissingInputError, iter_inner_graphs, used_inputs
from .interpreter import Interpreter, annotate_error
from .null import (DisconnectedType, NullType, disconnected_type, grad_not_implemented, grad_undefined,
                   is_disconnected, is_null)
from .printing import debugprint, pp, pydotprint
from .type import (ALL_DTYPES, COMPLEX_DTYPES, DISCRETE_DTYPES, FLOAT_DTYPES, INT_DTYPES, TensorType, Type,
                   upcast)
