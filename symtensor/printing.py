"""Theano's ``printing`` module: a public face over the graph printers."""
from .graph.printing import debugprint, pp, pydotprint  # noqa: F401

dprint = debugprint
