"""C expressions for the scalar-op table, keyed by scalar-op name.

Each step of an elementwise program becomes ``T_out tK = (T_out)(expr);`` where ``expr`` is
rendered here from the argument expressions, already converted to the step's compute type
(the type numpy's ufunc loop computes in). A step that cannot be rendered with numpy's exact
semantics (complex numbers, integer powers, which raise for negative exponents, float16
operands, int64-against-uint64 comparisons) returns None and the whole node runs through its
numpy ``perform`` instead. Where numpy's reference is a formula rather than a libm call
(rounding half away from zero, clip, sigmoid, softplus, floor division) the C code uses the
same formula, so that ties, signed zeros and NaN come out the same.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ...ops import scalar as ps

C_TYPES = {
    "bool": "uint8_t", "int8": "int8_t", "int16": "int16_t", "int32": "int32_t", "int64": "int64_t",
    "uint8": "uint8_t", "uint16": "uint16_t", "uint32": "uint32_t", "uint64": "uint64_t",
    "float32": "float", "float64": "double",
}

# Helpers with numpy's semantics where C differs (floor division, remainder, NaN-propagating
# max/min that return the second argument on a tie, as numpy does for -0.0 and 0.0,
# logaddexp-based softplus). They are inlined into the loops, which still vectorize.
PRELUDE = r"""
#define ST_FLOAT_HELPERS(T, S) \
static inline T st_floordiv_##S(T a, T b) { \
    if (b == 0) return a / b; \
    T mod = fmod##S(a, b); T div = (a - mod) / b; \
    if (mod != 0 && ((b < 0) != (mod < 0))) div -= 1; \
    if (div != 0) { T fl = floor##S(div); if (div - fl > (T)0.5) fl += 1; return fl; } \
    return copysign##S((T)0, a / b); } \
static inline T st_mod_##S(T a, T b) { \
    if (b == 0) return fmod##S(a, b); \
    T mod = fmod##S(a, b); \
    if (mod != 0) { if ((b < 0) != (mod < 0)) mod += b; } else mod = copysign##S((T)0, b); \
    return mod; } \
static inline T st_max_##S(T a, T b) { return (a != a) ? a : (b != b) ? b : (a > b ? a : b); } \
static inline T st_min_##S(T a, T b) { return (a != a) ? a : (b != b) ? b : (a < b ? a : b); } \
static inline T st_sgn_##S(T a) { return (a != a) ? a : (T)((a > 0) - (a < 0)); } \
static inline T st_round_away_##S(T a) { \
    return a >= 0 ? floor##S(a + (T)0.5) : ceil##S(a - (T)0.5); } \
static inline T st_clip_##S(T x, T lo, T hi) { \
    T m = (x != x) ? x : (x > lo ? x : lo); return (m != m) ? m : (m < hi ? m : hi); } \
static inline T st_sigmoid_##S(T a) { T e = exp##S(-fabs##S(a)); \
    return a >= 0 ? (T)1 / ((T)1 + e) : e / ((T)1 + e); } \
static inline T st_softplus_##S(T a) { T t = -a; \
    if (a == 0) return (T)0.69314718055994530942; \
    if (t > 0) return log1p##S(exp##S(-t)); \
    if (t <= 0) return a + log1p##S(exp##S(t)); \
    return t; }
ST_FLOAT_HELPERS(double, )
ST_FLOAT_HELPERS(float, f)

#define ST_INT_HELPERS(T, S) \
static inline T st_floordiv_##S(T a, T b) { \
    if (b == 0) return 0; \
    if ((T)-1 < 0 && b == (T)-1) return (T)(0 - a); \
    T q = a / b; if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1; return q; } \
static inline T st_mod_##S(T a, T b) { \
    if (b == 0) return 0; \
    if ((T)-1 < 0 && b == (T)-1) return 0; \
    T r = a % b; if (r != 0 && ((r < 0) != (b < 0))) r += b; return r; }
