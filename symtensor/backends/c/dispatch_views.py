"""The dispatch extension's view part: ``ViewCall``, a shape or indexing node's call in C.

Shape and indexing ops have no C kernel; in a compiled program they ran through their Python
``perform``. ``ViewCall`` does in C, with numpy's C API, what ``perform`` does in its common
case, making the same numpy calls so that results (views of the input, with the same shapes
and strides) are identical:

* ``DimShuffle``: ``PyArray_Transpose``, an index with ``None`` entries, or (dropping axes,
  or inserting them while reordering) reshape, transpose, reshape as ``perform`` does;
* ``Shape`` / ``Shape_i``: a fresh int64 vector / 0-d int64 array of the input's dimensions;
* ``Reshape``: ``PyArray_Newshape`` with an int64 shape vector whose target ``perform``'s check
  accepts (at most one -1, the sizes agreeing);
* basic ``Subtensor``: the index tuple applied with ``PyObject_GetItem``; computed once when
  it is all constants, else built per call from a template whose symbolic parts (ints, slice
  bounds and steps) take the scalar inputs' ``__index__`` values, as ``perform``'s ``int()`` does.

Any other call (not an exact ndarray, another rank, a bad shape, any numpy error) goes
unchanged to the fallback, the op's ``perform``, so results and errors are that path's own.

``PART`` is the C text and registration function added to the extension (see
``dispatch_source.module_source``); :func:`view_call` makes a node's ``ViewCall``.
"""
from __future__ import annotations

import logging
from typing import Callable, Optional

_log = logging.getLogger(__name__)

#: The extension's module name (``dispatch_source.MODULE_NAME``; not imported from there, since
#: that module imports this one to collect ``PART``).
MODULE_NAME = "_symtensor_dispatch"

#: ``ViewCall`` kinds (the C enum below has the same values).
DS_TRANSPOSE, DS_INDEX, DS_GENERAL, SHAPE, SHAPE_I, RESHAPE, SUBTENSOR = range(7)


