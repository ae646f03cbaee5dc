"""Turn sampled scenes into the records of each split's files.

Runs in one process, in scene order: the `Balancer` counters that keep yes/no answers
and MCQ letters balanced depend on that order. Every random choice comes from the
scene's own seeded stream (`sample.stream_rng`), so the records depend only on the
seed, the config and the scenes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mllmkit.world.caption import caption
from mllmkit.world.config import FORMATS, WorldConfig
from mllmkit.world.formats import LETTERS, FormattedQuestion
from mllmkit.world.pope import SETTINGS, CategoryStats, probes
from mllmkit.world.questions import ABILITIES
from mllmkit.world.questions.base import QA
from mllmkit.world.sample import stream_rng
from mllmkit.world.scene import Scene
from mllmkit.world.select import Balancer, benchmark_questions, dialogue_turns
from mllmkit.world.writers import llava_row, tsv_image_path

CAPTION_PROMPTS: tuple[str, ...] = (
    "Describe the image.",
    "Describe this scene in detail.",
    "What is in this image?",
    "List everything you see in the picture and where it is.",
)
TSV_COLUMNS: tuple[str, ...] = ("index", "image_path", "question", "answer", "category", "hint")
MCQ_COLUMNS: tuple[str, ...] = (
    "index",
    "image_path",
    "question",
    "hint",
    *LETTERS,
    "answer",
    "category",
)
MULTI = "multi_image"

Records = list[dict[str, Any]]
Tick = Callable[[], None]


def image_rel(scene: Scene) -> str:
    """Path of a scene's image relative to its split folder."""
    return f"images/{scene.id}.png"


def scene_records(scenes: Sequence[Scene]) -> Records:
    return [{**s.to_dict(), "image": image_rel(s)} for s in scenes]


def _pools(
    scenes: Sequence[Scene], abilities: Sequence[str], rng: np.random.Generator, cfg: WorldConfig
) -> dict[str, list[QA]]:
    return {name: list(ABILITIES[name].generate(scenes, rng, cfg)) for name in abilities}


def partner(seed: int, split: str, index: int, n: int, cfg: WorldConfig) -> int | None:
    """The other scene of scene ``index``'s multi-image question, or None (seeded)."""
    if n < 2:
        return None
    rng = stream_rng(seed, split, index, "pairing")
    if rng.random() >= cfg.multi_image_share(split):
        return None
    return (index + 1 + int(rng.integers(n - 1))) % n


def _record(fq: FormattedQuestion, record_id: str, split: str, images: list[str]) -> dict:
    return {"id": record_id, "split": split, "images": images, **fq.to_record()}


def train_records(
    scenes: Sequence[Scene],
    seed: int,
    cfg: WorldConfig,
    abilities: Sequence[str],
    tick: Tick | None = None,
) -> dict[str, Records]:
    """``align.jsonl``, ``instruct.jsonl``, ``questions.jsonl``, ``instruct_<ability>.jsonl``
    rows for the train split.

    Each scene gives one caption conversation and one multi-turn QA conversation; a
    fraction of scenes also gives a two-image conversation. ``questions.jsonl`` holds
    exactly the QA turns of ``instruct.jsonl``, one flat record per turn, and
    ``instruct_<ability>.jsonl`` the same turns as one-exchange LLaVA rows per ability,
    so a training stage can take one ability alone (a curriculum) without re-deriving
    which exchange asks what.
    """
    single = [a for a in abilities if ABILITIES[a].n_images == 1]
    balancer = Balancer()
    align: Records = []
    instruct: Records = []
    questions: Records = []
    by_ability: dict[str, Records] = {a: [] for a in abilities}

    def add_turns(row_id: str, images: list[str], turns: list[FormattedQuestion]) -> None:
        for k, t in enumerate(turns):
            row = llava_row(f"{row_id}-{k}", images, [(t.prompt(), t.answer)])
            by_ability[t.ability].append(row)

    for i, scene in enumerate(scenes):
        rng = stream_rng(seed, "train", i, "questions")
        image = image_rel(scene)
        prompt = CAPTION_PROMPTS[int(rng.integers(len(CAPTION_PROMPTS)))]
        align.append(llava_row(scene.id, [image], [(prompt, caption(scene))]))
        turns = dialogue_turns(
            _pools([scene], single, rng, cfg), single, cfg.turns, cfg.format_weights, rng, balancer
        )
        if turns:
            instruct.append(llava_row(scene.id, [image], [(t.prompt(), t.answer) for t in turns]))
            questions += [
                _record(t, f"train-{scene.id}-{k}", "train", [image]) for k, t in enumerate(turns)
            ]
            add_turns(scene.id, [image], turns)
        j = partner(seed, "train", i, len(scenes), cfg) if MULTI in abilities else None
        if j is not None:
            pair = [scene, scenes[j]]
            images = [image, image_rel(scenes[j])]
            turns = dialogue_turns(
                _pools(pair, [MULTI], rng, cfg),
                [MULTI],
                cfg.multi_image_turns,
                cfg.format_weights,
                rng,
                balancer,
            )
            if turns:
                instruct.append(
                    llava_row(
                        f"{scene.id}+{scenes[j].id}",
                        images,
                        [(t.prompt(), t.answer) for t in turns],
                    )
                )
                questions += [
                    _record(t, f"train-{scene.id}-m{k}", "train", images)
                    for k, t in enumerate(turns)
                ]
                add_turns(f"{scene.id}+{scenes[j].id}", images, turns)
        if tick:
            tick()
    files = {"align.jsonl": align, "instruct.jsonl": instruct, "questions.jsonl": questions}
    files.update({f"instruct_{a}.jsonl": rows for a, rows in by_ability.items() if rows})
    return files


