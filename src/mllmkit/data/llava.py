"""Read LLaVA-style conversation files (`.json` array or `.jsonl`) into `Conversation`s.

Row format (LLaVA's)::

    {"id": "abc", "image": "images/1.png" | ["a.png", "b.png"] | absent,
     "conversations": [{"from": "human", "value": "<image>\\nWhat is it?"},
                       {"from": "gpt", "value": "A red circle."}]}

Rules, checked per row with errors that name the file, the line and the id:

* `from` is `human`/`user`, `gpt`/`assistant` or `system` (system only as the first turn);
  turns alternate user, assistant, user, ... and end with an assistant turn.
* `<image>` may appear only in user turns, and the number of `<image>` markers must equal
  the number of images. A row with images and *no* marker follows LLaVA's convention: one
  `<image>\\n` per image is prepended to the first user turn. Markers that are present are
  kept where the author put them (LLaVA's training code moves a lone marker to the front;
  we do not, because the placement is the data author's choice).
* `image` (or `images`, not both) is one path or a list; paths are relative to `image_root`
  or, by default, to the file's own directory. Existence is *not* checked here (a 600k-row
  file would stat 600k files before training starts); call `validate_images` for that.

The file format is recognised from its content, not its name: a file whose first
non-blank character is `[` is a JSON array, one starting with `{` is JSON Lines.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mllmkit.data.conversation import IMAGE_TOKEN, Conversation, Turn
from mllmkit.data.errors import DataError, ImageLoadError
from mllmkit.data.images import DEFAULT_MAX_PIXELS, load_image, read_image_size

__all__ = [
    "ROLE_NAMES",
    "Conversation",
    "ImageProblem",
    "Turn",
    "read_conversations",
    "validate_images",
]

ROLE_NAMES: dict[str, str] = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "system": "system",
}
"""Accepted values of a turn's `from` field and the role each maps to (exact names)."""

_JSON_WS = " \t\n\r"
_Fail = Callable[[str, str], DataError]


