"""The scalar-op table: every elementwise function once, with its numpy implementation,
output dtype rule and derivative.

``Elemwise`` lifts these to tensors; fusion and code generation key their C and CUDA
expressions by the same ``ScalarOp`` objects (by name). Derivatives are vector-Jacobian
products written with tensor operations: ``grad(inputs, output, gout) -> [gx, ...]``.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Callable, Sequence

import numpy as np


def _api():
    from . import api
    return api


class ScalarOp:
    """One scalar function. ``out`` is the dtype rule: 'numpy' (what the numpy ufunc gives,
    float16 promoted to float32), 'upcast', 'float', 'bool', 'same', 'int64' or a dtype.
    ``kinds``: the dtype kinds the inputs may have (None: any numeric). ``condition_inputs``:
    inputs used only for their truth value (switch's condition), which take no part in dtype
    promotion."""

    def __init__(self, name: str, nin: int, impl: Callable, out: str = "numpy",
                 grad: Callable | None = None, symbol: str | None = None, kinds: str | None = None,
                 commutative: bool = False, associative: bool = False, identity: Any = None,
                 differentiable: bool = True, condition_inputs: tuple = ()):
        self.name = name
        self.nin = nin
        self.impl = impl
        self.out = out
        self._grad = grad
        self.symbol = symbol
        self.kinds = kinds
        self.commutative = commutative
        self.associative = associative
        self.identity = identity
        self.differentiable = differentiable
        self.condition_inputs = condition_inputs  # inputs whose dtype does not set the output's

    # identity by name (+ params), so nodes and cache keys are stable across processes
    def params(self) -> tuple:
        return ()

    def __eq__(self, other: Any) -> bool:
        return type(self) is type(other) and self.name == other.name and self.params() == other.params()

    def __hash__(self) -> int:
        return hash((type(self), self.name, self.params()))

    def __str__(self) -> str:
        return self.name

    __repr__ = __str__

    def __reduce__(self):
        return (_lookup, (self.name, self.params()))

    def output_dtype(self, *dtypes: str) -> str:
        return _output_dtype(self, tuple(dtypes))

    def check_inputs(self, dtypes: Sequence[str]) -> None:
        if self.kinds is None:
            return
        for i, dt in enumerate(dtypes):
            if np.dtype(dt).kind not in self.kinds:
                allowed = {"b": "bool", "i": "signed int", "u": "unsigned int", "f": "float",
                           "c": "complex"}
                names = ", ".join(allowed[k] for k in self.kinds)
                raise TypeError(f"{self.name}: input {i} has dtype {dt}, expected one of: {names}")

    def grad(self, inputs: list, output: Any, gout: Any) -> list:
        if self._grad is None:
            return [None] * len(inputs)  # piecewise constant: zero gradient
        return self._grad(inputs, output, gout)


class Cast(ScalarOp):
    """Conversion to a fixed dtype."""

    def __init__(self, dtype: str):
        dtype = str(np.dtype(dtype))
        self.dtype = dtype
        super().__init__(f"cast_{dtype}", 1, lambda x: x.astype(dtype), out=dtype, grad=_cast_grad)

    def params(self) -> tuple:
        return (self.dtype,)


@lru_cache(maxsize=None)
def _output_dtype(op: ScalarOp, dtypes: tuple) -> str:
    rule = op.out
    if rule == "bool":
        return "bool"
    if rule == "same":
        return dtypes[0]
    if rule == "int64":
        return "int64"
    if rule in ("upcast", "float"):
        dt = np.result_type(*dtypes)
        if rule == "float" and dt.kind not in "fc":
            dt = np.dtype("float32" if dt.itemsize <= 2 else "float64")
        return str(dt)
    if rule == "numpy":
        probe = [np.zeros(1, dtype=d) for d in dtypes]
        try:
            with np.errstate(all="ignore"):
                dt = np.asarray(op.impl(*probe)).dtype
        except TypeError as err:  # numpy has no loop for these dtypes (e.g. bool - bool)
            raise TypeError(f"{op.name} is not defined for input dtype(s) {', '.join(dtypes)} "
                            f"(numpy: {err})") from None
        if dt == np.float16 and "float16" not in dtypes:
            dt = np.dtype("float32")
        return str(dt)
    return str(np.dtype(rule))


@lru_cache(maxsize=None)
def compute_dtype(op: ScalarOp, dtypes: tuple) -> str | None:
    """The float dtype integer/bool inputs must be converted to before calling ``op.impl``, or None.

    numpy computes some functions of small integers (``exp(int8)``) in float16; the output dtype
    rule promotes those to float32, so they are computed in float32 rather than rounded through
    float16."""
    if op.out != "numpy" or len(dtypes) != op.nin or "float16" in dtypes:
        return None  # (a variadic add/mul of integers never goes through float16)
    if _output_dtype(op, dtypes) != "float32":
        return None
    probe = [np.zeros(1, dtype=d) for d in dtypes]
    with np.errstate(all="ignore"):
        natural = np.asarray(op.impl(*probe)).dtype
    return "float32" if natural == np.float16 else None


# --- implementations numpy lacks ---------------------------------------------------------------
_erf_u = np.frompyfunc(math.erf, 1, 1)
_erfc_u = np.frompyfunc(math.erfc, 1, 1)


def _special(ufunc: Callable, x: np.ndarray) -> np.ndarray:
    """Apply an object-dtype ufunc made from a ``math`` function; the result is an array (also for
    0-d input, where ``frompyfunc`` returns a bare Python float) of x's float dtype."""
    x = np.asarray(x)
    dtype = np.result_type(x.dtype, np.float32) if x.dtype.kind == "f" else np.dtype(np.float64)
    return np.asarray(ufunc(x), dtype=object).astype(dtype)


def _erf(x):
    return _special(_erf_u, x)


def _erfc(x):
    return _special(_erfc_u, x)


def _sigmoid(x):
    x = np.asarray(x)
    if x.dtype.kind not in "f":
        x = x.astype(_float_of(x.dtype))
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)