SOURCE = r"""
enum { ST_DS_TRANSPOSE, ST_DS_INDEX, ST_DS_GENERAL, ST_SHAPE, ST_SHAPE_I, ST_RESHAPE, ST_SUBTENSOR };

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    int kind;
    int ndim;                  /* the input's rank; -1: any */
    int n;                     /* Shape_i: the axis; Reshape: the target's rank;
                                  Subtensor: how many scalar index inputs follow x */
    int n_perm, n_keep, n_order;
    npy_intp perm[NPY_MAXDIMS];        /* DimShuffle: the transpose's axes */
    char drop[NPY_MAXDIMS];            /* DimShuffle (general): input axes dropped */
    char bcast[NPY_MAXDIMS];           /* DimShuffle (general): output axis i is an 'x' */
    Py_ssize_t calls;          /* calls completed in C (tests, profiling) */
    PyObject *index;           /* DimShuffle (index) / Subtensor: the index (with n > 0, its
                                  template: see view_sub_index), or None */
    PyObject *fallback;        /* the Python path: any call the checks refuse */
} ViewCall;


/* a.reshape(dims) as ndarray.reshape does it (C order); NULL with an error set on failure */
static PyObject *
view_newshape(PyArrayObject *a, npy_intp *dims, int nd)
{
    PyArray_Dims shape;
    shape.ptr = dims;
    shape.len = nd;
    return PyArray_Newshape(a, &shape, NPY_CORDER);
}

/* perform's general DimShuffle: drop axes by a reshape, transpose, insert 'x' axes by a reshape */
static PyObject *
view_dimshuffle_general(ViewCall *self, PyArrayObject *x)
{
    npy_intp dims[NPY_MAXDIMS];
    PyArray_Dims perm;
    PyObject *a, *b;
    int d, k = 0;
    Py_INCREF(x);
    a = (PyObject *)x;
    if (self->n_keep != self->ndim) {
        for (d = 0; d < self->ndim; d++)
            if (!self->drop[d])
                dims[k++] = PyArray_DIMS(x)[d];
        b = view_newshape((PyArrayObject *)a, dims, k);
        Py_DECREF(a);
        if (b == NULL)
            return NULL;
        a = b;
    }
    perm.ptr = self->perm;
    perm.len = self->n_perm;
    b = PyArray_Transpose((PyArrayObject *)a, &perm);
    Py_DECREF(a);
    if (b == NULL)
        return NULL;
    a = b;
    k = 0;
    for (d = 0; d < self->n_order; d++)
        dims[d] = self->bcast[d] ? 1 : PyArray_DIMS((PyArrayObject *)a)[k++];
    b = view_newshape((PyArrayObject *)a, dims, self->n_order);
    Py_DECREF(a);
    return b;
}

/* The Reshape target from an int64 vector, when perform's check accepts it (else 0) */
static int
view_reshape_dims(ViewCall *self, PyArrayObject *x, PyObject *s, npy_intp *dims)
{
    PyArrayObject *shp = (PyArrayObject *)s;
    npy_intp size = 1, rest = 1, stride;
    const char *p;
    int d, unknown = 0;
    if (Py_TYPE(s) != &PyArray_Type || PyArray_NDIM(shp) != 1 || PyArray_TYPE(shp) != NPY_INT64
        || PyArray_ISBYTESWAPPED(shp) || !PyArray_CHKFLAGS(shp, NPY_ARRAY_ALIGNED)
        || PyArray_DIMS(shp)[0] != self->n)
        return 0;
    p = (const char *)PyArray_DATA(shp);
    stride = PyArray_STRIDES(shp)[0];
    for (d = 0; d < self->n; d++) {
        int64_t v = *(const int64_t *)(p + d * stride);
        if (v < -1 || (v == -1 && unknown++))
            return 0;
        if ((int64_t)(npy_intp)v != v)
            return 0;
        dims[d] = (npy_intp)v;
        if (v != -1 && __builtin_mul_overflow(rest, (npy_intp)v, &rest))
            return 0;
    }
    for (d = 0; d < PyArray_NDIM(x); d++)
        size *= PyArray_DIMS(x)[d];
    if (unknown)
        return rest != 0 && size %% rest == 0;
    return rest == size;
}

/* One part of a Subtensor template entry: None, a 1-tuple holding a constant, or the position of
   the argument whose __index__ value it takes (NULL with an error set when it has none) */
static PyObject *
view_sub_part(PyObject *part, PyObject *const *args)
{
    if (PyTuple_Check(part))
        part = PyTuple_GET_ITEM(part, 0);
    else if (part != Py_None)
        return PyNumber_Index(args[PyLong_AsSsize_t(part)]);
    Py_INCREF(part);
    return part;
}

/* A Subtensor's index from its template and the call's scalar inputs: a tuple entry of the
   template is symbolic, (part,) an int and (start, stop, step) a slice, whose parts are as
   view_sub_part reads them; any other entry is used as it is. NULL with an error set on failure. */
static PyObject *
view_sub_index(ViewCall *self, PyObject *const *args)
{
    PyObject *tmpl = self->index, *idx, *e, *v, *p[3];
    Py_ssize_t k, m = PyTuple_GET_SIZE(tmpl);
    int j;
    idx = PyTuple_New(m);
    if (idx == NULL)
        return NULL;
    for (k = 0; k < m; k++) {
        e = PyTuple_GET_ITEM(tmpl, k);
        if (!PyTuple_Check(e)) {
            Py_INCREF(e);
            v = e;
        } else if (PyTuple_GET_SIZE(e) == 1) {
            v = view_sub_part(PyTuple_GET_ITEM(e, 0), args);
        } else {
            v = NULL;
            for (j = 0; j < 3; j++) {
                p[j] = view_sub_part(PyTuple_GET_ITEM(e, j), args);
                if (p[j] == NULL)
                    break;
            }
            if (j == 3)
                v = PySlice_New(p[0], p[1], p[2]);
            while (j-- > 0)
                Py_DECREF(p[j]);
        }
        if (v == NULL) {
            Py_DECREF(idx);
            return NULL;
        }
        PyTuple_SET_ITEM(idx, k, v);
    }
    return idx;
}

/* Whether a Subtensor template (see view_sub_index) refers only to arguments 1..n */
static int
view_sub_template_ok(PyObject *tmpl, int n)
{
    Py_ssize_t k, j, size;
    for (k = 0; k < PyTuple_GET_SIZE(tmpl); k++) {
        PyObject *e = PyTuple_GET_ITEM(tmpl, k);
        if (!PyTuple_Check(e))
            continue;
        size = PyTuple_GET_SIZE(e);
        if (size != 1 && size != 3)
            return 0;
        for (j = 0; j < size; j++) {
            PyObject *part = PyTuple_GET_ITEM(e, j);
            if (part == Py_None)
                continue;
            if (PyTuple_Check(part)) {
                if (PyTuple_GET_SIZE(part) != 1)
                    return 0;
                continue;
            }
            if (!PyLong_CheckExact(part))
                return 0;
            {
                Py_ssize_t at = PyLong_AsSsize_t(part);
                if (at < 1 || at > n) {
                    PyErr_Clear();
                    return 0;
                }
            }
        }
    }
    return 1;
}

static PyObject *
view_vectorcall(PyObject *obj, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    ViewCall *self = (ViewCall *)obj;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyArrayObject *x;
    PyObject *out = NULL, *res;
    npy_intp dims[NPY_MAXDIMS];
    int d;

    if (kwnames != NULL
        || nargs != (self->kind == ST_RESHAPE ? 2 : self->kind == ST_SUBTENSOR ? 1 + self->n : 1)
        || Py_TYPE(args[0]) != &PyArray_Type)
        return st_call_fallback(self->fallback, args, nargsf, kwnames);
    x = (PyArrayObject *)args[0];
    if (self->ndim >= 0 && PyArray_NDIM(x) != self->ndim)
        return st_call_fallback(self->fallback, args, nargsf, kwnames);
    switch (self->kind) {
    case ST_DS_TRANSPOSE: {
        PyArray_Dims perm;
        perm.ptr = self->perm;
        perm.len = self->n_perm;
        out = PyArray_Transpose(x, &perm);
        break;
    }
    case ST_DS_INDEX:
        out = PyObject_GetItem(args[0], self->index);
        break;
    case ST_SUBTENSOR:
        if (self->n == 0) {
            out = PyObject_GetItem(args[0], self->index);
        } else {
            PyObject *idx = view_sub_index(self, args);
            if (idx == NULL)   /* a scalar without __index__: the Python path decides */
                break;
            out = PyObject_GetItem(args[0], idx);
            Py_DECREF(idx);
        }
        break;
    case ST_DS_GENERAL:
        out = view_dimshuffle_general(self, x);
        break;
    case ST_SHAPE: {
        npy_intp n = PyArray_NDIM(x);
        out = PyArray_SimpleNew(1, &n, NPY_INT64);
        if (out != NULL)
            for (d = 0; d < n; d++)
                ((int64_t *)PyArray_DATA((PyArrayObject *)out))[d] = (int64_t)PyArray_DIMS(x)[d];
        break;
    }
    case ST_SHAPE_I:
        if (self->n >= PyArray_NDIM(x))
            return st_call_fallback(self->fallback, args, nargsf, kwnames);
        out = PyArray_SimpleNew(0, NULL, NPY_INT64);
        if (out != NULL)
            *(int64_t *)PyArray_DATA((PyArrayObject *)out) = (int64_t)PyArray_DIMS(x)[self->n];
        break;
    case ST_RESHAPE:
        if (!view_reshape_dims(self, x, args[1], dims))
            return st_call_fallback(self->fallback, args, nargsf, kwnames);
        out = view_newshape(x, dims, self->n);
        break;
    }
    if (out == NULL || Py_TYPE(out) != &PyArray_Type) {
        /* a numpy error, or no ndarray: the Python path decides (and raises its own error) */
        Py_XDECREF(out);
        PyErr_Clear();
        return st_call_fallback(self->fallback, args, nargsf, kwnames);
    }
    res = PyTuple_New(1);
    if (res == NULL) {
        Py_DECREF(out);
        return NULL;
    }
    PyTuple_SET_ITEM(res, 0, out);
    self->calls++;
    return res;
}

static int
ViewCall_clear(ViewCall *self)
{
    Py_CLEAR(self->fallback);
    Py_CLEAR(self->index);
    return 0;
}

static int
ViewCall_traverse(ViewCall *self, visitproc visit, void *arg)
{
    Py_VISIT(self->fallback);
    Py_VISIT(self->index);
    return 0;
}

static void
ViewCall_dealloc(ViewCall *self)
{
    PyObject_GC_UnTrack(self);
    ViewCall_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Each item of ``seq`` (a tuple of ints, at most NPY_MAXDIMS) into ``out``; -1 on error */
static int
view_ints(PyObject *seq, npy_intp *out, Py_ssize_t *n)
{
    Py_ssize_t k;
    *n = PyTuple_GET_SIZE(seq);
    if (*n > NPY_MAXDIMS)
        return -1;
    for (k = 0; k < *n; k++) {
        out[k] = PyLong_AsSsize_t(PyTuple_GET_ITEM(seq, k));
        if (out[k] == -1 && PyErr_Occurred())
            return -1;
    }
    return 0;
}

/* ViewCall(kind, ndim, n, perm, drop, bcast, index, fallback) */
static PyObject *
ViewCall_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    int kind, ndim, n;
    PyObject *perm, *drop, *bcast, *index, *fallback;
    npy_intp vals[NPY_MAXDIMS];
    Py_ssize_t n_perm, n_drop, n_bcast, k;
    ViewCall *self;
    static char *names[] = {"kind", "ndim", "n", "perm", "drop", "bcast", "index", "fallback", NULL};

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "iiiO!O!O!OO:ViewCall", names, &kind, &ndim, &n,
                                     &PyTuple_Type, &perm, &PyTuple_Type, &drop, &PyTuple_Type, &bcast,
                                     &index, &fallback))
        return NULL;
    if (kind < ST_DS_TRANSPOSE || kind > ST_SUBTENSOR || ndim < -1 || ndim > NPY_MAXDIMS || n < 0
        || n > (kind == ST_SUBTENSOR ? 4 * NPY_MAXDIMS : NPY_MAXDIMS) || !PyCallable_Check(fallback)
        || ((kind == ST_DS_INDEX || kind == ST_SUBTENSOR) && !PyTuple_Check(index))
        || (kind == ST_SUBTENSOR && n > 0 && !view_sub_template_ok(index, n))) {
        PyErr_SetString(PyExc_ValueError, "ViewCall: unsupported view (a kind in 0..6, ranks of at most "
                        "NPY_MAXDIMS, an index tuple for an index kind (a Subtensor template referring to "
                        "arguments 1..n when n > 0) and a callable fallback are expected)");
        return NULL;
    }
    self = (ViewCall *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->vectorcall = view_vectorcall;
    self->kind = kind;
    self->ndim = ndim;
    self->n = n;
    Py_INCREF(fallback);
    self->fallback = fallback;
    Py_INCREF(index);
    self->index = index;
    if (view_ints(perm, self->perm, &n_perm) < 0 || view_ints(drop, vals, &n_drop) < 0
        || PyTuple_GET_SIZE(bcast) > NPY_MAXDIMS)
        goto bad;
    self->n_perm = (int)n_perm;
    for (k = 0; k < n_drop; k++) {
        if (vals[k] < 0 || vals[k] >= ndim)
            goto bad;
        self->drop[vals[k]] = 1;
    }
    self->n_keep = ndim - (int)n_drop;
    n_bcast = PyTuple_GET_SIZE(bcast);
    self->n_order = (int)n_bcast;
    for (k = 0; k < n_bcast; k++) {
        int truth = PyObject_IsTrue(PyTuple_GET_ITEM(bcast, k));
        if (truth < 0)
            goto bad;
        self->bcast[k] = (char)truth;
    }
    {   /* a DimShuffle spec must be consistent: the kept axes, permuted, fill the non-'x' entries */
        int kept = 0;
        for (k = 0; k < n_bcast; k++)
            kept += !self->bcast[k];
        if (kind == ST_DS_GENERAL && (n_perm != self->n_keep || kept != n_perm))
            goto bad;
        for (k = 0; k < n_perm; k++)
            if (self->perm[k] < 0 || self->perm[k] >= (kind == ST_DS_GENERAL ? self->n_keep : ndim))
                goto bad;
    }
    return (PyObject *)self;
bad:
    if (!PyErr_Occurred())
        PyErr_SetString(PyExc_ValueError, "ViewCall: axes out of range");
    Py_DECREF(self);
    return NULL;
}

ST_FALLBACK_ACCESSORS(ViewCall)

static PyGetSetDef ViewCall_getset[] = {
    ST_FALLBACK_GETSET(ViewCall),
    {NULL}
};

static PyMemberDef ViewCall_members[] = {
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(ViewCall, vectorcall), READONLY},
    {"calls", T_PYSSIZET, offsetof(ViewCall, calls), READONLY,
     "how many calls were completed in C (not counting those handed to the fallback)"},
    {"kind", T_INT, offsetof(ViewCall, kind), READONLY, "which view this call computes"},
    {NULL}
};

static PyTypeObject ViewCallType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "%(module)s.ViewCall",
    .tp_doc = "A shape or indexing op's call on a numpy array, its common case in C (a view).",
    .tp_basicsize = sizeof(ViewCall),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = ViewCall_new,
    .tp_dealloc = (destructor)ViewCall_dealloc,
    .tp_traverse = (traverseproc)ViewCall_traverse,
    .tp_clear = (inquiry)ViewCall_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(ViewCall, vectorcall),
    .tp_getset = ViewCall_getset,
    .tp_members = ViewCall_members,
};

static int st_register_views(PyObject *m)
{
    return st_add_type(m, &ViewCallType, "ViewCall");
}
"""