ST_INT_HELPERS(int8_t, i8) ST_INT_HELPERS(int16_t, i16) ST_INT_HELPERS(int32_t, i32)
ST_INT_HELPERS(int64_t, i64) ST_INT_HELPERS(uint8_t, u8) ST_INT_HELPERS(uint16_t, u16)
ST_INT_HELPERS(uint32_t, u32) ST_INT_HELPERS(uint64_t, u64)
"""

_INT_SUFFIX = {"int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64", "uint8": "u8",
               "uint16": "u16", "uint32": "u32", "uint64": "u64"}

# libm functions with the same name as the scalar op, or numpy's name -> C's name
_LIBM = {"exp": "exp", "exp2": "exp2", "expm1": "expm1", "log": "log", "log2": "log2", "log10": "log10",
         "log1p": "log1p", "sqrt": "sqrt", "sin": "sin", "cos": "cos", "tan": "tan", "arcsin": "asin",
         "arccos": "acos", "arctan": "atan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh",
         "arcsinh": "asinh", "arccosh": "acosh", "arctanh": "atanh", "erf": "erf", "erfc": "erfc",
         "floor": "floor", "ceil": "ceil", "trunc": "trunc", "round_half_to_even": "rint"}
_ERF = ("erf", "erfc")
_INFIX = {"add": "+", "sub": "-", "mul": "*", "true_div": "/", "lt": "<", "gt": ">", "le": "<=", "ge": ">=",
          "eq": "==", "neq": "!=", "and_": "&", "or_": "|", "xor": "^"}


def compute_dtype(sop: ps.ScalarOp, arg_dtypes: Sequence[str]) -> str | None:
    """The dtype numpy's loop computes ``sop`` in for these argument dtypes (None: unsupported)."""
    if sop.name in ("switch", "second"):
        return str(np.result_type(*arg_dtypes[-2:])) if sop.name == "switch" else arg_dtypes[1]
    if isinstance(sop, ps.Cast):
        return arg_dtypes[0]
    if len(arg_dtypes) != sop.nin:
        return None      # variadic steps are split into binary ones by the kernel renderer
    probe = [np.ones(1, dtype=d) for d in arg_dtypes]
    try:
        with np.errstate(all="ignore"):
            value = sop.impl(*probe)
    except Exception:
        return None
    dt = np.asarray(value).dtype
    if dt == np.float16 and "float16" not in arg_dtypes:
        # numpy computes some functions of small integers (exp(int8)) in float16; the tensor
        # op computes them in float32 instead (see ops.scalar.compute_dtype), and so do we
        dt = np.dtype("float32")
    if sop.name in _ERF:
        dt = np.dtype("float64")     # the reference evaluates erf/erfc in double, then rounds
    if (sop.name in ("lt", "gt", "le", "ge", "eq", "neq")
            and all(np.dtype(d).kind in "iu" for d in arg_dtypes)
            and np.result_type(*arg_dtypes).kind == "f"):
        return None      # int64 against uint64: numpy compares exactly, not through float64
    if sop.name in ("lt", "gt", "le", "ge", "eq", "neq"):
        dt = np.result_type(*arg_dtypes)
    if sop.name == "iround" and np.dtype(arg_dtypes[0]).kind == "f":
        dt = np.dtype(arg_dtypes[0])     # rounded in the float type, then converted
    if sop.name in ("isnan", "isinf"):
        dt = np.dtype(arg_dtypes[0])
    name = str(dt)
    return name if name in C_TYPES else None


def _fsuffix(dtype: str) -> str:
    return "f" if dtype == "float32" else ""


