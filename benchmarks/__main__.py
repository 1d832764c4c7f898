"""Run the benchmarks and print a table of median times and ratios.

    python -m benchmarks                 # every case
    python -m benchmarks elementwise mlp # some cases

Each case's rows are measured in one process; the ratio column is (numpy's time) / (this row's
time), so > 1 means faster than numpy. symtensor and numpy are measured first, for every case,
and the installed peers (PyTensor, JAX, PyTorch) afterwards: a peer's thread pool keeps slowing
the measurements that follow it in the same process (after JAX's MLP step ran here, symtensor's
took 0.70 ms instead of 0.34 ms, and 0.54 ms two seconds later).
"""
from __future__ import annotations

import sys

from .cases import CASES
from .peers import PEERS
from .timing import fmt


def table(rows: list) -> str:
    out = ["| case | implementation | median per call | vs numpy |", "| --- | --- | ---: | ---: |"]
    numpy_time = {}
    for case, impl, t in rows:
        if impl.startswith("numpy"):
            numpy_time[case] = t
    for case, impl, t in rows:
        base = numpy_time.get(case)
        ratio = f"{base / t:.2f}x" if base and t else "-"
        out.append(f"| {case} | {impl} | {fmt(t)} | {ratio} |")
    return "\n".join(out)


def main(argv: list) -> int:
    names = argv or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        print(f"unknown case(s) {unknown}; choose from {list(CASES)}", file=sys.stderr)
        return 2
    own: dict = {}
    PEERS["enabled"] = False
    for name in names:
        own[name] = CASES[name]()
        print(f"... {name} done (symtensor, numpy)", file=sys.stderr)
    PEERS["enabled"] = True
    rows = []
    for name in names:
        peers = [r for r in CASES[name]() if not r[1].startswith(("symtensor", "numpy", "one copy"))]
        print(f"... {name} done (peers)", file=sys.stderr)
        rows.extend(own[name] + peers)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
