"""The dispatch extension's part for reduction kernels, and the factory of a node's C caller.

``ReduceCall`` does in C what a reduction node's Python direct callable (see
``reduce_thunk.reduce_thunk``) does on its common call: exact ndarrays of the kernel's
dtypes, native byte order and aligned, whose layout (every input's shape and strides) it has
planned before. It keeps the plans of the last few layouts itself; on a miss it asks the
Python ``plan`` callable (the same planner as the Python path) for the loop plan as plain
tuples and stores it, or remembers that the layout is the Python path's (a "perform" or
"empty" plan, or one the planner refuses, which includes every shape error). Then it
allocates the output, adds the plan's offsets to the data pointers and calls the kernel.
Any other call goes, unchanged, to the Python fallback, so results and errors are those of
the Python path.
"""
from __future__ import annotations

import logging
from typing import Callable, Optional, Sequence

import numpy as np

_log = logging.getLogger(__name__)

#: How many layouts a node's C caller keeps plans for (replaced round-robin).
PLAN_SLOTS = 4

_SOURCE = r"""
#define ST_REDUCE_SLOTS %(slots)d

typedef void (*st_reduce_kernel)(intptr_t *data, int64_t path, int64_t kd, const int64_t *kshape,
                                 const int64_t *kstr, int64_t rd, const int64_t *rshape,
                                 const int64_t *rstr);

/* One planned layout: the key (per input: ndim, dims, strides), then what a call needs.
   Owned by a capsule, so a call in flight keeps it alive while the slot is replaced. */
typedef struct {
    int python;                    /* 1: calls of this layout go to the Python path */
    int out_ndim;
    int64_t path, kd, rd;
    npy_intp elements;             /* kept x reduced elements: the GIL goes from nogil_min on */
    npy_intp out_shape[NPY_MAXDIMS];
    int64_t *key, *offsets, *kshape, *kstr, *rshape, *rstr;   /* into tail */
    int64_t tail[1];
} st_rplan;

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    st_reduce_kernel kernel;
    int n_in, out_type, next;
    int types[ST_MAX_OPERANDS];        /* numpy type number of each input */
    Py_ssize_t nogil_min;
    PyObject *slots[ST_REDUCE_SLOTS];  /* capsules of st_rplan, or NULL */
    st_rplan *plans[ST_REDUCE_SLOTS];  /* their pointers */
    PyObject *plan;                    /* plan(*inputs): the plan of a new layout, or None */
    PyObject *fallback;                /* the Python path: any call the checks refuse */
    PyObject *keepalive;               /* owner of the kernel */
    Py_ssize_t hits;                   /* calls that ran the kernel from C (tests, profiling) */
} ReduceCall;

static void
rplan_free(PyObject *capsule)
{
    PyMem_RawFree(PyCapsule_GetPointer(capsule, "st_rplan"));
}

static int
rplan_matches(const st_rplan *p, PyObject *const *args, int n_in)
{
    const int64_t *key = p->key;
    int k, d;
    for (k = 0; k < n_in; k++) {
        PyArrayObject *a = (PyArrayObject *)args[k];
        int nd = PyArray_NDIM(a);
        const npy_intp *dims = PyArray_DIMS(a), *strides = PyArray_STRIDES(a);
        if (*key++ != nd)
            return 0;
        for (d = 0; d < nd; d++)
            if (key[d] != dims[d] || key[nd + d] != strides[d])
                return 0;
        key += 2 * nd;
    }
    return 1;
}

/* Copy the tuple of ints ``seq`` to ``dst`` (``count`` items); -1 with an error set. */
static int
rplan_ints(PyObject *seq, int64_t *dst, Py_ssize_t count, const char *what)
{
    Py_ssize_t k;
    if (!PyTuple_Check(seq) || PyTuple_GET_SIZE(seq) != count) {
        PyErr_Format(PyExc_ValueError, "ReduceCall: the plan's %%s must be a tuple of %%zd ints", what, count);
        return -1;
    }
    for (k = 0; k < count; k++) {
        long long v = PyLong_AsLongLong(PyTuple_GET_ITEM(seq, k));
        if (v == -1 && PyErr_Occurred())
            return -1;
        dst[k] = (int64_t)v;
    }
    return 0;
}

static Py_ssize_t
tuple_len(PyObject *t)
{
    return PyTuple_Check(t) ? PyTuple_GET_SIZE(t) : 0;
}

/* A new capsule holding the plan of the layout of ``args``: ``planned`` is None (the Python
   path's layout) or (out_shape, path, kd, rd, kshape, kstr, rshape, rstr, offsets or None). */
static PyObject *
rplan_new(ReduceCall *self, PyObject *const *args, PyObject *planned)
{
    int n_in = self->n_in, k, d;
    Py_ssize_t key_len = 0, lens[4] = {0, 0, 0, 0}, total, pos;
    PyObject *capsule;
    st_rplan *p;

    for (k = 0; k < n_in; k++)
        key_len += 1 + 2 * PyArray_NDIM((PyArrayObject *)args[k]);
    if (planned != Py_None) {
        if (!PyTuple_Check(planned) || PyTuple_GET_SIZE(planned) != 9) {
            PyErr_SetString(PyExc_ValueError, "ReduceCall: a plan must be None or a tuple of 9 items");
            return NULL;
        }
        for (k = 0; k < 4; k++)
            lens[k] = tuple_len(PyTuple_GET_ITEM(planned, 4 + k));
    }
    total = key_len + n_in + lens[0] + lens[1] + lens[2] + lens[3];
    p = (st_rplan *)PyMem_RawCalloc(1, sizeof(st_rplan) + (size_t)total * sizeof(int64_t));
    if (p == NULL)
        return PyErr_NoMemory();
    p->key = p->tail;
    for (k = 0, pos = 0; k < n_in; k++) {
        PyArrayObject *a = (PyArrayObject *)args[k];
        int nd = PyArray_NDIM(a);
        p->key[pos++] = nd;
        for (d = 0; d < nd; d++) {
            p->key[pos + d] = PyArray_DIMS(a)[d];
            p->key[pos + nd + d] = PyArray_STRIDES(a)[d];
        }
        pos += 2 * nd;
    }
    p->offsets = p->key + key_len;
    p->kshape = p->offsets + n_in;
    p->kstr = p->kshape + lens[0];
    p->rshape = p->kstr + lens[1];
    p->rstr = p->rshape + lens[2];
    if (planned == Py_None) {
        p->python = 1;
    } else {
        PyObject *shape = PyTuple_GET_ITEM(planned, 0), *offsets = PyTuple_GET_ITEM(planned, 8);
        int64_t out_shape[NPY_MAXDIMS], ints[3];
        Py_ssize_t out_ndim = tuple_len(shape);
        PyObject *head = PyTuple_GetSlice(planned, 1, 4);
        int bad = head == NULL || rplan_ints(head, ints, 3, "path, kd and rd") < 0;
        Py_XDECREF(head);
        if (bad || out_ndim > NPY_MAXDIMS || rplan_ints(shape, out_shape, out_ndim, "output shape") < 0
            || rplan_ints(PyTuple_GET_ITEM(planned, 4), p->kshape, lens[0], "kept shape") < 0
            || rplan_ints(PyTuple_GET_ITEM(planned, 5), p->kstr, lens[1], "kept strides") < 0
            || rplan_ints(PyTuple_GET_ITEM(planned, 6), p->rshape, lens[2], "reduced shape") < 0
            || rplan_ints(PyTuple_GET_ITEM(planned, 7), p->rstr, lens[3], "reduced strides") < 0
            || (offsets != Py_None && rplan_ints(offsets, p->offsets, n_in, "offsets") < 0))
            goto fail;
        if (lens[0] < 1 || lens[1] < 1 || lens[2] < 1 || lens[3] < 1
            || ints[1] < 0 || ints[1] > lens[0] || ints[2] < 0 || ints[2] > lens[2]
            || ints[1] * (n_in + 1) > lens[1] || ints[2] * n_in > lens[3]) {
            PyErr_SetString(PyExc_ValueError, "ReduceCall: the plan's arrays are shorter than kd and rd say");
            goto fail;
        }
        p->path = ints[0];
        p->kd = ints[1];
        p->rd = ints[2];
        p->out_ndim = (int)out_ndim;
        p->elements = 1;
        for (d = 0; d < out_ndim; d++)
            p->out_shape[d] = (npy_intp)out_shape[d];
        for (d = 0; d < p->kd; d++)
            p->elements *= (npy_intp)p->kshape[d];
        for (d = 0; d < p->rd; d++)
            p->elements *= (npy_intp)p->rshape[d];
    }
    capsule = PyCapsule_New(p, "st_rplan", rplan_free);
    if (capsule == NULL)
        goto fail;
    return capsule;
fail:
    PyMem_RawFree(p);
    return NULL;
}


/* The capsule of the plan for the layout of ``args`` (a new reference; the plan itself in
   ``*plan``), planning it on a miss; NULL with an error set when the planner fails. */
static PyObject *
reduce_lookup(ReduceCall *self, PyObject *const *args, size_t nargsf, const st_rplan **plan)
{
    PyObject *planner, *planned, *capsule, *old;
    int s;
    for (s = 0; s < ST_REDUCE_SLOTS; s++) {
        PyObject *c = self->slots[s];
        if (c != NULL && rplan_matches(self->plans[s], args, self->n_in)) {
            *plan = self->plans[s];
            Py_INCREF(c);
            return c;
        }
    }
    planner = self->plan;
    Py_INCREF(planner);
    planned = PyObject_Vectorcall(planner, args, nargsf, NULL);
    Py_DECREF(planner);
    if (planned == NULL)
        return NULL;
    capsule = rplan_new(self, args, planned);
    Py_DECREF(planned);
    if (capsule == NULL)
        return NULL;
    s = self->next;
    self->next = (s + 1) %% ST_REDUCE_SLOTS;
    old = self->slots[s];
    Py_INCREF(capsule);
    self->slots[s] = capsule;
    self->plans[s] = (st_rplan *)PyCapsule_GetPointer(capsule, "st_rplan");
    *plan = self->plans[s];
    Py_XDECREF(old);   /* a call in flight holds its own reference */
    return capsule;
}

static PyObject *
reduce_vectorcall(PyObject *obj, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    ReduceCall *self = (ReduceCall *)obj;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    int n_in = self->n_in, k;
    intptr_t data[ST_MAX_OPERANDS];
    PyObject *capsule, *out, *res;
    const st_rplan *p;

    if (kwnames != NULL || nargs != n_in)
        return st_call_fallback(self->fallback, args, nargsf, kwnames);
    for (k = 0; k < n_in; k++) {
        PyObject *a = args[k];
        if (Py_TYPE(a) != &PyArray_Type || PyArray_TYPE((PyArrayObject *)a) != self->types[k]
            || PyArray_ISBYTESWAPPED((PyArrayObject *)a)
            || !PyArray_CHKFLAGS((PyArrayObject *)a, NPY_ARRAY_ALIGNED))
            return st_call_fallback(self->fallback, args, nargsf, kwnames);
    }
    capsule = reduce_lookup(self, args, nargsf, &p);
    if (capsule == NULL)
        return NULL;
    if (p->python) {
        Py_DECREF(capsule);
        return st_call_fallback(self->fallback, args, nargsf, kwnames);
    }
    out = PyArray_EMPTY(p->out_ndim, (npy_intp *)p->out_shape, self->out_type, 0);
    if (out == NULL) {
        Py_DECREF(capsule);
        return NULL;
    }
    for (k = 0; k < n_in; k++)
        data[k] = (intptr_t)PyArray_DATA((PyArrayObject *)args[k]) + (intptr_t)p->offsets[k];
    data[n_in] = (intptr_t)PyArray_DATA((PyArrayObject *)out);
    if (p->elements >= self->nogil_min) {
        Py_BEGIN_ALLOW_THREADS
        self->kernel(data, p->path, p->kd, p->kshape, p->kstr, p->rd, p->rshape, p->rstr);
        Py_END_ALLOW_THREADS
    } else {
        self->kernel(data, p->path, p->kd, p->kshape, p->kstr, p->rd, p->rshape, p->rstr);
    }
    Py_DECREF(capsule);
    self->hits++;
    res = PyTuple_New(1);
    if (res == NULL) {
        Py_DECREF(out);
        return NULL;
    }
    PyTuple_SET_ITEM(res, 0, out);
    return res;
}

static int
ReduceCall_clear(ReduceCall *self)
{
    int s;
    for (s = 0; s < ST_REDUCE_SLOTS; s++) {
        self->plans[s] = NULL;
        Py_CLEAR(self->slots[s]);
    }
    Py_CLEAR(self->plan);
    Py_CLEAR(self->fallback);
    Py_CLEAR(self->keepalive);
    return 0;
}

static int
ReduceCall_traverse(ReduceCall *self, visitproc visit, void *arg)
{
    Py_VISIT(self->plan);
    Py_VISIT(self->fallback);
    Py_VISIT(self->keepalive);
    return 0;
}

static void
ReduceCall_dealloc(ReduceCall *self)
{
    PyObject_GC_UnTrack(self);
    ReduceCall_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* ReduceCall(kernel, in_types, out_type, plan, fallback, keepalive, nogil_min) */
static PyObject *
ReduceCall_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    unsigned long long kernel;
    PyObject *in_types, *plan, *fallback, *keepalive;
    int out_type, n_in, k;
    Py_ssize_t nogil_min;
    ReduceCall *self;
    static char *names[] = {"kernel", "in_types", "out_type", "plan", "fallback", "keepalive",
                            "nogil_min", NULL};

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "KO!iOOOn:ReduceCall", names, &kernel, &PyTuple_Type,
                                     &in_types, &out_type, &plan, &fallback, &keepalive, &nogil_min))
        return NULL;
    n_in = (int)PyTuple_GET_SIZE(in_types);
    if (kernel == 0 || n_in < 1 || n_in + 1 > ST_MAX_OPERANDS || !PyCallable_Check(plan)
        || !PyCallable_Check(fallback)) {
        PyErr_Format(PyExc_ValueError, "ReduceCall: unsupported kernel (a non-null kernel address, 1 to "
                     "%%d inputs and callable plan and fallback are expected)", ST_MAX_OPERANDS - 1);
        return NULL;
    }
    self = (ReduceCall *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->vectorcall = reduce_vectorcall;
    self->kernel = (st_reduce_kernel)(uintptr_t)kernel;
    self->n_in = n_in;
    self->out_type = out_type;
    self->nogil_min = nogil_min;
    for (k = 0; k < n_in; k++) {
        long v = PyLong_AsLong(PyTuple_GET_ITEM(in_types, k));
        if (v == -1 && PyErr_Occurred()) {
            Py_DECREF(self);
            return NULL;
        }
        self->types[k] = (int)v;
    }
    Py_INCREF(plan);
    self->plan = plan;
    Py_INCREF(fallback);
    self->fallback = fallback;
    Py_INCREF(keepalive);
    self->keepalive = keepalive;
    return (PyObject *)self;
}

ST_FALLBACK_ACCESSORS(ReduceCall)

static PyObject *
ReduceCall_get_planned(ReduceCall *self, void *closure)
{
    int s, count = 0;
    for (s = 0; s < ST_REDUCE_SLOTS; s++)
        count += self->slots[s] != NULL;
    return PyLong_FromLong(count);
}

static PyGetSetDef ReduceCall_getset[] = {
    ST_FALLBACK_GETSET(ReduceCall),
    {"planned", (getter)ReduceCall_get_planned, NULL, "how many layouts have a stored plan", NULL},
    {NULL}
};

static PyMemberDef ReduceCall_members[] = {
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(ReduceCall, vectorcall), READONLY},
    {"hits", T_PYSSIZET, offsetof(ReduceCall, hits), READONLY,
     "how many calls ran the kernel from C"},
    {NULL}
};

static PyTypeObject ReduceCallType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_symtensor_dispatch.ReduceCall",
    .tp_doc = "A reduction kernel's call on numpy arrays, its common case in C.",
    .tp_basicsize = sizeof(ReduceCall),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = ReduceCall_new,
    .tp_dealloc = (destructor)ReduceCall_dealloc,
    .tp_traverse = (traverseproc)ReduceCall_traverse,
    .tp_clear = (inquiry)ReduceCall_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(ReduceCall, vectorcall),
    .tp_getset = ReduceCall_getset,
    .tp_members = ReduceCall_members,
};

static int st_register_reduce(PyObject *m)
{
    return st_add_type(m, &ReduceCallType, "ReduceCall");
}
"""

