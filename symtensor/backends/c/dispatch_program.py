"""Whole-function execution: a compiled function's schedule run by one C call.

``ProgramRun`` (a type of the dispatch extension) holds a function's schedule as a small
instruction list and runs it in C: each node's callable (the elementwise, reduction and BLAS
nodes' own C callables, or a Python callable for an op without a C rendering) is called with
its operands taken from a per-call slot array, and its results are stored there. A slot is
released right after its last reader ran (the memory plan: a large intermediate goes back to
the allocator as soon as nothing needs it; the elementwise nodes' ``reuse_for_node`` writes a
result into a dying operand instead of a new array). Lazy ``ifelse`` is two jumps. An error
is re-raised, annotated with the failing node and the user's source line, by ``annotate``.

So a call of a compiled function is one call from Python into C, which then reaches Python
again only for nodes without a compiled path (and for kernels' own fall-backs).
:func:`program_run` builds the instruction list from an executor's steps; without the
extension the generated Python schedule (``graph/interpreter.py``) runs instead.
"""
from __future__ import annotations

import logging
from typing import Callable, Optional, Sequence

from . import dispatch_views

_log = logging.getLogger(__name__)

#: Instruction kinds (the C code's ``ST_OP_*``).
CALL, JUMP_IF_FALSE, JUMP = 0, 1, 2

