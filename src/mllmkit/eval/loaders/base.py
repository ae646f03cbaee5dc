"""What every loader returns, the loader registry, and helpers shared by the loaders.

A loader turns one benchmark file into `Item`s (question, gold answer, options, lazy
images, category) and a list of bad-row messages. It never raises for a bad row: a long
evaluation skips the row, counts it and names it in the report. It raises `TaskError`
only when the whole file is unusable (missing, unreadable header).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from mllmkit.data.errors import DataError
from mllmkit.eval.task import ImageSource, TaskError, TaskSpec


@dataclass
class Item:
    """One benchmark row, before prompting. `answer` may be a list of references."""

    id: str
    question: str
    answer: str | list[str]
    options: dict[str, str]
    images: list[ImageSource]
    category: str | None = None
    hint: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    source: str = ""


@dataclass
class LoadResult:
    """Good rows and one message per bad row (file, row and field named)."""

    items: list[Item]
    bad_rows: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PathImage:
    """An image file loaded on demand with the safe loader (pixel limit, clear errors)."""

    path: Path

    def load(self) -> Image.Image:
        from mllmkit.data.images import load_image

        return load_image(self.path)


Loader = Callable[[TaskSpec, int | None], LoadResult]
"""`loader(spec, limit)`: the file's first `limit` good rows (all when None). A loader stops
reading there, so `--limit 50` on a 100k-row file costs 50 rows, not 100k."""
LOADERS: dict[str, Loader] = {}


def register_loader(name: str) -> Callable[[Loader], Loader]:
    """Decorator: register a loader under an exact name (duplicates raise)."""

    def deco(fn: Loader) -> Loader:
        if name in LOADERS:
            raise ValueError(f"loader {name!r} is already registered")
        LOADERS[name] = fn
        return fn

    return deco


def require_file(spec: TaskSpec) -> Path:
    path = Path(spec.path)
    if not path.is_file():
        raise TaskError(f"task {spec.name!r}: data file {path} does not exist")
    return path


def bad(path: Path, row: int | None, row_id: Any, field_name: str | None, detail: str) -> str:
    """A bad-row message in the same shape as `DataError` (``file:row (id=x): field 'f': ...``)."""
    rid = None if row_id is None else str(row_id)
    return str(DataError(detail, path=path, row=row, row_id=rid, field=field_name))


def iter_jsonl(path: Path, bad_rows: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each parseable line; other lines go to `bad_rows`."""
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                bad_rows.append(bad(path, lineno, None, None, f"not valid JSON ({exc.msg})"))
                continue
            if not isinstance(obj, dict):
                bad_rows.append(bad(path, lineno, None, None, "expected a JSON object"))
                continue
            yield lineno, obj


def image_base(spec: TaskSpec, data_file: Path) -> Path:
    """Directory image paths are relative to: `image_root` if declared, else the file's."""
    return Path(spec.image_root) if spec.image_root else data_file.parent


def as_image_list(value: Any) -> list[str] | None:
    """A path or list of paths → list of paths; anything else → None."""
    if isinstance(value, str) and value:
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return list(value)
    return None


def parse_yes_no(answer: Any) -> str | None:
    """Gold yes/no labels in any case → "Yes"/"No"; anything else → None."""
    if not isinstance(answer, str):
        return None
    low = answer.strip().lower()
    return {"yes": "Yes", "no": "No"}.get(low)


def parse_answer_list(answer: str) -> list[str] | str:
    """A cell holding a list of reference answers (`["a", "b"]` or Python `['a', 'b']`)."""
    text = answer.strip()
    if not text.startswith("["):
        return answer
    for parse in (json.loads, ast.literal_eval):
        try:
            value = parse(text)
        except (ValueError, SyntaxError):
            continue
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return value
    return answer


def check_item(spec: TaskSpec, item: Item) -> str | None:
    """Format-level validation of a row's gold answer; returns the problem or None."""
    if spec.format == "mcq":
        if len(item.options) < 2:
            return "a multiple-choice row needs at least two options"
        if not isinstance(item.answer, str) or item.answer.strip() not in item.options:
            return f"answer {item.answer!r} is not one of the option letters {list(item.options)}"
        item.answer = item.answer.strip()
    elif spec.format == "yorn":
        label = parse_yes_no(item.answer)
        if label is None:
            return f"answer must be Yes or No, got {item.answer!r}"
        item.answer = label
    else:
        if isinstance(item.answer, str):
            if not item.answer.strip():
                return "empty answer"
        elif not item.answer or not all(isinstance(a, str) for a in item.answer):
            return "answer must be a string or a non-empty list of strings"
    return None
