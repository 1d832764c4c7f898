"""Run the benchmarks and print a table of median times and ratios.

    python -m benchmarks                 # every case
    python -m benchmarks elementwise mlp # some cases

Each case's rows are measured side by side in one process; the ratio column is
(numpy's time) / (this row's time), so > 1 means faster than numpy.
"""
from __future__ import annotations

import sys

from .cases import CASES
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
    rows = []
    for name in names:
        rows.extend(CASES[name]())
        print(f"... {name} done", file=sys.stderr)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
