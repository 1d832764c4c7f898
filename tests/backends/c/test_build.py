"""Building and calling C kernels through cffi; vector math and numpy's NaN/Inf semantics."""
import gc
import re
import shutil
import subprocess

import cffi
import numpy as np
import pytest

from symtensor.backends import c as cbackend

from .conftest import needs_compiler

pytestmark = needs_compiler

AXPY = """
ST_EXPORT void axpy(double a, const double *ST_RESTRICT x, double *ST_RESTRICT y, st_index n) {
    #pragma omp parallel for simd if(n > ST_OMP_THRESHOLD)
    for (st_index i = 0; i < n; i++) y[i] += a * x[i];
}
ST_EXPORT float sumf(const float *ST_RESTRICT x, st_index n) {
    float s = 0.0f;
    #pragma omp simd reduction(+:s)
    for (st_index i = 0; i < n; i++) s += x[i];
    return s;
}
ST_EXPORT void isnan_mask(const double *ST_RESTRICT x, int8_t *ST_RESTRICT out, st_index n) {
    for (st_index i = 0; i < n; i++) out[i] = isnan(x[i]) ? 1 : 0;
}
"""
AXPY_CDEF = """
void axpy(double a, const double *x, double *y, ptrdiff_t n);
float sumf(const float *x, ptrdiff_t n);
void isnan_mask(const double *x, int8_t *out, ptrdiff_t n);
"""

UNARY = ["exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan",
         "sinh", "cosh", "tanh", "asin", "acos", "atan", "asinh", "acosh", "atanh", "cbrt"]
BINARY = ["pow", "atan2", "hypot"]
NUMPY_NAME = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "asinh": "arcsinh",
              "acosh": "arccosh", "atanh": "arctanh", "pow": "power", "atan2": "arctan2"}
CTYPE = {np.float64: ("double", ""), np.float32: ("float", "f")}


def _ptr(ffi, arr):
    return ffi.cast(f"{CTYPE[arr.dtype.type][0]} *", arr.ctypes.data)


def test_axpy_and_reduction_match_numpy(compiledir, rng):
    mod = cbackend.build(AXPY, AXPY_CDEF, "axpy")
    for n in (0, 1, 7, 1000, 100_003):   # the largest runs the threaded branch
        x, y = rng.standard_normal(n), rng.standard_normal(n)
        expect = y + 2.5 * x
        mod.lib.axpy(2.5, mod.ffi.from_buffer("double[]", x), mod.ffi.from_buffer("double[]", y), n)
        np.testing.assert_allclose(y, expect, rtol=1e-15, atol=0)
    xf = rng.standard_normal(4099).astype(np.float32)
    assert mod.lib.sumf(_ptr(mod.ffi, xf), xf.size) == pytest.approx(float(xf.sum(dtype=np.float64)), rel=1e-4)


def test_isnan_is_not_folded_away(compiledir):
    """Without -ffast-math, isnan() still works: NaN semantics follow IEEE like numpy."""
    mod = cbackend.build(AXPY, AXPY_CDEF, "axpy")
    x = np.array([0.0, np.nan, np.inf, -np.inf, -np.nan, 1e308])
    out = np.zeros(x.size, np.int8)
    mod.lib.isnan_mask(_ptr(mod.ffi, x), mod.ffi.from_buffer("int8_t[]", out), x.size)
    np.testing.assert_array_equal(out.astype(bool), np.isnan(x))


def _math_source(dtype):
    ctype, suffix = CTYPE[dtype]
    parts = []
    for fn in UNARY:
        parts.append(f"""ST_EXPORT void k_{fn}(const {ctype} *ST_RESTRICT x, {ctype} *ST_RESTRICT y, st_index n) {{
    #pragma omp simd
    for (st_index i = 0; i < n; i++) y[i] = {fn}{suffix}(x[i]);
}}""")
    for fn in BINARY:
        parts.append(f"""ST_EXPORT void k_{fn}(const {ctype} *ST_RESTRICT x, const {ctype} *ST_RESTRICT z,
                          {ctype} *ST_RESTRICT y, st_index n) {{
    #pragma omp simd
    for (st_index i = 0; i < n; i++) y[i] = {fn}{suffix}(x[i], z[i]);
}}""")
    cdef = [f"void k_{fn}(const {ctype} *, {ctype} *, ptrdiff_t);" for fn in UNARY]
    cdef += [f"void k_{fn}(const {ctype} *, const {ctype} *, {ctype} *, ptrdiff_t);" for fn in BINARY]
    return "\n".join(parts), "\n".join(cdef)


def _inputs(dtype, rng):
    info = np.finfo(dtype)
    special = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -0.5, info.max, -info.max,
               info.tiny, info.tiny / 4, 88.0, -88.0, 89.0, -104.0, 709.0, 710.0, -745.0, 1e30, -1e30]
    with np.errstate(over="ignore"):
        special = np.array(special).astype(dtype)
    spread = [rng.uniform(-1, 1, 300), rng.uniform(-30, 30, 300), rng.uniform(0, 3, 300),
              np.exp(rng.uniform(-60, 60, 300)) * rng.choice([-1, 1], 300)]
    return np.concatenate([special] + [s.astype(dtype) for s in spread])


