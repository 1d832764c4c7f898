"""Executors for compiled function graphs: python (numpy reference); C and CUDA later."""
