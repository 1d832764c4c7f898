"""The ``Scan`` op: a loop whose body is an inner FunctionGraph (Theano's scan op).

The body maps, for one step ``t``, the inner inputs

    [sequence slices] + [recurrent taps] + [shared states] + [non-sequences]

to the inner outputs

    [recurrent outputs] + [mapped (nit_sot) outputs] + [new shared values].

The node's outer inputs are ``[n_steps] + sequences + initial states + shared values +
non-sequences``; its outputs are the trajectories of the recurrent and mapped outputs, each
of shape ``(n_steps,) + step shape``, then the final value of each shared state.

Sequence ``j`` is read at step ``t`` at ``seq[t + offset]`` for each of its offsets (the
builder turns Theano's taps into offsets, reversing the sequence for ``go_backwards``); a
recurrent output ``k`` with taps ``(-2, -1)`` keeps ``m = 2`` initial entries and reads
``state[t + m + tap]`` from the buffer ``initial[:m] ++ outputs``. ``perform`` runs the body
with the graph interpreter, whose schedule is built once.

``store_last[k] = L > 0`` (set by a rewrite when only the last states are read) makes recurrent
output ``k`` hold only its last ``min(L, n_steps)`` states, i.e. ``trajectory[-L:]``: the loop
then keeps a ring of ``max(m, min(L, n_steps))`` entries instead of ``m + n_steps``.

The derivative rules live in grad/ (registered by op class), since they build new scans and
call the transforms recursively.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..graph.basic import Apply, Op, Variable, ancestors, clone_replace
from ..graph.fg import FunctionGraph
from ..graph.interpreter import Interpreter
from ..graph.type import TensorType
from .basic import as_tensor_variable


class Scan(Op):
    """A loop over ``n_steps`` steps of the body ``inner_outputs(inner_inputs)``.

    ``seq_offsets[j]``: the offsets at which sequence ``j`` is read (one inner input each);
    ``seq_spans[j]``: how many entries of sequence ``j`` are not reached by the steps (so
    it provides ``len - span`` steps). ``rec_taps[k]``: the negative taps of recurrent output
    ``k``. ``n_nit``: outputs that are not fed back; ``n_shared``: shared variables updated
    by the body. Labels name the user's arguments in error messages. ``constant``: the
    outputs are constants for the gradient (connected to no input); ``scan`` sets it on the
    loop that only produces the random draws of a split loop, whose values the gradient of
    the other loop reads as data.

    ``store_last[k]``: 0 (the default) makes recurrent output ``k`` its whole trajectory,
    ``(n_steps,) + step shape``; ``L > 0`` makes it only its last ``min(L, n_steps)`` states
    (``trajectory[-L:]``, never an initial value: with fewer than ``L`` steps it holds every
    step, with none it is empty), so that ``out[-k]`` (``k <= L``) and ``out[-L:]`` read the
    same values as on the whole trajectory. The loop then keeps only ``max(m, min(L, n_steps))``
    states (``m`` = the output's taps' reach), cycling through them.
    """

    _transient = ("_runner",)

    def __init__(self, inner_inputs: Sequence[Variable], inner_outputs: Sequence[Variable],
                 seq_offsets: Sequence[Sequence[int]], seq_spans: Sequence[int],
                 rec_taps: Sequence[Sequence[int]], n_nit: int, n_shared: int, truncate_gradient: int = -1,
                 name: str | None = None, seq_labels: Sequence[str] | None = None,
                 out_labels: Sequence[str] | None = None, mode: Any = None, constant: bool = False,
                 store_last: Sequence[int] | None = None):
        self.constant = bool(constant)
        self.seq_offsets = tuple(tuple(int(o) for o in offs) for offs in seq_offsets)
        self.seq_spans = tuple(int(s) for s in seq_spans)
        self.rec_taps = tuple(tuple(int(t) for t in taps) for taps in rec_taps)
        self.n_nit, self.n_shared = int(n_nit), int(n_shared)
        self.truncate_gradient = int(truncate_gradient)
        self.name = name or "scan_fn"
        self.mode = mode
        self.n_seqs, self.n_rec = len(self.seq_offsets), len(self.rec_taps)
        self.mintaps = tuple(-min(taps) for taps in self.rec_taps)
        n_seq_in = sum(len(o) for o in self.seq_offsets)
        n_tap_in = sum(len(t) for t in self.rec_taps)
        self.n_nonseqs = len(inner_inputs) - n_seq_in - n_tap_in - self.n_shared
        if len(self.seq_spans) != self.n_seqs or self.n_nonseqs < 0 \
                or len(inner_outputs) != self.n_rec + self.n_nit + self.n_shared:
            raise ValueError(f"Scan: {len(inner_inputs)} inner inputs and {len(inner_outputs)} inner outputs do "
                             f"not match the description of {self.n_seqs} sequences, {self.n_rec} recurrent, "
                             f"{self.n_nit} mapped and {self.n_shared} shared outputs")
        if any(not taps or max(taps) >= 0 for taps in self.rec_taps):
            raise ValueError(f"Scan: recurrent taps must be non-empty and negative, got {self.rec_taps}")
        self.store_last = _check_store_last(store_last, self.n_rec)
        self.seq_labels = tuple(seq_labels or (f"sequence {j}" for j in range(self.n_seqs)))
        self.out_labels = tuple(out_labels or (f"output {k}" for k in range(self.n_rec + self.n_nit)))
        self.fgraph = FunctionGraph(list(inner_inputs), list(inner_outputs), clone=True)
        self._index_inner(n_seq_in)
        self._check_inner_types()
        self.connections = self._connection_sets()
        self._runner = None

    # --- identity, pickling, printing -------------------------------------------------------
    def __eq__(self, other: Any) -> bool:   # an inner graph has no cheap structural equality
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __str__(self) -> str:
        if any(self.store_last):
            return f"Scan{{{self.name}, store_last={self.store_last}}}"
        return f"Scan{{{self.name}}}"

    def with_store_last(self, store_last: Sequence[int]) -> "Scan":
        """The same loop (same body, labels and options) keeping ``store_last`` states."""
        return Scan(self.fgraph.inputs, self.fgraph.outputs, self.seq_offsets, self.seq_spans, self.rec_taps,
                    self.n_nit, self.n_shared, truncate_gradient=self.truncate_gradient, name=self.name,
                    seq_labels=self.seq_labels, out_labels=self.out_labels, mode=self.mode,
                    constant=self.constant, store_last=store_last)

    def inner_graphs(self) -> list:
        return [self.fgraph]

    def do_constant_folding(self, node: Apply) -> bool:
        return False

    # --- the layout of inner and outer inputs ------------------------------------------------
    def _index_inner(self, n_seq_in: int) -> None:
        ins, outs = self.fgraph.inputs, self.fgraph.outputs
        pos = 0
        self.inner_seqs = []                      # per sequence: its inner inputs, one per offset
        for offs in self.seq_offsets:
            self.inner_seqs.append(ins[pos:pos + len(offs)])
            pos += len(offs)
        self.inner_taps = []                      # per recurrent output: its inner inputs, one per tap
        for taps in self.rec_taps:
            self.inner_taps.append(ins[pos:pos + len(taps)])
            pos += len(taps)
        self.inner_shared = ins[pos:pos + self.n_shared]
        self.inner_nonseqs = ins[pos + self.n_shared:]
        self.inner_rec_outs = outs[:self.n_rec]
        self.inner_nit_outs = outs[self.n_rec:self.n_rec + self.n_nit]
        self.inner_shared_outs = outs[self.n_rec + self.n_nit:]

    def split_outer_inputs(self, inputs: Sequence) -> tuple:
        """(n_steps, sequences, initial states, shared values, non-sequences)."""
        a = 1 + self.n_seqs
        b = a + self.n_rec
        c = b + self.n_shared
        return inputs[0], list(inputs[1:a]), list(inputs[a:b]), list(inputs[b:c]), list(inputs[c:])

    def split_outer_outputs(self, outputs: Sequence) -> tuple:
        """(recurrent trajectories, mapped trajectories, final shared values)."""
        a = self.n_rec
        b = a + self.n_nit
        return list(outputs[:a]), list(outputs[a:b]), list(outputs[b:])

    def _check_inner_types(self) -> None:
        """Each recurrent output can be fed back into its taps; each shared update keeps its type."""
        for k, (taps, out) in enumerate(zip(self.inner_taps, self.inner_rec_outs)):
            for tap in taps:
                if not (isinstance(out.type, TensorType) and tap.type.is_super(out.type)):
                    raise TypeError(f"Scan: {self.out_labels[k]} has type {out.type}, which cannot be fed back "
                                    f"into its state of type {tap.type}")
        for h, out in zip(self.inner_shared, self.inner_shared_outs):
            if not _type_fits(h.type, out.type):
                raise TypeError(f"Scan: the update of shared variable {h} has type {out.type}, expected {h.type}")

    # --- building ---------------------------------------------------------------------------
    def make_node(self, n_steps: Any, *inputs: Any) -> Apply:
        n_steps = as_tensor_variable(n_steps)
        if n_steps.ndim != 0 or n_steps.dtype not in ("int8", "int16", "int32", "int64", "uint8", "uint16",
                                                      "uint32"):
            raise TypeError(f"{self}: n_steps must be an integer scalar, got {n_steps} of type {n_steps.type}")
        if n_steps.dtype != "int64":
            from .elemwise import cast
            n_steps = cast(n_steps, "int64")
        expected = self.n_seqs + self.n_rec + self.n_shared + self.n_nonseqs
        if len(inputs) != expected:
            raise TypeError(f"{self}: expected {expected} inputs after n_steps, got {len(inputs)}")
        _, seqs, inits, shared, nonseqs = self.split_outer_inputs((n_steps,) + tuple(inputs))
        seqs = [self._check_outer(v, inner[0].type if inner else None, 1, self.seq_labels[j])
                for j, (v, inner) in enumerate(zip(seqs, self.inner_seqs))]
        inits = [self._check_outer(v, taps[0].type, 1, f"the initial state of {self.out_labels[k]}")
                 for k, (v, taps) in enumerate(zip(inits, self.inner_taps))]
        shared = [self._check_outer(v, h.type, 0, f"shared variable {h}") for v, h in zip(shared, self.inner_shared)]
        nonseqs = [self._check_outer(v, p.type, 0, f"non-sequence {i}")
                   for i, (v, p) in enumerate(zip(nonseqs, self.inner_nonseqs))]
        outputs = [TensorType(taps[0].dtype, shape=(None,) + taps[0].type.shape)() for taps in self.inner_taps]
        outputs += [TensorType(o.dtype, shape=(None,) + o.type.shape)() for o in self.inner_nit_outs]
        outputs += [h.type() for h in self.inner_shared]
        return Apply(self, [n_steps] + seqs + inits + shared + nonseqs, outputs)

    def _check_outer(self, v: Any, inner_type: Any, extra_dims: int, label: str) -> Variable:
        """``v`` as a variable whose type (minus ``extra_dims`` leading axes) fits ``inner_type``."""
        if inner_type is not None and not isinstance(inner_type, TensorType):   # e.g. a random state
            if not isinstance(v, Variable) or v.type != inner_type:
                raise TypeError(f"{self}: {label} has type {getattr(v, 'type', type(v).__name__)}, "
                                f"expected {inner_type}")
            return v
        v = as_tensor_variable(v)
        if inner_type is None:               # a sequence with no taps: any array with an axis 0
            if v.ndim < 1:
                raise TypeError(f"{self}: {label} must have at least one dimension, got {v.type}")
            return v
        want = TensorType(inner_type.dtype, shape=(None,) * extra_dims + inner_type.shape)
        if want.is_super(v.type):
            return v
        if want.in_same_class(v.type) and extra_dims == 0:
            from .shape import specify_shape
            return specify_shape(v, want.shape)
        raise TypeError(f"{self}: {label} has type {v.type}, expected {want}")

    # --- connections --------------------------------------------------------------------------
    def _connection_sets(self, tensors_only: bool = True) -> list:
        """For each inner output (recurrent, then mapped), the outer input positions it depends
        on, following the recurrence to a fixed point. With ``tensors_only`` (the connections
        for the gradient), inputs that are not tensors (random states) are left out and the
        draws made from them are constants: the walk stops at the outputs of nodes reading one."""
        if tensors_only and self.constant:
            return [set() for _ in self.inner_rec_outs + self.inner_nit_outs]
        owner: dict = {}
        pos = 1
        for inner in self.inner_seqs:
            for v in inner:
                owner[v] = pos
            pos += 1
        for taps in self.inner_taps:
            for v in taps:
                owner[v] = pos
            pos += 1
        for v in list(self.inner_shared) + list(self.inner_nonseqs):
            if not tensors_only or isinstance(v.type, TensorType):
                owner[v] = pos
            pos += 1
        blockers = list(self.fgraph.inputs)
        if tensors_only:
            blockers += [o for node in self.fgraph.toposort()
                         if any(not isinstance(i.type, TensorType) for i in node.inputs) for o in node.outputs]
        tap_owner = {v: k for k, taps in enumerate(self.inner_taps) for v in taps}
        direct, feeds = [], []
        for out in self.inner_rec_outs + self.inner_nit_outs:
            used = set(ancestors([out], blockers=blockers)) & set(owner)
            direct.append({owner[v] for v in used})
            feeds.append({tap_owner[v] for v in used if v in tap_owner})
        conn = [set(d) for d in direct]
        changed = True
        while changed:
            changed = False
            for i, ks in enumerate(feeds):
                new = conn[i].union(*(conn[k] for k in ks)) if ks else conn[i]
                if new != conn[i]:
                    conn[i], changed = new, True
        return conn

    def connection_pattern(self, node: Apply) -> list:
        """Recurrent and mapped outputs depend on what their bodies use, through the recurrence;
        n_steps and the shared updates are not differentiable."""
        n_out = len(node.outputs)
        pattern = [[False] * n_out for _ in node.inputs]
        for i, used in enumerate(self.connections):
            for pos in used:
                pattern[pos][i] = True
        return pattern

    def outputs_using_shared_states(self) -> list:
        """Indices (recurrent, then mapped) of outputs that depend on a shared state updated in
        the loop: their derivatives would need the state at every step, which is not kept."""
        first = 1 + self.n_seqs + self.n_rec
        shared_pos = set(range(first, first + self.n_shared))
        return [i for i, used in enumerate(self._connection_sets(tensors_only=False)) if used & shared_pos]

    # --- running ----------------------------------------------------------------------------------
    def _get_runner(self) -> Interpreter:
        if self._runner is None:
            self._runner = Interpreter(self.fgraph)
        return self._runner

    def _check_lengths(self, n: int, seqs: list, inits: list) -> None:
        for j, (s, span) in enumerate(zip(seqs, self.seq_spans)):
            if s.shape[0] < span:
                raise ValueError(f"scan: {self.seq_labels[j]} has {s.shape[0]} entries along axis 0, but its "
                                 f"taps need at least {span}: they reach before the start of the sequence")
        if n < 0:
            raise ValueError(f"scan: n_steps is {n}; the number of steps must be >= 0")
        for j, (s, span) in enumerate(zip(seqs, self.seq_spans)):
            if s.shape[0] - span < n:
                raise ValueError(f"scan: n_steps is {n}, but {self.seq_labels[j]} has {s.shape[0]} entries along "
                                 f"axis 0 and provides only {s.shape[0] - span} step(s)")
        for k, (init, m) in enumerate(zip(inits, self.mintaps)):
            if init.shape[0] < m:
                raise ValueError(f"scan: the initial state of {self.out_labels[k]} has {init.shape[0]} entries "
                                 f"along axis 0, but its taps {list(self.rec_taps[k])} need {m}")

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        self.run_steps(self._get_runner(), node, inputs, output_storage)

    def run_steps(self, runner: Any, node: Apply, inputs: list, output_storage: list) -> None:
        """The loop, with ``runner(values) -> outputs`` computing one step of the body.

        ``perform`` passes the numpy interpreter of the body; a compiled backend passes an
        executor of its own rewritten, compiled copy of the body (same inputs and outputs)."""
        n_val, seqs, inits, shared, nonseqs = self.split_outer_inputs(inputs)
        n = int(n_val)
        self._check_lengths(n, seqs, inits)
        rec_nodes = node.outputs[:self.n_rec]
        bufs = []
        for init, m, keep, out in zip(inits, self.mintaps, self.store_last, rec_nodes):
            size = max(m, min(keep, n)) if keep else m + n     # a ring when only the last are kept
            buf = np.empty((size,) + init.shape[1:], dtype=out.dtype)
            buf[:m] = init[:m]
            bufs.append(buf)
        nits: list = [None] * self.n_nit
        state = list(shared)
        for t in range(n):
            outs = runner(self._step_args(t, seqs, bufs, state, nonseqs))
            self._store(t, n, outs, bufs, nits, state)
        if n == 0 and self.n_nit:
            nits = self._empty_mapped(runner, seqs, bufs, state, nonseqs)
        results = [_trajectory(buf, m, n, keep) for buf, m, keep in zip(bufs, self.mintaps, self.store_last)]
        results += nits
        results += [_final_state(v, h.type, inputs) for v, h in zip(state, self.inner_shared)]
        for cell, value in zip(output_storage, results):
            cell[0] = value

    def _step_args(self, t: int, seqs: list, bufs: list, state: list, nonseqs: list) -> list:
        """The inner inputs of step ``t`` (0-d entries stay arrays: ``a[i, ...]``). State
        ``m + t + tap`` of the buffer ``initial ++ outputs`` is at that position modulo the
        buffer's length (a ring keeps the last entries only; a full buffer is never wrapped)."""
        args = [s[t + off, ...] for s, offs in zip(seqs, self.seq_offsets) for off in offs]
        for buf, m, taps in zip(bufs, self.mintaps, self.rec_taps):
            args.extend(buf[(m + t + tap) % len(buf), ...] for tap in taps)
        return args + state + nonseqs

    def _store(self, t: int, n: int, outs: list, bufs: list, nits: list, state: list) -> None:
        """Write step ``t``'s outputs: recurrent ones into their buffers, mapped ones into their
        trajectories (allocated at the first step), shared ones as the new state."""
        for k, (buf, m) in enumerate(zip(bufs, self.mintaps)):
            value = outs[k]
            if np.shape(value) != buf.shape[1:]:
                raise ValueError(f"scan: at step {t}, {self.out_labels[k]} of fn has shape {np.shape(value)}, but "
                                 f"its state (initial value) has shape {buf.shape[1:]}; every step must keep the "
                                 f"state's shape")
            buf[(m + t) % len(buf)] = value
        for i in range(self.n_nit):
            value = np.asarray(outs[self.n_rec + i])
            if nits[i] is None:
                nits[i] = np.empty((n,) + value.shape, dtype=self.inner_nit_outs[i].dtype)
            elif value.shape != nits[i].shape[1:]:
                raise ValueError(f"scan: at step {t}, {self.out_labels[self.n_rec + i]} of fn has shape "
                                 f"{value.shape}, but it had shape {nits[i].shape[1:]} at step 0; every step must "
                                 f"return the same shape")
            nits[i][t] = value
        for i in range(self.n_shared):
            state[i] = outs[self.n_rec + self.n_nit + i]

    def _empty_mapped(self, runner: Any, seqs: list, bufs: list, state: list, nonseqs: list) -> list:
        """Zero-step trajectories of the mapped outputs. Their step shape comes from one trial
        step on zero-filled sequence entries (a failing trial leaves unknown axes at 0)."""
        fake_seqs = [np.zeros((max(offs, default=0) + 1,) + s.shape[1:], dtype=s.dtype)
                     for s, offs in zip(seqs, self.seq_offsets)]
        shapes = None
        try:
            with np.errstate(all="ignore"):
                outs = runner(self._step_args(0, fake_seqs, bufs, state, nonseqs))
            shapes = [np.shape(o) for o in outs[self.n_rec:self.n_rec + self.n_nit]]
        except Exception:   # the body may reject zeros; then only the static shape is known
            pass
        result = []
        for i, out in enumerate(self.inner_nit_outs):
            shape = shapes[i] if shapes is not None else tuple(s or 0 for s in out.type.shape)
            result.append(np.empty((0,) + tuple(shape), dtype=out.dtype))
        return result

    # --- shapes ---------------------------------------------------------------------------------
    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        """Trajectories are ``(n_steps,) + step shape`` (``min(n_steps, L)`` for a recurrent
        output keeping its last ``L`` states); a mapped output's step shape is that of its first
        step, computed symbolically on the node's inputs."""
        from .elemwise import ELEMWISE_FUNCTIONS
        from .shape import shape_tuple
        n_steps, seqs, inits, shared, nonseqs = self.split_outer_inputs(node.inputs)
        _, _, init_shapes, shared_shapes, _ = self.split_outer_inputs(input_shapes)
        minimum = ELEMWISE_FUNCTIONS["minimum"]
        out = [((minimum(n_steps, np.int64(keep)) if keep else n_steps),) + tuple(s[1:])
               for s, keep in zip(init_shapes, self.store_last)]
        if self.n_nit:
            first = self.first_step_replacements(seqs, inits, shared, nonseqs)
            for o in clone_replace(self.inner_nit_outs, first, strict=False):
                out.append((n_steps,) + shape_tuple(o))
        return out + [tuple(s) for s in shared_shapes]

    def first_step_replacements(self, seqs: list, inits: list, shared: list, nonseqs: list) -> dict:
        """{inner input: its outer value at step 0}."""
        rep = {}
        for s, offs, inner in zip(seqs, self.seq_offsets, self.inner_seqs):
            rep.update({v: s[off] for v, off in zip(inner, offs)})
        for init, m, taps, inner in zip(inits, self.mintaps, self.rec_taps, self.inner_taps):
            rep.update({v: init[m + tap] for v, tap in zip(inner, taps)})
        rep.update(zip(self.inner_shared, shared))
        rep.update(zip(self.inner_nonseqs, nonseqs))
        return rep


