"""Read VLMEvalKit-style benchmark TSVs into `BenchRow`s with lazily loaded images.

Layout: one row per question; columns `index`, `image` (base64) and/or `image_path`,
`question`, `answer`, optional option columns `A`..`J`, `hint`, `category`, `l2-category`,
`split`; any other column lands in `BenchRow.extra`.

Rules (each named here because tools differ):

* `image` wins over `image_path` when a row has both (VLMEvalKit writes `image_path` only
  as a place to dump the decoded image).
* VLMEvalKit saves space by storing, in the `image` cell of a row whose picture repeats
  another row's, that other row's `index` instead of the base64 text. A cell of at most 64
  characters that equals another row's `index` is resolved that way.
* A cell starting with `[` is a JSON list (multi-image rows), for both columns.
* `image_path` is relative to the TSV's directory (absolute paths are kept).
* Option cells that are empty or `nan` (how pandas writes a missing value) are absent.
* Base64 is checked when the file is read (so a bad row is reported with its line), but
  images are decoded only when `ImageRef.load()` is called.

`read_benchmark_tsv(path, on_error="collect")` returns `(rows, errors)` so a long
evaluation can skip and count bad rows; a bad header always raises.
"""

from __future__ import annotations

import base64
import binascii
import csv
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, overload

from PIL import Image

from mllmkit.data.errors import DataError
from mllmkit.data.images import DEFAULT_MAX_PIXELS, decode_image_bytes, load_image

OPTION_LETTERS = tuple("ABCDEFGHIJ")
KNOWN_COLUMNS = frozenset(
    {"index", "image", "image_path", "question", "answer", "hint", "category", *OPTION_LETTERS}
)
_MISSING = frozenset({"", "nan", "NaN", "NAN"})
_REFERENCE_MAX_LEN = 64
_Fail = Callable[[str, str], DataError]