#: This family's part of the extension: (C source, registration function name).
PART = (_SOURCE % {"slots": PLAN_SLOTS}, "st_register_reduce")


def reduce_call(fn, ffi, in_dtypes: Sequence[np.dtype], out_dtype: np.dtype, plan: Callable,
                fallback: Callable) -> Optional[Callable]:
    """A C callable for one reduction node, or None when the extension is unavailable or the
    kernel is outside what it handles (then ``fallback`` alone serves the node).

    ``fn`` is the kernel (a cffi function: ``fn(data, path, kd, kshape, kstr, rd, rshape,
    rstr)``); ``plan(*inputs)`` plans a layout of checked inputs (exact, aligned, native
    ndarrays of the kernel's dtypes): None for the Python path's layouts, else ``(out_shape,
    path, kd, rd, kshape, kstr, rshape, rstr, offsets)`` as tuples of ints (``offsets``, bytes
    added to each input's data pointer, may be None); it must depend only on the inputs'
    shapes and strides. ``fallback`` takes every other call, with the same arguments."""
    from . import dispatch   # here, not at import: dispatch's source module imports this one
    from .dispatch_source import MAX_OPERANDS
    module = dispatch.extension(wait=False)
    call_type = getattr(module, "ReduceCall", None)
    if call_type is None or len(in_dtypes) + 1 > MAX_OPERANDS:
        return None
    try:
        return call_type(int(ffi.cast("uintptr_t", fn)), tuple(np.dtype(d).num for d in in_dtypes),
                         np.dtype(out_dtype).num, plan, fallback, (fn,), dispatch.NOGIL_MIN_ELEMENTS)
    except (ValueError, TypeError, OverflowError) as exc:
        _log.debug("no C dispatch for this reduction kernel: %s", exc)
        return None


__all__ = ["PART", "PLAN_SLOTS", "reduce_call"]