def _float_of(dt) -> str:
    return "float32" if np.dtype(dt).itemsize <= 2 else "float64"


def _softplus(x):
    x = np.asarray(x)
    if x.dtype.kind not in "f":
        x = x.astype(_float_of(x.dtype))
    return np.logaddexp(np.zeros((), x.dtype), x)


def _round_away(x):
    return np.where(x >= 0, np.floor(x + 0.5), np.ceil(x - 0.5)).astype(x.dtype)


def _inv(x):
    return np.true_divide(1, x) if x.dtype.kind in "fc" else np.true_divide(1.0, x)


def _second(a, b):
    return np.array(np.broadcast_to(b, np.broadcast_shapes(a.shape, b.shape)))


def _switch(c, a, b):
    return np.where(c.astype(bool) if c.dtype != bool else c, a, b)


# --- derivatives (vector-Jacobian products on tensors) --------------------------------------------
def _cast_grad(inputs, z, gz):
    (x,) = inputs
    return [_api().cast(gz, x.dtype) if x.dtype[0] in "fc" else None]


def _g_add(inputs, z, gz): return [gz] * len(inputs)
def _g_sub(inputs, z, gz): return [gz, -gz]


def _g_mul(inputs, z, gz):
    A = _api()
    grads = []
    for i in range(len(inputs)):
        others = [x for j, x in enumerate(inputs) if j != i]
        grads.append(A.mul(gz, *others) if others else gz)
    return grads


def _g_true_div(inputs, z, gz):
    x, y = inputs
    return [gz / y, -gz * x / (y * y)]


def _g_mod(inputs, z, gz):
    x, y = inputs
    return [gz, -gz * _api().floor(x / y)]


def _g_pow(inputs, z, gz):
    A = _api()
    x, y = inputs
    gx = gz * y * A.pow(x, y - 1)
    gy = gz * A.log(A.switch(A.eq(x, 0), 1, x)) * z if y.dtype[0] in "fc" else None
    return [gx, gy]


def _g_max(inputs, z, gz):
    A = _api()
    x, y = inputs
    return [gz * A.ge(x, y), gz * A.lt(x, y)]


def _g_min(inputs, z, gz):
    A = _api()
    x, y = inputs
    return [gz * A.le(x, y), gz * A.gt(x, y)]


def _g_clip(inputs, z, gz):
    A = _api()
    x, lo, hi = inputs
    return [gz * A.and_(A.ge(x, lo), A.le(x, hi)), gz * A.lt(x, lo), gz * A.gt(x, hi)]


