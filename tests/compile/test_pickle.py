"""Pickling: graphs, shared variables and compiled functions (with updates and In defaults)
survive a pickle round trip, including unpickling and calling in a new process."""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import symtensor as T

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _model():
    """A small logistic-regression step: returns (train, predict, w, b)."""
    w = T.shared(np.array([0.5, -0.25, 1.0]), name="w")
    b = T.shared(np.float64(0.1), name="b")
    x, y = T.dmatrix("x"), T.dvector("y")
    p = 1 / (1 + T.exp(-(T.dot(x, w) + b)))
    cost = -(y * T.log(p) + (1 - y) * T.log(1 - p)).mean()
    gw, gb = T.grad(cost, [w, b])
    train = T.function([x, y], [cost, p], updates=[(w, w - 0.5 * gw), (b, b - 0.5 * gb)], name="train")
    predict = T.function([x], p > 0.5)
    return train, predict, w, b


X = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 2.0], [3.0, 0.5, -1.0], [-1.0, 1.0, 1.0]])
Y = np.array([1.0, 0.0, 1.0, 0.0])


def _run_in_new_process(code: str, blob: bytes) -> bytes:
    """Run ``code`` in a fresh interpreter with ``blob`` on stdin; returns its stdout."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("SYMTENSOR_FLAGS", None)
    proc = subprocess.run([sys.executable, "-c", code], input=blob, capture_output=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout


def test_graph_pickles(mode):
    x = T.dmatrix("x")
    y = (T.exp(x) * 2).sum(axis=0)
    x2, y2 = pickle.loads(pickle.dumps((x, y)))
    assert x2.name == "x" and y2.owner is not None
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(T.function([x2], y2, mode=mode)(a), (np.exp(a) * 2).sum(axis=0))


def test_shared_variable_pickles():
    s = T.shared(np.arange(4.0).reshape(2, 2), name="s")
    s2 = pickle.loads(pickle.dumps(s))
    assert s2.name == "s" and s2.type == s.type
    np.testing.assert_array_equal(s2.get_value(), s.get_value())
    s2.set_value(np.zeros((2, 2)))
    np.testing.assert_array_equal(s.get_value(), np.arange(4.0).reshape(2, 2))  # a separate copy


def test_function_with_updates_pickles_in_process(mode):
    s = T.shared(np.zeros(2), name="s")
    x = T.dvector("x")
    f = T.function([x], s + x, updates=[(s, s + x)], mode=mode)
    f(np.ones(2))
    f2, s2 = pickle.loads(pickle.dumps((f, s)))
    np.testing.assert_array_equal(f2(np.ones(2)), [2.0, 2.0])
    np.testing.assert_array_equal(s2.get_value(), [2.0, 2.0])
    np.testing.assert_array_equal(s.get_value(), [1.0, 1.0])  # the original is untouched
    assert f2.maker.mode == f.maker.mode


def test_in_default_state_and_trust_input_survive_pickling():
    acc, x = T.dscalar("acc"), T.dscalar("x")
    f = T.function([x, T.In(acc, value=0.0, update=acc + x)], acc, trust_input=False)
    f(5.0)
    f.trust_input = True
    g = pickle.loads(pickle.dumps(f))
    assert g.trust_input
    assert float(g(np.float64(1.0), np.float64(5.0))) == 5.0
    assert float(g(np.float64(0.0))) == 6.0


def test_trained_model_unpickles_and_runs_in_a_new_process():
    train, predict, w, b = _model()
    for _ in range(3):
        train(X, Y)
    blob = pickle.dumps((train, predict, w, b))
    expected_cost, expected_p = train(X, Y)  # the next step, computed here
    expected_w = w.get_value()
    expected_pred = predict(X)
    code = (
        "import pickle, sys, numpy as np\n"
        "train, predict, w, b = pickle.loads(sys.stdin.buffer.read())\n"
        f"X = np.array({X.tolist()!r}); Y = np.array({Y.tolist()!r})\n"
        "cost, p = train(X, Y)\n"
        "sys.stdout.buffer.write(pickle.dumps((cost, p, w.get_value(), predict(X), train.name)))\n"
    )
    cost, p, new_w, pred, name = pickle.loads(_run_in_new_process(code, blob))
    np.testing.assert_allclose(cost, expected_cost, rtol=1e-12)
    np.testing.assert_allclose(p, expected_p, rtol=1e-12)
    np.testing.assert_allclose(new_w, expected_w, rtol=1e-12)
    np.testing.assert_array_equal(pred, expected_pred)
    assert name == "train"


@pytest.mark.parametrize("mode_name", ["FAST_COMPILE", "DebugMode"])
def test_graph_and_shared_unpickle_in_a_new_process(mode_name):
    s = T.shared(np.array([1.0, 2.0]), name="s")
    x = T.dvector("x")
    y = T.tanh(x * s).sum()
    blob = pickle.dumps((x, y, s))
    code = (
        "import pickle, sys, numpy as np, symtensor as T\n"
        "x, y, s = pickle.loads(sys.stdin.buffer.read())\n"
        f"f = T.function([x], y, updates=[(s, s * 2)], mode={mode_name!r})\n"
        "out = f(np.array([0.5, -0.25]))\n"
        "sys.stdout.buffer.write(pickle.dumps((out, s.get_value())))\n"
    )
    out, new_s = pickle.loads(_run_in_new_process(code, blob))
    np.testing.assert_allclose(out, np.tanh(np.array([0.5, -0.25]) * [1.0, 2.0]).sum(), rtol=1e-12)
    np.testing.assert_array_equal(new_s, [2.0, 4.0])
