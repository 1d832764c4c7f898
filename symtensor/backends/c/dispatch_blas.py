"""The dispatch extension's BLAS part: ``BlasCall``, a ``Dot`` or ``Gemm`` node's call in C.

``BlasCall`` does in C what the Python direct callable of a BLAS node (``blas_thunk``) does
in its common case: exact ndarrays of the kernel's dtype, native and aligned, of the node's
ranks and with strides that are whole elements; shapes that agree (Gemm: z of the product's
shape, or of size 1 where its type broadcasts); Gemm's alpha and beta as non-zero floats. It
allocates the C-contiguous output (Gemm: a copy of the broadcast z), passes each operand as a
data pointer with element strides and calls the kernel. Any other call, and any kernel status
other than success (a size beyond the BLAS's integers, no memory for packing), goes unchanged
to the Python path, so results and errors are that path's own.

``PART`` is the C text and registration function added to the extension (see
``dispatch_source.module_source``); :func:`blas_call` makes a node's ``BlasCall``.
"""
from __future__ import annotations

import logging
from typing import Callable, Optional, Sequence

import numpy as np

_log = logging.getLogger(__name__)

#: The extension's module name (``dispatch_source.MODULE_NAME``; not imported from there, since
#: that module imports this one to collect ``PART``).
MODULE_NAME = "_symtensor_dispatch"

#: Calls of at least this many multiply-adds (m * n * k) release the GIL while the kernel runs.
NOGIL_MIN_FLOPS = 32768


