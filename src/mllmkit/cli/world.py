"""`mllm world ...` — generate and preview the synthetic visual world."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(help="Generate and preview the synthetic visual world.", no_args_is_help=True)


def _fail(message: str) -> None:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code=1)


@app.command("generate")
def generate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the dataset to.")],
    train: Annotated[int, typer.Option("--train", help="Number of training scenes.")],
    test: Annotated[int, typer.Option("--test", help="Number of test scenes.")],
    seed: Annotated[int, typer.Option("--seed", help="Seed of every random choice.")],
    image_size: Annotated[
        Optional[int],  # noqa: UP045 (typer reads the annotation at run time)
        typer.Option("--image-size", help="Image side in pixels (64; 384 with --high-res)."),
    ] = None,
    abilities: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--abilities", help="Comma-separated abilities to generate (default: all)."),
    ] = None,
    max_objects: Annotated[int, typer.Option("--max-objects", help="Objects per scene, 1..N.")] = 6,
    train_multi_image_fraction: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(
            "--train-multi-image-fraction",
            help="Share of training scenes that also get a two-image conversation "
            "(default: the test split's 0.25; the test split is unchanged either way).",
        ),
    ] = None,
    high_res: Annotated[
        bool, typer.Option("--high-res", help="Large images with small objects (zoom/crop work).")
    ] = False,
    workers: Annotated[int, typer.Option("--workers", help="Processes that render images.")] = 2,
) -> None:
    """Write a world dataset (images, questions, LLaVA rows, benchmark TSVs) to --out."""
    from rich.console import Console
    from rich.table import Table

    from mllmkit.world.config import WorldConfig
    from mllmkit.world.generate import generate_world

    names = [a.strip() for a in abilities.split(",") if a.strip()] if abilities else None
    try:
        base = WorldConfig.high_res() if high_res else WorldConfig()
        config = WorldConfig.from_dict(
            {
                **base.to_dict(),
                "max_objects": max_objects,
                "train_multi_image_fraction": train_multi_image_fraction,
            }
        )
        summary = generate_world(
            out,
            train,
            test,
            seed,
            image_size=image_size,
            abilities=names,
            config=config,
            workers=workers,
        )
    except ValueError as e:
        _fail(str(e))
        return
    table = Table(title=f"world written to {summary.out}")
    table.add_column("file")
    table.add_column("rows", justify="right")
    for name, rows in summary.files.items():
        table.add_row(name, str(rows))
    console = Console()
    console.print(table)
    console.print(
        f"{summary.examples} training conversations from {summary.n_train} scenes, "
        f"{summary.n_test} test scenes ({summary.resampled_test_scenes} resampled to "
        f"avoid train/test overlap), {summary.seconds:.1f} s"
    )


@app.command("preview")
def preview(
    data: Annotated[Path, typer.Option("--data", help="A folder written by `world generate`.")],
    out: Annotated[Path, typer.Option("--out", help="PNG file to write.")],
    split: Annotated[str, typer.Option("--split", help="train or test.")] = "test",
    n: Annotated[int, typer.Option("--n", help="Number of scenes to show.")] = 16,
) -> None:
    """Write a PNG contact sheet: images, captions and a few questions per scene."""
    from mllmkit.world.preview import make_preview

    if split not in ("train", "test"):
        _fail(f"--split must be train or test, got {split!r}")
    try:
        path = make_preview(data, out, split=split, n=n)
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))
        return
    typer.echo(f"preview written to {path}")


@app.command("judge-data")
def judge_data(
    data: Annotated[Path, typer.Option("--data", help="A folder written by `world generate`.")],
    per_question: Annotated[
        int, typer.Option("--per-question", help="Items of each mode per test question.")
    ] = 1,
    train_per_question: Annotated[
        int,
        typer.Option("--train-per-question", help="Tuning rows of each mode per train question."),
    ] = 1,
    tie_fraction: Annotated[
        float, typer.Option("--tie-fraction", help="Share of pairs that are ties.")
    ] = 0.1,
    batch_answers: Annotated[
        int, typer.Option("--batch-answers", help="Answers per batch-ranking item (2..5).")
    ] = 3,
    seed: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--seed", help="Seed of every random choice (default: the world's)."),
    ] = None,
    swap_train_pairs: Annotated[
        bool,
        typer.Option(
            "--swap-train-pairs/--no-swap-train-pairs",
            help="Tune on every training pair in both orders (the test set is never swapped).",
        ),
    ] = True,
    train_modes: Annotated[
        str,
        typer.Option(
            "--train-modes",
            help="Comma-separated modes whose items become tuning rows "
            "(score only for a judge used pointwise).",
        ),
    ] = "score,pair,batch",
    answer_first_scores: Annotated[
        bool,
        typer.Option(
            "--answer-first-scores/--no-answer-first-scores",
            help="Score rows teach the judge to state the true answer before the score "
            "(judge with `mllm judge --answer-first`).",
        ),
    ] = False,
) -> None:
    """Add judge data to a world: a held-out judge benchmark (test/judge_*.jsonl) and
    judge-tuning conversations (train/judge_train.jsonl), labelled from the truth."""
    from mllmkit.world.judge_data import JudgeDataConfig, make_judge_data

    try:
        config = JudgeDataConfig(
            per_question=per_question,
            train_per_question=train_per_question,
            tie_fraction=tie_fraction,
            batch_answers=batch_answers,
            seed=seed,
            swap_train_pairs=swap_train_pairs,
            train_modes=tuple(m.strip() for m in train_modes.split(",") if m.strip()),
            answer_first_scores=answer_first_scores,
        )
        counts = make_judge_data(data, config)
    except ValueError as e:
        _fail(str(e))
        return
    for name, rows in counts.items():
        typer.echo(f"{data / name}: {rows} rows")