def render(sop: ps.ScalarOp, args: list, ct: str, out_dtype: str) -> str | None:
    """The C expression of ``sop`` on ``args`` (C expressions of type ``ct``), or None."""
    name = sop.name
    is_float = ct in ("float32", "float64")
    is_bool = ct == "bool"
    f = _fsuffix(ct)
    if isinstance(sop, ps.Cast):
        if out_dtype == "bool":
            return f"({args[0]} != 0)"
        return f"({C_TYPES[out_dtype]})({args[0]})"
    if name in ("add", "mul") and is_bool:
        return "(" + (" | " if name == "add" else " & ").join(args) + ")"
    if name in _INFIX and len(args) >= 2:
        if name in ("and_", "or_", "xor") and is_float:
            return None
        if name == "true_div" and not is_float:
            return None
        return "(" + f" {_INFIX[name]} ".join(args) + ")"
    if name in ("int_div", "mod"):
        suffix = f if is_float else _INT_SUFFIX.get(ct)
        if suffix is None:
            return None
        fn = "st_floordiv_" if name == "int_div" else "st_mod_"
        return f"{fn}{suffix}({args[0]}, {args[1]})"
    if name in ("maximum", "minimum"):
        if is_float:
            return f"st_{name[:3]}_{f}({args[0]}, {args[1]})"
        op = ">=" if name == "maximum" else "<="
        return f"(({args[0]}) {op} ({args[1]}) ? ({args[0]}) : ({args[1]}))"
    if name == "pow":
        return f"pow{f}({args[0]}, {args[1]})" if is_float else None
    if name == "arctan2":
        return f"atan2{f}({args[0]}, {args[1]})" if is_float else None
    if name == "neg":
        return None if is_bool else f"(-{args[0]})"
    if name == "abs":
        return f"fabs{f}({args[0]})" if is_float else f"(({args[0]}) < 0 ? -({args[0]}) : ({args[0]}))"
    if name == "sgn":
        return f"st_sgn_{f}({args[0]})" if is_float else f"(({args[0]}) > 0) - (({args[0]}) < 0)"
    if name == "sqr":
        return f"(({args[0]}) * ({args[0]}))"
    if name == "inv":
        return f"((({C_TYPES[ct]})1) / ({args[0]}))" if is_float else None
    if name in _LIBM:
        if not is_float:
            return args[0] if name in ("floor", "ceil", "trunc", "round_half_to_even") else None
        return f"{_LIBM[name]}{f}({args[0]})"
    if name in ("round_half_away_from_zero", "iround"):
        # numpy's reference is floor(x + 0.5) / ceil(x - 0.5), which differs from C's round()
        # (0.49999999999999994, 2**52 + 1, the sign of -0.0), so the same formula is used
        if not is_float:
            return args[0] if name == "round_half_away_from_zero" else f"(int64_t)({args[0]})"
        rounded = f"st_round_away_{f}({args[0]})"
        return rounded if name == "round_half_away_from_zero" else f"(int64_t)({rounded})"
    if name in ("sigmoid", "softplus"):
        return f"st_{name}_{f}({args[0]})" if is_float else None
    if name == "identity":
        return args[0]
    if name == "isnan":
        return f"({args[0]} != {args[0]})" if is_float else "0"
    if name == "isinf":
        return f"(isinf({args[0]}) != 0)" if is_float else "0"
    if name == "invert":
        if is_float:
            return None
        return f"(!{args[0]})" if is_bool else f"(~{args[0]})"
    if name == "clip":
        # numpy: min(max(x, lo), hi) with a NaN x or bound propagated; lo > hi gives hi
        if not is_float:
            x, lo, hi = args
            m = f"(({x}) > ({lo}) ? ({x}) : ({lo}))"
            return f"({m} < ({hi}) ? {m} : ({hi}))"
        return f"st_clip_{f}({args[0]}, {args[1]}, {args[2]})"
    if name == "switch":
        return f"(({args[0]}) != 0 ? ({args[1]}) : ({args[2]}))"
    if name == "second":
        return args[1]
    return None


RENDERERS: dict[str, Callable] = {}   # reserved for ops added later with their own renderer