SOURCE = r"""
#define ST_OP_CALL 0
#define ST_OP_JUMP_IF_FALSE 1
#define ST_OP_JUMP 2
#define ST_PROGRAM_MAX_ARGS 256

typedef struct {
    int op, n_in, n_out, n_release, step, target;
    PyObject *fn;             /* CALL: vectorcall(fn, operands) -> tuple of n_out values */
    Py_ssize_t *in;           /* operand refs: >= 0 a slot, < 0 the constant -1 - ref */
    Py_ssize_t *out;          /* slots receiving the results */
    Py_ssize_t *release;      /* slots whose last reader this is */
} st_instr;

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    Py_ssize_t n_inputs, n_slots, n_instr, n_outputs;
    st_instr *code;
    Py_ssize_t *outputs;      /* refs of the results */
    PyObject *consts;         /* tuple */
    PyObject *annotate;       /* annotate(step, exception) -> exception to raise */
    PyObject *keepalive;      /* the instruction tuple (owns the callables) */
} ProgramRun;

static void program_free_code(ProgramRun *self)
{
    if (self->code != NULL) {
        for (Py_ssize_t i = 0; i < self->n_instr; i++) {
            PyMem_Free(self->code[i].in);
            PyMem_Free(self->code[i].out);
            PyMem_Free(self->code[i].release);
        }
        PyMem_Free(self->code);
        self->code = NULL;
    }
    PyMem_Free(self->outputs);
    self->outputs = NULL;
}

static int program_traverse(ProgramRun *self, visitproc visit, void *arg)
{
    Py_VISIT(self->consts);
    Py_VISIT(self->annotate);
    Py_VISIT(self->keepalive);
    return 0;
}

static int program_clear(ProgramRun *self)
{
    Py_CLEAR(self->consts);
    Py_CLEAR(self->annotate);
    Py_CLEAR(self->keepalive);
    return 0;
}

static void program_dealloc(ProgramRun *self)
{
    PyObject_GC_UnTrack(self);
    program_clear(self);
    program_free_code(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* A tuple of ints as a new C array (NULL with an exception set on failure). */
static Py_ssize_t *program_refs(PyObject *tup, Py_ssize_t *n, Py_ssize_t lo, Py_ssize_t hi)
{
    if (!PyTuple_Check(tup)) {
        PyErr_SetString(PyExc_TypeError, "ProgramRun: operand lists must be tuples of ints");
        return NULL;
    }
    *n = PyTuple_GET_SIZE(tup);
    Py_ssize_t *a = PyMem_Malloc(sizeof(Py_ssize_t) * (*n > 0 ? *n : 1));
    if (a == NULL) { PyErr_NoMemory(); return NULL; }
    for (Py_ssize_t i = 0; i < *n; i++) {
        Py_ssize_t v = PyLong_AsSsize_t(PyTuple_GET_ITEM(tup, i));
        if (v == -1 && PyErr_Occurred()) { PyMem_Free(a); return NULL; }
        if (v < lo || v >= hi) {
            PyErr_Format(PyExc_ValueError, "ProgramRun: reference %zd out of range [%zd, %zd)", v, lo, hi);
            PyMem_Free(a);
            return NULL;
        }
        a[i] = v;
    }
    return a;
}

static PyObject *program_vectorcall(PyObject *obj, PyObject *const *args, size_t nargsf, PyObject *kwnames);

/* ProgramRun(n_inputs, n_slots, instructions, outputs, consts, annotate); an instruction is
   (op, fn, in_refs, out_slots, release_slots, step, target). */
static PyObject *program_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    Py_ssize_t n_inputs, n_slots;
    PyObject *instrs, *outputs, *consts, *annotate;
    if (!PyArg_ParseTuple(args, "nnO!O!O!O", &n_inputs, &n_slots, &PyTuple_Type, &instrs, &PyTuple_Type,
                          &outputs, &PyTuple_Type, &consts, &annotate))
        return NULL;
    if (n_inputs < 0 || n_slots < n_inputs) {
        PyErr_SetString(PyExc_ValueError, "ProgramRun: need 0 <= n_inputs <= n_slots");
        return NULL;
    }
    if (!PyCallable_Check(annotate)) {
        PyErr_SetString(PyExc_TypeError, "ProgramRun: annotate must be callable");
        return NULL;
    }
    ProgramRun *self = (ProgramRun *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->vectorcall = program_vectorcall;
    self->n_inputs = n_inputs;
    self->n_slots = n_slots;
    Py_ssize_t n_consts = PyTuple_GET_SIZE(consts), lo = -n_consts;
    self->n_instr = PyTuple_GET_SIZE(instrs);
    self->code = PyMem_Calloc(self->n_instr > 0 ? self->n_instr : 1, sizeof(st_instr));
    if (self->code == NULL) { Py_DECREF(self); return PyErr_NoMemory(); }
    Py_INCREF(consts); self->consts = consts;
    Py_INCREF(annotate); self->annotate = annotate;
    Py_INCREF(instrs); self->keepalive = instrs;
    for (Py_ssize_t i = 0; i < self->n_instr; i++) {
        PyObject *t = PyTuple_GET_ITEM(instrs, i), *fn, *in, *out, *rel;
        st_instr *c = &self->code[i];
        Py_ssize_t n;
        if (!PyArg_ParseTuple(t, "iOOOOii", &c->op, &fn, &in, &out, &rel, &c->step, &c->target))
            goto fail;
        if (c->op < ST_OP_CALL || c->op > ST_OP_JUMP || ((c->op != ST_OP_CALL) &&
                (c->target <= i || c->target > self->n_instr))) {   /* jumps go forward only */
            PyErr_Format(PyExc_ValueError, "ProgramRun: instruction %zd is malformed", i);
            goto fail;
        }
        if (c->op == ST_OP_CALL && !PyCallable_Check(fn)) {
            PyErr_Format(PyExc_TypeError, "ProgramRun: instruction %zd calls a non-callable", i);
            goto fail;
        }
        c->fn = fn;    /* owned through keepalive */
        if ((c->in = program_refs(in, &n, lo, n_slots)) == NULL) goto fail;
        c->n_in = (int)n;
        if (c->n_in > ST_PROGRAM_MAX_ARGS || (c->op == ST_OP_JUMP_IF_FALSE && c->n_in != 1)) {
            PyErr_Format(PyExc_ValueError, "ProgramRun: instruction %zd has %d operands", i, c->n_in);
            goto fail;
        }
        if ((c->out = program_refs(out, &n, n_inputs, n_slots)) == NULL) goto fail;
        c->n_out = (int)n;
        if ((c->release = program_refs(rel, &n, 0, n_slots)) == NULL) goto fail;
        c->n_release = (int)n;
    }
    if ((self->outputs = program_refs(outputs, &self->n_outputs, lo, n_slots)) == NULL) goto fail;
    return (PyObject *)self;   /* tp_alloc has put it under the collector's watch */
fail:
    Py_DECREF(self);
    return NULL;
}

static inline PyObject *program_ref(PyObject **slots, PyObject *consts, Py_ssize_t r)
{
    return r >= 0 ? slots[r] : PyTuple_GET_ITEM(consts, -1 - r);
}

/* Raise annotate(step, exc) from exc (the error named with its node). */
static void program_annotate(ProgramRun *self, int step)
{
    PyObject *type, *value, *tb;
    if (!PyErr_ExceptionMatches(PyExc_Exception))
        return;                    /* KeyboardInterrupt, SystemExit...: untouched, as in Python */
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL) PyException_SetTraceback(value, tb);
    PyObject *new = value == NULL ? NULL : PyObject_CallFunction(self->annotate, "iO", step, value);
    if (new == NULL || !PyExceptionInstance_Check(new)) {
        /* annotating failed or gave no exception: the original error, unchanged */
        Py_XDECREF(new);
        PyErr_Clear();
        PyErr_Restore(type, value, tb);
        return;
    }
    if (new != value) {
        Py_INCREF(value);
        PyException_SetCause(new, value);      /* steals the reference */
        Py_INCREF(value);
        PyException_SetContext(new, value);
    }
    PyObject *new_tb = PyException_GetTraceback(new);
    Py_INCREF(Py_TYPE(new));
    PyErr_Restore((PyObject *)Py_TYPE(new), new, new_tb);     /* steals all three: no new context */
    Py_XDECREF(type); Py_XDECREF(value); Py_XDECREF(tb);
}

static PyObject *program_vectorcall(PyObject *obj, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    ProgramRun *self = (ProgramRun *)obj;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf), i, pc = 0;
    if (self->keepalive == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "this compiled schedule has been cleared");
        return NULL;
    }
    if (kwnames != NULL && PyTuple_GET_SIZE(kwnames) > 0) {
        PyErr_SetString(PyExc_TypeError, "a compiled schedule takes positional values only");
        return NULL;
    }
    if (nargs != self->n_inputs) {
        PyErr_Format(PyExc_TypeError, "the graph takes %zd value(s), got %zd", self->n_inputs, nargs);
        return NULL;
    }
    PyObject *stack_slots[64], **slots = stack_slots, *result = NULL;
    if (self->n_slots > 64) {
        slots = PyMem_Calloc((size_t)self->n_slots, sizeof(PyObject *));
        if (slots == NULL) return PyErr_NoMemory();
    } else {
        memset(stack_slots, 0, sizeof(stack_slots));
    }
    for (i = 0; i < nargs; i++) { Py_INCREF(args[i]); slots[i] = args[i]; }
    PyObject *operands[ST_PROGRAM_MAX_ARGS];
    while (pc < self->n_instr) {
        st_instr *c = &self->code[pc];
        if (c->op == ST_OP_JUMP) { pc = c->target; continue; }
        if (c->op == ST_OP_JUMP_IF_FALSE) {
            PyObject *cond = program_ref(slots, self->consts, c->in[0]);
            int truth = cond == NULL ? -1 : PyObject_IsTrue(cond);
            if (truth < 0) {
                if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "ifelse: the condition was not computed");
                program_annotate(self, c->step);
                goto done;
            }
            for (int k = 0; k < c->n_release; k++)
                Py_CLEAR(slots[c->release[k]]);
            pc = truth ? pc + 1 : c->target;
            continue;
        }
        for (int k = 0; k < c->n_in; k++) {
            operands[k] = program_ref(slots, self->consts, c->in[k]);
            if (operands[k] == NULL) {
                PyErr_Format(PyExc_RuntimeError, "schedule step %d reads a value that was not computed", c->step);
                program_annotate(self, c->step);
                goto done;
            }
        }
        PyObject *res = PyObject_Vectorcall(c->fn, operands, (size_t)c->n_in, NULL);
        if (res == NULL) { program_annotate(self, c->step); goto done; }
        if (!PyTuple_Check(res) || PyTuple_GET_SIZE(res) != c->n_out) {
            Py_DECREF(res);
            PyErr_Format(PyExc_TypeError, "schedule step %d returned something other than a %d-tuple",
                         c->step, c->n_out);
            program_annotate(self, c->step);
            goto done;
        }
        for (int k = 0; k < c->n_out; k++) {
            PyObject *v = PyTuple_GET_ITEM(res, k);
            Py_INCREF(v);
            Py_XSETREF(slots[c->out[k]], v);
        }
        Py_DECREF(res);
        for (int k = 0; k < c->n_release; k++)
            Py_CLEAR(slots[c->release[k]]);
        pc++;
    }
    result = PyList_New(self->n_outputs);
    if (result == NULL) goto done;
    for (i = 0; i < self->n_outputs; i++) {
        PyObject *v = program_ref(slots, self->consts, self->outputs[i]);
        if (v == NULL) {
            Py_CLEAR(result);
            PyErr_Format(PyExc_RuntimeError, "output %zd of the schedule was not computed", i);
            goto done;
        }
        Py_INCREF(v);
        PyList_SET_ITEM(result, i, v);
    }
done:
    for (i = 0; i < self->n_slots; i++) Py_XDECREF(slots[i]);
    if (slots != stack_slots) PyMem_Free(slots);
    return result;
}

static PyTypeObject ProgramRunType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_symtensor_dispatch.ProgramRun",
    .tp_doc = "A compiled function's schedule, run in C.",
    .tp_basicsize = sizeof(ProgramRun),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = program_new,
    .tp_dealloc = (destructor)program_dealloc,
    .tp_traverse = (traverseproc)program_traverse,
    .tp_clear = (inquiry)program_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(ProgramRun, vectorcall),
};

static int st_register_program(PyObject *m)
{
    return st_add_type(m, &ProgramRunType, "ProgramRun");
}
"""

