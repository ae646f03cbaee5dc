"""`mllm chat --model DIR --image X.png "question"` — ask a model about images."""

from __future__ import annotations

from pathlib import Path

import typer


def chat_command(
    question: str = typer.Argument(..., help="The question (text)."),
    model: str = typer.Option(..., "--model", help="Model folder, http(s) URL or replay:FILE."),
    image: list[Path] = typer.Option(
        [], "--image", exists=True, dir_okay=False, help="Image file (repeat for several)."
    ),
    max_new_tokens: int = typer.Option(64, help="Most tokens to generate."),
    temperature: float = typer.Option(0.0, help="0 = greedy."),
    top_p: float = typer.Option(1.0, help="Nucleus sampling mass."),
    seed: int = typer.Option(0, help="Sampling seed."),
) -> None:
    """Answer QUESTION about the given images with any backend (images come first)."""
    from mllmkit.backends.base import GenerationArgs, ImagePart, Message, Request, TextPart
    from mllmkit.backends.registry import open_backend
    from mllmkit.data.images import load_image

    backend = open_backend(model)
    parts = [ImagePart(load_image(p)) for p in image]
    request = Request(
        messages=[Message("user", [*parts, TextPart(question)])],
        gen=GenerationArgs(max_new_tokens, temperature, top_p, (), seed),
    )
    response = backend.generate([request])[0]
    if response.error:
        typer.echo(f"error: {response.error}", err=True)
        raise typer.Exit(1)
    typer.echo(response.text)
