"""The graph IR: Variable, Constant, Apply and the Op base class.

A graph is a bipartite DAG: an ``Apply`` node applies an ``Op`` to input ``Variable``s
and owns its output ``Variable``s. Ops compare equal by their declared ``__props__``,
so identical subgraphs can be merged and compiled code can be cached by content.
"""
from __future__ import annotations

import functools
import linecache
import os
import sys
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .type import TensorType, Type

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Scratchpad:
    """Free-form annotations on a variable or node (Theano's ``tag``)."""

    def __repr__(self) -> str:
        return f"Scratchpad({self.__dict__})"


@functools.lru_cache(maxsize=4096)
def _inside_package(filename: str) -> bool:
    """Whether code from ``filename`` belongs to the symtensor package (cached: every node
    creation walks the stack)."""
    return os.path.abspath(filename).startswith(_PACKAGE_DIR + os.sep)


def user_source_line() -> tuple | None:
    """The innermost stack frame outside the symtensor package: (file, line, function, text)."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not _inside_package(filename):
            text = ""
            try:
                text = linecache.getline(filename, frame.f_lineno).strip()
            except Exception:  # pragma: no cover - best effort only
                pass
            return (filename, frame.f_lineno, frame.f_code.co_name, text)
        frame = frame.f_back
    return None


def with_user_line(err: Exception, what: str) -> Exception:
    """``err`` re-created with the user's source line appended (once), same class."""
    if getattr(err, "_symtensor_traced", False):
        return err
    trace = user_source_line()
    if not trace:
        return err
    try:
        new = type(err)(f"{err}\n  {what} at {format_trace(trace)}")
    except Exception:  # exception classes with unusual constructors keep their message
        return err
    new._symtensor_traced = True
    return new.with_traceback(err.__traceback__)


