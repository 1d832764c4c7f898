"""The specialize rewrite ``gemm`` (rewrite/blas.py): a scaled matrix product plus a scaled
term becomes one Gemm node, with the same values as numpy; the cases where it must not fire
keep their Dot."""
import numpy as np
import pytest

import symtensor as T
from symtensor.graph.fg import FunctionGraph
from symtensor.graph.type import TensorType
from symtensor.ops.blas import Dot
from symtensor.ops.gemm import Gemm
from symtensor.rewrite import optimize
from tests.helpers import rand, tol

FLOATS = ["float32", "float64"]


def ops_after_rewrite(outputs, inputs, excluded=()):
    """The op classes of the rewritten graph's nodes, and the graph."""
    fg = FunctionGraph(inputs, outputs, clone=True)
    optimize(fg, excluded=excluded)
    return [type(n.op) for n in fg.toposort()], fg


def mats(dtype):
    return (T.matrix("x", dtype=dtype), T.matrix("y", dtype=dtype), T.matrix("z", dtype=dtype),
            T.vector("b", dtype=dtype), T.scalar("s", dtype=dtype))


def values(rng, dtype):
    return dict(x=rand(rng, (3, 4), dtype), y=rand(rng, (4, 5), dtype), z=rand(rng, (3, 5), dtype),
                b=rand(rng, (5,), dtype), s=np.asarray(0.3, dtype))


# expression builder and numpy reference, keyed by a readable name
CASES = {
    "dot+z": (lambda x, y, z, b, s: T.dot(x, y) + z, lambda v: v["x"] @ v["y"] + v["z"]),
    "z+dot": (lambda x, y, z, b, s: z + T.dot(x, y), lambda v: v["z"] + v["x"] @ v["y"]),
    "dot+bias": (lambda x, y, z, b, s: T.dot(x, y) + b, lambda v: v["x"] @ v["y"] + v["b"]),
    "scaled": (lambda x, y, z, b, s: 0.5 * T.dot(x, y) + 2 * z, lambda v: 0.5 * (v["x"] @ v["y"]) + 2 * v["z"]),
    "symbolic scales": (lambda x, y, z, b, s: s * T.dot(x, y) + z * s * 3,
                        lambda v: v["s"] * (v["x"] @ v["y"]) + v["z"] * v["s"] * 3),
    "z-dot": (lambda x, y, z, b, s: z - T.dot(x, y), lambda v: v["z"] - v["x"] @ v["y"]),
    "dot-2z": (lambda x, y, z, b, s: T.dot(x, y) - 2 * z, lambda v: v["x"] @ v["y"] - 2 * v["z"]),
    "three terms": (lambda x, y, z, b, s: T.dot(x, y) + z + b, lambda v: v["x"] @ v["y"] + v["z"] + v["b"]),
    "column bias": (lambda x, y, z, b, s: T.dot(x, y) + b[:3].dimshuffle(0, "x"),
                    lambda v: v["x"] @ v["y"] + v["b"][:3, None]),
    "transposed": (lambda x, y, z, b, s: T.dot(y.T, x.T) + z.T, lambda v: v["y"].T @ v["x"].T + v["z"].T),
    "inside tanh": (lambda x, y, z, b, s: T.tanh(T.dot(x, y) + b), lambda v: np.tanh(v["x"] @ v["y"] + v["b"])),
}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_rewrite_to_gemm(rng, case, dtype):
    build, ref = CASES[case]
    x, y, z, b, s = mats(dtype)
    out = build(x, y, z, b, s)
    ops, _ = ops_after_rewrite([out], [x, y, z, b, s])
    assert Gemm in ops and Dot not in ops, ops
    f = T.function([x, y, z, b, s], out, mode="FAST_RUN", on_unused_input="ignore")
    v = values(rng, dtype)
    got = f(v["x"], v["y"], v["z"], v["b"], v["s"])
    want = ref(v)
    assert got.dtype == dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, **tol(dtype))


