"""`mllm convert` — Hugging Face LLaVA folder ↔ native mllmkit checkpoint folder."""

from __future__ import annotations

from pathlib import Path

import typer


def convert_command(
    out: Path = typer.Option(..., "--out", help="Folder to write (created if needed)."),
    from_hf: Path = typer.Option(
        None, "--from-hf", file_okay=False, help="Import this Hugging Face LLaVA folder."
    ),
    to_hf: Path = typer.Option(
        None, "--to-hf", file_okay=False, help="Export this native checkpoint folder."
    ),
) -> None:
    """Convert between Hugging Face LLaVA (CLIP + Llama/Qwen2) and mllmkit checkpoints.

    Exactly one of --from-hf HF_DIR or --to-hf DIR. Nothing is downloaded.
    """
    if (from_hf is None) == (to_hf is None):
        raise typer.BadParameter("give exactly one of --from-hf HF_DIR or --to-hf DIR")
    source = from_hf if from_hf is not None else to_hf
    assert source is not None
    if not source.is_dir():
        raise typer.BadParameter(f"{source}: not a folder")
    from mllmkit.convert.errors import ConversionError
    from mllmkit.data.errors import DataError
    from mllmkit.models.io import CheckpointError

    try:
        if from_hf is not None:
            from mllmkit.convert.from_hf import convert_from_hf

            written = convert_from_hf(from_hf, out)
        else:
            from mllmkit.convert.to_hf import convert_to_hf

            written = convert_to_hf(to_hf, out)
    except (ConversionError, CheckpointError, DataError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {written}")