def traced(fn: Callable) -> Callable:
    """Wrap a graph-building function so that its TypeError/ValueError names the user's line."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any):
        try:
            return fn(*args, **kwargs)
        except (TypeError, ValueError) as err:
            raise with_user_line(err, f"while building {fn.__name__}") from None
    wrapper.__wrapped__ = fn
    return wrapper


def format_trace(trace: tuple | None) -> str:
    if not trace:
        return ""
    filename, lineno, func, text = trace
    where = f'File "{filename}", line {lineno}, in {func}'
    return f"{where}\n    {text}" if text else where


class Variable:
    """A symbolic value of a given ``Type``; ``owner`` is the Apply that computes it (or None)."""

    def __init__(self, type: Type, owner: "Apply | None" = None, index: int | None = None,
                 name: str | None = None):
        self.type = type
        self.owner = owner
        self.index = index
        self.name = name
        self.tag = Scratchpad()

    # TensorType conveniences (Theano exposes these on every tensor variable)
    @property
    def dtype(self) -> str:
        return self.type.dtype

    @property
    def ndim(self) -> int:
        return self.type.ndim

    @property
    def broadcastable(self) -> tuple:
        return self.type.broadcastable

    def clone(self) -> "Variable":
        """A fresh variable of the same type and name, with no owner."""
        cp = type(self)(self.type, None, None, self.name)
        cp.tag = _copy_tag(self.tag)
        return cp

    def get_parents(self) -> list:
        return [self.owner] if self.owner is not None else []

    def eval(self, inputs_to_values: dict | None = None):
        """Compile (once, cached on the variable) and evaluate this variable."""
        from . import _hooks
        return _hooks.evaluate(self, inputs_to_values or {})

    def __repr__(self) -> str:
        return str(self)

    def __str__(self) -> str:
        if self.name is not None:
            return self.name
        if self.owner is not None:
            op = self.owner.op
            if len(self.owner.outputs) == 1:
                return f"{op}.0"
            return f"{op}.{self.index}"
        return f"<{self.type}>"

    # --- pickling: a computed variable travels in a flat graph bundle (graph/pickling.py), so
    # deep graphs pickle without recursion; a free variable pickles as an ordinary object.
    def __reduce_ex__(self, protocol: int):
        if self.owner is None:
            return super().__reduce_ex__(protocol)
        from .pickling import reduce_variable
        return reduce_variable(self)

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_eval_cache", None)
        return state

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, dict):        # otherwise a bundle's extras, which attach themselves
            self.__dict__.update(state)

    def __copy__(self) -> "Variable":
        """A shallow copy: a new object with the same attributes (owner included)."""
        cp = object.__new__(type(self))
        cp.__dict__.update(self.__dict__)
        return cp


class Constant(Variable):
    """A variable with a fixed value. Constants are never graph inputs to a function."""

    def __init__(self, type: Type, data: Any, name: str | None = None):
        super().__init__(type, None, None, name)
        self.data = type.filter(data)
        if isinstance(self.data, np.ndarray):
            if self.data is data or (isinstance(data, np.ndarray) and np.may_share_memory(self.data, data)):
                self.data = self.data.copy()   # freeze our own copy, never the caller's array
            self.data.setflags(write=False)

    def signature(self) -> tuple:
        d = self.data
        if isinstance(d, np.ndarray):
            return (self.type, d.shape, d.tobytes())
        return (self.type, d)

    def clone(self) -> "Constant":
        cp = type(self)(self.type, self.data, self.name)
        cp.tag = _copy_tag(self.tag)
        return cp

    @property
    def value(self):
        return self.data

    def __str__(self) -> str:
        if self.name is not None:
            return self.name
        d = self.data
        if isinstance(d, np.ndarray) and d.size <= 8:
            text = np.array2string(d, separator=", ") if d.ndim else str(d.item())
            return text.replace("\n", "")
        return f"Constant{{{self.type}}}"


def _copy_tag(tag: Scratchpad) -> Scratchpad:
    new = Scratchpad()
    new.__dict__.update(tag.__dict__)
    return new


class Apply:
    """One application of an op to inputs, producing outputs."""

    def __init__(self, op: "Op", inputs: Sequence[Variable], outputs: Sequence[Variable]):
        self.op = op
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.tag = Scratchpad()
        for i, inp in enumerate(self.inputs):
            if not isinstance(inp, Variable):
                raise TypeError(f"{op}: input {i} is {type(inp).__name__}, expected a Variable")
        for i, out in enumerate(self.outputs):
            if out.owner is not None and (out.owner is not self or out.index != i):
                raise ValueError(f"{op}: output {i} already belongs to another node")
            out.owner = self
            out.index = i

    @property
    def nin(self) -> int:
        return len(self.inputs)

    @property
    def nout(self) -> int:
        return len(self.outputs)

    @property
    def out(self) -> Variable:
        if len(self.outputs) != 1:
            raise AttributeError(f"{self.op} has {len(self.outputs)} outputs; use .outputs")
        return self.outputs[0]

    def default_output(self) -> Variable:
        do = getattr(self.op, "default_output", None)
        if do is not None:
            return self.outputs[do]
        return self.out

    def clone(self) -> "Apply":
        """A copy with the same inputs and fresh outputs."""
        new = Apply(self.op, self.inputs, [o.clone() for o in self.outputs])
        new.tag = _copy_tag(self.tag)
        return new

    def clone_with_new_inputs(self, inputs: Sequence[Variable], strict: bool = True) -> "Apply":
        """A copy applied to ``inputs``; rebuilt through make_node when the types changed."""
        if len(inputs) != len(self.inputs):
            raise ValueError(f"{self.op}: expected {len(self.inputs)} inputs, got {len(inputs)}")
        if all(a.type == b.type for a, b in zip(inputs, self.inputs)):
            new = Apply(self.op, inputs, [o.clone() for o in self.outputs])
        else:
            if strict and not all(b.type.is_super(a.type) if isinstance(b.type, TensorType)
                                  else a.type == b.type for a, b in zip(inputs, self.inputs)):
                bad = [i for i, (a, b) in enumerate(zip(inputs, self.inputs)) if a.type != b.type]
                raise TypeError(f"{self.op}: new input {bad[0]} has type {inputs[bad[0]].type}, "
                                f"expected {self.inputs[bad[0]].type}")
            new = self.op.make_node(*inputs)
        new.tag = _copy_tag(self.tag)
        return new

    def __str__(self) -> str:
        return f"{self.op}({', '.join(map(str, self.inputs))})"

    def __reduce_ex__(self, protocol: int):
        """A node pickles as a node of a flat graph bundle (graph/pickling.py)."""
        from .pickling import reduce_node
        return reduce_node(self)

    def __copy__(self) -> "Apply":
        cp = object.__new__(type(self))
        cp.__dict__.update(self.__dict__)
        return cp

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, dict):        # otherwise a bundle's extras, which attach themselves
            self.__dict__.update(state)

    __repr__ = __str__


class Op:
    """Base class of all operations.

    Subclasses declare ``__props__`` (attribute names): equality and hashing derive from
    them. They implement ``make_node`` (type checks, build the Apply), ``perform`` (the
    numpy reference), and as far as they apply ``infer_shape``, ``grad``/``L_op``,
    ``R_op`` and ``vectorize_node`` (the batching rule).
    """

    __props__: tuple = ()
    default_output: int | None = None
    view_map: dict = {}
    destroy_map: dict = {}
    #: attributes holding caches rebuilt on demand (compiled runners, lazily built graphs):
    #: pickled as None
    _transient: tuple = ()

    def __getstate__(self):
        state = self.__dict__.copy()
        for name in self._transient:
            if name in state:
                state[name] = None
        return state

    # --- identity ---------------------------------------------------------------------
    def _props(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__props__)

    def __eq__(self, other: Any) -> bool:
        return type(self) is type(other) and self._props() == other._props()

    def __hash__(self) -> int:
        return hash((type(self), self._props()))

    def __str__(self) -> str:
        if self.__props__:
            inside = ", ".join(f"{p}={getattr(self, p)!r}" for p in self.__props__)
            return f"{type(self).__name__}{{{inside}}}"
        return type(self).__name__

    __repr__ = __str__

    # --- building -----------------------------------------------------------------------
    def __call__(self, *inputs: Any, **kwargs: Any):
        """Build a node; its default output (or list of outputs) is returned.

        A TypeError or ValueError raised while building names the user's source line.
        """
        try:
            node = self.make_node(*inputs, **kwargs)
        except (TypeError, ValueError) as err:
            raise with_user_line(err, f"while building {self}") from None
        if not hasattr(node.tag, "trace"):
            node.tag.trace = user_source_line()
        if self.default_output is not None:
            return node.outputs[self.default_output]
        if len(node.outputs) == 1:
            return node.outputs[0]
        return list(node.outputs)

    def make_node(self, *inputs: Any) -> Apply:
        raise NotImplementedError(f"{type(self).__name__}.make_node")

    # --- semantics ----------------------------------------------------------------------
    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        """Compute outputs with numpy: ``output_storage[i][0] = value``."""
        raise NotImplementedError(f"{type(self).__name__}.perform")

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        """Symbolic output shapes (tuples of scalar variables) from input shapes."""
        raise NotImplementedError(f"{type(self).__name__}.infer_shape")

    def connection_pattern(self, node: Apply) -> list:
        """``pattern[i][j]``: whether output j depends differentiably on input i."""
        return [[True] * len(node.outputs) for _ in node.inputs]

    def grad(self, inputs: list, output_grads: list) -> list:
        raise NotImplementedError(f"{type(self).__name__} has no gradient")

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        """Vector-Jacobian product; defaults to ``grad``."""
        return self.grad(inputs, output_grads)

    def R_op(self, inputs: list, eval_points: list) -> list:
        """Jacobian-vector product (forward mode)."""
        raise NotImplementedError(f"{type(self).__name__} has no R_op")

    def vectorize_node(self, node: Apply, *batched_inputs: Variable) -> list:
        """Batching rule: outputs of this node for inputs with one extra leading axis."""
        raise NotImplementedError(f"{type(self).__name__} has no batching rule")

    def inner_graphs(self) -> list:
        """FunctionGraphs held by this op (scan, fused composites); passes recurse into them."""
        return []

    def do_constant_folding(self, node: Apply) -> bool:
        return True


# ---------------------------------------------------------------------------------------
# graph walking
# ---------------------------------------------------------------------------------------
def ancestors(outputs: Iterable[Variable], blockers: Iterable[Variable] = ()) -> list:
    """All variables the outputs depend on (outputs included), stopping at blockers."""
    blocked = set(blockers)
    seen: set = set()
    order: list = []
    stack = list(outputs)[::-1]
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        order.append(v)
        if v.owner is not None and v not in blocked:
            stack.extend(reversed(v.owner.inputs))
    return order


def graph_inputs(outputs: Iterable[Variable], blockers: Iterable[Variable] = ()) -> list:
    """The ownerless variables (inputs, constants, shared) the outputs depend on."""
    blocked = set(blockers)
    return [v for v in ancestors(outputs, blocked) if v.owner is None or v in blocked]


def toposort(outputs: Iterable[Variable], blockers: Iterable[Variable] = ()) -> list:
    """Apply nodes in an order where each node comes after the nodes it depends on."""
    blocked = set(blockers)
    order: list = []
    done: set = set()
    for out in outputs:
        if out.owner is None or out in blocked or out.owner in done:
            continue
        stack = [(out.owner, False)]
        while stack:
            node, expanded = stack.pop()
            if node in done:
                continue
            if expanded:
                done.add(node)
                order.append(node)
                continue
            stack.append((node, True))
            for inp in reversed(node.inputs):
                if inp.owner is not None and inp not in blocked and inp.owner not in done:
                    stack.append((inp.owner, False))
    return order


def clone_replace(outputs: Sequence[Variable], replace: dict | None = None,
                  strict: bool = True) -> list:
    """Copy the graph of ``outputs``, substituting ``replace`` (old -> new) on the way."""
    memo: dict = dict(replace or {})
    for node in toposort(outputs, blockers=memo.keys()):
        new_inputs = [memo.get(i, i) for i in node.inputs]
        if all(a is b for a, b in zip(new_inputs, node.inputs)):
            continue
        new = node.clone_with_new_inputs(new_inputs, strict=strict)
        for old_out, new_out in zip(node.outputs, new.outputs):
            memo[old_out] = new_out
    return [memo.get(o, o) for o in outputs]


def clone_graph(inputs: Sequence[Variable], outputs: Sequence[Variable],
                copy_inputs: bool = True) -> tuple:
    """Copy every node between ``inputs`` and ``outputs``; returns (inputs, outputs, memo)."""
    memo: dict = {}
    for v in inputs:
        memo[v] = v.clone() if copy_inputs else v
    for node in toposort(outputs, blockers=inputs):
        new = Apply(node.op, [memo.get(i, i) for i in node.inputs],
                    [o.clone() for o in node.outputs])
        new.tag = _copy_tag(node.tag)
        for old_out, new_out in zip(node.outputs, new.outputs):
            memo[old_out] = new_out
    return [memo[v] for v in inputs], [memo.get(o, o) for o in outputs], memo


def is_constant(v: Variable) -> bool:
    return isinstance(v, Constant)


Type.variable_class = Variable
Type.constant_class = Constant