SOURCE = r"""
#include <numpy/arrayscalars.h>

typedef int (*st_blas_kernel)(int64_t m, int64_t n, int64_t k, const void *xp, int64_t xs0, int64_t xs1,
                              const void *yp, int64_t ys0, int64_t ys1, void *outp, double alpha, double beta);

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    st_blas_kernel kernel;
    int gemm;                  /* 1: Gemm(z, alpha, x, y, beta); 0: Dot(x, y) */
    int type;                  /* numpy type number of every operand and of the output */
    int x_ndim, y_ndim;        /* the operands' ranks (Gemm: 2 and 2) */
    char z_bcast[2];           /* Gemm: z may have size 1 in this dimension */
    double nogil_min;          /* release the GIL from this many multiply-adds on */
    Py_ssize_t calls;          /* calls completed in C (tests, profiling) */
    PyObject *fallback;        /* the Python path: any call the checks refuse */
    PyObject *keepalive;       /* owners of the kernel */
} BlasCall;


/* Whether ``a`` is an exact, native, aligned ndarray of type ``type`` and rank ``ndim``
   whose strides are whole elements; its element strides into ``st``. */
static int
blas_operand(PyObject *a, int type, int ndim, int64_t *st)
{
    PyArrayObject *arr = (PyArrayObject *)a;
    npy_intp size;
    int d;
    if (Py_TYPE(a) != &PyArray_Type || PyArray_TYPE(arr) != type || PyArray_NDIM(arr) != ndim
        || PyArray_ISBYTESWAPPED(arr) || !PyArray_CHKFLAGS(arr, NPY_ARRAY_ALIGNED))
        return 0;
    size = PyArray_ITEMSIZE(arr);
    for (d = 0; d < ndim; d++) {
        npy_intp s = PyArray_STRIDES(arr)[d];
        if (s %% size != 0)
            return 0;
        st[d] = (int64_t)(s / size);
    }
    return 1;
}

/* A Gemm scalar read as Python's float() reads it: a float, a numpy float32/float64 scalar
   or a 0-d native aligned ndarray of those types. 0: anything else. */
static int
blas_scalar(PyObject *o, double *v)
{
    if (PyFloat_CheckExact(o)) {
        *v = PyFloat_AS_DOUBLE(o);
        return 1;
    }
    if (Py_TYPE(o) == &PyDoubleArrType_Type) {
        *v = PyArrayScalar_VAL(o, Double);
        return 1;
    }
    if (Py_TYPE(o) == &PyFloatArrType_Type) {
        *v = (double)PyArrayScalar_VAL(o, Float);
        return 1;
    }
    if (Py_TYPE(o) == &PyArray_Type) {
        PyArrayObject *a = (PyArrayObject *)o;
        if (PyArray_NDIM(a) != 0 || PyArray_ISBYTESWAPPED(a) || !PyArray_CHKFLAGS(a, NPY_ARRAY_ALIGNED))
            return 0;
        if (PyArray_TYPE(a) == NPY_DOUBLE) {
            *v = *(const double *)PyArray_DATA(a);
            return 1;
        }
        if (PyArray_TYPE(a) == NPY_FLOAT) {
            *v = (double)*(const float *)PyArray_DATA(a);
            return 1;
        }
    }
    return 0;
}

/* out (m x n, C-contiguous) = z broadcast, z read through element strides zs (0 where it
   broadcasts). */
static void
blas_copy_z(int type, void *out, const void *z, npy_intp m, npy_intp n, int64_t zs0, int64_t zs1)
{
    npy_intp i, j;
    if (type == NPY_DOUBLE) {
        double *o = (double *)out;
        const double *s = (const double *)z;
        for (i = 0; i < m; i++)
            for (j = 0; j < n; j++)
                o[i * n + j] = s[i * zs0 + j * zs1];
    } else {
        float *o = (float *)out;
        const float *s = (const float *)z;
        for (i = 0; i < m; i++)
            for (j = 0; j < n; j++)
                o[i * n + j] = s[i * zs0 + j * zs1];
    }
}

static PyObject *
blas_vectorcall(PyObject *obj, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    BlasCall *self = (BlasCall *)obj;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *x, *y, *z = NULL, *out, *res;
    int64_t xst[2] = {0, 0}, yst[2] = {0, 0}, zst[2] = {0, 0}, xs0, xs1, ys0, ys1;
    npy_intp m, n, k, dims[2];
    double alpha = 1.0, beta = 0.0;
    int out_ndim = 0, status, d;

    if (kwnames != NULL || nargs != (self->gemm ? 5 : 2))
        return st_call_fallback(self->fallback, args, nargsf, kwnames);
    if (self->gemm) {
        z = args[0];
        x = args[2];
        y = args[3];
        if (!blas_scalar(args[1], &alpha) || !blas_scalar(args[4], &beta) || alpha == 0 || beta == 0
            || !blas_operand(z, self->type, 2, zst))
            return st_call_fallback(self->fallback, args, nargsf, kwnames);
    } else {
        x = args[0];
        y = args[1];
    }
    if (!blas_operand(x, self->type, self->x_ndim, xst) || !blas_operand(y, self->type, self->y_ndim, yst))
        return st_call_fallback(self->fallback, args, nargsf, kwnames);
    /* the kernel's view: x is m x k, y is k x n; a vector x is one row, a vector y one column */
    if (self->x_ndim == 2) {
        m = PyArray_DIMS((PyArrayObject *)x)[0];
        xs0 = xst[0];
        xs1 = xst[1];
        dims[out_ndim++] = m;
    } else {
        m = 1;
        xs0 = 0;
        xs1 = xst[0];
    }
    k = PyArray_DIMS((PyArrayObject *)y)[0];
    if (PyArray_DIMS((PyArrayObject *)x)[self->x_ndim - 1] != k)
        return st_call_fallback(self->fallback, args, nargsf, kwnames);   /* not aligned: the op's message */
    if (self->y_ndim == 2) {
        n = PyArray_DIMS((PyArrayObject *)y)[1];
        ys0 = yst[0];
        ys1 = yst[1];
        dims[out_ndim++] = n;
    } else {
        n = 1;
        ys0 = yst[0];
        ys1 = 0;
    }
    if (self->gemm) {
        for (d = 0; d < 2; d++) {
            npy_intp size = PyArray_DIMS((PyArrayObject *)z)[d];
            if (size != dims[d]) {
                if (!(self->z_bcast[d] && size == 1))
                    return st_call_fallback(self->fallback, args, nargsf, kwnames);
                zst[d] = 0;
            }
        }
    }
    out = PyArray_EMPTY(out_ndim, dims, self->type, 0);
    if (out == NULL)
        return NULL;
    if ((double)m * (double)n * (double)k >= self->nogil_min) {
        Py_BEGIN_ALLOW_THREADS
        if (self->gemm)
            blas_copy_z(self->type, PyArray_DATA((PyArrayObject *)out), PyArray_DATA((PyArrayObject *)z),
                        m, n, zst[0], zst[1]);
        status = self->kernel(m, n, k, PyArray_DATA((PyArrayObject *)x), xs0, xs1,
                              PyArray_DATA((PyArrayObject *)y), ys0, ys1,
                              PyArray_DATA((PyArrayObject *)out), alpha, beta);
        Py_END_ALLOW_THREADS
    } else {
        if (self->gemm)
            blas_copy_z(self->type, PyArray_DATA((PyArrayObject *)out), PyArray_DATA((PyArrayObject *)z),
                        m, n, zst[0], zst[1]);
        status = self->kernel(m, n, k, PyArray_DATA((PyArrayObject *)x), xs0, xs1,
                              PyArray_DATA((PyArrayObject *)y), ys0, ys1,
                              PyArray_DATA((PyArrayObject *)out), alpha, beta);
    }
    if (status != 0) {   /* too large for the BLAS, or no memory: the Python path decides */
        Py_DECREF(out);
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
BlasCall_clear(BlasCall *self)
{
    Py_CLEAR(self->fallback);
    Py_CLEAR(self->keepalive);
    return 0;
}

static int
BlasCall_traverse(BlasCall *self, visitproc visit, void *arg)
{
    Py_VISIT(self->fallback);
    Py_VISIT(self->keepalive);
    return 0;
}

static void
BlasCall_dealloc(BlasCall *self)
{
    PyObject_GC_UnTrack(self);
    BlasCall_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* BlasCall(kernel, gemm, type, x_ndim, y_ndim, z_bcast, fallback, keepalive, nogil_min) */
static PyObject *
BlasCall_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    unsigned long long kernel;
    int gemm, type_num, x_ndim, y_ndim, d;
    PyObject *z_bcast, *fallback, *keepalive;
    double nogil_min;
    BlasCall *self;
    static char *names[] = {"kernel", "gemm", "type", "x_ndim", "y_ndim", "z_bcast", "fallback",
                            "keepalive", "nogil_min", NULL};

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "KpiiiO!OOd:BlasCall", names, &kernel, &gemm, &type_num,
                                     &x_ndim, &y_ndim, &PyTuple_Type, &z_bcast, &fallback, &keepalive,
                                     &nogil_min))
        return NULL;
    if (kernel == 0 || (type_num != NPY_FLOAT && type_num != NPY_DOUBLE) || x_ndim < 1 || x_ndim > 2
        || y_ndim < 1 || y_ndim > 2 || (gemm && (x_ndim != 2 || y_ndim != 2))
        || PyTuple_GET_SIZE(z_bcast) != (gemm ? 2 : 0) || !PyCallable_Check(fallback)) {
        PyErr_SetString(PyExc_ValueError, "BlasCall: unsupported kernel (a non-null kernel address, a "
                        "float32 or float64 type, operands of rank 1 or 2 (Gemm: 2, with two z_bcast "
                        "flags; Dot: none) and a callable fallback are expected)");
        return NULL;
    }
    self = (BlasCall *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->vectorcall = blas_vectorcall;
    self->kernel = (st_blas_kernel)(uintptr_t)kernel;
    self->gemm = gemm;
    self->type = type_num;
    self->x_ndim = x_ndim;
    self->y_ndim = y_ndim;
    self->nogil_min = nogil_min;
    for (d = 0; d < PyTuple_GET_SIZE(z_bcast); d++) {
        int truth = PyObject_IsTrue(PyTuple_GET_ITEM(z_bcast, d));
        if (truth < 0) {
            Py_DECREF(self);
            return NULL;
        }
        self->z_bcast[d] = (char)truth;
    }
    Py_INCREF(fallback);
    self->fallback = fallback;
    Py_INCREF(keepalive);
    self->keepalive = keepalive;
    return (PyObject *)self;
}

ST_FALLBACK_ACCESSORS(BlasCall)

static PyGetSetDef BlasCall_getset[] = {
    ST_FALLBACK_GETSET(BlasCall),
    {NULL}
};

static PyMemberDef BlasCall_members[] = {
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(BlasCall, vectorcall), READONLY},
    {"calls", T_PYSSIZET, offsetof(BlasCall, calls), READONLY,
     "how many calls were completed in C (not counting those handed to the fallback)"},
    {NULL}
};

static PyTypeObject BlasCallType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "%(module)s.BlasCall",
    .tp_doc = "A Dot or Gemm kernel's call on numpy arrays, its common case in C.",
    .tp_basicsize = sizeof(BlasCall),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = BlasCall_new,
    .tp_dealloc = (destructor)BlasCall_dealloc,
    .tp_traverse = (traverseproc)BlasCall_traverse,
    .tp_clear = (inquiry)BlasCall_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(BlasCall, vectorcall),
    .tp_getset = BlasCall_getset,
    .tp_members = BlasCall_members,
};

static int st_register_blas(PyObject *m)
{
    return st_add_type(m, &BlasCallType, "BlasCall");
}
"""

