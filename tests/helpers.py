"""Helpers shared by the op tests: random inputs in every layout, compile-and-run, shape checks.

numpy is the oracle: a test builds a graph, runs it in a mode and compares with numpy on
the same values. ``layouts`` yields the array layouts every op must handle (contiguous,
non-contiguous and zero-size).
"""
from __future__ import annotations

import numpy as np

import symtensor as T
from symtensor.ops.shape import shape_tuple

FLOATS = ["float32", "float64"]
INTS = ["int32", "int64"]
DTYPES = FLOATS + INTS


def rand(rng, shape, dtype="float64", low=-5, high=6):
    """Random values of ``dtype``: standard normal floats, integers in [low, high), random bools."""
    kind = np.dtype(dtype).kind
    if kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    if kind in "iu":
        return rng.integers(max(low, 0) if kind == "u" else low, high, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def noncontiguous(value: np.ndarray) -> np.ndarray:
    """The same values, in an array that is a strided view (every axis stepped by 2)."""
    value = np.asarray(value)
    if value.ndim == 0:
        return value.copy()          # a 0-d array has no strides to step
    big = np.zeros(tuple(2 * s for s in value.shape), dtype=value.dtype)
    view = big[tuple(slice(None, None, 2) for _ in value.shape)]
    view[...] = value
    assert value.ndim == 0 or value.size == 0 or not view.flags.c_contiguous or value.size == 1
    return view


def layouts(rng, shape, dtype="float64"):
    """(name, array) pairs: contiguous, non-contiguous and, for ndim >= 1, zero-size."""
    value = rand(rng, shape, dtype)
    out = [("contiguous", value), ("noncontiguous", noncontiguous(value))]
    if len(shape):
        out.append(("zero-size", rand(rng, (0,) + tuple(shape[1:]), dtype)))
    return out


def run(mode, inputs, outputs, *values):
    """Compile ``outputs`` from ``inputs`` in ``mode`` and call it on ``values``."""
    return T.function(inputs, outputs, mode=mode, on_unused_input="ignore")(*values)


def check_infer_shape(mode, inputs, out, values, expected):
    """The op's symbolic infer_shape evaluates to the actual output shape."""
    node = out.owner
    shapes = node.op.infer_shape(node, [shape_tuple(i) for i in node.inputs])
    sym = shapes[node.outputs.index(out)]
    got = run(mode, inputs, [T.as_tensor_variable(s) for s in sym], *values) if sym else []
    assert tuple(int(g) for g in got) == tuple(expected)


def assert_unchanged(before: list, after: list) -> None:
    """The caller's arrays were not written into."""
    for b, a in zip(before, after):
        np.testing.assert_array_equal(b, a)


def tol(dtype) -> dict:
    """assert_allclose tolerances for a dtype's rounding."""
    return dict(rtol=1e-4, atol=1e-5) if np.dtype(dtype) == np.float32 else dict(rtol=1e-10, atol=1e-12)
