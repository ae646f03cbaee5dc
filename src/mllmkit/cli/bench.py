"""`mllm bench reduce` — visual-token reduction: accuracy, FLOPs, prefill speedup, KV memory.

Thin: calls `mllmkit.infer.reduce.bench.run_reduce_benchmark` (as `benchmarks/reduce.py`
does) and prints the table.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer

app = typer.Typer(no_args_is_help=True, help="Benchmarks.")


@app.command("reduce")
def reduce_command(
    model: Path = typer.Option(None, "--model", help="Trained checkpoint folder (accuracy)."),
    data: Path = typer.Option(None, "--data", help="World benchmark folder (with --model)."),
    out: Path = typer.Option(Path("benchmarks/results"), "--out", help="Results folder."),
    work: Path = typer.Option(
        Path("runs/bench-reduce"), "--work", help="Folder for the per-spec eval runs."
    ),
    specs: str = typer.Option(
        None, "--specs", help="Semicolon-separated reduction specs (default: the full grid)."
    ),
    task: str = typer.Option("world-short", "--task", help="Eval task for accuracy."),
    limit: int = typer.Option(None, "--limit", min=1, help="Rows of the task to use."),
    image_size: int = typer.Option(336, "--image-size", help="Timing model: image pixels."),
    patch_size: int = typer.Option(14, "--patch-size", help="Timing model: patch pixels."),
    width: int = typer.Option(768, "--width", help="Timing model: LM hidden size."),
    layers: int = typer.Option(12, "--layers", help="Timing model: LM layers."),
    repeats: int = typer.Option(5, "--repeats", min=1, help="Timing repeats (median)."),
) -> None:
    """Strategy × budget -> accuracy (abs, % of full), FLOPs %, prefill speedup, KV MB.

    Writes reduce.json, reduce.md and reduce.png to OUT. Without --model only the timing
    part runs (accuracy columns are empty).
    """
    from rich.console import Console

    from mllmkit.infer.reduce.bench import TimingGeometry, run_reduce_benchmark, table

    geo = TimingGeometry(
        image_size=image_size,
        patch_size=patch_size,
        hidden_size=width,
        num_layers=layers,
        num_heads=max(1, width // 64),
        intermediate_size=width * 8 // 3,
        repeats=repeats,
    )
    spec_list = [s.strip() for s in specs.split(";") if s.strip()] if specs else None
    if spec_list and "none" not in spec_list:
        spec_list.insert(0, "none")
    command = "mllm " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        rows = run_reduce_benchmark(
            model,
            data,
            out,
            work,
            specs=spec_list,
            task=task,
            limit=limit,
            geometry=geo,
            command=command,
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    Console().print(table(rows))
    typer.echo(f"results in {out} (reduce.json, reduce.md, reduce.png)")