#: The part added to the dispatch extension: (C source, registration function name).
PART = (SOURCE % {"module": MODULE_NAME}, "st_register_views")


def view_spec(node) -> Optional[tuple]:
    """``ViewCall``'s arguments for ``node`` (kind, ndim, n, perm, drop, bcast, index), or None
    when its op is not one this part computes (for a Subtensor with scalar index inputs, n is
    their number and index the template of :func:`_subtensor_template`)."""
    from ...ops.elemwise import DimShuffle   # ops are an earlier stage: imported lazily for speed
    from ...ops.shape import Reshape, Shape, Shape_i
    from ...ops.subtensor import Subtensor
    op = node.op
    kind = type(op)
    if kind is DimShuffle:
        view = getattr(op, "_view", None)
        if view is not None and view[0] == "transpose":
            return DS_TRANSPOSE, op.input_ndim, 0, tuple(view[1]), (), (), None
        if view is not None:
            return DS_INDEX, op.input_ndim, 0, (), (), (), tuple(view[1])
        perm = tuple(sorted(op.perm).index(p) for p in op.perm) if op.drop else tuple(op.perm)
        return (DS_GENERAL, op.input_ndim, 0, perm, tuple(op.drop),
                tuple(o == "x" for o in op.new_order), None)
    if kind is Shape:
        return SHAPE, -1, 0, (), (), (), None
    if kind is Shape_i:
        return SHAPE_I, -1, op.i, (), (), (), None
    if kind is Reshape:
        return RESHAPE, -1, op.ndim, (), (), (), None
    if kind is Subtensor and len(node.inputs) == 1:
        return SUBTENSOR, node.inputs[0].ndim, 0, (), (), (), op._np_index(())
    if kind is Subtensor:
        template = _subtensor_template(op.idx_list)
        if template is not None and template[0] == len(node.inputs) - 1:
            return SUBTENSOR, node.inputs[0].ndim, template[0], (), (), (), template[1]
    return None


