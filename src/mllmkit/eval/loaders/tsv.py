"""Loaders for VLMEvalKit-layout TSVs: `tsv` (MCQ / yes-no / VQA) and `mme_tsv`.

Rows are read by `mllmkit.data.tsv.iter_benchmark_tsv` (option columns, base64 or path
images, VLMEvalKit's image references); malformed rows are collected, not raised. With a
`limit`, parsing stops once that many good rows are taken (bad rows met before then are
still reported).

`mme_tsv` (and `tsv` for yes/no tasks) also derives each row's `image_id`, which MME's
acc+ groups on (the two questions asked about one image). Rule, first that applies:

1. an `image_id` column, if the file has one;
2. otherwise the image *content*: for `image_path` rows the path as written relative to
   the TSV's folder; for base64 rows the SHA-256 (first 16 hex digits) of the decoded
   bytes. VLMEvalKit's MME.tsv stores the base64 only on the first question of a pair and
   the first row's `index` in the second one; the reader follows that reference, so both
   questions get the same bytes and therefore the same `image_id`.

The subtask of an MME row is its category (`category_field`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from mllmkit.data.errors import DataError
from mllmkit.data.tsv import BenchRow, iter_benchmark_tsv
from mllmkit.eval.loaders.base import (
    Item,
    LoadResult,
    bad,
    check_item,
    parse_answer_list,
    register_loader,
    require_file,
)
from mllmkit.eval.task import TaskSpec


def _category(row: BenchRow, field_name: str) -> str | None:
    if field_name == "category":
        return row.category
    if field_name == "hint":
        return row.hint
    return row.extra.get(field_name) or None


def _rows(spec: TaskSpec, bad_rows: list[str]) -> tuple[Path, Iterator[BenchRow]]:
    """The file's good rows, lazily; each bad one is appended to `bad_rows` as met."""
    path = require_file(spec)
    parsed = iter_benchmark_tsv(path)

    def good() -> Iterator[BenchRow]:
        for row in parsed:
            if isinstance(row, DataError):
                bad_rows.append(str(row))
            else:
                yield row

    return path, good()


def _to_item(spec: TaskSpec, path: Path, row: BenchRow) -> tuple[Item | None, str | None]:
    answer: str | list[str] = row.answer or ""
    if spec.format == "vqa":
        answer = parse_answer_list(answer)
    item = Item(
        id=row.index,
        question=row.question,
        answer=answer,
        options=dict(row.options) if spec.format == "mcq" else {},
        images=list(row.images),
        category=_category(row, spec.category_field),
        hint=row.hint,
        extra={},
        source=f"{path}:{row.line}",
    )
    problem = check_item(spec, item)
    if problem is not None:
        return None, bad(path, row.line, row.index, "answer", problem)
    return item, None


def _load(spec: TaskSpec, limit: int | None, with_image_id: bool) -> LoadResult:
    bad_rows: list[str] = []
    path, rows = _rows(spec, bad_rows)
    items: list[Item] = []
    for row in rows:
        if limit is not None and len(items) >= limit:
            break
        item, problem = _to_item(spec, path, row)
        if item is None:
            bad_rows.append(problem or "")
            continue
        if with_image_id:
            item.extra["image_id"] = mme_image_id(row, path.parent)
        items.append(item)
    return LoadResult(items, bad_rows)


@register_loader("tsv")
def load_tsv(spec: TaskSpec, limit: int | None = None) -> LoadResult:
    """VLMEvalKit TSV: MCQ when the task says so (option columns A.. are required then).

    Yes/no rows also get `extra["image_id"]` (rule below), so the `mme` metric's acc+
    can group the questions asked about one image.
    """
    return _load(spec, limit, with_image_id=spec.format == "yorn")


def mme_image_id(row: BenchRow, tsv_dir: Path) -> str:
    """The image a row is about (see the module docstring for the rule)."""
    explicit = row.extra.get("image_id")
    if explicit:
        return explicit
    keys = []
    for ref in row.images:
        if ref.path is not None:
            keys.append(os.path.relpath(ref.path, tsv_dir))
        else:
            keys.append(hashlib.sha256(ref.data or b"").hexdigest()[:16])
    return "+".join(keys)


@register_loader("mme_tsv")
def load_mme_tsv(spec: TaskSpec, limit: int | None = None) -> LoadResult:
    """MME-style yes/no TSV (two questions per image), with `extra["image_id"]`."""
    return _load(spec, limit, with_image_id=True)
