"""Add a run's token-reduction accounting to an evaluation's output folder."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def atomic_write(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and `os.replace`: a crash never
    leaves a half-written file under the real name."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_reduction_report(out: Path, summary: dict[str, Any]) -> None:
    """Write `reduction.json`, add it under `"reduction"` in `metrics.json` and append a
    section to `report.md` (the files `mllm eval` just wrote)."""
    atomic_write(out / "reduction.json", json.dumps(summary, indent=2) + "\n")
    metrics_path = out / "metrics.json"
    if metrics_path.is_file():
        metrics = json.loads(metrics_path.read_text())
        metrics["reduction"] = summary
        atomic_write(metrics_path, json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")
    report = out / "report.md"
    if report.is_file():
        lines = [
            "",
            "## Token reduction",
            "",
            f"Strategy `{summary['strategy']}` over {summary['requests']} request(s) run in "
            "this process (analytic, per request, mean; see docs/token-reduction.md).",
            "",
        ]
        if summary.get("requests"):
            lines += [
                "| prefill GFLOPs | full GFLOPs | FLOPs % | KV MB | full KV MB |",
                "| ---: | ---: | ---: | ---: | ---: |",
                f"| {summary['mean_prefill_flops'] / 1e9:.4f} "
                f"| {summary['mean_full_prefill_flops'] / 1e9:.4f} "
                f"| {summary['flops_pct']:.1f} | {summary['mean_kv_mb']:.3f} "
                f"| {summary['mean_full_kv_mb']:.3f} |",
            ]
        atomic_write(report, report.read_text().rstrip("\n") + "\n" + "\n".join(lines) + "\n")
