"""From a task declaration to the list of `Sample`s to send (prompts, circular expansion).

Order is the file's row order (circular rotations of a question stay together), and it
is the order shards, caches and reports refer to: `--limit N` keeps the first N *rows*
(before circular expansion, so no question loses rotations) and `--shard i/n` keeps
samples whose position p in this list has `p % n == i`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mllmkit.eval.loaders import LOADERS, Item
from mllmkit.eval.metrics.circular import rotations
from mllmkit.eval.task import Sample, TaskSpec, render_prompt


@dataclass
class TaskData:
    """A loaded task: its samples and the messages of the rows that could not be read."""

    spec: TaskSpec
    samples: list[Sample]
    bad_rows: list[str] = field(default_factory=list)


def _sample(spec: TaskSpec, item: Item, sid: str, options: dict[str, str], answer) -> Sample:
    return Sample(
        id=sid,
        question=item.question,
        prompt=render_prompt(spec, item.question, options, item.hint),
        images=item.images,
        answer=answer,
        options=options,
        category=item.category or spec.name,
        extra=dict(item.extra),
        source=item.source,
    )


def build_samples(spec: TaskSpec, items: list[Item]) -> list[Sample]:
    """One sample per item, or one per rotation (id `<row id>@c<k>`) for circular tasks."""
    samples: list[Sample] = []
    for item in items:
        if not spec.circular:
            samples.append(_sample(spec, item, item.id, item.options, item.answer))
            continue
        rots = rotations(item.options, str(item.answer))
        for k, (options, answer) in enumerate(rots):
            s = _sample(spec, item, f"{item.id}@c{k}", options, answer)
            s.extra.update(question_id=item.id, rotation=k, n_rotations=len(rots))
            samples.append(s)
    return samples


def load_task(spec: TaskSpec, limit: int | None = None) -> TaskData:
    """Read the task's file with its declared loader, keep `limit` rows, build samples."""
    result = LOADERS[spec.loader](spec, limit)
    return TaskData(spec, build_samples(spec, result.items), list(result.bad_rows))
