"""Shape ops: ``Shape``/``Shape_i`` (read a shape), ``Reshape``, ``Flatten`` and
``SpecifyShape`` (assert static sizes: addbroadcast, patternbroadcast, specify_shape)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..graph.basic import Apply, Constant, Op, Variable
from ..graph.null import disconnected_type
from ..graph.type import TensorType
from .basic import as_tensor_variable, constant
from .elemwise import dimshuffle


def as_int_scalar(v: Any, what: str) -> Variable:
    """An int64 scalar variable from an int or an integer scalar variable."""
    if isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{what} must be an integer, got {v!r}")
    if isinstance(v, (int, np.integer)):
        return constant(int(v), dtype="int64")
    v = as_tensor_variable(v)
    if v.ndim != 0 or v.dtype[0] not in "iu":
        raise TypeError(f"{what} must be an integer scalar, got {v} of type {v.type}")
    from .elemwise import cast
    return cast(v, "int64")


class Shape(Op):
    """The shape of a tensor as an int64 vector."""

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [TensorType("int64", shape=(x.ndim,))()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        output_storage[0][0] = np.array(inputs[0].shape, dtype="int64")

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        return [(constant(node.inputs[0].ndim, dtype="int64"),)]

    def connection_pattern(self, node: Apply) -> list:
        return [[False]]

    def L_op(self, inputs, outputs, output_grads):
        return [disconnected_type()]

    def R_op(self, inputs, eval_points):
        return [None]

    def pp_format(self, node, args):
        return f"{args[0]}.shape"

    def vectorize_node(self, node: Apply, x: Variable) -> list:
        """A batched input's shape without its leading batch axis."""
        if x.ndim == node.inputs[0].ndim:
            return [self(x)]
        from .join import stack as join_stack
        return [join_stack([shape_i(x, i) for i in range(1, x.ndim)]) if x.ndim > 1
                else constant(np.zeros(0, dtype="int64"))]


