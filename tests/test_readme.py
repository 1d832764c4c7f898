"""The README's first code block runs as written (the documentation stays true to the code)."""
import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_example_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "README has no python example"
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    printed = capsys.readouterr().out.strip()
    assert abs(float(printed) - 0.6931471805599453) < 1e-12   # first step: cost of p = 0.5 is log 2
    assert namespace["w"].get_value().shape == (3,)


def test_readme_commands_match_ci():
    text = README.read_text()
    ci = (README.parent / ".ci" / "run").read_text()
    test_cmd = "python -m pytest -q -n 2 tests"
    assert test_cmd in text and test_cmd in ci
    assert "pip install -e '.[test]'" in text and "pip install -e '.[test]'" in ci