def _ulp_distance(a, b):
    """Distance in units in the last place between finite same-dtype arrays."""
    itype = np.int64 if a.dtype == np.float64 else np.int32
    ia, ib = a.view(itype).astype(np.int64), b.view(itype).astype(np.int64)
    # map the sign-magnitude bit patterns onto a monotonic integer line
    top = np.int64(np.iinfo(itype).min)
    ia = np.where(ia < 0, top - ia, ia)
    ib = np.where(ib < 0, top - ib, ib)
    return np.abs(ia - ib)


def _assert_same_math(got, expect, name):
    """NaN where numpy has NaN, the same infinities, finite values within rounding.

    Rounding: 4 ulp for float64 (about rtol 1e-15), 8 ulp for float32 (about rtol 1e-6);
    glibc's vector math and numpy's own SIMD kernels are each within a few ulp of exact.
    """
    limit = 4 if got.dtype == np.float64 else 8
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expect), err_msg=f"{name}: NaN positions")
    inf = np.isinf(expect)
    np.testing.assert_array_equal(got[inf], expect[inf], err_msg=f"{name}: infinities")
    fin = np.isfinite(expect)
    assert np.isfinite(got[fin]).all(), f"{name}: finite results became Inf/NaN"
    ulps = _ulp_distance(got[fin], expect[fin])
    worst = int(np.argmax(ulps)) if ulps.size else 0
    assert ulps.size == 0 or ulps.max() <= limit, (
        f"{name}: {ulps.max()} ulp apart at x={got[fin][worst]!r} vs numpy {expect[fin][worst]!r}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_vector_math_matches_numpy_at_special_values(compiledir, rng, dtype):
    source, cdef = _math_source(dtype)
    mod = cbackend.build(source, cdef, f"math_{dtype.__name__}")
    x = _inputs(dtype, rng)
    z = rng.permutation(x)
    with np.errstate(all="ignore"):
        for fn in UNARY + BINARY:
            y = np.empty_like(x)
            args = [x] if fn in UNARY else [x, z]
            getattr(mod.lib, f"k_{fn}")(*[_ptr(mod.ffi, a) for a in args], _ptr(mod.ffi, y), x.size)
            _assert_same_math(y, getattr(np, NUMPY_NAME.get(fn, fn))(*args), f"{fn}[{dtype.__name__}]")


def test_math_prelude_calls_libmvec(compiledir):
    """The declare-simd prototypes make gcc call glibc's vector variants (no -ffast-math)."""
    if not cbackend.PRELUDE or "declare simd" not in cbackend.PRELUDE:
        pytest.fail("the prelude lost its declare-simd math prototypes")
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm (binutils) is not installed, so the .so's symbols cannot be listed")
    source, cdef = _math_source(np.float64)
    mod = cbackend.build(source, cdef, "math_nm")
    symbols = subprocess.run([nm, "-D", mod.path], capture_output=True, text=True, check=True).stdout
    if "ST_HAVE_MVEC" not in open(mod.path[: -len(".so")] + ".json").read():
        pytest.skip("this toolchain has no libmvec (not glibc on x86-64), so math stays scalar")
    assert re.search(r"_ZGV[bcde]N\d+v_exp\b", symbols), symbols


def test_compile_error_is_clear(compiledir):
    with pytest.raises(cbackend.CompileError, match=r"broken\.c:2"):
        cbackend.build("int ok(void) { return 1; }\nint bad(void) { return undefined_name; }",
                       "int bad(void);", "broken")


def test_cdef_naming_a_missing_function_fails_at_build(compiledir):
    with pytest.raises(cbackend.CompileError, match="'missing'"):
        cbackend.build("int present(void) { return 3; }", "int present(void); int missing(void);", "partial")


def test_malformed_cdef_raises_cffi_error(compiledir):
    with pytest.raises(cffi.CDefError):
        cbackend.build("int f(void) { return 3; }", "int f(void", "badcdef")


def test_same_module_is_loaded_once_per_process(compiledir):
    a = cbackend.build("int three(void) { return 3; }", "int three(void);", "three")
    b = cbackend.build("int three(void) { return 3; }", "int three(void);", "three")
    assert a is b and a.lib.three() == 3


def test_dropping_a_threaded_module_does_not_unload_it(compiledir):
    """Unmapping a module after its OpenMP threads ran would crash; modules stay mapped."""
    x, y = np.ones(200_000), np.ones(200_000)
    mod = cbackend.build(AXPY, AXPY_CDEF, "axpy")
    mod.lib.axpy(1.0, _ptr(mod.ffi, x), _ptr(mod.ffi, y), x.size)   # starts the thread pool
    del mod
    cbackend.clear_loaded()
    gc.collect()
    again = cbackend.build(AXPY, AXPY_CDEF, "axpy")
    again.lib.axpy(1.0, _ptr(again.ffi, x), _ptr(again.ffi, y), x.size)
    assert (y == 3.0).all()
