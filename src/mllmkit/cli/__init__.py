"""The `mllm` command. Thin: every verb calls one library function.

Each verb lives in its own module and is registered here explicitly. Heavy imports
(torch, transformers) happen inside the commands, so `mllm --help` is instant.
"""

from __future__ import annotations

import typer

from mllmkit.cli import bench as _bench
from mllmkit.cli import chat as _chat
from mllmkit.cli import convert as _convert
from mllmkit.cli import demo as _demo
from mllmkit.cli import eval as _eval
from mllmkit.cli import judge as _judge
from mllmkit.cli import serve as _serve
from mllmkit.cli import train as _train
from mllmkit.cli import world as _world

app = typer.Typer(
    name="mllm",
    help="mllmkit: build, train, accelerate, evaluate and judge multimodal LLMs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.add_typer(_world.app, name="world")
app.command("train")(_train.train_command)
app.command("chat")(_chat.chat_command)
app.command("demo")(_demo.demo_command)
app.add_typer(_eval.app, name="eval")
app.command("judge")(_judge.judge_command)
app.command("serve")(_serve.serve_command)
app.add_typer(_bench.app, name="bench")
app.command("convert")(_convert.convert_command)


def main() -> None:
    """Console-script entry point."""
    app()
