"""`mllm judge` — use a model as a judge (score | pair | batch) and measure its agreement.

Thin: calls `mllmkit.judge.runner.run_judge` and prints a summary table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from mllmkit.cli.common import http_options, setup_logging


def _print_summary(metrics: dict[str, Any], out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    from mllmkit.judge.report import HEADLINE_NAMES

    table = Table(title=f"mllm judge ({metrics['mode']}) — {metrics['model']}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    value = metrics["headline"]
    table.add_row(HEADLINE_NAMES[metrics["mode"]], "-" if value is None else f"{value:.4f}")
    for key, count in metrics["counts"].items():
        table.add_row(key, str(count))
    for name, result in metrics.get("probes", {}).items():
        if "consistency" in result:
            shown = "-" if result["consistency"] is None else f"{result['consistency']:.4f}"
            table.add_row(f"{name} consistency", shown)
        elif "skipped" in result:
            table.add_row(name, "skipped")
        else:
            table.add_row(f"{name} probe", f"n={result.get('n', 0)} (see report.md)")
    console = Console()
    console.print(table)
    console.print(f"results in {out} (metrics.json, predictions.jsonl, report.md)")


def judge_command(
    judge: str = typer.Option(
        ...,
        "--judge",
        help="Judge model: checkpoint folder, http(s)://URL, replay:FILE or baseline:longer.",
    ),
    mode: str = typer.Option(..., "--mode", help="score, pair or batch."),
    data: Path = typer.Option(..., "--data", help="Judge data file (JSONL, see docs/judge.md)."),
    out: Path = typer.Option(..., "--out", help="Output folder (resumes if it has a cache)."),
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="Requests per batch."),
    limit: int = typer.Option(None, "--limit", min=1, help="Judge the first N items only."),
    probes: str = typer.Option(
        None, "--probes", help="Bias probes, comma-separated: position,verbosity."
    ),
    max_new_tokens: int = typer.Option(
        None, "--max-new-tokens", min=1, help="Tokens the judge may generate per verdict."
    ),
    api_model: str = typer.Option(None, "--api-model", help="HTTP judges: model name."),
    api_key_env: str = typer.Option(
        None, "--api-key-env", help="HTTP judges: env variable holding the API key."
    ),
    concurrency: int = typer.Option(
        None, "--concurrency", min=1, help="HTTP judges: parallel requests."
    ),
    timeout: float = typer.Option(None, "--timeout", help="HTTP judges: seconds per request."),
    constrain: bool = typer.Option(
        True,
        "--constrain/--no-constrain",
        help="Native judges: decode batch rankings so no letter repeats (see docs/judge.md).",
    ),
    score_by: str = typer.Option(
        "text",
        "--score-by",
        help="Score mode: 'text' parses the generated verdict; 'expected' weights the five "
        "scores by the judge's probabilities (native judges; see docs/judge.md).",
    ),
    pointwise: bool = typer.Option(
        False,
        "--pointwise",
        help="Pair and batch: score each answer alone and derive the verdict from the "
        "scores (higher wins, equal ties) instead of asking for it.",
    ),
    answer_first: bool = typer.Option(
        False,
        "--answer-first",
        help="Scores (mode score, or --pointwise): ask the judge to write its own answer "
        "before the score.",
    ),
) -> None:
    """Ask JUDGE for a verdict on every MODE item of DATA; write agreement with the human
    labels, bias probes and a report to OUT.

    Example: `mllm judge --judge runs/judge/model --mode pair --data
    runs/demo/world/test/judge_pair.jsonl --out runs/judge_pair --probes position`.
    Rerunning the same command resumes where it stopped.
    """
    from mllmkit.backends.base import BackendError
    from mllmkit.eval.cache import CacheLockedError
    from mllmkit.judge.runner import DEFAULT_MAX_NEW_TOKENS, open_judge, run_judge

    setup_logging()
    options = http_options(api_model, api_key_env, concurrency, timeout)
    try:
        backend = open_judge(judge, **options)
        metrics = run_judge(
            backend,
            data,
            mode,
            out,
            batch_size=batch_size,
            limit=limit,
            probes=probes,
            max_new_tokens=max_new_tokens or DEFAULT_MAX_NEW_TOKENS,
            constrain=constrain,
            score_by=score_by,
            pointwise=pointwise,
            answer_first=answer_first,
        )
    except (BackendError, CacheLockedError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    _print_summary(metrics, out)
