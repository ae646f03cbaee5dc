"""Writing dataset files atomically and in the layouts other tools read.

Every file is written to a temporary name in its own folder and moved into place
with `os.replace`, so a crash never leaves a half-written file under the real name.
JSON is written with fixed key order and separators so output is byte-stable.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

IMAGE_TOKEN = "<image>"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def dumps(obj: Any) -> str:
    """One-line JSON with non-ASCII kept readable."""
    return json.dumps(obj, ensure_ascii=False)


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> int:
    """Write one JSON object per line; returns the number of lines."""
    lines = [dumps(r) + "\n" for r in records]
    atomic_write_text(path, "".join(lines))
    return len(lines)


def write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


def write_tsv(path: Path, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> int:
    """A tab-separated file with a header; cells are quoted only when they must be
    (tabs, quotes or newlines), the way pandas and the `csv` module read them back."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, dialect="excel-tab", lineterminator="\n")
    writer.writerow(columns)
    n = 0
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
        n += 1
    atomic_write_text(path, buffer.getvalue())
    return n


def image_field(images: Sequence[str]) -> str | list[str]:
    """LLaVA's ``image``: a path, or a list of paths for several images."""
    return images[0] if len(images) == 1 else list(images)


def tsv_image_path(images: Sequence[str]) -> str:
    """VLMEvalKit's ``image_path``: a path, or a JSON list of paths."""
    return images[0] if len(images) == 1 else json.dumps(list(images))


def llava_row(row_id: str, images: Sequence[str], turns: Sequence[tuple[str, str]]) -> dict:
    """A LLaVA conversation: one ``<image>`` line per image at the start of the first
    user turn, then the (question, answer) turns."""
    if not turns:
        raise ValueError(f"row {row_id!r}: a conversation needs at least one turn")
    prefix = "".join(f"{IMAGE_TOKEN}\n" for _ in images)
    conversations = []
    for k, (question, answer) in enumerate(turns):
        conversations.append({"from": "human", "value": (prefix if k == 0 else "") + question})
        conversations.append({"from": "gpt", "value": answer})
    return {"id": row_id, "image": image_field(images), "conversations": conversations}
