"""`mllm train CONFIG.yaml` — staged training (e.g. vision → align → instruct), exact resume."""

from __future__ import annotations

import math
from pathlib import Path

import typer


def train_command(
    config: Path = typer.Argument(..., exists=True, dir_okay=False, help="Training config (YAML)."),
    out: str = typer.Option(None, help="Output folder (overrides the config's `out`)."),
    data_root: str = typer.Option(None, help="Folder the stages' data paths are relative to."),
    resume: bool = typer.Option(True, help="Continue from the newest checkpoint in the output."),
    stop_after: int = typer.Option(None, help="Stop after this many optimizer steps."),
    procs: int = typer.Option(
        1,
        min=1,
        help="Data-parallel processes on this machine, each with an even share of "
        "OMP_NUM_THREADS or of the cores (every stage's batch must split evenly).",
    ),
) -> None:
    """Train a model through the stages of CONFIG; checkpoints resume exactly.

    More than one process: `--procs 2`, or `torchrun --nproc_per_node 2 -m mllmkit.train
    CONFIG.yaml` (the same data parallelism, launched from the shell).
    """
    from mllmkit.train.config import ConfigError, TrainConfig
    from mllmkit.train.launch import ProcsError, train_processes

    try:
        cfg = TrainConfig.from_yaml(config, out=out, data_root=data_root)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from exc
    try:
        result = train_processes(cfg, procs, resume=resume, stop_after=stop_after)
    except ProcsError as exc:
        raise typer.BadParameter(str(exc), param_hint="--procs") from exc
    typer.echo(f"model: {result.model_dir}\nmetrics: {result.metrics}")
    if math.isnan(result.final_loss):
        typer.echo("final loss: - (the run had already finished; nothing was trained)")
    else:
        typer.echo(f"final loss: {result.final_loss:.4f}")
