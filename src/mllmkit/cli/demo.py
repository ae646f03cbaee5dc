"""`mllm demo` — the main job on the embedded default world."""

from __future__ import annotations

import typer


def demo_command(
    out: str = typer.Option("runs/demo", help="Output folder (world, training, evaluation)."),
    train_scenes: int = typer.Option(8000, help="Training scenes to generate."),
    test_scenes: int = typer.Option(500, help="Held-out test scenes."),
    seed: int = typer.Option(0, help="Seed for the world."),
    model_seed: int = typer.Option(
        None, help="Seed for the model (default: the training config's `seed`)."
    ),
    config: str = typer.Option(
        None,
        help="Training YAML, or the exact name of a packaged recipe: demo (the default), "
        "demo_long (a second instruct pass, ~1.7x the time), demo_image_first (the image "
        "before the question), demo_spatial (image first, Muon and a stage on the spatial "
        "questions alone, ~1.8x the time). Each YAML's header has its measured figures.",
    ),
    eval_limit: int = typer.Option(None, help="Evaluate only the first N questions."),
    procs: int = typer.Option(
        1,
        min=1,
        help="Data-parallel training processes, each with an even share of OMP_NUM_THREADS "
        "or of the cores (another run than the recorded one; see the README).",
    ),
) -> None:
    """Generate the world, train the default model (vision → align → instruct), evaluate it.

    Re-running resumes: the world is reused, training continues from its newest checkpoint
    and answered questions are not asked again.
    """
    from mllmkit.demo import DemoConfig, config_path, format_table, run_demo

    try:  # a wrong --config fails here, before any world is generated
        config_path(config)
    except FileNotFoundError as exc:
        raise typer.BadParameter(str(exc), param_hint="--config") from exc
    cfg = DemoConfig(
        out=out, train_scenes=train_scenes, test_scenes=test_scenes, seed=seed,
        model_seed=model_seed, config=config, eval_limit=eval_limit, procs=procs,
    )
    result = run_demo(cfg, log=lambda m: typer.echo(m, err=True))
    typer.echo("\nHeld-out world benchmark (short answers):\n")
    typer.echo(format_table(result))
    parts = ", ".join(f"{k} {v:.0f}s" for k, v in result.seconds.items())
    typer.echo(f"\nwall time {result.wall_s:.0f}s ({parts}); model: {result.model_dir}")
    typer.echo(
        f'try: mllm chat --model {result.model_dir} --image IMAGE.png "How many circles?"'
    )
