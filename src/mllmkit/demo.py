"""The main job: world → tokenizer → training stages → held-out evaluation per ability.

`mllm demo` runs it end to end on a CPU. Every step is resumable: an existing world with
the same settings is reused, training continues from its newest checkpoint, and the
evaluation cache skips answered questions — so re-running after a crash loses nothing.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mllmkit.train.config import TrainConfig
    from mllmkit.world.config import WorldConfig

ABILITIES = (
    "existence", "count", "color", "shape", "size", "spatial", "position", "text", "multi_image",
)


@dataclass
class DemoConfig:
    """What the demo does; defaults are the recorded benchmark settings."""

    out: str = "runs/demo"
    train_scenes: int = 8000
    test_scenes: int = 500
    seed: int = 0  # the world's
    model_seed: int | None = None  # None: the training config's own `seed`
    config: str | None = None  # YAML path or packaged recipe name (`config_path`); None: demo
    eval_batch_size: int = 64
    eval_limit: int | None = None
    workers: int = 2
    # data-parallel training processes (`train.launch`). 1 by default: the recorded figures
    # come from one process, and two sum gradients in another order, which is another run
    # (see the config's header on how far runs of one recipe differ)
    procs: int = 1


@dataclass
class DemoResult:
    """Figures of a demo run (also written to `<out>/demo_summary.json`)."""

    wall_s: float
    accuracy: dict[str, float]
    chance: dict[str, float]
    majority: dict[str, float]
    n: dict[str, int]
    model_dir: str
    seconds: dict[str, float] = field(default_factory=dict)
    procs: int = 1  # training processes


def default_config_path() -> Path:
    """The packaged demo training config (`configs/demo.yaml` in the repository)."""
    return Path(str(resources.files("mllmkit") / "configs" / "demo.yaml"))


def packaged_configs() -> dict[str, Path]:
    """The training configs shipped with mllmkit, by name (`demo`, `demo_long`, ...)."""
    root = resources.files("mllmkit") / "configs"
    return {
        p.name.removesuffix(".yaml"): Path(str(p))
        for p in root.iterdir()
        if p.name.endswith(".yaml")
    }


def config_path(config: str | None) -> Path:
    """The training YAML a demo runs: `None` is the default recipe, an existing file is used
    as given, and otherwise the exact name of a packaged config (`demo_long`), so the
    recipes work from an installed package where the repository's `configs/` is absent."""
    if config is None:
        return default_config_path()
    path = Path(config)
    if path.is_file():
        return path
    packaged = packaged_configs()
    if config in packaged:
        return packaged[config]
    raise FileNotFoundError(
        f"training config {config!r}: no such file, and not a packaged config "
        f"(packaged: {', '.join(sorted(packaged))})"
    )


def training_config(cfg: DemoConfig) -> TrainConfig:
    """The training config the demo runs: its YAML with the run's folders, and the model
    seed only where `model_seed` asks (the world's seed is separate, so one world can serve
    several model seeds and a model seed is read from the config like any other choice)."""
    from mllmkit.train.config import TrainConfig

    out = Path(cfg.out)
    tcfg = TrainConfig.from_yaml(
        config_path(cfg.config), out=str(out / "train"), data_root=str(out / "world")
    )
    if cfg.model_seed is not None:
        tcfg.seed = cfg.model_seed
    return tcfg


def _world_matches(world: Path, cfg: DemoConfig, expected: WorldConfig) -> bool:
    """Whether ``world`` was written with these scene counts, seed and every world knob
    (a world from other settings is regenerated, never silently reused)."""
    from mllmkit.world.config import WorldConfig

    meta = world / "world.json"
    if not meta.is_file():
        return False
    info = json.loads(meta.read_text())
    try:
        written = WorldConfig.from_dict(info.get("config", {}))
    except (TypeError, ValueError):
        return False
    return (
        info.get("seed") == cfg.seed
        and info.get("n_train") == cfg.train_scenes
        and info.get("n_test") == cfg.test_scenes
        and written == expected
    )


