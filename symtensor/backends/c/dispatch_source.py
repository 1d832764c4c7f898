"""C source of the dispatch extension: a CPython type calling an elementwise kernel.

``ElemwiseCall`` does in C what the generated Python fast path of an elementwise node does
(see ``elemwise_thunk._specialise``): it accepts exactly the calls that path's first tier
accepts (exact ndarrays of the kernel's dtypes, C-contiguous and aligned, all of the output's
shape or one broadcast value), allocates the outputs, fills a pointer array on the stack and
calls the kernel's contiguous loop. Any other call goes, unchanged, to the Python fallback,
so results and errors are those of the Python path.

Built against Python.h and numpy's C API, one extension per interpreter and numpy version.
Other kernel families add *parts* (C text plus a registration function, see
:func:`module_source`), listed in ``PARTS``.
"""
from __future__ import annotations

from typing import Sequence

#: Name of the extension module (its init function is ``PyInit_`` + this).
MODULE_NAME = "_symtensor_dispatch"

#: Largest number of kernel operands (inputs + outputs) the stack pointer array holds.
MAX_OPERANDS = 64


CORE = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <stdint.h>
#include <string.h>

#define ST_MAX_OPERANDS %(max_operands)d

typedef void (*st_kernel)(int64_t n, int64_t ndim, const int64_t *shape, const int64_t *strides,
                          intptr_t *data, int64_t contiguous, const double *consts);

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    st_kernel kernel;
    const double *consts;
    int n_in, n_out, ndim, first_full;
    int types[ST_MAX_OPERANDS];        /* numpy type number of each input, then each output */
    char scalar[ST_MAX_OPERANDS];      /* input k is one broadcast value */
    PyObject *pinned[ST_MAX_OPERANDS]; /* input k must be this very constant array, or NULL */
    char fixed[NPY_MAXDIMS];           /* the output's size must be 1 in this dimension */
    Py_ssize_t nogil_min;              /* release the GIL from this many elements on */
    PyObject *fallback;                /* the Python path: any call the checks refuse */
    PyObject *keepalive;               /* owners of the kernel and its constants */
} ElemwiseCall;

/* Every dispatch type keeps its Python path in a ``PyObject *fallback`` field: any call its C
   checks refuse goes there unchanged, so results and errors are the Python path's own. */
static PyObject *
st_call_fallback(PyObject *fb, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    PyObject *res;
    Py_INCREF(fb);   /* the attribute may be replaced while it runs */
    res = PyObject_Vectorcall(fb, args, nargsf, kwnames);
    Py_DECREF(fb);
    return res;
}

static int
st_set_fallback(PyObject **slot, PyObject *value, const char *type_name)
{
    PyObject *old = *slot;
    if (value == NULL || !PyCallable_Check(value)) {
        PyErr_Format(PyExc_TypeError, "%%s.fallback must be callable", type_name);
        return -1;
    }
    Py_INCREF(value);
    *slot = value;
    Py_XDECREF(old);
    return 0;
}

