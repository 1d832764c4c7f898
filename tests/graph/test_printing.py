"""debugprint (Theano's tree layout), pp and pydotprint."""
import io
import re

import numpy as np
import pytest

import symtensor as T
from symtensor.graph import printing


def _expr():
    W, x = T.dmatrix("W"), T.dvector("x")
    return W, x, (T.exp(T.tanh(T.dot(W, x))) + x).sum()


def test_debugprint_of_a_variable_is_theanos_tree():
    W, x, out = _expr()
    lines = T.debugprint(out, file="str").splitlines()
    assert lines[0].startswith("Sum") and "[id A]" in lines[0]
    assert lines[1].startswith(" |Elemwise{add} [id B]")
    assert lines[2].startswith("   |Elemwise{exp} [id C]")
    # the bar continues below exp because add has a later input (x)
    assert lines[3].startswith("   | |Elemwise{tanh}")
    assert lines[4].startswith("   |   |Dot")
    assert lines[5] == "   |     |W [id F]" and lines[6] == "   |     |x [id G]"
    assert lines[7] == "   |x [id G]"  # the same variable keeps its id


def test_debugprint_writes_to_a_file_and_returns_its_argument():
    _, _, out = _expr()
    buf = io.StringIO()
    assert T.debugprint(out, file=buf) is out
    assert buf.getvalue() == T.debugprint(out, file="str")
    assert T.dprint is T.debugprint


def test_debugprint_options():
    _, _, out = _expr()
    typed = T.debugprint(out, file="str", print_type=True)
    assert "<TensorType(float64, ())>" in typed.splitlines()[0]
    shallow = T.debugprint(out, file="str", depth=1)
    assert len(shallow.splitlines()) == 2


def test_debugprint_of_a_compiled_function_shows_its_graph(mode):
    W, x, out = _expr()
    f = T.function([W, x], out, mode=mode)
    text = T.debugprint(f, file="str")
    assert "Sum" in text and "Elemwise{exp}" in text and "W [id" in text and "x [id" in text
    # each node shows its position in the execution order
    positions = [int(m) for m in re.findall(r"'' (\d+)$", text, flags=re.M)]
    assert sorted(positions) == list(range(len(f.maker.fgraph.toposort())))


def test_debugprint_of_a_list_and_shared_node():
    x = T.dvector("x")
    e = T.exp(x)
    text = T.debugprint([e * 2, e + 1], file="str")
    assert text.count("Elemwise{exp} [id") == 2
    assert text.count("|x [id") == 1  # a node printed before is not expanded again


def test_debugprint_rejects_other_objects():
    with pytest.raises(TypeError, match="cannot print a int"):
        T.debugprint(3)


def test_pp_is_infix():
    x, y = T.dvector("x"), T.dvector("y")
    text = T.pp(x * y + T.exp(x))
    assert "x * y" in text and "exp(x)" in text and text.count("+") == 1


def test_pydotprint_dot_format_is_valid(tmp_path):
    W, x, out = _expr()
    path = T.pydotprint(out, outfile=str(tmp_path / "g.dot"), format="dot")
    text = open(path).read()
    assert text.startswith("digraph") and text.rstrip().endswith("}")
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)  # quoted labels may hold braces
    assert bare.count("{") == bare.count("}") == 1
    for line in bare.splitlines()[1:-1]:
        assert line.endswith(";"), line
    declared = set(re.findall(r"^\s+(\w+) \[", text, flags=re.M))
    for a, b in re.findall(r"^\s+(\w+) -> (\w+)", text, flags=re.M):
        assert a in declared and b in declared
    assert 'label="Dot"' in text and 'label="W"' in text


def test_pydotprint_of_a_function(tmp_path):
    W, x, out = _expr()
    f = T.function([W, x], out)
    text = open(T.pydotprint(f, outfile=str(tmp_path / "f.dot"), format="dot")).read()
    assert "Dot" in text and "output 0" in text


def test_pydotprint_without_graphviz_is_a_clear_error(tmp_path, monkeypatch):
    import shutil
    monkeypatch.setattr(shutil, "which", lambda name: None)
    _, _, out = _expr()
    with pytest.raises(RuntimeError, match="Graphviz.*install"):
        printing.pydotprint(out, outfile=str(tmp_path / "g.png"), format="png")
    assert not (tmp_path / "g.png").exists()
