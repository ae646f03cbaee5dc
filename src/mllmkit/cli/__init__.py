"""The `mllm` command. Thin: every verb calls one library function.

Each verb lives in its own module and is registered here explicitly. Heavy imports
(torch, transformers) happen inside the commands, so `mllm --help` is instant.
"""

from __future__ import annotations

import typer

from mllmkit.cli import world as _world

app = typer.Typer(
    name="mllm",
    help="mllmkit: build, train, accelerate, evaluate and judge multimodal LLMs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.add_typer(_world.app, name="world")


def main() -> None:
    """Console-script entry point."""
    app()