def _check_store_last(store_last: Sequence[int] | None, n_rec: int) -> tuple:
    """``store_last`` as a tuple of one non-negative int per recurrent output (default zeros)."""
    if store_last is None:
        return (0,) * n_rec
    values = tuple(store_last)
    if len(values) != n_rec or any(isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer))
                                   or v < 0 for v in values):
        raise ValueError(f"Scan: store_last must hold one int >= 0 per recurrent output ({n_rec}): 0 keeps "
                         f"the whole trajectory, L > 0 the last L states; got {store_last!r}")
    return tuple(int(v) for v in values)


def _trajectory(buf: np.ndarray, m: int, n: int, keep: int) -> np.ndarray:
    """The output of a recurrent state: ``buf[m:]`` for a full buffer, else the last
    ``min(keep, n)`` outputs of the ring, in step order (positions ``m + n - l .. m + n - 1``)."""
    if not keep:
        return buf[m:]
    count = min(keep, n)
    start = (m + n - count) % len(buf)
    if start + count <= len(buf):
        return buf[start:start + count].copy() if count < len(buf) else buf
    return np.concatenate([buf[start:], buf[:start + count - len(buf)]])


def _type_fits(want: Any, got: Any) -> bool:
    """Whether a value of type ``got`` can stand where ``want`` is expected (tensor types by
    static shape, other types such as random states by equality)."""
    if isinstance(want, TensorType):
        return want.is_super(got)
    return want == got


def _final_state(value: Any, type_: Any, inputs: list) -> Any:
    """The final value of a shared state: a tensor as an array of its dtype that does not share
    memory with the inputs; any other value (e.g. a random state) as the body returned it."""
    if isinstance(type_, TensorType):
        return _owned(np.asarray(value, dtype=type_.dtype), inputs)
    return value


def _owned(value: np.ndarray, inputs: list) -> np.ndarray:
    """``value``, copied when it shares memory with one of the node's inputs."""
    for a in inputs:
        if isinstance(a, np.ndarray) and a.size and np.may_share_memory(value, a):
            return value.copy()
    return value
