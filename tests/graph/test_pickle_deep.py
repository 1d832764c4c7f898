"""Pickling deep graphs: a computed variable travels as a flat graph bundle (graph/pickling.py),
so graphs and functions far deeper than Python's recursion limit round-trip, in this process
and in a new one; leaves keep their identity, variables pickled together still share their
subgraph, and ops with inner graphs (Scan, OpFromGraph, FusedElemwise) pickle inside them."""
import copy
import os
import pickle
import subprocess
import sys

import numpy as np

import symtensor as T
from symtensor.graph.basic import ancestors
from symtensor.graph.fg import FunctionGraph
from symtensor.ops.fused import FusedElemwise
from symtensor.ops.opfromgraph import OpFromGraph
from symtensor.rewrite.pipeline import optimize

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
XV = np.array([0.5, -1.0, 2.0])


def _deep(depth: int):
    x = T.dvector("x")
    y = x
    for _ in range(depth):
        y = T.tanh(y) + 1
    y.name = "deep"
    return x, y


def _np_deep(depth: int, v: np.ndarray) -> np.ndarray:
    for _ in range(depth):
        v = np.tanh(v) + 1
    return v


def test_graph_1000_ops_deep_round_trips():
    x, y = _deep(1000)
    x2, y2 = pickle.loads(pickle.dumps((x, y)))
    assert y2.name == "deep" and y2.type == y.type
    assert sum(v.owner is not None for v in ancestors([y2])) == sum(v.owner is not None for v in ancestors([y]))
    assert x2 in ancestors([y2]) and x2.name == "x"
    np.testing.assert_allclose(T.function([x2], y2, mode="FAST_COMPILE")(XV), _np_deep(1000, XV), rtol=1e-12)


def test_function_1000_ops_deep_round_trips(mode):
    x, y = _deep(1000)
    f = T.function([x], y, mode=mode)
    g = pickle.loads(pickle.dumps(f))
    np.testing.assert_allclose(g(XV), f(XV), rtol=1e-12)


def _in_new_process(code: str, blob: bytes) -> bytes:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("SYMTENSOR_FLAGS", None)
    proc = subprocess.run([sys.executable, "-c", code], input=blob, capture_output=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    return proc.stdout


def test_deep_graph_and_function_load_in_a_new_process():
    x, y = _deep(1000)
    f = T.function([x], y, mode="FAST_COMPILE")
    code = ("import pickle, sys, numpy as np, symtensor as T\n"
            "x, y, f = pickle.loads(sys.stdin.buffer.read())\n"
            f"v = np.array({XV.tolist()!r})\n"
            "g = T.function([x], y, mode='FAST_COMPILE')\n"
            "sys.stdout.buffer.write(pickle.dumps((f(v), g(v), y.name)))\n")
    from_f, from_graph, name = pickle.loads(_in_new_process(code, pickle.dumps((x, y, f))))
    np.testing.assert_allclose(from_f, _np_deep(1000, XV), rtol=1e-12)
    np.testing.assert_allclose(from_graph, _np_deep(1000, XV), rtol=1e-12)
    assert name == "deep"


def test_variables_pickled_together_share_their_subgraph():
    x, trunk = _deep(300)
    a, b = T.exp(trunk), trunk * 2
    s = T.shared(np.ones(3), name="s")
    c = a + s
    a.tag.note = "kept"
    for copier in (lambda objs: pickle.loads(pickle.dumps(objs)), copy.deepcopy):
        x2, a2, b2, c2, s2 = copier([x, a, b, c, s])
        assert a2.owner.inputs[0] is b2.owner.inputs[0]          # one trunk, not two copies
        assert c2.owner.inputs[0] is a2 and c2.owner.inputs[1] is s2
        assert x2 in ancestors([b2]) and a2.tag.note == "kept"
        out = T.function([x2], [a2, b2, c2], mode="FAST_COMPILE")(XV)
        t = _np_deep(300, XV)
        np.testing.assert_allclose(out[0], np.exp(t), rtol=1e-12)
        np.testing.assert_allclose(out[1], 2 * t, rtol=1e-12)
        np.testing.assert_allclose(out[2], np.exp(t) + 1, rtol=1e-12)


def test_random_variable_and_its_state_keep_their_links():
    srng = T.RandomStreams(4)
    u = srng.uniform((3,))
    y = u
    for _ in range(200):
        y = T.tanh(y) + 1
    u2, y2 = pickle.loads(pickle.dumps((u, y)))
    state = u2.rng
    assert u2.update[0] is state and state.default_update is u2.update[1]
    assert state.default_update.owner.outputs[1] in ancestors([u2]) and u2 in ancestors([y2])   # one draw node
    f = T.function([], u2, mode="FAST_COMPILE")
    assert not np.array_equal(f(), f())                           # the unpickled stream advances


def test_inner_graph_ops_inside_a_deep_graph(mode):
    x = T.dvector("x")
    a, b = T.dvector("a"), T.dvector("b")
    ofg = OpFromGraph([a, b], [a * b + 1])
    r, _ = T.scan(lambda v, acc: acc + T.tanh(v), sequences=T.stack([x, x * 2]), outputs_info=T.zeros_like(x))
    y = ofg(r[-1], x)
    for _ in range(400):
        y = T.sin(y) + x
    f = T.function([x], y, mode=mode)
    x2, y2, g = pickle.loads(pickle.dumps((x, y, f)))
    want = f(XV)
    np.testing.assert_allclose(g(XV), want, rtol=1e-12)
    np.testing.assert_allclose(T.function([x2], y2, mode=mode)(XV), want, rtol=1e-12)


def test_rewritten_graph_with_fused_nodes_round_trips():
    x, y = _deep(400)
    fg = FunctionGraph([x], [y])
    optimize(fg, "fast_run")
    assert any(isinstance(n.op, FusedElemwise) for n in fg.toposort())
    fg2 = pickle.loads(pickle.dumps(fg))
    assert len(fg2.toposort()) == len(fg.toposort())
    assert fg2.outputs[0] in fg2.variables and all(n in fg2.apply_nodes for n in fg2.toposort())
    got = T.function(fg2.inputs, fg2.outputs[0], mode="FAST_COMPILE")(XV)
    np.testing.assert_allclose(got, _np_deep(400, XV), rtol=1e-12)
