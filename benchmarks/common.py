"""Helpers shared by the benchmark scripts: timing, peak FLOP/s, result files."""

from __future__ import annotations

import json
import os
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def command_line() -> str:
    """The command that reproduces this run, as typed from the repository root."""
    script = os.path.relpath(sys.argv[0], Path(__file__).resolve().parent.parent)
    return " ".join(["python", shlex.quote(script), *map(shlex.quote, sys.argv[1:])])


def median_time(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> float:
    """Median wall seconds of `fn()` over `repeats` runs after `warmup` untimed runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def interleaved_median_times(
    fns: dict[str, Callable[[], Any]], repeats: int, warmup: int = 1
) -> dict[str, float]:
    """Median wall seconds of each function, timed in turns (a, b, a, b, ...).

    Why: on a shared 2-core machine the speed drifts over seconds; timing all repeats of
    one implementation and then all of the other lets a slow spell land on one side only,
    while alternating spreads it over both."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {name: statistics.median(ts) for name, ts in times.items()}


def matmul_peak_gflops(n: int = 1024, repeats: int = 10) -> float:
    """This machine's float32 matmul throughput (GFLOP/s) with torch's current threads: the
    faster of MKL's sgemm (`torch.mm`) and oneDNN's matmul (what `mllmkit.models.linear`
    uses for large products), so a step's share of peak is measured against the best
    kernel at hand, not only the slower one."""
    import torch

    from mllmkit.models import linear

    a, b = torch.randn(n, n), torch.randn(n, n)
    t = median_time(lambda: torch.mm(a, b), repeats, warmup=3)
    if linear.onednn_linear_enabled():  # linear(a, b^T) = a @ b, on oneDNN at this size
        t = min(t, median_time(lambda: linear.linear(a, b.t()), repeats, warmup=3))
    return 2 * n**3 / t / 1e9


def write_result(name: str, figures: dict[str, Any], table: str) -> Path:
    """Write `results/<name>.json` (figures + command) and `results/<name>.md` atomically."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {**figures, "command": command_line()}
    out = RESULTS / f"{name}.json"
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, out)
    md = RESULTS / f"{name}.md"
    tmp = md.with_suffix(".md.tmp")
    tmp.write_text(table.rstrip() + f"\n\nReproduce: `{data['command']}`\n")
    os.replace(tmp, md)
    return out
