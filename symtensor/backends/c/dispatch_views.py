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
* ``Subtensor`` with constant indices only: the index tuple, computed once, applied with
  ``PyObject_GetItem``.

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
    int n;                     /* Shape_i: the axis; Reshape: the target's rank */
    int n_perm, n_keep, n_order;
    npy_intp perm[NPY_MAXDIMS];        /* DimShuffle: the transpose's axes */
    char drop[NPY_MAXDIMS];            /* DimShuffle (general): input axes dropped */
    char bcast[NPY_MAXDIMS];           /* DimShuffle (general): output axis i is an 'x' */
    Py_ssize_t calls;          /* calls completed in C (tests, profiling) */
    PyObject *index;           /* DimShuffle (index) / Subtensor: the index, or None */
    PyObject *fallback;        /* the Python path: any call the checks refuse */
} ViewCall;

static PyObject *
view_fallback(ViewCall *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    PyObject *fb = self->fallback, *res;
    Py_INCREF(fb);   /* the attribute may be replaced while it runs */
    res = PyObject_Vectorcall(fb, args, nargsf, kwnames);
    Py_DECREF(fb);
    return res;
}

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

static PyObject *
view_vectorcall(PyObject *obj, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    ViewCall *self = (ViewCall *)obj;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyArrayObject *x;
    PyObject *out = NULL, *res;
    npy_intp dims[NPY_MAXDIMS];
    int d;

    if (kwnames != NULL || nargs != (self->kind == ST_RESHAPE ? 2 : 1) || Py_TYPE(args[0]) != &PyArray_Type)
        return view_fallback(self, args, nargsf, kwnames);
    x = (PyArrayObject *)args[0];
    if (self->ndim >= 0 && PyArray_NDIM(x) != self->ndim)
        return view_fallback(self, args, nargsf, kwnames);
    switch (self->kind) {
    case ST_DS_TRANSPOSE: {
        PyArray_Dims perm;
        perm.ptr = self->perm;
        perm.len = self->n_perm;
        out = PyArray_Transpose(x, &perm);
        break;
    }
    case ST_DS_INDEX:
    case ST_SUBTENSOR:
        out = PyObject_GetItem(args[0], self->index);
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
            return view_fallback(self, args, nargsf, kwnames);
        out = PyArray_SimpleNew(0, NULL, NPY_INT64);
        if (out != NULL)
            *(int64_t *)PyArray_DATA((PyArrayObject *)out) = (int64_t)PyArray_DIMS(x)[self->n];
        break;
    case ST_RESHAPE:
        if (!view_reshape_dims(self, x, args[1], dims))
            return view_fallback(self, args, nargsf, kwnames);
        out = view_newshape(x, dims, self->n);
        break;
    }
    if (out == NULL || Py_TYPE(out) != &PyArray_Type) {
        /* a numpy error, or no ndarray: the Python path decides (and raises its own error) */
        Py_XDECREF(out);
        PyErr_Clear();
        return view_fallback(self, args, nargsf, kwnames);
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
        || n > NPY_MAXDIMS || !PyCallable_Check(fallback)
        || ((kind == ST_DS_INDEX || kind == ST_SUBTENSOR) && !PyTuple_Check(index))) {
        PyErr_SetString(PyExc_ValueError, "ViewCall: unsupported view (a kind in 0..6, ranks of at most "
                        "NPY_MAXDIMS, an index tuple for an index kind and a callable fallback are expected)");
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

static PyObject *
ViewCall_get_fallback(ViewCall *self, void *closure)
{
    Py_INCREF(self->fallback);
    return self->fallback;
}

static int
ViewCall_set_fallback(ViewCall *self, PyObject *value, void *closure)
{
    PyObject *old = self->fallback;
    if (value == NULL || !PyCallable_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "ViewCall.fallback must be callable");
        return -1;
    }
    Py_INCREF(value);
    self->fallback = value;
    Py_XDECREF(old);
    return 0;
}

static PyGetSetDef ViewCall_getset[] = {
    {"fallback", (getter)ViewCall_get_fallback, (setter)ViewCall_set_fallback,
     "the Python path, called with the same arguments for any call the C checks refuse", NULL},
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
    when its op is not one this part computes."""
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
    return None


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
