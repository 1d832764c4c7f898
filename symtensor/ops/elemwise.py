"""Elementwise ops: ``Elemwise`` lifts a scalar op to tensors with broadcasting by
broadcastable flags; ``DimShuffle`` permutes, drops (broadcastable) and adds axes.

Python scalars are "weak" as in numpy 2: ``fvector + 2.5`` stays float32.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..config import config
from ..graph.basic import Apply, Constant, Op, Variable
from ..graph.type import ALL_DTYPES, TensorType
from . import scalar as ps
from .basic import as_tensor_variable, autocast_dtype, constant, is_python_scalar


def _convert_inputs(values: Sequence[Any], sop: ps.ScalarOp) -> list:
    """Turn inputs into tensor variables; Python scalars take the dtype numpy 2 would give them
    next to the other (strong) inputs. Condition inputs (switch's first) do not take part:
    ``switch(float64_cond, float32_x, 0)`` is float32, as ``numpy.where`` gives."""
    skip = set(sop.condition_inputs)
    strong = [as_tensor_variable(v) if not is_python_scalar(v) else None for v in values]
    strong_dtypes = [v.dtype for k, v in enumerate(strong) if v is not None and k not in skip]
    out = []
    for k, (v, s) in enumerate(zip(values, strong)):
        if s is not None:
            out.append(s)
        elif strong_dtypes and k not in skip:
            out.append(_weak_constant(v, _weak_dtype(v, strong_dtypes), sop))
        else:
            out.append(constant(v, dtype=autocast_dtype(v)))
    return out


def _weak_dtype(value: Any, strong_dtypes: list) -> str:
    """numpy 2's dtype for a Python scalar next to arrays of ``strong_dtypes``; a Python float
    next to integers only takes floatX into account (Theano's autocasting)."""
    dt = str(np.result_type(*strong_dtypes, value))
    if np.dtype(dt).kind == "f" and isinstance(value, float) and not any(
            np.dtype(d).kind in "fc" for d in strong_dtypes):
        dt = str(np.result_type(config.floatX, *strong_dtypes))
    return dt


def _weak_constant(value: Any, dtype: str, sop: ps.ScalarOp) -> Variable:
    """A Python scalar as a constant of ``dtype``. An integer that does not fit is an error (as in
    numpy 2, where ``int8_array + 300`` raises) rather than a silent wrap-around, except in a
    comparison, which numpy 2 evaluates exactly (``uint8_array < -1`` is all False)."""
    try:
        return constant(value, dtype=dtype)
    except OverflowError:
        if sop.out == "bool" and sop.nin == 2:
            return constant(value, dtype=autocast_dtype(value))
        raise ValueError(f"the Python integer {value} does not fit the dtype {dtype} of the other "
                         f"input(s); cast the tensor to a wider dtype first (x.astype(...)) or pass "
                         f"a numpy scalar of the dtype you want") from None


def _broadcast_shapes(op_name: str, inputs: Sequence[Variable]) -> tuple:
    ndim = max(i.ndim for i in inputs)
    shape = []
    for axis in range(ndim):
        sizes = {i.type.shape[axis - ndim + i.ndim] for i in inputs if axis - ndim + i.ndim >= 0}
        known = {s for s in sizes if s is not None and s != 1}
        if len(known) > 1:
            shapes = ", ".join(str(i.type.shape) for i in inputs)
            raise ValueError(f"{op_name}: input shapes {shapes} cannot be broadcast together "
                             f"(dimension {axis} has sizes {sorted(known)})")
        if known:
            shape.append(known.pop())
        elif None in sizes:
            shape.append(None)
        else:
            shape.append(1)
    return tuple(shape)


class Elemwise(Op):
    """Apply ``scalar_op`` elementwise. Inputs with fewer dimensions are padded on the left;
    a dimension broadcasts only if its broadcastable flag says so."""

    __props__ = ("scalar_op",)

    def __init__(self, scalar_op: ps.ScalarOp):
        self.scalar_op = scalar_op

    def __str__(self) -> str:
        return f"Elemwise{{{self.scalar_op}}}"

    def make_node(self, *inputs: Any) -> Apply:
        sop = self.scalar_op
        if len(inputs) != sop.nin and not (sop.associative and len(inputs) >= 2):
            raise TypeError(f"{sop.name} takes {sop.nin} input(s), got {len(inputs)}")
        inputs = _convert_inputs(inputs, sop)
        sop.check_inputs([i.dtype for i in inputs])
        shape = _broadcast_shapes(sop.name, inputs)
        ndim = len(shape)
        inputs = [shape_padleft(i, ndim - i.ndim) if i.ndim < ndim else i for i in inputs]
        if len(inputs) > sop.nin:
            dtype = inputs[0].dtype
            for i in inputs[1:]:
                dtype = sop.output_dtype(dtype, i.dtype)
        else:
            dtype = sop.output_dtype(*[i.dtype for i in inputs])
        return Apply(self, inputs, [TensorType(dtype, shape=shape)()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        _check_runtime_broadcast(node, inputs)
        impl = self.scalar_op.impl
        upcast = None
        if len(inputs) == self.scalar_op.nin:
            upcast = ps.compute_dtype(self.scalar_op, tuple(i.dtype for i in node.inputs))
        if upcast is not None:
            inputs = [x.astype(upcast) if x.dtype.kind in "biu" else x for x in inputs]
        with np.errstate(all="ignore"):
            if len(inputs) > self.scalar_op.nin == 2:
                result = impl(inputs[0], inputs[1])
                for x in inputs[2:]:
                    result = impl(result, x)
            else:
                result = impl(*inputs)
        out_dtype = node.outputs[0].dtype
        result = np.asarray(result)
        if result.dtype != out_dtype:
            result = result.astype(out_dtype)
        output_storage[0][0] = result

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        out = []
        for axis, flag in enumerate(node.outputs[0].broadcastable):
            dims = [s[axis] for s, i in zip(input_shapes, node.inputs) if not i.broadcastable[axis]]
            out.append(dims[0] if dims else 1)
        return [tuple(out)]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        from .api import zeros_like
        (z,), (gz,) = outputs, output_grads
        if z.dtype[0] not in "fc" or not self.scalar_op.differentiable:
            return [zeros_like(x, dtype=_grad_dtype(x)) for x in inputs]
        raw = self.scalar_op.grad(list(inputs), z, gz)
        grads = []
        for x, g in zip(inputs, raw):
            if g is None or x.dtype[0] not in "fc":
                grads.append(zeros_like(x, dtype=_grad_dtype(x)))
                continue
            g = as_tensor_variable(g)
            grads.append(sum_to_broadcastable(g, x))
        return grads

    def R_op(self, inputs: list, eval_points: list) -> list:
        """Forward mode: the sum over inputs of the diagonal partials times the tangents."""
        from .api import add
        z = self(*inputs)
        if z.dtype[0] not in "fc":
            return [None]
        terms = []
        for i, ev in enumerate(eval_points):
            if ev is None:
                continue
            partial = self.scalar_op.grad(list(inputs), z, ev)[i]
            if partial is not None:
                terms.append(partial)
        if not terms:
            return [None]
        out = cast(terms[0] if len(terms) == 1 else add(*terms), z.dtype)
        if out.broadcastable != z.broadcastable:
            # only broadcast inputs carry a tangent: spread it to the output's shape
            out = Elemwise(ps.SCALAR_OPS["second"])(z, out)
        return [out]

    def vectorize_node(self, node: Apply, *batched: Variable) -> list:
        nd = node.outputs[0].ndim
        lifted = []
        for orig, new in zip(node.inputs, batched):
            if new.ndim == orig.ndim + 1 and new is not orig:
                pattern = (0,) + ("x",) * (nd - orig.ndim) + tuple(range(1, new.ndim))
                lifted.append(new.dimshuffle(*pattern))
            else:
                lifted.append(new)
        return [self(*lifted)]

    def pp_format(self, node: Apply, args: list) -> str:
        sym = self.scalar_op.symbol
        if sym and len(args) >= 2:
            return "(" + f" {sym} ".join(args) + ")"
        if sym and len(args) == 1:
            return f"{sym}{args[0]}"
        return f"{self.scalar_op}({', '.join(args)})"


def _grad_dtype(x: Variable) -> str:
    return x.dtype if x.dtype[0] in "fc" else config.floatX


def _check_runtime_broadcast(node: Apply, inputs: list) -> None:
    if len(inputs) < 2:
        return
    shape = [None] * node.outputs[0].ndim
    who = [None] * len(shape)
    for idx, (var, value) in enumerate(zip(node.inputs, inputs)):
        for axis, b in enumerate(var.broadcastable):
            if b:
                continue
            size = value.shape[axis]
            if shape[axis] is None:
                shape[axis], who[axis] = size, idx
            elif shape[axis] != size:
                hint = ""
                if 1 in (size, shape[axis]):
                    hint = (" (a size-1 dimension that is not marked broadcastable does not broadcast; "
                            "use addbroadcast, dimshuffle('x', ...) or a row/col variable)")
                raise ValueError(f"{node.op}: input {who[axis]} has size {shape[axis]} and input {idx} "
                                 f"has size {size} in dimension {axis}; shapes "
                                 f"{[v.shape for v in inputs]}{hint}")


class DimShuffle(Op):
    """Reorder axes (``new_order`` lists input axes) and insert broadcastable axes ('x').
    Input axes left out must be broadcastable; they are dropped."""

    __props__ = ("input_ndim", "new_order")
    view_map = {0: [0]}

    def __init__(self, input_ndim: int, new_order: Sequence):
        self.input_ndim = int(input_ndim)
        self.new_order = tuple(_pattern_entry(o, new_order) for o in new_order)
        kept = [o for o in self.new_order if o != "x"]
        if len(set(kept)) != len(kept):
            raise ValueError(f"dimshuffle pattern {self.new_order} repeats an axis")
        for o in kept:
            if not 0 <= o < self.input_ndim:
                raise ValueError(f"dimshuffle pattern {self.new_order} names axis {o}, but the input "
                                 f"has {self.input_ndim} dimension(s)")
        self.drop = tuple(i for i in range(self.input_ndim) if i not in kept)
        self.perm = tuple(kept)
        # one numpy call for the common patterns: a pure permutation (a transpose), or axes
        # inserted without reordering (an index with newaxis entries)
        if self.drop:
            self._view = None
        elif "x" not in self.new_order:
            self._view = ("transpose", self.perm)
        elif list(self.perm) == sorted(self.perm):
            self._view = ("index", tuple(None if o == "x" else slice(None) for o in self.new_order))
        else:
            self._view = None

    def __str__(self) -> str:
        return "DimShuffle{" + ",".join(str(o) for o in self.new_order) + "}"

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if x.ndim != self.input_ndim:
            raise TypeError(f"DimShuffle expected a {self.input_ndim}-d input, got {x.ndim}-d")
        for d in self.drop:
            if x.type.shape[d] != 1:
                raise ValueError(f"dimshuffle{self.new_order} drops dimension {d} of {x}, which is not "
                                 f"broadcastable (type {x.type})")
        shape = tuple(1 if o == "x" else x.type.shape[o] for o in self.new_order)
        return Apply(self, [x], [TensorType(x.dtype, shape=shape)()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        (x,) = inputs
        view = getattr(self, "_view", None)     # absent from ops pickled by older versions
        if view is not None and type(x) is np.ndarray:
            output_storage[0][0] = x.transpose(view[1]) if view[0] == "transpose" else x[view[1]]
            return
        if self.drop:
            x = x.reshape([s for i, s in enumerate(x.shape) if i not in self.drop])
            perm = [sorted(self.perm).index(p) for p in self.perm]
        else:
            perm = list(self.perm)
        res = np.transpose(x, perm)
        shape = []
        it = iter(res.shape)
        for o in self.new_order:
            shape.append(1 if o == "x" else next(it))
        output_storage[0][0] = res.reshape(shape)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        (shp,) = input_shapes
        return [tuple(1 if o == "x" else shp[o] for o in self.new_order)]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        (x,), (gz,) = inputs, output_grads
        gz = as_tensor_variable(gz)
        # drop the added 'x' axes, then undo the permutation, then re-insert dropped axes
        kept_positions = [i for i, o in enumerate(self.new_order) if o != "x"]
        g = gz.dimshuffle(*kept_positions) if len(kept_positions) != gz.ndim else gz
        order = []
        for axis in range(self.input_ndim):
            order.append("x" if axis in self.drop else self.perm.index(axis))
        g = g.dimshuffle(*order)
        if x.dtype[0] not in "fc":
            from .api import zeros_like
            return [zeros_like(x, dtype=config.floatX)]
        return [g]

    def R_op(self, inputs: list, eval_points: list) -> list:
        return [None] if eval_points[0] is None else [self(eval_points[0])]

    def vectorize_node(self, node: Apply, x: Variable) -> list:
        if x.ndim == self.input_ndim:
            return [self(x)]
        order = (0,) + tuple("x" if o == "x" else o + 1 for o in self.new_order)
        return [DimShuffle(x.ndim, order)(x)]

    def pp_format(self, node: Apply, args: list) -> str:
        if self.new_order == tuple(range(self.input_ndim))[::-1] and self.input_ndim == 2:
            return f"{args[0]}.T"
        return f"{args[0]}.dimshuffle{self.new_order}"


def _pattern_entry(entry: Any, pattern: Sequence) -> Any:
    """One entry of a dimshuffle pattern: 'x' or an input axis (a non-negative integer)."""
    if isinstance(entry, str) and entry == "x":
        return "x"
    if isinstance(entry, (int, np.integer)) and not isinstance(entry, (bool, np.bool_)):
        return int(entry)
    raise ValueError(f"dimshuffle pattern {tuple(pattern)}: each entry must be an input axis "
                     f"(a non-negative int) or 'x' (a new broadcastable axis), got {entry!r}")


def scalar_constant_value(v: Variable) -> Any:
    """The single value a constant (or a dimshuffled constant) holds everywhere, else None."""
    while v.owner is not None and isinstance(v.owner.op, DimShuffle):
        v = v.owner.inputs[0]
    if not isinstance(v, Constant):
        return None
    data = np.asarray(v.data)
    if data.size == 0:
        return None
    first = data.flat[0]
    if data.size > 1 and not np.all(data == first):
        return None
    return first.item() if hasattr(first, "item") else first


# --- helpers used across ops --------------------------------------------------------------------
def dimshuffle(x: Any, pattern: Sequence) -> Variable:
    x = as_tensor_variable(x)
    pattern = tuple(pattern)
    if pattern == tuple(range(x.ndim)):
        return x
    return DimShuffle(x.ndim, pattern)(x)


def shape_padleft(x: Any, n_ones: int = 1) -> Variable:
    x = as_tensor_variable(x)
    return dimshuffle(x, ("x",) * n_ones + tuple(range(x.ndim)))


def shape_padright(x: Any, n_ones: int = 1) -> Variable:
    x = as_tensor_variable(x)
    return dimshuffle(x, tuple(range(x.ndim)) + ("x",) * n_ones)


def shape_padaxis(x: Any, axis: int) -> Variable:
    x = as_tensor_variable(x)
    if axis < 0:
        axis += x.ndim + 1
    if not 0 <= axis <= x.ndim:
        raise ValueError(f"axis {axis} is out of range for a {x.ndim}-d tensor")
    order = list(range(x.ndim))
    order.insert(axis, "x")
    return dimshuffle(x, order)


def transpose(x: Any, axes: Sequence[int] | None = None) -> Variable:
    x = as_tensor_variable(x)
    if axes is None:
        axes = tuple(range(x.ndim))[::-1]
    axes = tuple(a + x.ndim if a < 0 else a for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of {x.ndim} dimension(s)")
    return dimshuffle(x, axes)


def sum_to_broadcastable(g: Variable, x: Variable) -> Variable:
    """Sum ``g`` over the axes where ``x`` broadcasts (the adjoint of broadcasting)."""
    from .reduce import sum as sum_
    if g.ndim > x.ndim:
        g = sum_(g, axis=tuple(range(g.ndim - x.ndim)))
    axes = tuple(i for i, (bx, bg) in enumerate(zip(x.broadcastable, g.broadcastable)) if bx and not bg)
    if axes:
        g = sum_(g, axis=axes, keepdims=True)
    if g.dtype != x.dtype and x.dtype[0] in "fc":
        g = cast(g, x.dtype)
    if g.type.shape != x.type.shape and g.ndim == x.ndim:
        from .shape import specify_broadcastable_like
        g = specify_broadcastable_like(g, x)
    return g


_CAST_OPS: dict = {}


def cast(x: Any, dtype: str) -> Variable:
    """Convert to ``dtype`` ('floatX' allowed); a no-op when the dtype already matches."""
    if dtype == "floatX":
        dtype = config.floatX
    try:
        name = str(np.dtype(dtype))
    except TypeError:
        name = None
    if name not in ALL_DTYPES:
        raise TypeError(f"cast: cannot cast to {dtype!r}; expected 'floatX' or one of {ALL_DTYPES}")
    dtype = name
    x = as_tensor_variable(x)
    if x.dtype == dtype:
        return x
    op = _CAST_OPS.get(dtype)
    if op is None:
        op = _CAST_OPS[dtype] = Elemwise(ps.Cast(dtype))
    return op(x)


def _make_elemwise_functions() -> dict:
    funcs = {}
    for name, sop in ps.SCALAR_OPS.items():
        op = Elemwise(sop)

        def fn(*args, _op=op):
            return _op(*args)
        fn.__name__ = name
        fn.__qualname__ = name
        fn.__doc__ = f"Elementwise {name} of {sop.nin} tensor(s), numpy broadcasting by flags."
        funcs[name] = fn
    return funcs


ELEMWISE_FUNCTIONS = _make_elemwise_functions()