@dataclass(frozen=True)
class ImageRef:
    """An image that is loaded only when needed: a file path or decoded base64 bytes.

    `source` (``bench.tsv:12 field 'image'``) is what a load error names.
    """

    path: Path | None = None
    data: bytes | None = field(default=None, repr=False)
    source: str = ""

    def __post_init__(self) -> None:
        if (self.path is None) == (self.data is None):
            raise ValueError("ImageRef needs exactly one of `path` or `data`")

    def load(self, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
        """Decode to an RGB image (raises `ImageLoadError` naming the file or the row)."""
        if self.path is not None:
            return load_image(self.path, max_pixels=max_pixels)
        assert self.data is not None
        return decode_image_bytes(self.data, max_pixels=max_pixels, source=self.source)


@dataclass
class BenchRow:
    """One benchmark question. `options` maps letters to texts (empty for open questions)."""

    index: str
    question: str
    answer: str | None
    options: dict[str, str]
    images: list[ImageRef]
    category: str | None = None
    hint: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    line: int = 0


@overload
def read_benchmark_tsv(
    path: str | Path, on_error: Literal["raise"] = "raise", *, require_answer: bool = True
) -> list[BenchRow]: ...


@overload
def read_benchmark_tsv(
    path: str | Path, on_error: Literal["collect"], *, require_answer: bool = True
) -> tuple[list[BenchRow], list[DataError]]: ...


def read_benchmark_tsv(
    path: str | Path,
    on_error: Literal["raise", "collect"] = "raise",
    *,
    require_answer: bool = True,
) -> list[BenchRow] | tuple[list[BenchRow], list[DataError]]:
    """Read a benchmark TSV.

    `on_error="raise"` stops at the first bad row; `"collect"` skips bad rows and returns
    them as `DataError`s next to the good rows. `require_answer=False` accepts files
    without an `answer` column (test splits whose answers are withheld).
    """
    if on_error not in ("raise", "collect"):
        raise ValueError(f"on_error must be 'raise' or 'collect', got {on_error!r}")
    rows: list[BenchRow] = []
    errors: list[DataError] = []
    for row in iter_benchmark_tsv(path, require_answer=require_answer):
        if isinstance(row, DataError):
            if on_error == "raise":
                raise row
            errors.append(row)
        else:
            rows.append(row)
    return (rows, errors) if on_error == "collect" else rows


def iter_benchmark_tsv(
    path: str | Path, *, require_answer: bool = True
) -> Iterator[BenchRow | DataError]:
    """Rows in file order, each a `BenchRow` or the `DataError` that rejects it.

    Rows are parsed (base64 checked, references followed) only as they are taken, so a
    caller that needs the first N rows stops there; a file without an `image` column (paths
    only) is not even read further. A missing file or a bad header raises on the first
    `next()`.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path=path)
    _allow_large_fields()
    records = _iter_records(path)
    first = next(records, None)
    header = _check_header(first, path, require_answer)
    body: Iterable[tuple[int, list[str]]] = records
    image_by_index: dict[str, str] = {}
    if "image" in header:
        # A base64 cell may name any other row (VLMEvalKit's references): read all first.
        body = list(records)
        image_by_index = _image_cells_by_index(header, body)
    decoded: dict[str, bytes] = {}  # rows sharing a picture share its bytes
    seen: dict[str, int] = {}
    for line, cells in body:
        try:
            row = _parse_row(cells, header, line, path, image_by_index, decoded)
            if row.index in seen:
                raise DataError(
                    f"duplicate index {row.index!r} (first seen on line {seen[row.index]})",
                    path=path,
                    row=line,
                    row_id=row.index,
                    field="index",
                )
        except DataError as exc:
            yield exc
            continue
        seen[row.index] = line
        yield row


def _image_cells_by_index(header: list[str], body: list[tuple[int, list[str]]]) -> dict[str, str]:
    if "image" not in header:
        return {}
    i_index, i_image = header.index("index"), header.index("image")
    return {
        cells[i_index].strip(): cells[i_image].strip()
        for _, cells in body
        if len(cells) == len(header)
    }


def _allow_large_fields() -> None:
    """Base64 images exceed csv's default 128 KiB field limit; raise it to the platform max."""
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:  # C long is 32-bit on some platforms
            limit //= 2


def _iter_records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Non-blank records with the line each starts on (a quoted cell may span lines)."""
    next_line = 1
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, delimiter="\t")
            for cells in reader:
                line, next_line = next_line, reader.line_num + 1
                if any(c.strip() for c in cells):
                    yield line, cells
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text ({exc})", path=path) from exc
    except csv.Error as exc:
        raise DataError(f"malformed TSV: {exc}", path=path, row=next_line) from exc


def _check_header(
    first: tuple[int, list[str]] | None, path: Path, require_answer: bool
) -> list[str]:
    if first is None:
        raise DataError("file is empty (expected a header row)", path=path, row=1)
    line, header = first
    header = [h.strip() for h in header]
    required = ["index", "question"] + (["answer"] if require_answer else [])
    missing = [name for name in required if name not in header]
    if "image" not in header and "image_path" not in header:
        missing.append("image or image_path")
    if missing:
        raise DataError(
            f"header lacks column(s) {missing}; found {header}",
            path=path,
            row=line,
            field=missing[0],
        )
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise DataError(
            f"duplicated column(s) {duplicated}", path=path, row=line, field=duplicated[0]
        )
    return header


def _parse_row(
    cells: list[str],
    header: list[str],
    line: int,
    path: Path,
    image_by_index: dict[str, str],
    decoded: dict[str, bytes],
) -> BenchRow:
    if len(cells) != len(header):
        raise DataError(
            f"row has {len(cells)} cells but the header has {len(header)} columns",
            path=path,
            row=line,
        )
    values = dict(zip(header, cells, strict=True))
    index = values["index"].strip()
    if not index:
        raise DataError("empty index", path=path, row=line, field="index")

    def fail(field_name: str, detail: str) -> DataError:
        return DataError(detail, path=path, row=line, row_id=index, field=field_name)

    question = values["question"]
    if _is_missing(question):
        raise fail("question", "empty question")
    answer = values.get("answer")
    if answer is not None and _is_missing(answer):
        raise fail("answer", "empty answer")
    options = {
        letter: values[letter]
        for letter in OPTION_LETTERS
        if letter in values and not _is_missing(values[letter])
    }
    images = _parse_images(values, image_by_index, decoded, line, path, fail)
    extra = {k: v for k, v in values.items() if k not in KNOWN_COLUMNS}
    return BenchRow(
        index=index,
        question=question,
        answer=answer,
        options=options,
        images=images,
        category=_optional(values.get("category")),
        hint=_optional(values.get("hint")),
        extra=extra,
        line=line,
    )


def _parse_images(
    values: dict[str, str],
    image_by_index: dict[str, str],
    decoded: dict[str, bytes],
    line: int,
    path: Path,
    fail: _Fail,
) -> list[ImageRef]:
    cell = values.get("image", "")
    if not _is_missing(cell):
        cell = _resolve_reference(cell.strip(), image_by_index, fail)
        items = _cell_list(cell, "image", fail)
        refs = []
        for k, item in enumerate(items):
            where = f"{path}:{line} field 'image'" + (f"[{k}]" if len(items) > 1 else "")
            if item not in decoded:
                try:
                    decoded[item] = base64.b64decode("".join(item.split()), validate=True)
                except (binascii.Error, ValueError) as exc:
                    raise fail("image", f"not valid base64 ({exc})") from exc
            data = decoded[item]
            if not data:
                raise fail("image", "base64 decodes to no bytes")
            refs.append(ImageRef(data=data, source=where))
        return refs
    cell = values.get("image_path", "")
    if not _is_missing(cell):
        refs = []
        for item in _cell_list(cell, "image_path", fail):
            p = Path(item)
            refs.append(ImageRef(path=p if p.is_absolute() else path.parent / p))
        return refs
    raise fail("image" if "image" in values else "image_path", "row has no image")


def _resolve_reference(cell: str, image_by_index: dict[str, str], fail: _Fail) -> str:
    """Follow VLMEvalKit's space-saving reference (a short cell naming another row)."""
    if len(cell) > _REFERENCE_MAX_LEN:
        return cell
    if cell not in image_by_index:
        raise fail(
            "image",
            f"short cell {cell!r} is neither base64 image data nor the index of another row",
        )
    target = image_by_index[cell]
    if len(target) <= _REFERENCE_MAX_LEN:
        raise fail(
            "image",
            f"refers to row {cell!r}, whose image cell is not image data "
            "(references are followed one level only)",
        )
    return target


def _cell_list(cell: str, field_name: str, fail: _Fail) -> list[str]:
    text = cell.strip()
    if not text.startswith("["):
        return [text]
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(field_name, f"looks like a JSON list but does not parse: {exc.msg}") from exc
    if not isinstance(items, list) or not items or not all(isinstance(i, str) and i for i in items):
        raise fail(field_name, "expected a non-empty JSON list of strings")
    return items


def _is_missing(cell: str | None) -> bool:
    return cell is None or cell.strip() in _MISSING


def _optional(cell: str | None) -> str | None:
    return None if _is_missing(cell) else cell
