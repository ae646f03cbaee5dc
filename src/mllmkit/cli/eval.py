"""`mllm eval ...` — evaluate a model on tasks; `mllm eval merge ...` — recombine shards.

Thin: `mllm eval` calls `mllmkit.eval.runner.evaluate`, `mllm eval merge` calls
`mllmkit.eval.merge.merge_runs`; both print a summary table at the end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from mllmkit.cli.common import http_options, setup_logging

app = typer.Typer(invoke_without_command=True, no_args_is_help=False)


def _print_summary(metrics: dict[str, Any], out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    from mllmkit.eval.report import headline

    table = Table(title=f"mllm eval — {metrics.get('model')}")
    for col in ("task", "metric", "value", "n", "bad rows", "errors", "unmatched"):
        table.add_column(col, justify="left" if col in ("task", "metric") else "right")
    for name, task in metrics["tasks"].items():
        key, value = headline(task)
        c = task.get("counts", {})
        shown = "FAILED" if task.get("error") else ("-" if value is None else f"{value:.4f}")
        table.add_row(
            name,
            key,
            shown,
            str(c.get("n", 0)),
            str(c.get("bad_rows", 0)),
            str(c.get("errors", 0)),
            str(c.get("unmatched", 0)),
        )
    console = Console()
    console.print(table)
    console.print(f"results in {out} (metrics.json, predictions.jsonl, report.md)")


@app.callback()
def eval_command(
    ctx: typer.Context,
    model: str = typer.Option(
        None, "--model", help="Checkpoint folder, http(s)://URL, replay:FILE or instant:[TEXT]."
    ),
    tasks: str = typer.Option(
        None, "--tasks", help="Comma-separated built-in task names and/or task YAML files."
    ),
    out: Path = typer.Option(None, "--out", help="Output folder (resumes if it has a cache)."),
    data: Path = typer.Option(None, "--data", help="World benchmark folder for built-in tasks."),
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="Requests per batch."),
    limit: int = typer.Option(None, "--limit", min=1, help="Keep the first N rows per task."),
    shard: str = typer.Option(None, "--shard", help="Evaluate shard i of n, written as i/n."),
    max_new_tokens: int = typer.Option(
        None, "--max-new-tokens", min=1, help="Override every task's max_new_tokens."
    ),
    api_model: str = typer.Option(None, "--api-model", help="HTTP backends: model name."),
    api_key_env: str = typer.Option(
        None, "--api-key-env", help="HTTP backends: env variable holding the API key."
    ),
    concurrency: int = typer.Option(
        None, "--concurrency", min=1, help="HTTP backends: parallel requests."
    ),
    timeout: float = typer.Option(None, "--timeout", help="HTTP backends: seconds per request."),
    reduce: str = typer.Option(
        None,
        "--reduce",
        help="Visual-token reduction spec for checkpoint folders, e.g. "
        "fastv:k=2,r=0.5 (see docs/token-reduction.md).",
    ),
) -> None:
    """Evaluate MODEL on TASKS and write predictions, metrics, a report and charts to OUT.

    Examples: `mllm eval --model runs/demo/model --tasks world-mcq,world-pope-random
    --out runs/eval`; `mllm eval --model replay:preds.jsonl --tasks my_task.yaml --out o`.
    Rerunning the same command resumes; `--shard i/n` + `mllm eval merge` splits work.
    """
    if ctx.invoked_subcommand is not None:
        return
    missing = [
        flag
        for flag, value in (("--model", model), ("--tasks", tasks), ("--out", out))
        if value is None
    ]
    if missing:
        raise typer.BadParameter(f"missing {', '.join(missing)} (see `mllm eval --help`)")
    from mllmkit.backends.base import BackendError
    from mllmkit.backends.registry import open_backend
    from mllmkit.eval.cache import CacheLockedError
    from mllmkit.eval.runner import evaluate
    from mllmkit.eval.task import TaskError

    setup_logging()
    options = http_options(api_model, api_key_env, concurrency, timeout)
    if reduce is not None:
        if not Path(model).is_dir():
            raise typer.BadParameter("--reduce needs a local checkpoint folder as --model")
        options["reduction"] = reduce
    try:
        backend = open_backend(model, **options)
        metrics = evaluate(
            backend,
            tasks,
            out,
            batch_size=batch_size,
            limit=limit,
            shard=shard,
            data_dir=data,
            max_new_tokens=max_new_tokens,
        )
    except (TaskError, BackendError, CacheLockedError, ValueError, TypeError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if reduce is not None:
        from mllmkit.infer.reduce.report import write_reduction_report

        summary = backend.reduction_summary()  # type: ignore[attr-defined]
        write_reduction_report(out, summary)
        metrics["reduction"] = summary
    _print_summary(metrics, out)


@app.command("merge")
def merge_command(
    dirs: list[Path] = typer.Argument(..., help="Output folders of the --shard i/n runs."),
    out: Path = typer.Option(..., "--out", help="Folder for the merged results."),
) -> None:
    """Merge shard folders into one result identical to a single-process run."""
    from mllmkit.eval.merge import MergeError, merge_runs
    from mllmkit.eval.task import TaskError

    setup_logging()
    try:
        metrics = merge_runs(dirs, out)
    except (MergeError, TaskError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    _print_summary(metrics, out)
