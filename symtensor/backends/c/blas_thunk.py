"""Calling a BLAS product kernel on numpy arrays (``Dot`` and ``Gemm`` nodes).

The thunk checks shapes (with the ops' own messages), allocates the C-contiguous output and
passes each operand as a data pointer with its element strides; the kernel decides how BLAS
reads it (in place, transposed, or through a packed copy). Values the kernel cannot address
by element strides (another dtype, byte-swapped, misaligned) are converted first, never
modified. Sizes beyond the BLAS's 32-bit integers run the op's numpy ``perform``.

Each node's direct callable (``for_node``) is that Python code behind the dispatch
extension's ``BlasCall`` (see :mod:`.dispatch_blas`) when it is available: the common call
then runs in C, every other call reaches the Python code unchanged.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ...codegen.c.blas import STATUS_NO_MEMORY, STATUS_TOO_LARGE, BlasKernel
from ...ops.gemm import check_shapes
from . import blaslib  # noqa: F401  (registers the library the kernels link with)
from .dispatch_blas import blas_call
from .operands import strided_operand as _operand


def _caller(fn: Callable, ffi, dtype: np.dtype) -> Callable:
    """``call(x, y, out, alpha, beta)``: out = alpha * x @ y + beta * out through ``fn``, a
    vector x being one row and a vector y one column; returns the kernel's status."""
    size = dtype.itemsize
    from_buffer, cast = ffi.from_buffer, ffi.cast

    def pointer(a: np.ndarray):
        if a.flags.c_contiguous:
            return from_buffer(a)          # the cheapest way to an address
        return cast("void *", a.__array_interface__["data"][0])

    def call(x: np.ndarray, y: np.ndarray, out: np.ndarray, alpha: float, beta: float) -> int:
        if x.ndim == 2:
            m, (xs0, xs1) = x.shape[0], x.strides
        else:
            m, xs0, xs1 = 1, 0, x.strides[0]
        if y.ndim == 2:
            n, (ys0, ys1) = y.shape[1], y.strides
        else:
            n, ys0, ys1 = 1, y.strides[0], 0
        return fn(m, n, y.shape[0], pointer(x), xs0 // size, xs1 // size,
                  pointer(y), ys0 // size, ys1 // size, from_buffer(out), alpha, beta)

    return call


def _perform(node, inputs: list) -> np.ndarray:
    """The op's numpy ``perform`` on ``inputs`` (a new array, as the direct protocol needs)."""
    store: list = [None]
    node.op.perform(node, inputs, [store])
    return store[0]


def _with_direct(make_direct: Callable[[object], Callable]) -> Callable:
    """The perform-compatible thunk of a node family whose direct callable (made once per node
    by ``make_direct``) returns a 1-tuple holding the output; it carries ``for_node``."""
    bound: dict = {}

    def for_node(node) -> Callable:
        """The direct callable for ``node`` (built once per node)."""
        direct = bound.get(node)
        if direct is None:
            direct = bound[node] = make_direct(node)
        return direct

    def thunk(node, inputs: list, output_storage: list) -> None:
        output_storage[0][0] = for_node(node)(*inputs)[0]

    thunk.for_node = for_node
    return thunk


def _check(status: int, node) -> bool:
    """True when the kernel computed the result; raises when it ran out of memory."""
    if status == STATUS_NO_MEMORY:
        raise MemoryError(f"{node.op}: out of memory packing an operand for BLAS")
    return status != STATUS_TOO_LARGE


def dot_thunk(kernel: BlasKernel, fn, ffi) -> Callable:
    """A perform-compatible callable computing a ``Dot`` node through the kernel.

    It carries ``for_node(node)``: a callable taking ``(x, y)`` and returning a 1-tuple
    holding the newly allocated product (the executor's direct protocol), behind the
    compiled dispatcher when the dispatch extension is available."""
    dtype = np.dtype(kernel.dtype)
    call = _caller(fn, ffi, dtype)

    def compute(node, x_in, y_in) -> np.ndarray:
        x, y = _operand(x_in, dtype), _operand(y_in, dtype)
        if x.shape[-1] != y.shape[0]:
            raise ValueError(f"Dot: shapes {x.shape} and {y.shape} are not aligned: dimension "
                             f"{x.ndim - 1} of x has size {x.shape[-1]} but dimension 0 of y has "
                             f"size {y.shape[0]}")
        out = np.empty(x.shape[:-1] + y.shape[1:], dtype=dtype)
        if _check(call(x, y, out, 1.0, 0.0), node):
            return out
        return _perform(node, [x_in, y_in])

    def make_direct(node) -> Callable:
        def direct(x, y) -> tuple:
            return (compute(node, x, y),)
        ranks = [v.ndim for v in node.inputs]
        return blas_call(fn, ffi, dtype, False, ranks, (), direct) or direct

    return _with_direct(make_direct)


def gemm_thunk(kernel: BlasKernel, fn, ffi) -> Callable:
    """A perform-compatible callable computing a ``Gemm`` node: the output starts as a copy
    of the broadcast z, and BLAS accumulates ``alpha * x @ y`` into it with ``beta``.

    A zero alpha or beta runs ``perform``: BLAS would skip the product (or z), while numpy's
    ``0 * nan`` is nan. Like ``dot_thunk``'s, it carries ``for_node(node)`` (a callable taking
    ``(z, alpha, x, y, beta)``); ``prepare_into`` is the in-place form (not the direct one)."""
    dtype = np.dtype(kernel.dtype)
    call = _caller(fn, ffi, dtype)

    def compute(node, inputs: list) -> np.ndarray:
        z, alpha, x, y, beta = inputs
        alpha, beta = float(alpha), float(beta)
        if alpha == 0 or beta == 0:
            return _perform(node, inputs)
        z, x, y = (_operand(v, dtype) for v in (z, x, y))
        out = np.empty(check_shapes(node.inputs[0], z, x, y), dtype=dtype)
        np.copyto(out, z)
        if _check(call(x, y, out, alpha, beta), node):
            return out
        return _perform(node, inputs)

    def make_direct(node) -> Callable:
        def direct(z, alpha, x, y, beta) -> tuple:
            return (compute(node, [z, alpha, x, y, beta]),)
        return blas_call(fn, ffi, dtype, True, (2, 2), node.inputs[0].broadcastable, direct) or direct

    thunk = _with_direct(make_direct)

    def prepare_into(node, inputs: list, target: np.ndarray) -> Callable | None:
        """Check the call (raising as the thunk would), then return ``run()`` accumulating
        into ``target`` itself when it is z, of the product's shape, and overlaps neither
        factor; else None."""
        z, alpha, x, y, beta = inputs
        alpha, beta = float(alpha), float(beta)
        x, y = _operand(x, dtype), _operand(y, dtype)
        shape = check_shapes(node.inputs[0], _operand(z, dtype), x, y)
        if (z is not target or alpha == 0 or beta == 0 or shape != target.shape
                or np.may_share_memory(x, target) or np.may_share_memory(y, target)):
            return None

        def run() -> np.ndarray:
            if not _check(call(x, y, target, alpha, beta), node):
                store = [[None]]
                node.op.perform(node, [target.copy(), alpha, x, y, beta], store)
                np.copyto(target, store[0][0])
            return target
        return run

    thunk.prepare_into = prepare_into
    return thunk


THUNKS = {"dot": dot_thunk, "gemm": gemm_thunk}


def blas_thunk(kernel: BlasKernel, fn, ffi) -> Callable:
    """The runtime wrapper for a BLAS kernel, by the op it was rendered for."""
    return THUNKS[kernel.op](kernel, fn, ffi)