def _subtensor_template(idx_list) -> Optional[tuple]:
    """(number of scalar inputs, index template) for a basic ``Subtensor`` with symbolic parts,
    or None for an entry this part does not know. The template is ``_np_index``'s tuple with each
    entry that has symbolic parts a tuple instead: ``(ref,)`` for an int, ``(start, stop, step)``
    for a slice, each part None, ``(constant,)`` or ``ref``, the position of the call argument
    (1 for the first scalar input) whose ``__index__`` value it takes."""
    from ...ops.subtensor import SYM
    out, k = [], 0
    for e in idx_list:
        if e is None or (type(e) is int):
            out.append(e)
        elif e == SYM:
            k += 1
            out.append((k,))
        elif isinstance(e, tuple) and len(e) == 4 and e[0] == "slice":
            if SYM not in e[1:]:
                out.append(slice(*e[1:]))
                continue
            parts = []
            for b in e[1:]:
                if b is None:
                    parts.append(None)
                elif b == SYM:
                    k += 1
                    parts.append(k)
                elif type(b) is int:
                    parts.append((b,))
                else:
                    return None
            out.append(tuple(parts))
        else:
            return None
    out.append(Ellipsis)   # as _np_index: a fully integer-indexed result stays a 0-d view
    return k, tuple(out)


def view_call(node, fallback: Callable) -> Optional[Callable]:
    """A C callable for a shape or indexing ``node`` (returning its 1-tuple of outputs), or None
    when the extension is unavailable or the op is not one computed here (then ``fallback``
    alone serves the node). ``fallback`` takes the node's inputs and returns the tuple of its
    outputs (its ``perform``); it gets every call the C checks refuse."""
    spec = view_spec(node)
    if spec is None:
        return None
    from . import dispatch   # not at import: the extension's source imports this module
    module = dispatch.extension(wait=False)
    cls = getattr(module, "ViewCall", None) if module is not None else None
    if cls is None:
        return None
    try:
        return cls(*spec, fallback)
    except (ValueError, TypeError, OverflowError) as exc:
        _log.debug("no C view for %s: %s", node.op, exc)
        return None