/* The ``fallback`` attribute of dispatch type T: its getter, its setter and its getset entry. */
#define ST_FALLBACK_ACCESSORS(T) \
static PyObject *T##_get_fallback(T *self, void *closure) \
{ (void)closure; Py_INCREF(self->fallback); return self->fallback; } \
static int T##_set_fallback(T *self, PyObject *value, void *closure) \
{ (void)closure; return st_set_fallback(&self->fallback, value, #T); }
#define ST_FALLBACK_GETSET(T) \
    {"fallback", (getter)T##_get_fallback, (setter)T##_set_fallback, \
     "the Python path, called with the same arguments for any call the C checks refuse", NULL}


static PyObject *
elemwise_vectorcall(PyObject *obj, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    ElemwiseCall *self = (ElemwiseCall *)obj;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    int n_in = self->n_in, n_out = self->n_out, ndim = self->ndim, k, d;
    npy_intp shape[NPY_MAXDIMS];
    intptr_t data[ST_MAX_OPERANDS];
    PyObject *outs[ST_MAX_OPERANDS];
    npy_intp n = 1;

    if (kwnames != NULL || nargs != n_in)
        return st_call_fallback(self->fallback, args, nargsf, kwnames);
    for (k = 0; k < n_in; k++) {
        PyObject *a = args[k];
        if (self->pinned[k] != NULL) {
            if (a != self->pinned[k])
                return st_call_fallback(self->fallback, args, nargsf, kwnames);
            continue;
        }
        if (Py_TYPE(a) != &PyArray_Type || PyArray_TYPE((PyArrayObject *)a) != self->types[k]
            || PyArray_ISBYTESWAPPED((PyArrayObject *)a)
            || !PyArray_CHKFLAGS((PyArrayObject *)a, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED))
            return st_call_fallback(self->fallback, args, nargsf, kwnames);
    }
    if (self->first_full >= 0) {
        PyArrayObject *a = (PyArrayObject *)args[self->first_full];
        if (PyArray_NDIM(a) != ndim)
            return st_call_fallback(self->fallback, args, nargsf, kwnames);
        for (d = 0; d < ndim; d++) {
            shape[d] = PyArray_DIMS(a)[d];
            if (self->fixed[d] && shape[d] != 1)
                return st_call_fallback(self->fallback, args, nargsf, kwnames);
            n *= shape[d];
        }
    } else {
        for (d = 0; d < ndim; d++)
            shape[d] = 1;
    }
    for (k = 0; k < n_in; k++) {
        PyArrayObject *a = (PyArrayObject *)args[k];
        if (self->pinned[k] != NULL || k == self->first_full)
            continue;
        if (PyArray_NDIM(a) != ndim)
            return st_call_fallback(self->fallback, args, nargsf, kwnames);
        for (d = 0; d < ndim; d++)
            if (PyArray_DIMS(a)[d] != (self->scalar[k] ? 1 : shape[d]))
                return st_call_fallback(self->fallback, args, nargsf, kwnames);
    }
    for (k = 0; k < n_in; k++)
        data[k] = (intptr_t)PyArray_DATA((PyArrayObject *)(self->pinned[k] ? self->pinned[k] : args[k]));
    for (k = 0; k < n_out; k++) {
        outs[k] = PyArray_EMPTY(ndim, shape, self->types[n_in + k], 0);
        if (outs[k] == NULL) {
            while (k-- > 0)
                Py_DECREF(outs[k]);
            return NULL;
        }
        data[n_in + k] = (intptr_t)PyArray_DATA((PyArrayObject *)outs[k]);
    }
    if (n >= self->nogil_min) {
        Py_BEGIN_ALLOW_THREADS
        self->kernel((int64_t)n, ndim, NULL, NULL, data, 1, self->consts);
        Py_END_ALLOW_THREADS
    } else {
        self->kernel((int64_t)n, ndim, NULL, NULL, data, 1, self->consts);
    }
    {
        PyObject *res = PyTuple_New(n_out);
        if (res == NULL) {
            for (k = 0; k < n_out; k++)
                Py_DECREF(outs[k]);
            return NULL;
        }
        for (k = 0; k < n_out; k++)
            PyTuple_SET_ITEM(res, k, outs[k]);
        return res;
    }
}

static int
int_items(PyObject *seq, const char *what, int *dst, int count)
{
    Py_ssize_t k;
    if (!PyTuple_Check(seq) || PyTuple_GET_SIZE(seq) != count) {
        PyErr_Format(PyExc_ValueError, "ElemwiseCall: %%s must be a tuple of %%d ints", what, count);
        return -1;
    }
    for (k = 0; k < count; k++) {
        long v = PyLong_AsLong(PyTuple_GET_ITEM(seq, k));
        if (v == -1 && PyErr_Occurred())
            return -1;
        dst[k] = (int)v;
    }
    return 0;
}

static int
ElemwiseCall_clear(ElemwiseCall *self)
{
    int k;
    for (k = 0; k < ST_MAX_OPERANDS; k++)
        Py_CLEAR(self->pinned[k]);
    Py_CLEAR(self->fallback);
    Py_CLEAR(self->keepalive);
    return 0;
}

static int
ElemwiseCall_traverse(ElemwiseCall *self, visitproc visit, void *arg)
{
    int k;
    for (k = 0; k < ST_MAX_OPERANDS; k++)
        Py_VISIT(self->pinned[k]);
    Py_VISIT(self->fallback);
    Py_VISIT(self->keepalive);
    return 0;
}

static void
ElemwiseCall_dealloc(ElemwiseCall *self)
{
    PyObject_GC_UnTrack(self);
    ElemwiseCall_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* ElemwiseCall(kernel, consts, in_types, out_types, ndim, scalar, pinned, fixed, fallback,
                keepalive, nogil_min) */
static PyObject *
ElemwiseCall_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    unsigned long long kernel, consts;
    PyObject *in_types, *out_types, *scalar, *pinned, *fixed, *fallback, *keepalive;
    int ndim, fixed_dims[NPY_MAXDIMS], n_fixed, n_in, n_out, k;
    Py_ssize_t nogil_min;
    ElemwiseCall *self;
    static char *names[] = {"kernel", "consts", "in_types", "out_types", "ndim", "scalar", "pinned",
                            "fixed", "fallback", "keepalive", "nogil_min", NULL};

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "KKO!O!iO!O!O!OOn:ElemwiseCall", names, &kernel, &consts,
                                     &PyTuple_Type, &in_types, &PyTuple_Type, &out_types, &ndim,
                                     &PyTuple_Type, &scalar, &PyTuple_Type, &pinned, &PyTuple_Type, &fixed,
                                     &fallback, &keepalive, &nogil_min))
        return NULL;
    n_in = (int)PyTuple_GET_SIZE(in_types);
    n_out = (int)PyTuple_GET_SIZE(out_types);
    if (kernel == 0 || n_out < 1 || n_in + n_out > ST_MAX_OPERANDS || ndim < 0 || ndim > NPY_MAXDIMS
        || PyTuple_GET_SIZE(fixed) > NPY_MAXDIMS || !PyCallable_Check(fallback)) {
        PyErr_Format(PyExc_ValueError, "ElemwiseCall: unsupported kernel (a non-null kernel address, 1 to "
                     "%%d operands, rank 0 to %%d and a callable fallback are expected)",
                     ST_MAX_OPERANDS, NPY_MAXDIMS);
        return NULL;
    }
    self = (ElemwiseCall *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->vectorcall = elemwise_vectorcall;
    self->kernel = (st_kernel)(uintptr_t)kernel;
    self->consts = (const double *)(uintptr_t)consts;
    self->n_in = n_in;
    self->n_out = n_out;
    self->ndim = ndim;
    self->first_full = -1;
    self->nogil_min = nogil_min;
    n_fixed = (int)PyTuple_GET_SIZE(fixed);
    if (int_items(in_types, "in_types", self->types, n_in) < 0
        || int_items(out_types, "out_types", self->types + n_in, n_out) < 0
        || int_items(fixed, "fixed", fixed_dims, n_fixed) < 0)
        goto fail;
    if (PyTuple_GET_SIZE(scalar) != n_in || PyTuple_GET_SIZE(pinned) != n_in) {
        PyErr_SetString(PyExc_ValueError, "ElemwiseCall: scalar and pinned need one item per input");
        goto fail;
    }
    for (k = 0; k < n_fixed; k++) {
        if (fixed_dims[k] < 0 || fixed_dims[k] >= ndim) {
            PyErr_SetString(PyExc_ValueError, "ElemwiseCall: a fixed dimension is out of range");
            goto fail;
        }
        self->fixed[fixed_dims[k]] = 1;
    }
    for (k = 0; k < n_in; k++) {
        PyObject *p = PyTuple_GET_ITEM(pinned, k);
        int truth = PyObject_IsTrue(PyTuple_GET_ITEM(scalar, k));
        if (truth < 0)
            goto fail;
        self->scalar[k] = (char)truth;
        if (!truth && self->first_full < 0)
            self->first_full = k;
        if (p != Py_None) {
            if (!PyArray_Check(p) || !truth) {
                PyErr_SetString(PyExc_ValueError, "ElemwiseCall: a pinned input must be a scalar ndarray");
                goto fail;
            }
            Py_INCREF(p);
            self->pinned[k] = p;
        }
    }
    Py_INCREF(fallback);
    self->fallback = fallback;
    Py_INCREF(keepalive);
    self->keepalive = keepalive;
    return (PyObject *)self;
fail:
    Py_DECREF(self);
    return NULL;
}

ST_FALLBACK_ACCESSORS(ElemwiseCall)

static PyGetSetDef ElemwiseCall_getset[] = {
    ST_FALLBACK_GETSET(ElemwiseCall),
    {NULL}
};

static PyMemberDef ElemwiseCall_members[] = {
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(ElemwiseCall, vectorcall), READONLY},
    {NULL}
};