def _model_image_size(tcfg: TrainConfig) -> int:
    """The vision tower's input side: the world is rendered at exactly that size, so the
    3x3 grid's cells line up with patch boundaries and nothing is resampled. A config that
    starts from a checkpoint (`init_from`) takes the checkpoint's size."""
    from mllmkit.models.config import VisionConfig
    from mllmkit.models.io import read_config

    if tcfg.init_from:
        return read_config(tcfg.init_from).vision.image_size
    return VisionConfig.from_dict(tcfg.model.get("vision", {})).image_size


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def baselines(world: Path) -> tuple[dict[str, float], dict[str, float], dict[str, int]]:
    """Chance and majority-class accuracy per ability on the short-answer test questions.

    Majority: always answer the most frequent *training* answer of that ability (so the
    baseline knows nothing about the test set). Chance: 1 / number of distinct answers the
    ability can take (its answer space as observed over both splits).
    """
    train = [q for q in _read_jsonl(world / "train" / "questions.jsonl") if q["format"] == "short"]
    test = [q for q in _read_jsonl(world / "test" / "questions.jsonl") if q["format"] == "short"]
    by_train: dict[str, Counter[str]] = defaultdict(Counter)
    space: dict[str, set[str]] = defaultdict(set)
    for q in train:
        by_train[q["ability"]][q["answer"]] += 1
        space[q["ability"]].add(q["answer"])
    by_test: dict[str, list[str]] = defaultdict(list)
    for q in test:
        by_test[q["ability"]].append(q["answer"])
        space[q["ability"]].add(q["answer"])
    chance, majority, n = {}, {}, {}
    for ability, answers in by_test.items():
        top = by_train[ability].most_common(1)[0][0] if by_train[ability] else None
        majority[ability] = sum(a == top for a in answers) / len(answers)
        chance[ability] = 1.0 / max(1, len(space[ability]))
        n[ability] = len(answers)
    return chance, majority, n


def format_table(result: DemoResult) -> str:
    """Markdown table: ability, accuracy, chance, majority baseline, questions."""
    lines = [
        "| ability | accuracy | chance | majority | questions |",
        "|---|---:|---:|---:|---:|",
    ]
    for a in ABILITIES:
        if a in result.accuracy:
            lines.append(
                f"| {a} | {100 * result.accuracy[a]:.1f}% | {100 * result.chance[a]:.1f}% | "
                f"{100 * result.majority[a]:.1f}% | {result.n[a]} |"
            )
    return "\n".join(lines)


def run_demo(cfg: DemoConfig, *, progress: bool | None = None, log: Any = print) -> DemoResult:
    """Generate the world, train the default model, evaluate it per ability."""
    from mllmkit.eval.runner import evaluate
    from mllmkit.train.launch import train_processes
    from mllmkit.world.config import WorldConfig
    from mllmkit.world.generate import generate_world

    t0 = time.perf_counter()
    seconds: dict[str, float] = {}
    out = Path(cfg.out)
    world = out / "world"
    yaml_path = config_path(cfg.config)
    tcfg = training_config(cfg)
    image_size = _model_image_size(tcfg)
    world_cfg = WorldConfig(image_size=image_size)
    # a world written by an older mllmkit can match every knob yet lack a file a stage
    # reads (the per-ability `train/instruct_<ability>.jsonl`): regenerate it then
    missing = [p for p in tcfg.data_files() if not p.is_file()]
    if missing and world.is_dir():
        log(f"world: {missing[0]} is missing (an older world?); regenerating it")
    if not missing and _world_matches(world, cfg, world_cfg):
        log(f"[1/3] world: reusing {world}")
    else:
        log(
            f"[1/3] world: generating {cfg.train_scenes} train + {cfg.test_scenes} test scenes "
            f"at {image_size}px"
        )
        generate_world(
            world, cfg.train_scenes, cfg.test_scenes, cfg.seed, config=world_cfg,
            workers=cfg.workers, progress=bool(progress),
        )
    seconds["world"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    procs = cfg.procs
    log(
        f"[2/3] training ({yaml_path.name}): stages {[s.name for s in tcfg.stages]}, "
        f"{procs} process{'es' if procs > 1 else ''}"
    )
    result = train_processes(tcfg, procs, resume=True, progress=progress)
    seconds["train"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    log("[3/3] evaluating on the held-out world (short answers)")
    metrics = evaluate(
        str(result.model_dir), "world-short", out / "eval", batch_size=cfg.eval_batch_size,
        limit=cfg.eval_limit, data_dir=world, progress=progress,
    )
    seconds["eval"] = time.perf_counter() - t2
    task = metrics["tasks"]["world-short"]
    unanswered = int(task["counts"].get("errors", 0))  # backend errors and missing answers
    if unanswered:
        log(
            f"warning: {unanswered} of {task['counts']['n']} questions got no answer (see "
            f"{out / 'eval' / 'cache.jsonl'}) and count as wrong; rerun to retry them"
        )
    per_cat = task["metrics"]["vqa"]["per_category"]
    accuracy = {a: float(v["accuracy"]) for a, v in per_cat.items()}
    chance, majority, n = baselines(world)
    res = DemoResult(
        wall_s=time.perf_counter() - t0,
        accuracy=accuracy,
        chance=chance,
        majority=majority,
        n={a: int(per_cat[a].get("n", n.get(a, 0))) for a in per_cat},
        model_dir=str(result.model_dir),
        seconds=seconds,
        procs=procs,
    )
    summary = out / "demo_summary.json"
    tmp = summary.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(res), indent=2) + "\n")
    os.replace(tmp, summary)
    return res