#: The part added to the dispatch extension: (C source, registration function name).
PART = (SOURCE % {"module": MODULE_NAME}, "st_register_blas")


def blas_call(fn, ffi, dtype: np.dtype, gemm: bool, ranks: Sequence[int], z_broadcastable: Sequence[bool],
              fallback: Callable) -> Optional[Callable]:
    """A C callable for one ``Dot`` or ``Gemm`` node, or None when the extension (or its BLAS
    part) is unavailable or ``fn`` is not a C function (then ``fallback`` alone serves the node).

    ``fn`` is the kernel (``fn(m, n, k, x, xs0, xs1, y, ys0, ys1, out, alpha, beta)``, a cffi
    function returning a status); ``ranks`` are x's and y's ranks; ``z_broadcastable`` is
    z's broadcast pattern (Gemm) or empty (Dot); ``fallback`` takes every call the C checks
    refuse, with the same arguments, and so decides every result and error outside the
    common case."""
    from . import dispatch   # not at import: the extension's source imports this module
    module = dispatch.extension(wait=False)
    cls = getattr(module, "BlasCall", None) if module is not None else None
    if cls is None:
        return None
    try:
        return cls(int(ffi.cast("uintptr_t", fn)), bool(gemm), np.dtype(dtype).num, int(ranks[0]), int(ranks[1]),
                   tuple(bool(b) for b in z_broadcastable), fallback, (fn, ffi), float(NOGIL_MIN_FLOPS))
    except (ValueError, TypeError, OverflowError) as exc:
        _log.debug("no C dispatch for this BLAS kernel: %s", exc)
        return None
