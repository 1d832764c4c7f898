"""Lowering of rewritten graphs to kernels, rendered as C (and, later, CUDA) source."""