def test_no_rewrite_when_dot_is_reused():
    """The product is needed elsewhere: gemm would compute it twice."""
    x, y, z, _, _ = mats("float64")
    d = T.dot(x, y)
    ops, _ = ops_after_rewrite([d + z, d * 2], [x, y, z])
    assert Gemm not in ops and Dot in ops


def test_no_rewrite_for_integers():
    x, y, z = T.imatrix("x"), T.imatrix("y"), T.imatrix("z")
    ops, _ = ops_after_rewrite([T.dot(x, y) + z], [x, y, z])
    assert Gemm not in ops and Dot in ops


def test_no_rewrite_for_mixed_dtypes(rng):
    x, y = T.matrix("x", dtype="float32"), T.matrix("y", dtype="float32")
    z = T.matrix("z", dtype="float64")
    out = T.dot(x, y) + z
    ops, _ = ops_after_rewrite([out], [x, y, z])
    assert Gemm not in ops
    v = [rand(rng, (3, 4), "float32"), rand(rng, (4, 5), "float32"), rand(rng, (3, 5))]
    got = T.function([x, y, z], out, mode="FAST_RUN")(*v)
    assert got.dtype == "float64"
    np.testing.assert_allclose(got, v[0].astype("f8") @ v[1] + v[2], rtol=1e-5)


def test_no_rewrite_when_z_broadcasts_the_product(rng):
    """A product with a static single row plus a taller z: the sum is larger than the product."""
    x = TensorType("float64", shape=(1, None))("x")
    y, z = T.matrix("y"), T.matrix("z")
    out = T.dot(x, y) + z
    ops, _ = ops_after_rewrite([out], [x, y, z])
    assert Gemm not in ops
    v = [rand(rng, (1, 4)), rand(rng, (4, 5)), rand(rng, (3, 5))]
    np.testing.assert_allclose(T.function([x, y, z], out, mode="FAST_RUN")(*v), v[0] @ v[1] + v[2])


def test_no_rewrite_for_vectors_or_other_ops():
    x, v, w = T.matrix("x"), T.vector("v"), T.vector("w")
    ops, _ = ops_after_rewrite([T.dot(x, v) + w, T.dot(x, x) * w], [x, v, w])
    assert Gemm not in ops


def test_rewrite_can_be_excluded():
    x, y, z, _, _ = mats("float64")
    ops, _ = ops_after_rewrite([T.dot(x, y) + z], [x, y, z], excluded=["gemm"])
    assert Gemm not in ops and Dot in ops
    ops, _ = ops_after_rewrite([T.dot(x, y) + z], [x, y, z], excluded=["local_blas"])
    assert Gemm not in ops
    f = T.function([x, y, z], T.dot(x, y) + z, mode=T.Mode(optimizer="fast_run").excluding("gemm"))
    assert not any(isinstance(n.op, Gemm) for n in f.maker.fgraph.toposort())


def test_gemm_graph_output_keeps_type():
    """The Gemm output replaces the addition with the same type (static shape included)."""
    x = TensorType("float32", shape=(3, 4))("x")
    y = TensorType("float32", shape=(4, None))("y")
    b = T.vector("b", dtype="float32")
    out = T.dot(x, y) + b
    _, fg = ops_after_rewrite([out], [x, y, b])
    assert isinstance(fg.outputs[0].owner.op, Gemm)
    assert fg.outputs[0].type == out.type


def test_gradient_graph_uses_gemm(rng):
    """A typical layer's training graph: forward and backward products in float32."""
    x, w = T.matrix("x", dtype="float32"), T.matrix("w", dtype="float32")
    b = T.vector("b", dtype="float32")
    cost = T.sum(T.tanh(T.dot(x, w) + b) ** 2)
    gw, gb = T.grad(cost, [w, b])
    f = T.function([x, w, b], [cost, gw, gb], mode="FAST_RUN")
    assert any(isinstance(n.op, Gemm) for n in f.maker.fgraph.toposort())
    ref = T.function([x, w, b], [cost, gw, gb], mode="FAST_COMPILE")
    vals = [rand(rng, (6, 4), "float32"), rand(rng, (4, 3), "float32") * 0.3, rand(rng, (3,), "float32")]
    for got, want in zip(f(*vals), ref(*vals)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
