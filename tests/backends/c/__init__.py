"""Tests of the C backend: toolchain, disk cache, build and load."""
