"""Loaders for JSONL benchmarks: POPE-style (`pope_jsonl`), generic (`jsonl`), captions.

Image paths are relative to the JSONL file's folder unless the task sets `image_root`.
With a `limit`, reading stops once that many good rows are taken.

- `pope_jsonl`: POPE's release format, one probe per line:
  `{"question_id", "image", "text", "label": "yes"|"no"}` (+ optional category field).
- `jsonl`: `{"id", "image": path | "images": [paths], "question", "answer": str | [refs],
  "options": {"A": ...} (MCQ only), "hint" (optional), <category_field> (optional)}`.
  A row without images is a text-only question.
- `world_captions`: the world's `captions.jsonl`, `{"id", "image", "caption": str | [refs]}`.
"""

from __future__ import annotations

from typing import Any

from mllmkit.eval.loaders.base import (
    Item,
    LoadResult,
    PathImage,
    as_image_list,
    bad,
    check_item,
    image_base,
    iter_jsonl,
    register_loader,
    require_file,
)
from mllmkit.eval.task import TaskSpec


def _str_field(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and key.endswith("id"):
        return str(value)
    return None


def _category(obj: dict[str, Any], spec: TaskSpec) -> str | None:
    value = obj.get(spec.category_field)
    return value if isinstance(value, str) and value else None


def _generic(
    spec: TaskSpec, limit: int | None, id_key: str, question_key: str, answer_key: str
) -> LoadResult:
    path = require_file(spec)
    base = image_base(spec, path)
    items: list[Item] = []
    bad_rows: list[str] = []
    seen: set[str] = set()
    for lineno, obj in iter_jsonl(path, bad_rows):
        if limit is not None and len(items) >= limit:
            break
        sample_id = _str_field(obj, id_key)
        if sample_id is None:
            bad_rows.append(bad(path, lineno, None, id_key, "missing or empty"))
            continue
        if sample_id in seen:
            bad_rows.append(bad(path, lineno, sample_id, id_key, "duplicate id"))
            continue
        question = _str_field(obj, question_key) if question_key else ""
        if question is None:
            bad_rows.append(bad(path, lineno, sample_id, question_key, "missing or empty"))
            continue
        images_key = "images" if "images" in obj else "image"
        images: list[str] | None = []
        if images_key in obj:
            images = as_image_list(obj[images_key])
        if images is None:
            detail = "expected an image path or a non-empty list of paths"
            bad_rows.append(bad(path, lineno, sample_id, images_key, detail))
            continue
        if answer_key not in obj:
            bad_rows.append(bad(path, lineno, sample_id, answer_key, "missing"))
            continue
        options = obj.get("options") or {}
        if spec.format == "mcq" and not (
            isinstance(options, dict) and all(isinstance(v, str) for v in options.values())
        ):
            detail = "expected a mapping letter -> option text"
            bad_rows.append(bad(path, lineno, sample_id, "options", detail))
            continue
        item = Item(
            id=sample_id,
            question=question,
            answer=obj[answer_key],
            options={str(k): v for k, v in options.items()} if spec.format == "mcq" else {},
            images=[PathImage(base / p) for p in images],
            category=_category(obj, spec),
            hint=obj.get("hint") if isinstance(obj.get("hint"), str) else None,
            source=f"{path}:{lineno}",
        )
        problem = check_item(spec, item)
        if problem is not None:
            bad_rows.append(bad(path, lineno, sample_id, answer_key, problem))
            continue
        seen.add(sample_id)
        items.append(item)
    return LoadResult(items, bad_rows)


@register_loader("jsonl")
def load_jsonl(spec: TaskSpec, limit: int | None = None) -> LoadResult:
    return _generic(spec, limit, "id", "question", "answer")


@register_loader("pope_jsonl")
def load_pope_jsonl(spec: TaskSpec, limit: int | None = None) -> LoadResult:
    return _generic(spec, limit, "question_id", "text", "label")


@register_loader("world_captions")
def load_world_captions(spec: TaskSpec, limit: int | None = None) -> LoadResult:
    return _generic(spec, limit, "id", "", "caption")
