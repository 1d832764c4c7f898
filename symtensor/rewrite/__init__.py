"""Graph rewriting: the engine (named rules, passes, phases) and the rule sets by phase."""
from .engine import (GraphPass, NodePass, NodeRewriter, Phase, Pipeline, RewriteLog,  # noqa: F401
                     node_rewriter)
from .pipeline import FAST_RUN, optimize  # noqa: F401