static PyTypeObject ElemwiseCallType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "%(module)s.ElemwiseCall",
    .tp_doc = "An elementwise kernel's call on numpy arrays, its common case in C.",
    .tp_basicsize = sizeof(ElemwiseCall),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = ElemwiseCall_new,
    .tp_dealloc = (destructor)ElemwiseCall_dealloc,
    .tp_traverse = (traverseproc)ElemwiseCall_traverse,
    .tp_clear = (inquiry)ElemwiseCall_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(ElemwiseCall, vectorcall),
    .tp_getset = ElemwiseCall_getset,
    .tp_members = ElemwiseCall_members,
};

/* Ready ``type`` and add it to module ``m`` as ``name`` (each part's registration). */
static int st_add_type(PyObject *m, PyTypeObject *type, const char *name)
{
    if (PyType_Ready(type) < 0)
        return -1;
    Py_INCREF(type);
    if (PyModule_AddObject(m, name, (PyObject *)type) < 0) {
        Py_DECREF(type);
        return -1;
    }
    return 0;
}

static int st_register_elemwise(PyObject *m)
{
    return st_add_type(m, &ElemwiseCallType, "ElemwiseCall");
}
""" % {"max_operands": MAX_OPERANDS, "module": MODULE_NAME}


def module_source(parts: Sequence[tuple]) -> str:
    """The extension's whole source: the core (includes, ``ElemwiseCall``), then each part's
    C text, then the module init, which calls every part's registration function
    (``static int name(PyObject *module)``, 0 on success) after the core's."""
    registrations = ["st_register_elemwise"] + [name for _, name in parts]
    calls = "\n".join(f"    if ({name}(m) < 0) {{ Py_DECREF(m); return NULL; }}" for name in registrations)
    init = f"""
static struct PyModuleDef module_def = {{
    PyModuleDef_HEAD_INIT, "{MODULE_NAME}", "symtensor's compiled dispatch of kernels", -1, NULL,
}};

PyMODINIT_FUNC
PyInit_{MODULE_NAME}(void)
{{
    PyObject *m;
    import_array();
    m = PyModule_Create(&module_def);
    if (m == NULL)
        return NULL;
{calls}
    return m;
}}
"""
    return CORE + "".join(source for source, _ in parts) + init


#: The parts beyond the core, in module-init order: (C source, registration function name).
PARTS: list = []
from .dispatch_reduce import PART as _REDUCE_PART  # noqa: E402
PARTS.append(_REDUCE_PART)
from .dispatch_blas import PART as _BLAS_PART  # noqa: E402
PARTS.append(_BLAS_PART)
from .dispatch_program import PART as _PROGRAM_PART  # noqa: E402
PARTS.append(_PROGRAM_PART)
from .dispatch_views import PART as _VIEWS_PART  # noqa: E402
PARTS.append(_VIEWS_PART)

#: The extension's source.
SOURCE = module_source(PARTS)
