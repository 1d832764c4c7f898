"""The C prelude every generated module starts with.

It gives generated code one vocabulary: fixed includes, ``st_index`` for sizes and strides,
``ST_RESTRICT``/``ST_INLINE``/``ST_EXPORT``, and ``ST_OMP_THRESHOLD`` for
``#pragma omp parallel for if(n > ST_OMP_THRESHOLD)``.

It also declares the libm functions that glibc's libmvec implements as
``#pragma omp declare simd notinbranch``. glibc itself only attaches those SIMD
declarations under ``__FAST_MATH__``; repeating them here lets gcc call the vector variants
(``_ZGVdN4v_exp`` and friends) from ``#pragma omp simd`` loops without ``-ffast-math``,
so vector math keeps numpy's NaN/Inf semantics. The declarations are only emitted when
the toolchain found libmvec (``ST_HAVE_MVEC``) on x86-64, and only for the functions the
running glibc exports (``ST_GLIBC_MINOR``), so a module never references a missing symbol.
"""
from __future__ import annotations

#: Functions libmvec exports since glibc 2.22, with their arity.
_MVEC_2_22 = {"exp": 1, "log": 1, "sin": 1, "cos": 1, "pow": 2}
#: Functions added to libmvec in glibc 2.35.
_MVEC_2_35 = {
    "acos": 1, "acosh": 1, "asin": 1, "asinh": 1, "atan": 1, "atanh": 1, "cbrt": 1,
    "cosh": 1, "erf": 1, "erfc": 1, "exp2": 1, "expm1": 1, "log10": 1, "log1p": 1,
    "log2": 1, "sinh": 1, "tan": 1, "tanh": 1, "atan2": 2, "hypot": 2,
}

#: Default element count above which ``parallel for`` loops start threads.
DEFAULT_OMP_THRESHOLD = 65536


def _declare(functions: dict[str, int]) -> str:
    """``declare simd`` prototypes for the double and float flavour of each function."""
    lines = []
    for name, arity in sorted(functions.items()):
        for ctype, suffix in (("double", ""), ("float", "f")):
            args = ", ".join([ctype] * arity)
            lines.append("#pragma omp declare simd notinbranch")
            lines.append(f"{ctype} {name}{suffix}({args});")
    return "\n".join(lines)


PRELUDE = f"""\
/* ---- symtensor C prelude ---- */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <math.h>

typedef ptrdiff_t st_index;
#define ST_RESTRICT restrict
#define ST_INLINE static inline __attribute__((always_inline))
#define ST_EXPORT __attribute__((visibility("default")))
#define ST_LIKELY(x) __builtin_expect(!!(x), 1)
#define ST_UNLIKELY(x) __builtin_expect(!!(x), 0)
#ifndef ST_OMP_THRESHOLD
#define ST_OMP_THRESHOLD {DEFAULT_OMP_THRESHOLD}
#endif

#if defined(ST_HAVE_MVEC) && defined(__x86_64__) && !defined(__FAST_MATH__)
{_declare(_MVEC_2_22)}
#if ST_GLIBC_MINOR >= 35
{_declare(_MVEC_2_35)}
#endif
#endif
/* ---- end of prelude ---- */
"""

#: Name of the function every module exports, returning its cache key (checked on load).
KEY_SYMBOL = "symtensor_module_key"


def render(source: str, name: str, with_prelude: bool = True) -> str:
    """The compiled text: prelude, then ``source`` with line numbers of its own."""
    head = PRELUDE if with_prelude else ""
    safe = "".join(c if c.isalnum() or c in "_-." else "_" for c in name) or "module"
    return f'{head}#line 1 "{safe}.c"\n{source}\n'


def key_function(key: str) -> str:
    """The C definition of the key-returning function appended to every module."""
    return (f'\n__attribute__((visibility("default"))) const char *{KEY_SYMBOL}(void)'
            f' {{ return "{key}"; }}\n')


KEY_CDEF = f"const char *{KEY_SYMBOL}(void);"