def read_conversations(
    path: str | Path, image_root: str | Path | None = None
) -> list[Conversation]:
    """Read and validate every row of a LLaVA `.json` array or `.jsonl` file."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path=path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text ({exc})", path=path) from exc
    base = Path(image_root) if image_root is not None else path.parent
    start = _skip_ws(text, 0)
    if start == len(text):
        raise DataError("file is empty (expected a JSON array or JSON Lines of rows)", path=path)
    if text[start] == "[":
        rows = _iter_json_array(text, start, path)
    elif text[start] == "{":
        rows = _iter_json_lines(text, path)
    else:
        line = text.count("\n", 0, start) + 1
        raise DataError(
            f"expected a JSON array ('[') or JSON Lines ('{{'), found {text[start]!r}",
            path=path,
            row=line,
        )
    return [_parse_row(obj, path, line, base) for line, obj in rows]


@dataclass(frozen=True)
class ImageProblem:
    """One image that failed validation, with the row that refers to it."""

    conversation_id: str
    source: str
    path: Path
    reason: str

    def __str__(self) -> str:
        where = f"{self.source} " if self.source else ""
        return f"{where}(id={self.conversation_id}): {self.path}: {self.reason}"


def validate_images(
    conversations: list[Conversation],
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    decode: bool = False,
) -> list[ImageProblem]:
    """Check every image path of every row; return all problems (empty list = all good).

    By default only the header is read (existence, format, pixel limit), which is cheap
    enough for large datasets; `decode=True` also decodes pixels to catch truncated files.
    Each distinct path is checked once even if many rows share it.
    """
    verdicts: dict[Path, str | None] = {}
    problems: list[ImageProblem] = []
    for conv in conversations:
        for image_path in conv.images:
            if image_path not in verdicts:
                verdicts[image_path] = _check_image(image_path, max_pixels, decode)
            reason = verdicts[image_path]
            if reason is not None:
                problems.append(ImageProblem(conv.id, conv.source, image_path, reason))
    return problems


def _check_image(path: Path, max_pixels: int, decode: bool) -> str | None:
    try:
        if decode:
            load_image(path, max_pixels=max_pixels)
        else:
            width, height = read_image_size(path)
            if width * height > max_pixels:
                return f"{width}x{height} pixels is above the limit of {max_pixels}"
    except ImageLoadError as exc:
        return exc.detail
    return None


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _JSON_WS:
        pos += 1
    return pos


def _iter_json_array(text: str, start: int, path: Path) -> Iterator[tuple[int, Any]]:
    """Yield (line where the item starts, item) for each element of a top-level array.

    Decoding item by item (rather than `json.loads` on the whole file) is what lets an
    error in row 40,000 of a JSON array name its line.
    """
    decoder = json.JSONDecoder()
    line, counted_to = 1, 0

    def line_at(pos: int) -> int:
        nonlocal line, counted_to
        line += text.count("\n", counted_to, pos)
        counted_to = pos
        return line

    pos = _skip_ws(text, start + 1)
    if pos < len(text) and text[pos] == "]":
        pos += 1
    else:
        while True:
            try:
                obj, end = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"malformed JSON: {exc.msg} (column {exc.colno})", path=path, row=exc.lineno
                ) from exc
            yield line_at(pos), obj
            pos = _skip_ws(text, end)
            if pos < len(text) and text[pos] == ",":
                pos = _skip_ws(text, pos + 1)
                continue
            if pos < len(text) and text[pos] == "]":
                pos += 1
                break
            found = repr(text[pos]) if pos < len(text) else "end of file"
            raise DataError(
                f"malformed JSON: expected ',' or ']' after an array item, found {found}",
                path=path,
                row=line_at(min(pos, len(text))),
            )
    pos = _skip_ws(text, pos)
    if pos != len(text):
        raise DataError(
            "malformed JSON: extra data after the closing ']'", path=path, row=line_at(pos)
        )


def _iter_json_lines(text: str, path: Path) -> Iterator[tuple[int, Any]]:
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            yield number, json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"malformed JSON: {exc.msg} (column {exc.colno})", path=path, row=number
            ) from exc


def _parse_row(obj: Any, path: Path, line: int, base: Path) -> Conversation:
    if not isinstance(obj, dict):
        raise DataError(f"expected a JSON object, got {type(obj).__name__}", path=path, row=line)
    row_id = _parse_id(obj, path, line)

    def fail(field: str, detail: str) -> DataError:
        return DataError(detail, path=path, row=line, row_id=row_id, field=field)

    images = [p if p.is_absolute() else base / p for p in map(Path, _parse_image_field(obj, fail))]
    turns = _parse_turns(obj, fail)
    n_markers = sum(t.text.count(IMAGE_TOKEN) for t in turns)
    if n_markers == 0 and images:
        first_user = next(i for i, t in enumerate(turns) if t.role == "user")
        prefix = f"{IMAGE_TOKEN}\n" * len(images)
        turns[first_user] = Turn("user", prefix + turns[first_user].text)
    elif n_markers != len(images):
        raise fail(
            "conversations",
            f"{n_markers} '{IMAGE_TOKEN}' marker(s) in the turns but {len(images)} image(s) "
            "in 'image'; they must match (or write no marker and let one be prepended "
            "per image)",
        )
    return Conversation(id=row_id, images=images, turns=turns, source=f"{path}:{line}")


def _parse_id(obj: dict[str, Any], path: Path, line: int) -> str:
    if "id" not in obj:
        raise DataError("missing (every row needs an 'id')", path=path, row=line, field="id")
    value = obj["id"]
    if isinstance(value, bool) or not isinstance(value, str | int) or str(value) == "":
        raise DataError(
            f"expected a non-empty string or integer, got {value!r}",
            path=path,
            row=line,
            field="id",
        )
    return str(value)


def _parse_image_field(obj: dict[str, Any], fail: _Fail) -> list[str]:
    if "image" in obj and "images" in obj:
        raise fail("image", "row has both 'image' and 'images'; use one")
    key = "images" if "images" in obj else "image"
    value = obj.get(key)
    if value is None:
        return []
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise fail(key, f"expected a path or a list of paths, got {value!r}")
    return values


def _parse_turns(obj: dict[str, Any], fail: _Fail) -> list[Turn]:
    if "conversations" not in obj:
        raise fail("conversations", "missing (expected a list of {'from', 'value'} turns)")
    raw_turns = obj["conversations"]
    if not isinstance(raw_turns, list) or not raw_turns:
        raise fail("conversations", f"expected a non-empty list of turns, got {raw_turns!r}")
    turns: list[Turn] = []
    for i, raw in enumerate(raw_turns):
        field = f"conversations[{i}]"
        if not isinstance(raw, dict):
            raise fail(field, f"expected an object with 'from' and 'value', got {raw!r}")
        for key in ("from", "value"):
            if key not in raw:
                raise fail(f"{field}.{key}", "missing")
        speaker, value = raw["from"], raw["value"]
        if speaker not in ROLE_NAMES:
            raise fail(
                f"{field}.from", f"unknown speaker {speaker!r}; expected one of {list(ROLE_NAMES)}"
            )
        if not isinstance(value, str):
            raise fail(f"{field}.value", f"expected a string, got {type(value).__name__}")
        role = ROLE_NAMES[speaker]
        expected = _expected_role(turns)
        if role == "system" and turns:
            raise fail(f"{field}.from", "a system turn may only be the first turn")
        if role != "system" and role != expected:
            raise fail(
                f"{field}.from",
                f"turns must alternate user/assistant starting with user; expected {expected} "
                f"here, got {speaker!r} ({role})",
            )
        if role != "user" and IMAGE_TOKEN in value:
            raise fail(f"{field}.value", f"'{IMAGE_TOKEN}' may only appear in user turns")
        turns.append(Turn(role, value))
    if turns[-1].role != "assistant":
        raise fail(
            "conversations",
            "the last turn must be an assistant turn "
            f"(nothing to learn after a {turns[-1].role} turn)",
        )
    return turns


def _expected_role(turns: list[Turn]) -> str:
    previous = [t.role for t in turns if t.role != "system"]
    return "assistant" if previous and previous[-1] == "user" else "user"
