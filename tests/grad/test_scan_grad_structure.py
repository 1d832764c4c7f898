"""The structure of the backward scan built by scan's gradient: it reads the outputs stored by
the forward scan instead of recomputing the body (no forward ``tanh`` or products in its inner
graph), and stays correct where a body output is a step input or a mapped output."""
import numpy as np

import symtensor as T
from symtensor.graph.basic import ancestors
from symtensor.grad import verify_grad
from symtensor.ops.scan import scan
from symtensor.ops.scan_op import Scan
from tests.helpers import rand


def _scans(outputs):
    nodes = {v.owner for v in ancestors(outputs) if v.owner is not None and isinstance(v.owner.op, Scan)}
    return [node.op for node in nodes]


def _inner_op_names(op):
    return [str(n.op) for n in op.fgraph.toposort()]


def test_backward_scan_reads_stored_states():
    x, h0 = T.dmatrix("x"), T.dvector("h0")
    wx, wh = T.dmatrix("wx"), T.dmatrix("wh")
    hs, _ = scan(lambda xt, h: T.tanh(T.dot(xt, wx) + T.dot(h, wh)), sequences=x, outputs_info=h0)
    g = T.grad(hs.sum(), [wx, wh])
    backward = [op for op in _scans(g) if op.name.startswith("grad_of_")]
    assert len(backward) == 1
    names = _inner_op_names(backward[0])
    assert not any("tanh" in n for n in names), names
    # only the vector-Jacobian products: carry, sequence and the two weight gradients
    assert sum(n.startswith("Dot") for n in names) == 4, names


def test_stored_states_gradient_matches_recomputation(rng):
    x, h0, w = rand(rng, (5, 3)), rand(rng, (3,)), 0.5 * rand(rng, (3, 3))

    def fn(x_, h0_, w_):
        out, _ = scan(lambda xt, h, w2: T.tanh(xt + T.dot(h, w2)), sequences=x_, outputs_info=h0_,
                      non_sequences=w_)
        return out
    verify_grad(fn, [x, h0, w], rng=rng)


def test_body_output_that_is_a_step_input(rng):
    def fn(x_, h0_):
        outs, _ = scan(lambda xt, h: [T.sigmoid(h) * xt, xt], sequences=x_, outputs_info=[h0_, None])
        return outs[0].sum() + (outs[1] ** 2).sum()
    verify_grad(fn, [rand(rng, (4, 2)), rand(rng, (2,))], rng=rng)


def test_mapped_output_read_from_storage(rng):
    def fn(x_, w_):
        ys, _ = scan(lambda xt, w2: T.exp(T.dot(xt, w2)), sequences=x_, non_sequences=w_)
        return ys
    verify_grad(fn, [rand(rng, (4, 3)), 0.3 * rand(rng, (3, 2))], rng=rng)
