"""`mllm world ...` — generate and preview the synthetic visual world."""

from __future__ import annotations

import typer

app = typer.Typer(help="Generate and preview the synthetic visual world.", no_args_is_help=True)
