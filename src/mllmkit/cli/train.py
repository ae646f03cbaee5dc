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
) -> None:
    """Train a model through the stages of CONFIG; checkpoints resume exactly.

    For more than one process: `torchrun --nproc_per_node 2 -m mllmkit.train CONFIG.yaml`.
    """
    from mllmkit.train.config import ConfigError, TrainConfig
    from mllmkit.train.trainer import train

    try:
        cfg = TrainConfig.from_yaml(config, out=out, data_root=data_root)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from exc
    result = train(cfg, resume=resume, stop_after=stop_after)
    typer.echo(f"model: {result.model_dir}\nmetrics: {result.metrics}")
    if math.isnan(result.final_loss):
        typer.echo("final loss: - (the run had already finished; nothing was trained)")
    else:
        typer.echo(f"final loss: {result.final_loss:.4f}")
