"""`generate_world`: sample, render and write a whole dataset folder.

Order of work: sample every scene (cheap, one process), make the test split leak-free
against the training keys, start rendering images in worker processes, assemble all
question/caption records in this process meanwhile (in scene order, see
`world.assemble`), write the text files, wait for the images, and write `world.json`
last — its presence marks a finished dataset. Output bytes do not depend on the
number of workers.
"""

from __future__ import annotations

import multiprocessing
import shutil
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from mllmkit.world.assemble import (
    MCQ_COLUMNS,
    TSV_COLUMNS,
    image_rel,
    scene_records,
    test_records,
    train_records,
)
from mllmkit.world.config import WorldConfig
from mllmkit.world.pope import CategoryStats
from mllmkit.world.questions import resolve_abilities
from mllmkit.world.render import png_bytes, render_scene
from mllmkit.world.sample import sample_scene, scene_id, stream_rng
from mllmkit.world.scene import Scene
from mllmkit.world.writers import atomic_write_bytes, write_json, write_jsonl, write_tsv

FORMAT_VERSION = 1
#: Resampling attempts for one test scene before giving up (the key space is too small).
MAX_ATTEMPTS = 1000
#: Below this many images, a worker pool costs more than it saves.
_MIN_PARALLEL = 256
#: Images per task sent to a worker (small enough to keep both workers busy).
_CHUNK = 128


@dataclass(frozen=True)
class Summary:
    """What `generate_world` wrote."""

    out: Path
    n_train: int
    n_test: int
    resampled_test_scenes: int
    files: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def examples(self) -> int:
        """Training conversation rows (``align.jsonl`` + ``instruct.jsonl``)."""
        return self.files.get("train/align.jsonl", 0) + self.files.get("train/instruct.jsonl", 0)


def sample_split(
    seed: int, split: str, n: int, cfg: WorldConfig, exclude: Iterable[str] = ()
) -> tuple[list[Scene], int]:
    """Scenes ``0..n-1`` of a split, and how many had to be resampled.

    A scene whose `Scene.key` is in ``exclude`` is redrawn from the next sub-stream of
    its own seed, so the result is deterministic and each scene still independent.
    """
    excluded = set(exclude)
    scenes: list[Scene] = []
    resampled = 0
    for i in range(n):
        for attempt in range(MAX_ATTEMPTS):
            scene = sample_scene(stream_rng(seed, split, i, "scene", attempt), cfg, scene_id(i))
            if scene.key() not in excluded:
                break
        else:
            raise ValueError(
                f"{split} scene {i}: no scene outside the excluded set after {MAX_ATTEMPTS} "
                "attempts; the world is too small for this many scenes — raise max_objects "
                "or sign_prob, or generate fewer scenes"
            )
        resampled += attempt > 0
        scenes.append(scene)
    return scenes, resampled


def _render_chunk(cfg_dict: dict[str, Any], folder: str, scenes: list[dict[str, Any]]) -> int:
    """Worker: render and write the PNGs of a chunk of scenes."""
    cfg = WorldConfig.from_dict(cfg_dict)
    for d in scenes:
        scene = Scene.from_dict(d)
        atomic_write_bytes(Path(folder) / image_rel(scene), png_bytes(render_scene(scene, cfg)))
    return len(scenes)


_OURS = ("train", "test", "world.json")


def _prepare(out: Path) -> None:
    """Make ``out`` ready: empty, or a world folder whose splits are replaced.

    A folder with other content and no ``world.json`` is refused, so a wrong ``--out``
    never deletes someone's files; files next to a world (a preview PNG) are kept.
    """
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a folder")
    if out.is_dir():
        entries = {p.name for p in out.iterdir()}
        if entries and "world.json" not in entries and not entries <= set(_OURS):
            raise ValueError(
                f"{out}: folder is not empty and holds no world.json; refusing to write a "
                "world into it (choose a new or empty folder)"
            )
        for name in _OURS:
            path = out / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    for split in ("train", "test"):
        (out / split / "images").mkdir(parents=True, exist_ok=True)


