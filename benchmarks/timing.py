"""Timing helpers: medians of repeated runs, taken side by side in one process."""
from __future__ import annotations

import statistics
import time
from typing import Callable


def median_time(fn: Callable[[], object], repeat: int = 15, number: int | None = None,
                budget_s: float = 1.0) -> float:
    """Median seconds per call of ``fn`` over ``repeat`` rounds of ``number`` calls each.

    ``number`` defaults to as many calls as fit in about 20 ms, so fast calls are not measured
    below the clock's resolution; the total time spent stays near ``budget_s``."""
    fn()  # warm up (first-call costs are not per-call costs)
    if number is None:
        t0 = time.perf_counter()
        fn()
        one = max(time.perf_counter() - t0, 1e-7)
        number = max(1, int(0.02 / one))
        repeat = max(3, min(repeat, int(budget_s / (one * number)) or 3))
    rounds = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        rounds.append((time.perf_counter() - t0) / number)
    return statistics.median(rounds)


def fmt(seconds: float | None) -> str:
    """A time with a unit that keeps three significant digits."""
    if seconds is None:
        return "-"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.2f} us"
