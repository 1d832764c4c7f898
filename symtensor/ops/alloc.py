"""Ops that create arrays: ``Alloc`` (broadcast a value to a shape), ``Eye``, ``ARange``,
and zeros/ones/fill/zeros_like built on them."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..config import config
from ..graph.basic import Apply, Constant, Op, Variable
from ..graph.null import disconnected_type
from ..graph.type import TensorType
from .basic import as_tensor_variable, constant
from .elemwise import ELEMWISE_FUNCTIONS, cast, sum_to_broadcastable
from .shape import as_int_scalar

second = ELEMWISE_FUNCTIONS["second"]
tensor_copy = ELEMWISE_FUNCTIONS["identity"]


def _const_int(v: Variable) -> int | None:
    return int(v.data) if isinstance(v, Constant) else None


class Alloc(Op):
    """``value`` broadcast (numpy rules, aligned right) to the shape given by scalar inputs."""

    def make_node(self, value: Any, *shape: Any) -> Apply:
        value = as_tensor_variable(value)
        dims = [as_int_scalar(s, f"alloc: shape entry {i}") for i, s in enumerate(shape)]
        if value.ndim > len(dims):
            raise ValueError(f"alloc: the value has {value.ndim} dimension(s), more than the "
                             f"{len(dims)} of the requested shape")
        static = []
        for i, d in enumerate(dims):
            n = _const_int(d)
            if n is not None and n < 0:
                raise ValueError(f"alloc: negative dimension {n} in the requested shape")
            j = i - (len(dims) - value.ndim)
            vs = value.type.shape[j] if j >= 0 else 1
            if n is not None and vs not in (None, 1) and vs != n:
                raise ValueError(f"alloc: value of shape {value.type.shape} cannot be broadcast to "
                                 f"dimension {i} of size {n}")
            static.append(n if n is not None else (vs if vs not in (None, 1) else None))
        return Apply(self, [value] + dims, [TensorType(value.dtype, shape=tuple(static))()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        value, *dims = inputs
        shape = tuple(int(d) for d in dims)
        if any(d < 0 for d in shape):
            raise ValueError(f"alloc: negative dimension in the requested shape {shape}")
        _check_alloc_broadcast(node.inputs[0], np.shape(value), shape)
        out = np.empty(shape, dtype=node.outputs[0].dtype)
        out[...] = value
        output_storage[0][0] = out

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [tuple(node.inputs[1:])]

    def connection_pattern(self, node: Apply) -> list:
        return [[True]] + [[False]] * (len(node.inputs) - 1)

    def L_op(self, inputs, outputs, output_grads):
        value = inputs[0]
        if value.dtype[0] not in "fc":
            return [zeros_like(value, dtype=config.floatX)] + [disconnected_type()] * (len(inputs) - 1)
        return [sum_to_broadcastable(output_grads[0], value)] + [disconnected_type()] * (len(inputs) - 1)

    def R_op(self, inputs, eval_points):
        return [None] if eval_points[0] is None else [self(eval_points[0], *inputs[1:])]

    def vectorize_node(self, node: Apply, value: Variable, *dims: Variable) -> list:
        """A batch of values: the batch axis goes in front of the requested shape."""
        if any(d.ndim for d in dims):
            raise NotImplementedError("alloc: a batch of different shapes cannot be batched")
        orig = node.inputs[0]
        if value.ndim == orig.ndim:
            return [self(value, *dims)]
        from .shape import shape_i
        pad = len(dims) - orig.ndim
        value = value.dimshuffle(0, *(["x"] * pad), *range(1, value.ndim))
        return [self(value, shape_i(value, 0), *dims)]


def _check_alloc_broadcast(var: Variable, vshape: tuple, shape: tuple) -> None:
    """Theano's broadcasting rule, as in elementwise ops: a value dimension broadcasts only
    when it is marked broadcastable; otherwise its size must equal the requested one."""
    offset = len(shape) - len(vshape)
    for axis, size in enumerate(vshape):
        want = shape[axis + offset]
        if size == want or (size == 1 and var.broadcastable[axis]):
            continue
        hint = ""
        if size == 1:
            hint = (" (a size-1 dimension that is not marked broadcastable does not broadcast; "
                    "use addbroadcast, dimshuffle('x', ...) or a row/col variable)")
        raise ValueError(f"alloc: the value of shape {vshape} cannot be broadcast to the requested "
                         f"shape {shape}: dimension {axis} of the value has size {size}{hint}")


_alloc = Alloc()


def alloc(value: Any, *shape: Any) -> Variable:
    """An array of the given shape filled with ``value`` (broadcast)."""
    return _alloc(value, *shape)


def _shape_entries(shape: Any) -> list:
    if isinstance(shape, (int, np.integer)):
        return [shape]
    if isinstance(shape, Variable):
        if shape.ndim == 0:
            return [shape]
        from . import api as A
        n = shape.type.shape[0]
        if n is None:
            raise ValueError("zeros/ones: the shape vector must have a known length")
        return [A.getitem(shape, i) for i in range(n)]
    return list(shape)


def zeros(shape: Any, dtype: str | None = None) -> Variable:
    dtype = dtype or config.floatX
    return alloc(constant(0, dtype=dtype), *_shape_entries(shape))


def ones(shape: Any, dtype: str | None = None) -> Variable:
    dtype = dtype or config.floatX
    return alloc(constant(1, dtype=dtype), *_shape_entries(shape))


def fill(model: Any, value: Any) -> Variable:
    """``value`` broadcast to the shape of ``model`` (Theano's fill/second)."""
    return second(model, value)


def zeros_like(x: Any, dtype: str | None = None, opt: bool = False) -> Variable:
    x = as_tensor_variable(x)
    return second(x, constant(0, dtype=dtype or x.dtype))


def ones_like(x: Any, dtype: str | None = None, opt: bool = False) -> Variable:
    x = as_tensor_variable(x)
    return second(x, constant(1, dtype=dtype or x.dtype))


class Eye(Op):
    """An n x m matrix with ones on the k-th diagonal."""

    __props__ = ("dtype",)

    def __init__(self, dtype: str):
        self.dtype = str(np.dtype(dtype))

    def make_node(self, n: Any, m: Any, k: Any) -> Apply:
        n, m, k = (as_int_scalar(v, name) for v, name in ((n, "eye: n"), (m, "eye: m"), (k, "eye: k")))
        shape = (_const_int(n), _const_int(m))
        for s, name in zip(shape, "nm"):
            if s is not None and s < 0:
                raise ValueError(f"eye: {name} must be >= 0, got {s}")
        return Apply(self, [n, m, k], [TensorType(self.dtype, shape=shape)()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        n, m, k = (int(v) for v in inputs)
        if n < 0 or m < 0:
            raise ValueError(f"eye: the number of rows and columns must be >= 0, got n={n}, m={m}")
        output_storage[0][0] = np.eye(n, m, k, dtype=self.dtype)

    def infer_shape(self, node, input_shapes):
        return [(node.inputs[0], node.inputs[1])]

    def connection_pattern(self, node):
        return [[False]] * 3

    def L_op(self, inputs, outputs, output_grads):
        return [disconnected_type()] * 3


def eye(n: Any, m: Any = None, k: Any = 0, dtype: str | None = None) -> Variable:
    return Eye(dtype or config.floatX)(n, n if m is None else m, k)


def identity_like(x: Any) -> Variable:
    """An identity-like matrix of ``x``'s shape and dtype (ones on the main diagonal)."""
    from .shape import shape_i
    x = as_tensor_variable(x)
    if x.ndim != 2:
        raise TypeError(f"identity_like: expected a matrix, got {x} with {x.ndim} dimension(s)")
    return eye(shape_i(x, 0), shape_i(x, 1), 0, dtype=x.dtype)


class ARange(Op):
    """numpy.arange(start, stop, step) with scalar inputs."""

    __props__ = ("dtype",)

    def __init__(self, dtype: str):
        self.dtype = str(np.dtype(dtype))

    def make_node(self, start: Any, stop: Any, step: Any) -> Apply:
        ins = [as_tensor_variable(v) for v in (start, stop, step)]
        for v, name in zip(ins, ("start", "stop", "step")):
            if v.ndim != 0:
                raise TypeError(f"arange: {name} must be a scalar, got {v} of type {v.type}")
            if v.dtype[0] not in "biuf":
                raise TypeError(f"arange: {name} must be a real number, got {v} of dtype {v.dtype}")
        if isinstance(ins[2], Constant) and ins[2].data == 0:
            raise ValueError("arange: step must not be zero")
        length = None
        if all(isinstance(v, Constant) for v in ins):
            length = arange_length(*(v.data.item() for v in ins))
        return Apply(self, ins, [TensorType(self.dtype, shape=(length,))()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        start, stop, step = inputs
        if step == 0:
            raise ValueError("arange: step must not be zero")
        output_storage[0][0] = np.arange(start, stop, step, dtype=self.dtype)

    def infer_shape(self, node, input_shapes):
        from . import api as A
        if all(v.dtype[0] in "biu" for v in node.inputs):
            # exact integer arithmetic: ceil((stop - start) / step) == -((start - stop) // step)
            start, stop, step = (cast(v, "int64") for v in node.inputs)
            n = A.neg(A.int_div(start - stop, step))
        else:
            start, stop, step = (cast(v, "float64") for v in node.inputs)
            n = cast(A.ceil((stop - start) / step), "int64")
        return [(A.maximum(n, constant(0, dtype="int64")),)]

    def connection_pattern(self, node):
        return [[True], [False], [True]]

    def L_op(self, inputs, outputs, output_grads):
        """Theano's rule: out[i] = start + i * step, so d/dstart = sum(g) and
        d/dstep = sum(g * i); stop only sets the length (disconnected)."""
        from . import api as A
        start, stop, step = inputs
        if self.dtype[0] not in "fc":
            return [zeros_like(start, dtype=config.floatX), disconnected_type(),
                    zeros_like(step, dtype=config.floatX)]
        (gz,) = output_grads
        from .shape import shape_i
        steps = arange(shape_i(outputs[0], 0), dtype=self.dtype)
        return [A.sum(gz), disconnected_type(), A.sum(gz * steps)]


def arange_length(start: float, stop: float, step: float) -> int:
    """len(numpy.arange(start, stop, step)) without building the array."""
    if all(isinstance(v, int) for v in (start, stop, step)):
        return max(0, -((start - stop) // step))
    return max(0, int(np.ceil((stop - start) / step)))


def _arange_dtype(values: list) -> str:
    """Theano's arange dtype: the upcast of the inputs, where bare Python numbers only set the
    kind (as numpy treats them); integers widen to int64 (uint64), so that long ranges do not
    overflow; all-Python floats give floatX."""
    symbolic = [np.dtype(v.dtype) for v in values if isinstance(v, Variable)]
    plain = [v for v in values if not isinstance(v, Variable)]
    plain = [v.item() if isinstance(v, (np.ndarray, np.generic)) and np.ndim(v) == 0 else v for v in plain]
    if not symbolic:
        kind = np.result_type(*plain).kind
        return config.floatX if kind == "f" else ("uint64" if kind == "u" else "int64")
    probe = np.result_type(*symbolic, *plain)
    if probe.kind in "bi":
        return "int64"
    if probe.kind == "u":
        return "uint64"
    return str(probe)


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: str | None = None) -> Variable:
    """numpy.arange: ``arange(n)`` or ``arange(start, stop, step)``; the dtype follows the inputs."""
    if stop is None:
        start, stop = 0, start
    ins = [as_tensor_variable(v) if isinstance(v, Variable) else v for v in (start, stop, step)]
    if dtype is None:
        dtype = _arange_dtype(ins)
    ins = [v if isinstance(v, Variable) else _plain_scalar(v) for v in ins]
    return ARange(dtype)(*ins)


def _plain_scalar(v: Any) -> Variable:
    """A Python/numpy number as a constant of its own kind (int64 or float64), so that the
    length and values computed from it are exact."""
    arr = np.asarray(v)
    if arr.dtype.kind in "biu":
        return constant(arr, dtype="uint64" if arr.dtype.kind == "u" else "int64")
    return constant(arr) if arr.dtype.kind != "f" else constant(arr, dtype="float64")