def generate_world(
    out: str | Path,
    n_train: int,
    n_test: int,
    seed: int,
    image_size: int | None = None,
    abilities: Sequence[str] | None = None,
    *,
    config: WorldConfig | None = None,
    high_res: bool = False,
    workers: int = 2,
    progress: bool = True,
) -> Summary:
    """Write a world dataset of ``n_train`` training and ``n_test`` test *scenes*.

    ``config`` gives every knob (default `WorldConfig()`, or `WorldConfig.high_res()`
    with ``high_res``); ``image_size``, when given, overrides its image size.
    ``abilities`` restricts the question abilities (default: all). An existing world
    in ``out`` is replaced; a non-empty folder that is not a world is refused.
    """
    start = time.perf_counter()
    if n_train < 0 or n_test < 0:
        raise ValueError(f"scene counts must be non-negative, got train={n_train} test={n_test}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    cfg = config or (WorldConfig.high_res() if high_res else WorldConfig())
    if image_size is not None:
        cfg = WorldConfig.from_dict({**cfg.to_dict(), "image_size": image_size})
    names = resolve_abilities(abilities)
    out = Path(out)
    _prepare(out)

    train, _ = sample_split(seed, "train", n_train, cfg)
    test, resampled = sample_split(seed, "test", n_test, cfg, exclude={s.key() for s in train})

    pool = _pool(workers, n_train + n_test)
    try:
        with Progress(console=Console(stderr=True), transient=True, disable=not progress) as bar:
            rendering = _start_rendering(pool, out, cfg, [("train", train), ("test", test)])
            files = _write_text_files(out, train, test, seed, cfg, names, bar)
            images = bar.add_task("images", total=n_train + n_test)
            for done in rendering:
                bar.advance(images, done.result())
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    files["train/images"] = n_train
    files["test/images"] = n_test
    files = dict(sorted(files.items()))

    write_json(
        out / "world.json",
        {
            "format_version": FORMAT_VERSION,
            "seed": seed,
            "n_train": n_train,
            "n_test": n_test,
            "abilities": list(names),
            "resampled_test_scenes": resampled,
            "config": cfg.to_dict(),
            "counts": files,
        },
    )
    return Summary(out, n_train, n_test, resampled, files, time.perf_counter() - start)


def _write_text_files(
    out: Path,
    train: list[Scene],
    test: list[Scene],
    seed: int,
    cfg: WorldConfig,
    abilities: Sequence[str],
    bar: Progress,
) -> dict[str, int]:
    """Every JSONL/TSV file of both splits; returns rows per file."""
    task = bar.add_task("questions", total=len(train) + len(test))

    def tick() -> None:
        bar.advance(task)

    files = {"train/scenes.jsonl": write_jsonl(out / "train/scenes.jsonl", scene_records(train))}
    for name, rows in train_records(train, seed, cfg, abilities, tick).items():
        files[f"train/{name}"] = write_jsonl(out / "train" / name, rows)
    files["test/scenes.jsonl"] = write_jsonl(out / "test/scenes.jsonl", scene_records(test))
    stats = CategoryStats.from_scenes(train)
    jsonl, tsv = test_records(test, seed, cfg, abilities, stats, tick)
    for name, rows in jsonl.items():
        files[f"test/{name}"] = write_jsonl(out / "test" / name, rows)
    for name, rows in tsv.items():
        columns = MCQ_COLUMNS if name == "world_mcq.tsv" else TSV_COLUMNS
        files[f"test/{name}"] = write_tsv(out / "test" / name, columns, rows)
    return files


def _pool(workers: int, n_images: int) -> ProcessPoolExecutor | None:
    """Worker processes for rendering, or None when the job is too small to pay off."""
    if workers == 1 or n_images < _MIN_PARALLEL:
        return None
    # "spawn" starts clean interpreters: no fork of this process's threads and locks.
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


def _start_rendering(
    pool: ProcessPoolExecutor | None,
    out: Path,
    cfg: WorldConfig,
    splits: list[tuple[str, list[Scene]]],
) -> list[Future[int]]:
    """Submit every image to ``pool``, or render here (and return finished futures)."""
    jobs = [(str(out / split), [s.to_dict() for s in scenes]) for split, scenes in splits]
    if pool is None:
        futures: list[Future[int]] = []
        for folder, scenes in jobs:
            futures.append(Future())
            futures[-1].set_result(_render_chunk(cfg.to_dict(), folder, scenes))
        return futures
    return [
        pool.submit(_render_chunk, cfg.to_dict(), folder, scenes[k : k + _CHUNK])
        for folder, scenes in jobs
        for k in range(0, len(scenes), _CHUNK)
    ]