PART = (SOURCE, "st_register_program")


def _performer(fn: Callable, node, n_out: int) -> Callable:
    """A step in ``perform``'s protocol as a callable returning the tuple of outputs."""
    def call(*inputs):
        cells = [[None] for _ in range(n_out)]
        fn(node, list(inputs), cells)
        return tuple(cell[0] for cell in cells)
    return call


def _copier(copy: Callable, n: int) -> Callable:
    """The values of a lazy branch, copied (so an output never aliases an input)."""
    def call(*values):
        return tuple(copy(v) for v in values)
    return call


def program_run(steps: list, input_cells: list, output_cells: list, contexts: dict, reuse: dict,
                copy: Callable, annotate: Callable) -> Optional[tuple]:
    """(ProgramRun, fresh per output) for a schedule, or None without the extension.

    ``contexts`` groups the steps by lazy branch and ``reuse`` is the memory plan (both from
    ``graph/interpreter.py``); ``copy`` copies a lazy branch's value; ``annotate(node, exc)``
    names the node in an error."""
    from . import dispatch   # not at import: the extension's source imports this module
    module = dispatch.extension(wait=False)
    cls = getattr(module, "ProgramRun", None) if module is not None else None
    if cls is None:
        return None
    slot = {id(c): k for k, c in enumerate(input_cells)}
    consts: list = []
    fresh_cells: set = set()
    code: list = []           # [op, fn, in refs, out slots, step, target]

    def ref(r) -> int:
        if type(r) is list and id(r) in slot:
            return slot[id(r)]
        consts.append(r[0] if type(r) is list else r)   # a constant's cell, or constant data
        return -len(consts)

    def outs_of(cells) -> tuple:
        for c in cells:
            slot[id(c)] = len(slot) if id(c) not in slot else slot[id(c)]
        return tuple(slot[id(c)] for c in cells)

    def emit_context(ctx) -> None:
        for i in contexts.get(ctx, ()):
            node, fn, in_refs, out_cells = steps[i]
            if getattr(node.op, "lazy_branches", False):
                n = node.op.n_outs
                jump_if = len(code)
                code.append([JUMP_IF_FALSE, None, (ref(in_refs[0]),), (), i, 0])
                emit_context((i, "then"))
                then_refs = tuple(ref(r) for r in in_refs[1:1 + n])
                out_slots = outs_of(out_cells)
                code.append([CALL, _copier(copy, n), then_refs, out_slots, i, 0])
                jump = len(code)
                code.append([JUMP, None, (), (), i, 0])
                code[jump_if][5] = len(code)
                emit_context((i, "else"))
                code.append([CALL, _copier(copy, n), tuple(ref(r) for r in in_refs[1 + n:]), out_slots, i, 0])
                code[jump][5] = len(code)
                continue
            direct = getattr(fn, "for_node", None)
            if direct is not None:
                call = fn.reuse_for_node(node, reuse[i]) if i in reuse else direct(node)
                fresh_cells.update(id(c) for c in out_cells)
            else:
                call = _performer(fn, node, len(out_cells))
                if fn == getattr(node.op, "perform", None):   # a view op's perform: in C where it can be
                    call = dispatch_views.view_call(node, call) or call
            in_tuple = tuple(ref(r) for r in in_refs)
            code.append([CALL, call, in_tuple, outs_of(out_cells), i, 0])

    emit_context(None)
    outputs = tuple(ref(c) for c in output_cells)
    release = _releases(code, outputs, len(input_cells))
    instrs = tuple((op, fn if fn is not None else None, ins, outs, release[k], step, target)
                   for k, (op, fn, ins, outs, step, target) in enumerate(code))
    nodes = [s[0] for s in steps]
    counts = [sum(c is d for d in output_cells) for c in output_cells]
    fresh = tuple(id(c) in fresh_cells and n == 1 for c, n in zip(output_cells, counts))
    try:
        run = cls(len(input_cells), max(len(slot), len(input_cells)), instrs, outputs, tuple(consts),
                  lambda step, exc: annotate(exc, nodes[step]))
    except (TypeError, ValueError) as exc:
        _log.debug("no compiled schedule: %s", exc)
        return None
    return run, fresh


def _releases(code: list, outputs: Sequence[int], n_inputs: int) -> list:
    """Per instruction, the slots whose last reader (in code order) it is: not the function's
    inputs (the caller owns them) nor its outputs."""
    keep = {r for r in outputs if r >= 0}
    last: dict = {}
    for k, (op, _, ins, _, _, _) in enumerate(code):
        for r in ins:
            if r >= n_inputs and r not in keep:
                last[r] = k
    per = [[] for _ in code]
    for r, k in last.items():
        per[k].append(r)
    return [tuple(p) for p in per]
