"""Theano's ``printing`` module: a public face over the graph printers."""
from .graph.printing import debugprint, pp, pydotprint  # noqa: F401

dprint = debugprint
from .ops.debug_print import Print  # noqa: F401
