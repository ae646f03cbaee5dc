"""Reading judge data files (JSONL, one item per line; see docs/judge.md).

    {"id": "q1-s0", "mode": "score", "images": ["images/000001.png"],
     "question": "What color is the cross?", "answers": ["green"], "human": 5,
     "source": "color", "kinds": ["correct"]}

`human` is a 1–5 number (score), "A"/"B"/"C" (pair; C = tie) or an ordering of the
answers' letters, best first (batch). `images` are paths relative to the file's folder.
`source` (default "all") groups items for per-source Pearson; `kinds` (optional, one per
answer) names how each answer was made and gives a per-kind breakdown in the report.

A row that cannot be used is skipped and reported with its file, line, id and field —
one bad row never stops a long judging run; a file that cannot be read at all raises.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mllmkit.data.errors import DataError
from mllmkit.judge.modes import MODES, get_mode

DEFAULT_SOURCE = "all"


@dataclass(frozen=True)
class JudgeItem:
    """One thing to judge: a question about image(s), its answer(s) and the human label."""

    id: str
    mode: str
    images: tuple[Path, ...]
    question: str
    answers: tuple[str, ...]
    human: Any
    source: str = DEFAULT_SOURCE
    kinds: tuple[str, ...] | None = None
    line: int = 0


@dataclass
class JudgeData:
    """The items of one mode read from a file, and what was left out."""

    path: Path
    mode: str
    items: list[JudgeItem] = field(default_factory=list)
    bad_rows: list[str] = field(default_factory=list)
    other_mode_rows: int = 0


def _field(row: dict[str, Any], name: str, err: Any) -> Any:
    if name not in row:
        raise err(name, "missing")
    return row[name]


def _parse_row(row: Any, base: Path, err: Any) -> JudgeItem:
    """Validate one decoded row; `err(field, detail)` builds the located error."""
    if not isinstance(row, dict):
        raise err(None, f"expected a JSON object, got {type(row).__name__}")
    raw_id = _field(row, "id", err)
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int) or str(raw_id) == "":
        raise err("id", f"must be a non-empty string, got {raw_id!r}")
    mode_name = _field(row, "mode", err)
    if mode_name not in MODES:
        raise err("mode", f"must be one of {list(MODES)}, got {mode_name!r}")
    mode = MODES[mode_name]
    question = _field(row, "question", err)
    if not isinstance(question, str):
        raise err("question", f"must be a string, got {type(question).__name__}")
    answers = _field(row, "answers", err)
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise err("answers", "must be a list of strings")
    if not mode.min_answers <= len(answers) <= mode.max_answers:
        raise err(
            "answers",
            f"mode {mode.name!r} needs {mode.min_answers}..{mode.max_answers} answers, "
            f"got {len(answers)}",
        )
    try:
        human = mode.check_human(_field(row, "human", err), len(answers))
    except ValueError as exc:
        raise err("human", str(exc)) from None
    images = row.get("images", [])
    if not isinstance(images, list) or not all(isinstance(p, str) and p for p in images):
        raise err("images", "must be a list of image paths")
    paths = tuple(base / p for p in images)
    for rel, path in zip(images, paths, strict=True):
        if not path.is_file():
            raise err("images", f"image not found: {rel} (looked in {base})")
    source = row.get("source", DEFAULT_SOURCE)
    if not isinstance(source, str) or not source:
        raise err("source", f"must be a non-empty string, got {source!r}")
    kinds = row.get("kinds")
    if kinds is not None and (
        not isinstance(kinds, list)
        or len(kinds) != len(answers)
        or not all(isinstance(k, str) for k in kinds)
    ):
        raise err("kinds", "must be a list of strings, one per answer")
    return JudgeItem(
        id=str(raw_id),
        mode=mode.name,
        images=paths,
        question=question,
        answers=tuple(answers),
        human=human,
        source=source,
        kinds=tuple(kinds) if kinds is not None else None,
    )


def read_judge_file(path: str | Path, mode: str, limit: int | None = None) -> JudgeData:
    """Items of `mode` from a judge JSONL file, in file order (the first `limit` of them).

    Rows of other modes are counted in `other_mode_rows`; unusable rows are reported in
    `bad_rows` (messages like ``judge.jsonl:7 (id=q3): field 'human': ...``). Raises
    `DataError` when the file is missing, or holds no usable item of `mode`.
    """
    get_mode(mode)
    path = Path(path)
    if not path.is_file():
        raise DataError("judge data file not found", path=path)
    base = path.parent
    data = JudgeData(path=path, mode=mode)
    seen: set[str] = set()
    with path.open(encoding="utf-8") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            if limit is not None and len(data.items) >= limit:
                break
            row_id: str | None = None
            try:
                row = json.loads(raw)
            except ValueError as exc:
                data.bad_rows.append(
                    str(DataError(f"not valid JSON: {exc}", path=path, row=number))
                )
                continue
            if isinstance(row, dict) and isinstance(row.get("id"), str | int):
                row_id = str(row["id"])

            def err(name: str | None, detail: str, _n: int = number, _id: str | None = row_id):
                return DataError(detail, path=path, row=_n, row_id=_id, field=name)

            try:
                item = _parse_row(row, base, err)
            except DataError as exc:
                data.bad_rows.append(str(exc))
                continue
            if item.mode != mode:
                data.other_mode_rows += 1
                continue
            if item.id in seen:
                data.bad_rows.append(str(err("id", f"duplicate id {item.id!r}")))
                continue
            seen.add(item.id)
            data.items.append(dataclasses.replace(item, line=number))
    if not data.items:
        detail = f"no usable {mode!r} items"
        if data.other_mode_rows:
            detail += f" ({data.other_mode_rows} row(s) of other modes)"
        if data.bad_rows:
            detail += f"; first problem: {data.bad_rows[0]}"
        raise DataError(detail, path=path)
    return data