def _tsv_row(index: int, fq: FormattedQuestion, images: list[str]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "index": index,
        "image_path": tsv_image_path(images),
        "question": fq.question,
        "answer": fq.answer,
        "category": fq.ability,
        "hint": "",
    }
    if fq.options is not None:
        row.update(fq.options)
    return row


def test_records(
    scenes: Sequence[Scene],
    seed: int,
    cfg: WorldConfig,
    abilities: Sequence[str],
    train_stats: CategoryStats,
    tick: Tick | None = None,
) -> tuple[dict[str, Records], dict[str, Records]]:
    """JSONL records (``questions``, ``captions``) and TSV rows of the test benchmark.

    Every chosen question appears in all three formats, under one shared TSV ``index``.
    """
    single = [a for a in abilities if ABILITIES[a].n_images == 1]
    balancer = Balancer()
    questions: Records = []
    captions: Records = []
    tsv: dict[str, Records] = {f"world_{fmt}.tsv": [] for fmt in FORMATS}
    pope: dict[str, Records] = {f"pope_{s}.tsv": [] for s in SETTINGS}
    index = 0
    for i, scene in enumerate(scenes):
        rng = stream_rng(seed, "test", i, "questions")
        image = image_rel(scene)
        captions.append({"id": scene.id, "image": image, "caption": caption(scene)})
        groups = [
            ([image], g)
            for g in benchmark_questions(
                _pools([scene], single, rng, cfg), single, cfg.questions_per_ability, rng, balancer
            )
        ]
        j = partner(seed, "test", i, len(scenes), cfg) if MULTI in abilities else None
        if j is not None:
            images = [image, image_rel(scenes[j])]
            groups += [
                (images, g)
                for g in benchmark_questions(
                    _pools([scene, scenes[j]], [MULTI], rng, cfg),
                    [MULTI],
                    cfg.questions_per_ability,
                    rng,
                    balancer,
                )
            ]
        for k, (images, group) in enumerate(groups):
            for fq in group:
                questions.append(_record(fq, f"test-{scene.id}-{k}-{fq.format}", "test", images))
                tsv[f"world_{fq.format}.tsv"].append(_tsv_row(index, fq, images))
            index += 1
        if "existence" in abilities:
            for s, setting in enumerate(SETTINGS):
                prng = stream_rng(seed, "test", i, "pope", s)
                for probe in probes(scene, setting, train_stats, prng):
                    rows = pope[f"pope_{setting}.tsv"]
                    rows.append(
                        {
                            "index": len(rows),
                            "image_path": image,
                            "question": probe.question,
                            "answer": probe.answer,
                            "category": setting,
                            "hint": "",
                        }
                    )
        if tick:
            tick()
    jsonl = {"questions.jsonl": questions, "captions.jsonl": captions}
    if "existence" in abilities:
        tsv.update(pope)
    return jsonl, tsv
