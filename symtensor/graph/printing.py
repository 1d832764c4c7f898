"""Text renderings of graphs: ``debugprint`` (a tree, Theano's format) and ``pp``
(an infix expression)."""
from __future__ import annotations

import io
import string
import sys
from typing import Any, TextIO

from .basic import Constant, Variable, toposort


def _ids():
    letters = string.ascii_uppercase
    n = 0
    while True:
        k, s = n, ""
        while True:
            s = letters[k % 26] + s
            k = k // 26 - 1
            if k < 0:
                break
        yield s
        n += 1


def _outputs_of(obj: Any) -> tuple:
    """(outputs, node order or None, title) for a variable, a list, an fgraph or a function."""
    maker = getattr(obj, "maker", None)
    if maker is not None:
        fg = maker.fgraph
        return list(fg.outputs), fg.toposort(), maker
    if hasattr(obj, "apply_nodes") and hasattr(obj, "outputs"):
        return list(obj.outputs), obj.toposort(), None
    if isinstance(obj, Variable):
        return [obj], None, None
    if isinstance(obj, (list, tuple)):
        outs = []
        for o in obj:
            outs.extend(_outputs_of(o)[0])
        return outs, None, None
    raise TypeError(f"debugprint: cannot print a {type(obj).__name__}; pass a variable, a list of "
                    f"variables, a FunctionGraph or a compiled function")


def debugprint(obj: Any, file: TextIO | str | None = None, depth: int = -1, print_type: bool = False,
               ids: str = "CHAR", done: dict | None = None) -> Any:
    """Print the graph of ``obj`` as a tree; ``file='str'`` returns the text instead.

    For a compiled function, each node also shows its position in the execution order.
    """
    outputs, order, _ = _outputs_of(obj)
    position = {node: i for i, node in enumerate(order)} if order is not None else {}
    names = done if done is not None else {}
    gen = _ids()
    buf = io.StringIO()

    def ident(v: Variable) -> str:
        key = v.owner if v.owner is not None else v
        if key not in names:
            names[key] = next(gen)
        return names[key]

    expanded: set = set()

    def visit(v: Variable, prefix: str, level: int, child_prefix: str = "") -> None:
        label = _label(v)
        tid = ident(v)
        typ = f" <{v.type}>" if print_type else ""
        node = v.owner
        pos = f" {position[node]}" if node in position else ""
        out_idx = f".{v.index}" if node is not None and len(node.outputs) > 1 else ""
        name = f" '{v.name}'" if node is not None and v.name else (" ''" if node is not None else "")
        seen_before = node is not None and node in expanded
        buf.write(f"{prefix}{label}{out_idx} [id {tid}]{name}{typ}{pos}\n")
        if node is None or seen_before or (0 <= depth <= level):
            return
        expanded.add(node)
        # Theano's layout: a child line starts with " |"; the bar continues below a child
        # while it has later siblings
        for k, inp in enumerate(node.inputs):
            last = k == len(node.inputs) - 1
            visit(inp, child_prefix + " |", level + 1, child_prefix + ("  " if last else " |"))
        for inner in node.op.inner_graphs():
            buf.write(f"{child_prefix} > inner graph of {node.op}:\n")
            for o in inner.outputs:
                visit(o, child_prefix + "   >", level + 1, child_prefix + "   >")

    for out in outputs:
        visit(out, "", 0)
    text = buf.getvalue()
    if file == "str":
        return text
    (file or sys.stdout).write(text)
    return obj


def _label(v: Variable) -> str:
    if v.owner is not None:
        return str(v.owner.op)
    if isinstance(v, Constant):
        return str(v)
    return v.name if v.name is not None else f"<{v.type}>"


def pp(obj: Any) -> str:
    """An infix rendering of an expression, e.g. ``((x * y) + exp(x))``."""
    outputs, _, _ = _outputs_of(obj)
    return "\n".join(_pp(o, {}) for o in outputs)


def _pp(v: Variable, memo: dict) -> str:
    if v in memo:
        return memo[v]
    node = v.owner
    if node is None:
        text = str(v)
    else:
        args = [_pp(i, memo) for i in node.inputs]
        fmt = getattr(node.op, "pp_format", None)
        text = fmt(node, args) if fmt is not None else f"{node.op}({', '.join(args)})"
        if len(node.outputs) > 1:
            text = f"{text}[{v.index}]"
    memo[v] = text
    return text


def count_nodes(outputs) -> int:
    return len(toposort(outputs))


def pydotprint(obj: Any, outfile: str | None = None, format: str = "png", **_ignored: Any) -> str:
    """Draw the graph with Graphviz: writes ``outfile`` (default ``symtensor.<format>``) and
    returns its path. ``format='dot'`` writes the Graphviz source and needs no Graphviz."""
    import shutil
    import subprocess
    outputs, _, _ = _outputs_of(obj)
    lines = ["digraph symtensor {", "  rankdir=TB;"]
    names: dict = {}

    def node_id(key: Any) -> str:
        if key not in names:
            names[key] = f"n{len(names)}"
        return names[key]

    def leaf_id(v: Variable) -> str:
        """The id of an ownerless variable, declared (once) as an ellipse."""
        if v not in names:
            lines.append(f'  {node_id(v)} [shape=ellipse, label="{_escape(_label(v))}"];')
        return names[v]

    for node in toposort(outputs):
        nid = node_id(node)
        lines.append(f'  {nid} [shape=box, label="{_escape(str(node.op))}"];')
        for i, inp in enumerate(node.inputs):
            if inp.owner is None:
                lines.append(f"  {leaf_id(inp)} -> {nid};")
            else:
                lines.append(f'  {node_id(inp.owner)} -> {nid} [label="{_escape(str(inp.type))}"];')
    for k, out in enumerate(outputs):
        lines.append(f'  out{k} [shape=plaintext, label="output {k}"];')
        src = node_id(out.owner) if out.owner is not None else leaf_id(out)
        lines.append(f"  {src} -> out{k};")
    lines.append("}")
    source = "\n".join(lines) + "\n"
    outfile = outfile or f"symtensor.{format}"
    if format == "dot":
        with open(outfile, "w") as fh:
            fh.write(source)
        return outfile
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError("pydotprint needs Graphviz's 'dot' program, which was not found on PATH; install "
                           "Graphviz (e.g. the 'graphviz' system package), or pass format='dot' to write the "
                           "graph source only")
    subprocess.run([dot, f"-T{format}", "-o", outfile], input=source.encode(), check=True)
    return outfile


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