def _g_switch(inputs, z, gz):
    A = _api()
    c, a, b = inputs
    zero = A.zeros_like(gz)
    return [None, A.switch(c, gz, zero), A.switch(c, zero, gz)]


def _g_second(inputs, z, gz):
    return [None, gz]


def _unary(fn: Callable) -> Callable:
    def g(inputs, z, gz):
        return [fn(_api(), inputs[0], z, gz)]
    return g


_LOG2 = math.log(2.0)
_LOG10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

_TABLE: list = [
    # name, nin, impl, out rule, derivative, options
    ScalarOp("add", 2, np.add, grad=_g_add, symbol="+", commutative=True, associative=True, identity=0),
    ScalarOp("sub", 2, np.subtract, grad=_g_sub, symbol="-"),
    ScalarOp("mul", 2, np.multiply, grad=_g_mul, symbol="*", commutative=True, associative=True, identity=1),
    ScalarOp("true_div", 2, np.true_divide, grad=_g_true_div, symbol="/"),
    ScalarOp("int_div", 2, np.floor_divide, symbol="//"),
    ScalarOp("mod", 2, np.mod, grad=_g_mod, symbol="%"),
    ScalarOp("pow", 2, np.power, grad=_g_pow, symbol="**"),
    ScalarOp("maximum", 2, np.maximum, grad=_g_max, commutative=True, associative=True),
    ScalarOp("minimum", 2, np.minimum, grad=_g_min, commutative=True, associative=True),
    ScalarOp("arctan2", 2, np.arctan2, grad=lambda i, z, gz: [gz * i[1] / (i[0] * i[0] + i[1] * i[1]),
                                                              -gz * i[0] / (i[0] * i[0] + i[1] * i[1])]),
    ScalarOp("neg", 1, np.negative, grad=_unary(lambda A, x, z, gz: -gz), symbol="-"),
    ScalarOp("abs", 1, np.absolute, grad=_unary(lambda A, x, z, gz: gz * A.sgn(x))),
    ScalarOp("sgn", 1, np.sign),
    ScalarOp("exp", 1, np.exp, grad=_unary(lambda A, x, z, gz: gz * z)),
    ScalarOp("exp2", 1, np.exp2, grad=_unary(lambda A, x, z, gz: gz * z * _LOG2)),
    ScalarOp("expm1", 1, np.expm1, grad=_unary(lambda A, x, z, gz: gz * (z + 1))),
    ScalarOp("log", 1, np.log, grad=_unary(lambda A, x, z, gz: gz / x)),
    ScalarOp("log2", 1, np.log2, grad=_unary(lambda A, x, z, gz: gz / (x * _LOG2))),
    ScalarOp("log10", 1, np.log10, grad=_unary(lambda A, x, z, gz: gz / (x * _LOG10))),
    ScalarOp("log1p", 1, np.log1p, grad=_unary(lambda A, x, z, gz: gz / (1 + x))),
    ScalarOp("sqrt", 1, np.sqrt, grad=_unary(lambda A, x, z, gz: gz * 0.5 / z)),
    ScalarOp("sqr", 1, np.square, grad=_unary(lambda A, x, z, gz: gz * 2 * x)),
    ScalarOp("inv", 1, _inv, out="float", grad=_unary(lambda A, x, z, gz: -gz * z * z)),
    ScalarOp("floor", 1, np.floor),
    ScalarOp("ceil", 1, np.ceil),
    ScalarOp("trunc", 1, np.trunc),
    ScalarOp("round_half_to_even", 1, np.round),
    ScalarOp("round_half_away_from_zero", 1, _round_away, out="same"),
    ScalarOp("iround", 1, lambda x: _round_away(x).astype("int64") if x.dtype.kind == "f"
             else x.astype("int64"), out="int64"),
    ScalarOp("sin", 1, np.sin, grad=_unary(lambda A, x, z, gz: gz * A.cos(x))),
    ScalarOp("cos", 1, np.cos, grad=_unary(lambda A, x, z, gz: -gz * A.sin(x))),
    ScalarOp("tan", 1, np.tan, grad=_unary(lambda A, x, z, gz: gz * (1 + z * z))),
    ScalarOp("arcsin", 1, np.arcsin, grad=_unary(lambda A, x, z, gz: gz / A.sqrt(1 - x * x))),
    ScalarOp("arccos", 1, np.arccos, grad=_unary(lambda A, x, z, gz: -gz / A.sqrt(1 - x * x))),
    ScalarOp("arctan", 1, np.arctan, grad=_unary(lambda A, x, z, gz: gz / (1 + x * x))),
    ScalarOp("sinh", 1, np.sinh, grad=_unary(lambda A, x, z, gz: gz * A.cosh(x))),
    ScalarOp("cosh", 1, np.cosh, grad=_unary(lambda A, x, z, gz: gz * A.sinh(x))),
    ScalarOp("tanh", 1, np.tanh, grad=_unary(lambda A, x, z, gz: gz * (1 - z * z))),
    ScalarOp("arcsinh", 1, np.arcsinh, grad=_unary(lambda A, x, z, gz: gz / A.sqrt(x * x + 1))),
    ScalarOp("arccosh", 1, np.arccosh, grad=_unary(lambda A, x, z, gz: gz / A.sqrt(x * x - 1))),
    ScalarOp("arctanh", 1, np.arctanh, grad=_unary(lambda A, x, z, gz: gz / (1 - x * x))),
    ScalarOp("erf", 1, _erf, out="float",
             grad=_unary(lambda A, x, z, gz: gz * _TWO_OVER_SQRT_PI * A.exp(-x * x))),
    ScalarOp("erfc", 1, _erfc, out="float",
             grad=_unary(lambda A, x, z, gz: -gz * _TWO_OVER_SQRT_PI * A.exp(-x * x))),
    ScalarOp("sigmoid", 1, _sigmoid, out="float", grad=_unary(lambda A, x, z, gz: gz * z * (1 - z))),
    ScalarOp("softplus", 1, _softplus, out="float", grad=_unary(lambda A, x, z, gz: gz * A.sigmoid(x))),
    ScalarOp("identity", 1, lambda x: x.copy(), out="same", grad=_unary(lambda A, x, z, gz: gz)),
    ScalarOp("lt", 2, np.less, out="bool", symbol="<", differentiable=False),
    ScalarOp("gt", 2, np.greater, out="bool", symbol=">", differentiable=False),
    ScalarOp("le", 2, np.less_equal, out="bool", symbol="<=", differentiable=False),
    ScalarOp("ge", 2, np.greater_equal, out="bool", symbol=">=", differentiable=False),
    ScalarOp("eq", 2, np.equal, out="bool", symbol="==", commutative=True, differentiable=False),
    ScalarOp("neq", 2, np.not_equal, out="bool", symbol="!=", commutative=True, differentiable=False),
    ScalarOp("isnan", 1, np.isnan, out="bool", differentiable=False),
    ScalarOp("isinf", 1, np.isinf, out="bool", differentiable=False),
    ScalarOp("and_", 2, np.bitwise_and, symbol="&", kinds="biu", commutative=True, associative=True,
             differentiable=False),
    ScalarOp("or_", 2, np.bitwise_or, symbol="|", kinds="biu", commutative=True, associative=True,
             differentiable=False),
    ScalarOp("xor", 2, np.bitwise_xor, symbol="^", kinds="biu", commutative=True, associative=True,
             differentiable=False),
    ScalarOp("invert", 1, np.invert, symbol="~", kinds="biu", differentiable=False),
    ScalarOp("clip", 3, np.clip, out="upcast", grad=_g_clip),
    ScalarOp("switch", 3, _switch, out=None, grad=_g_switch, condition_inputs=(0,)),
    ScalarOp("second", 2, _second, out=None, grad=_g_second),
]

SCALAR_OPS: dict = {op.name: op for op in _TABLE}
# switch and second take their dtype from the value inputs only
SCALAR_OPS["switch"].output_dtype = lambda c, a, b: str(np.result_type(a, b))
SCALAR_OPS["second"].output_dtype = lambda a, b: b


def _lookup(name: str, params: tuple) -> ScalarOp:
    if name.startswith("cast_"):
        return Cast(params[0])
    return SCALAR_OPS[name]


def get(name: str) -> ScalarOp:
    return SCALAR_OPS[name]


__all__ = ["ScalarOp", "Cast", "SCALAR_OPS", "compute_dtype", "get"]
