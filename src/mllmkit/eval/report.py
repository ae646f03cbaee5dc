"""Write an evaluation's results: `predictions.jsonl`, `metrics.json`, `report.md`, charts.

Every file is written atomically (temp file + rename), so a crash while reporting never
leaves a truncated report next to a complete cache; rerunning rewrites them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mllmkit.eval.atomic import atomic_write, atomic_write_text

if TYPE_CHECKING:
    from mllmkit.eval.runner import TaskResult

_COUNT_COLUMNS = ("n", "bad_rows", "errors", "unmatched", "empty")


def headline(task: dict[str, Any]) -> tuple[str, float | None]:
    """(`metric/key`, value) a summary shows for a task: the first metric's headline."""
    for name, result in task.get("metrics", {}).items():
        key = result.get("headline")
        value = result.get("overall", {}).get(key)
        return f"{name}/{key}", value
    return "-", None


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _md_table(header: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(v: Any) -> str:
        return _fmt(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


def render_markdown(metrics: dict[str, Any]) -> str:
    """The human report: a summary table, then per task its metrics and categories."""
    lines = ["# Evaluation report", "", f"Model: `{metrics.get('model')}`", ""]
    if metrics.get("shard"):
        lines += [f"Shard: {metrics['shard']} (partial results; merge the shards)", ""]
    summary = []
    for name, task in metrics["tasks"].items():
        key, value = headline(task)
        counts = task.get("counts", {})
        summary.append([name, key, value, *(counts.get(c, 0) for c in _COUNT_COLUMNS)])
    lines += [*_md_table(["task", "metric", "value", *_COUNT_COLUMNS], summary), ""]
    for name, task in metrics["tasks"].items():
        lines += [f"## {name}", ""]
        if task.get("error"):
            lines += [f"**Task failed:** {task['error']}", ""]
            continue
        for metric, result in task.get("metrics", {}).items():
            lines += [f"### {metric}", ""]
            if result.get("error"):
                lines += [f"**Metric failed:** {result['error']}", ""]
                continue
            overall = result.get("overall", {})
            lines += [*_md_table(list(overall), [list(overall.values())]), ""]
            per_cat = result.get("per_category", {})
            if per_cat:
                first = next(iter(per_cat.values()))
                keys = [k for k, v in first.items() if not isinstance(v, dict | list)]
                rows = [[cat, *(vals.get(k) for k in keys)] for cat, vals in per_cat.items()]
                lines += [*_md_table(["category", *keys], rows), ""]
        issues = task.get("issues", [])
        if issues:
            lines += ["### Issues", ""]
            lines += [f"- {_fmt(msg)}" for msg in issues[:20]]
            if len(issues) > 20:
                lines.append(f"- ... {len(issues) - 20} more in metrics.json")
            lines.append("")
    return "\n".join(lines)


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def write_chart(path: Path, name: str, task: dict[str, Any]) -> bool:
    """Bar chart of the headline metric per category; False when there is nothing to plot."""
    metrics = task.get("metrics", {})
    if not metrics:
        return False
    metric, result = next(iter(metrics.items()))
    key = result.get("headline")
    per_cat = result.get("per_category", {})
    bars = {c: v.get(key) for c, v in per_cat.items() if isinstance(v.get(key), int | float)}
    overall = result.get("overall", {}).get(key)
    if isinstance(overall, int | float):
        bars = {"(all)": overall, **bars}
    if not bars:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Fixed margins instead of tight_layout(): same look for short labels, half the cost.
    fig = plt.figure(figsize=(max(4.0, 0.6 * len(bars) + 2), 3.6), dpi=90)
    ax = fig.add_axes((0.12, 0.3, 0.84, 0.6))
    ax.bar(list(bars), list(bars.values()), color="#4C72B0")
    ax.set_title(f"{name}: {metric}/{key}", fontsize=10)
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    atomic_write(path, lambda fh: fig.savefig(fh, format="png"))
    plt.close(fig)
    return True


def write_outputs(out: Path, results: list[TaskResult], info: dict[str, Any]) -> dict[str, Any]:
    """Write all reports to `out` and return the `metrics.json` content."""
    lines = [json.dumps(p.to_json(), ensure_ascii=False) for r in results for p in r.predictions]
    atomic_write_text(out / "predictions.jsonl", "".join(line + "\n" for line in lines))
    metrics = {
        "model": info.get("model"),
        "model_fingerprint": info.get("model_fingerprint"),
        "shard": info.get("shard"),
        "limit": info.get("limit"),
        "tasks": {r.spec.name: r.to_json() for r in results},
    }
    text = json.dumps(metrics, indent=2, ensure_ascii=False) + "\n"
    atomic_write_text(out / "metrics.json", text)
    atomic_write_text(out / "report.md", render_markdown(metrics) + "\n")
    for name, task in metrics["tasks"].items():
        write_chart(out / f"chart_{_safe_name(name)}.png", name, task)
    return metrics