class Shape_i(Op):
    """One entry of a shape, as an int64 scalar."""

    __props__ = ("i",)

    def __init__(self, i: int):
        self.i = int(i)

    def __str__(self) -> str:
        return f"Shape_i{{{self.i}}}"

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if not 0 <= self.i < x.ndim:
            raise ValueError(f"Shape_i({self.i}) of a {x.ndim}-d tensor")
        return Apply(self, [x], [TensorType("int64", shape=())()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        output_storage[0][0] = np.array(inputs[0].shape[self.i], dtype="int64")

    def infer_shape(self, node, input_shapes):
        return [()]

    def connection_pattern(self, node: Apply) -> list:
        return [[False]]

    def L_op(self, inputs, outputs, output_grads):
        return [disconnected_type()]

    def R_op(self, inputs, eval_points):
        return [None]

    def pp_format(self, node, args):
        return f"{args[0]}.shape[{self.i}]"

    def vectorize_node(self, node: Apply, x: Variable) -> list:
        """The same entry of a batched input's shape (one axis further right)."""
        if x.ndim == node.inputs[0].ndim:
            return [self(x)]
        return [Shape_i(self.i + 1)(x)]


_shape = Shape()


def shape(x: Any) -> Variable:
    """``x.shape``: the shape of ``x`` as an int64 vector of length ``x.ndim``."""
    return _shape(x)


def stack(tensors: Any, axis: int = 0) -> Variable:
    """``join.stack``, reachable from here so that ``as_tensor_variable([a, 3])`` can stack scalars
    without this module importing the join family at load time."""
    from .join import stack as join_stack
    return join_stack(tensors, axis=axis)


def shape_i(x: Any, i: int) -> Variable:
    """``x.shape[i]``; a constant when the static shape knows it."""
    x = as_tensor_variable(x)
    if x.type.shape[i] is not None:
        return constant(x.type.shape[i], dtype="int64")
    return Shape_i(i)(x)


def shape_tuple(x: Variable) -> tuple:
    """``x``'s shape as a tuple of int64 scalars (constants where the static shape is known)."""
    return tuple(shape_i(x, i) for i in range(x.ndim))


def _static_dims(shape_var: Variable, ndim: int) -> list:
    """Known entries of a shape vector (None where symbolic)."""
    if isinstance(shape_var, Constant):
        return [int(v) for v in shape_var.data]
    node = shape_var.owner
    if node is not None and getattr(node.op, "is_stack_of_scalars", False):
        return [int(i.data) if isinstance(i, Constant) else None for i in node.inputs]
    if node is not None and isinstance(node.op, Shape):
        return list(node.inputs[0].type.shape)
    return [None] * ndim


class Reshape(Op):
    """numpy.reshape with a symbolic shape vector of length ``ndim`` (one entry may be -1)."""

    __props__ = ("ndim",)
    view_map = {0: [0]}

    def __init__(self, ndim: int):
        self.ndim = int(ndim)

    def __str__(self) -> str:
        return f"Reshape{{{self.ndim}}}"

    def make_node(self, x: Any, shp: Any) -> Apply:
        x = as_tensor_variable(x)
        shp = as_tensor_variable(shp)
        if shp.ndim != 1 or shp.dtype[0] not in "iu":
            raise TypeError(f"reshape: the shape must be a vector of ints, got {shp.type}")
        if shp.type.shape[0] is not None and shp.type.shape[0] != self.ndim:
            raise ValueError(f"reshape: shape has {shp.type.shape[0]} entries, expected {self.ndim}")
        dims = _static_dims(shp, self.ndim)
        if dims.count(-1) > 1:
            raise ValueError(f"reshape: shape {dims} may contain -1 at most once")
        for d in dims:
            if d is not None and d < -1:
                raise ValueError(f"reshape: negative dimension {d} in shape {dims}")
        size = None if None in x.type.shape else int(np.prod(x.type.shape))
        if size is not None and None not in dims:
            if -1 in dims:
                rest = int(np.prod([d for d in dims if d != -1]))
                if rest == 0 or size % rest:
                    raise ValueError(f"reshape: cannot reshape {x.type.shape} into {tuple(dims)}")
                dims[dims.index(-1)] = size // rest
            elif int(np.prod(dims)) != size:
                raise ValueError(f"reshape: cannot reshape an array of shape {x.type.shape} (size {size}) "
                                 f"into shape {tuple(dims)}")
        out_shape = tuple(None if d is None or d == -1 else d for d in dims)
        return Apply(self, [x, shp], [TensorType(x.dtype, shape=out_shape)()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        x, shp = inputs
        dims = tuple(int(s) for s in shp)
        if len(dims) != self.ndim:
            raise ValueError(f"reshape: shape {dims} has {len(dims)} entries, expected {self.ndim}")
        check_reshape(x.shape, dims)
        output_storage[0][0] = np.reshape(x, dims)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        from . import api as A
        x, shp = node.inputs
        dims = _static_dims(shp, self.ndim)
        out = []
        for i, d in enumerate(dims):
            if d is not None and d >= 0:
                out.append(constant(d, dtype="int64"))
            elif d == -1 or d is None:
                out.append(None)
        if None in out:
            entries = [A.getitem(shp, i) for i in range(self.ndim)]
            size = A.prod(A.shape(x)) if x.ndim else constant(1, dtype="int64")
            known = A.mul(*entries) if len(entries) > 1 else entries[0]
            missing = A.int_div(size, -known)  # -1 entry: size / product of the others
            out = [A.switch(A.eq(e, -1), missing, e) if o is None else o for e, o in zip(entries, out)]
        return [tuple(out)]

    def L_op(self, inputs, outputs, output_grads):
        x, shp = inputs
        return [reshape(output_grads[0], shape(x)), disconnected_type()]

    def connection_pattern(self, node: Apply) -> list:
        return [[True], [False]]

    def R_op(self, inputs, eval_points):
        return [None] if eval_points[0] is None else [self(eval_points[0], inputs[1])]

    def vectorize_node(self, node: Apply, x: Variable, shp: Variable) -> list:
        """Reshape every sample: the batch axis stays in front of the same target shape."""
        if shp.ndim != 1:
            raise NotImplementedError("reshape: a batch of different target shapes cannot be batched")
        if x.ndim == node.inputs[0].ndim:
            return [self(x, shp)]
        from .join import join, stack as join_stack
        full = join(0, join_stack([shape_i(x, 0)]), cast_int64(shp))
        return [Reshape(self.ndim + 1)(x, full)]


def cast_int64(v: Variable) -> Variable:
    """``v`` as int64 (shape arithmetic is done in int64)."""
    from .elemwise import cast
    return v if v.dtype == "int64" else cast(v, "int64")


def check_reshape(shape: tuple, dims: tuple) -> None:
    """Raise a ValueError naming both shapes when an array of ``shape`` cannot take ``dims``
    (numpy.reshape semantics: at most one -1, which is inferred)."""
    size = int(np.prod(shape))
    bad = [d for d in dims if d < -1]
    if bad or dims.count(-1) > 1:
        raise ValueError(f"reshape: invalid target shape {dims}: entries must be >= 0, with at most "
                         f"one -1 (to be inferred)")
    rest = int(np.prod([d for d in dims if d != -1]))
    if -1 in dims:
        ok = rest != 0 and size % rest == 0
    else:
        ok = rest == size
    if not ok:
        raise ValueError(f"reshape: cannot reshape an array of shape {tuple(shape)} (size {size}) "
                         f"into shape {dims}")


def _shape_vector(shape: Any) -> Variable:
    """reshape's ``newshape`` (an int, a tuple of ints and int scalars, or an int vector)
    as an int vector variable."""
    if isinstance(shape, Variable):
        return shape
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    if isinstance(shape, np.ndarray):
        shape = shape.tolist()
    entries = list(shape)
    if all(isinstance(s, (int, np.integer)) and not isinstance(s, (bool, np.bool_)) for s in entries):
        return constant(np.array(entries, dtype="int64").reshape(len(entries)))
    from .join import stack
    return stack([as_int_scalar(s, "reshape: shape entry") for s in entries])


def reshape(x: Any, newshape: Any, ndim: int | None = None) -> Variable:
    """Theano's reshape: ``newshape`` is a tuple (ints and int scalars) or an int vector."""
    x = as_tensor_variable(x)
    shp = _shape_vector(newshape)
    if ndim is None:
        if shp.ndim != 1 or shp.type.shape[0] is None:
            raise ValueError("reshape: give ndim when the shape is a vector of unknown length")
        ndim = shp.type.shape[0]
    return Reshape(ndim)(x, shp)


class Flatten(Op):
    """Keep the first ``ndim - 1`` axes and flatten the rest into one."""

    __props__ = ("ndim",)
    view_map = {0: [0]}

    def __init__(self, ndim: int = 1):
        self.ndim = int(ndim)

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if not 1 <= self.ndim <= max(x.ndim, 1):
            raise ValueError(f"flatten: ndim must be between 1 and {max(x.ndim, 1)}, got {self.ndim}")
        rest = x.type.shape[self.ndim - 1:]
        last = None if None in rest else int(np.prod(rest))
        shape = x.type.shape[:self.ndim - 1] + (last,)
        return Apply(self, [x], [TensorType(x.dtype, shape=shape)()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        (x,) = inputs
        keep = x.shape[:self.ndim - 1]
        # the trailing size is computed, not -1: numpy cannot infer -1 for a zero-size array
        output_storage[0][0] = x.reshape(keep + (int(np.prod(x.shape[self.ndim - 1:])),))

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        from . import api as A
        (shp,) = input_shapes
        rest = list(shp[self.ndim - 1:])
        last = A.mul(*rest) if len(rest) > 1 else (rest[0] if rest else constant(1, dtype="int64"))
        return [tuple(shp[:self.ndim - 1]) + (last,)]

    def L_op(self, inputs, outputs, output_grads):
        return [reshape(output_grads[0], shape(inputs[0]), ndim=inputs[0].ndim)]

    def R_op(self, inputs, eval_points):
        return [None] if eval_points[0] is None else [self(eval_points[0])]

    def vectorize_node(self, node, x):
        if x.ndim == node.inputs[0].ndim:
            return [self(x)]
        return [Flatten(self.ndim + 1)(x)]


def flatten(x: Any, ndim: int = 1, outdim: int | None = None) -> Variable:
    """Theano's flatten: keep ``ndim - 1`` leading axes (``outdim`` is the old name)."""
    return Flatten(outdim if outdim is not None else ndim)(x)


SYMBOLIC = "input"  # a SpecifyShape entry checked against a scalar input at run time


class SpecifyShape(Op):
    """Identity that asserts the sizes of ``x``: an int entry is a static size (it also
    becomes the output's static shape), ``None`` leaves a size free and ``SYMBOLIC`` checks
    the size against the next scalar input at run time.
    Used for addbroadcast/unbroadcast/patternbroadcast and specify_shape."""

    __props__ = ("shape",)
    view_map = {0: [0]}

    def __init__(self, shape: Sequence):
        self.shape = tuple(None if s is None else s if s == SYMBOLIC else int(s) for s in shape)

    def make_node(self, x: Any, *sizes: Any) -> Apply:
        x = as_tensor_variable(x)
        if len(self.shape) != x.ndim:
            raise ValueError(f"specify_shape: {self.shape} has {len(self.shape)} entries, {x} has "
                             f"{x.ndim} dimension(s)")
        n_sym = self.shape.count(SYMBOLIC)
        if len(sizes) != n_sym:
            raise TypeError(f"specify_shape: {n_sym} symbolic size(s) declared, {len(sizes)} given")
        sizes = [as_int_scalar(v, "specify_shape: a size") for v in sizes]
        for axis, (want, have) in enumerate(zip(self.shape, x.type.shape)):
            if isinstance(want, int) and want < 0:
                raise ValueError(f"specify_shape: negative size {want} for dimension {axis}")
            if isinstance(want, int) and have is not None and want != have:
                raise ValueError(f"specify_shape: dimension {axis} of {x} has static size {have}, "
                                 f"not {want}")
        static = tuple(s if isinstance(s, int) else h for s, h in zip(self.shape, x.type.shape))
        return Apply(self, [x] + sizes, [TensorType(x.dtype, shape=static)()])

    def _expected(self, sizes: list) -> list:
        it = iter(int(v) for v in sizes)
        return [next(it) if s == SYMBOLIC else s for s in self.shape]

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        x, *sizes = inputs
        for axis, want in enumerate(self._expected(sizes)):
            if want is not None and x.shape[axis] != want:
                marked = want == 1 and self.shape[axis] == 1
                what = "addbroadcast/specify_shape" if marked else "specify_shape"
                note = " (marked broadcastable)" if marked else ""
                raise ValueError(f"{what}: dimension {axis} was declared of size {want}{note} "
                                 f"but the value has shape {x.shape}")
        output_storage[0][0] = x

    def infer_shape(self, node, input_shapes):
        it = iter(node.inputs[1:])
        return [tuple(next(it) if s == SYMBOLIC else constant(s, dtype="int64") if s is not None else d
                      for s, d in zip(self.shape, input_shapes[0]))]

    def connection_pattern(self, node: Apply) -> list:
        return [[True]] + [[False]] * (len(node.inputs) - 1)

    def L_op(self, inputs, outputs, output_grads):
        x, gz = inputs[0], as_tensor_variable(output_grads[0])
        rest = [disconnected_type()] * (len(inputs) - 1)
        if gz.type.shape == x.type.shape:
            return [gz] + rest
        target = tuple(s if g is None or g == s else None for s, g in zip(x.type.shape, gz.type.shape))
        return [SpecifyShape(target)(gz) if target != gz.type.shape else gz] + rest

    def R_op(self, inputs, eval_points):
        return [None] if eval_points[0] is None else [self(eval_points[0], *inputs[1:])]

    def vectorize_node(self, node, x, *sizes):
        if any(s.ndim for s in sizes):
            raise NotImplementedError("specify_shape: batched sizes cannot be batched")
        if x.ndim == node.inputs[0].ndim:
            return [self(x, *sizes)]
        return [type(self)((None,) + self.shape)(x, *sizes)]


def _with_static_shape(x: Any, shape: Sequence) -> Variable:
    x = as_tensor_variable(x)
    shape = tuple(shape)
    if shape == x.type.shape:
        return x
    return SpecifyShape(shape)(x)


def _size_entries(shape: Any, ndim: int) -> list:
    """specify_shape's ``shape`` as a list: ints, None, or int scalar variables."""
    if isinstance(shape, Variable):
        if isinstance(shape, Constant):
            return [int(v) for v in np.asarray(shape.data).reshape(-1)]
        if shape.ndim != 1 or shape.type.shape[0] is None:
            raise ValueError(f"specify_shape: the shape must be a tuple or a vector of known length "
                             f"{ndim}, got {shape.type}")
        from . import api as A
        return [A.getitem(shape, i) for i in range(shape.type.shape[0])]
    if isinstance(shape, (int, np.integer)):
        return [int(shape)]
    return list(np.asarray(shape).tolist() if isinstance(shape, np.ndarray) else shape)


def specify_shape(x: Any, shape: Any) -> Variable:
    """``x``, asserting (at run time) that its shape is ``shape``: a tuple of ints, None (free)
    and int scalar variables, or an int vector."""
    x = as_tensor_variable(x)
    entries = _size_entries(shape, x.ndim)
    if len(entries) != x.ndim:
        raise ValueError(f"specify_shape: shape {tuple(entries)} has {len(entries)} entries, {x} has "
                         f"{x.ndim} dimension(s)")
    static, sizes = [], []
    for e in entries:
        if isinstance(e, Constant) and e.ndim == 0:
            e = e.data
        if e is None or isinstance(e, (int, np.integer)) and not isinstance(e, (bool, np.bool_)):
            static.append(None if e is None else int(e))
        else:
            static.append(SYMBOLIC)
            sizes.append(as_int_scalar(e, "specify_shape: a shape entry"))
    if not sizes:
        return _with_static_shape(x, static)
    return SpecifyShape(static)(x, *sizes)


def addbroadcast(x: Any, *axes: int) -> Variable:
    """Mark ``axes`` broadcastable (size 1, checked at run time)."""
    x = as_tensor_variable(x)
    shape = list(x.type.shape)
    for a in axes:
        _check_axis(a, x.ndim, "addbroadcast")
        shape[a] = 1
    return _with_static_shape(x, shape)


def unbroadcast(x: Any, *axes: int) -> Variable:
    """Mark ``axes`` not broadcastable."""
    x = as_tensor_variable(x)
    shape = list(x.type.shape)
    for a in axes:
        _check_axis(a, x.ndim, "unbroadcast")
        if shape[a] == 1:
            shape[a] = None
    if tuple(shape) == x.type.shape:
        return x
    return _Unbroadcast(tuple(shape))(x)


def _check_axis(axis: Any, ndim: int, what: str) -> None:
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{what}: axes must be ints, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{what}: axis {axis} is out of bounds for a {ndim}-d tensor")


class _Unbroadcast(SpecifyShape):
    """Forget static sizes (never fails)."""

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [TensorType(x.dtype, shape=self.shape)()])


def patternbroadcast(x: Any, broadcastable: Sequence[bool]) -> Variable:
    x = as_tensor_variable(x)
    if len(broadcastable) != x.ndim:
        raise ValueError(f"patternbroadcast: pattern {tuple(broadcastable)} has {len(broadcastable)} "
                         f"entries, {x} has {x.ndim} dimension(s)")
    add = [i for i, b in enumerate(broadcastable) if b and not x.broadcastable[i]]
    drop = [i for i, b in enumerate(broadcastable) if not b and x.broadcastable[i]]
    if add:
        x = addbroadcast(x, *add)
    if drop:
        x = unbroadcast(x, *drop)
    return x


def specify_broadcastable_like(g: Variable, x: Variable) -> Variable:
    """Give ``g`` the broadcastable pattern of ``x`` (for gradients)."""
    return patternbroadcast(g, x.broadcastable)


def squeeze(x: Any, axis: Any = None) -> Variable:
    """Drop broadcastable axes (or the given ``axis``, checked to be of size 1)."""
    x = as_tensor_variable(x)
    if axis is None:
        drop = [i for i, b in enumerate(x.broadcastable) if b]
    else:
        from .reduce import normalize_axis
        drop = list(normalize_axis(axis, x.ndim))
        x = addbroadcast(x, *drop)
    return dimshuffle(x, [i for i in range(x.ndim) if i not in drop])
