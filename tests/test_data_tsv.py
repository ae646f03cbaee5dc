"""VLMEvalKit-style benchmark TSVs: layouts users have, and bad rows."""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mllmkit.data.errors import DataError, ImageLoadError
from mllmkit.data.tsv import read_benchmark_tsv


def _b64_png(width: int = 4, height: int = 3, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _write_tsv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter="\t")
        writer.writerow(header)
        writer.writerows(rows)
    return path


MCQ_HEADER = [
    "index",
    "image",
    "question",
    "hint",
    "A",
    "B",
    "C",
    "D",
    "answer",
    "category",
    "l2-category",
    "split",
]


def test_mcq_happy_path(tmp_path: Path) -> None:
    img = _b64_png()
    path = _write_tsv(
        tmp_path / "mcq.tsv",
        MCQ_HEADER,
        [
            [
                "0",
                img,
                "Which shape?",
                "nan",
                "circle",
                "square",
                "",
                "nan",
                "A",
                "shape",
                "x",
                "dev",
            ],
            [
                "1",
                img,
                "Colour?",
                "Look closely.",
                "red",
                "blue",
                "green",
                "None",
                "C",
                "color",
                "y",
                "dev",
            ],
        ],
    )
    rows = read_benchmark_tsv(path)
    assert [r.index for r in rows] == ["0", "1"]
    first, second = rows
    assert first.options == {"A": "circle", "B": "square"}  # empty and nan cells are absent
    assert second.options == {"A": "red", "B": "blue", "C": "green", "D": "None"}
    assert first.hint is None and second.hint == "Look closely."
    assert first.answer == "A" and first.category == "shape"
    assert first.extra == {"l2-category": "x", "split": "dev"}
    assert first.line == 2 and second.line == 3
    assert len(first.images) == 1
    image = first.images[0].load()
    assert image.size == (4, 3) and image.mode == "RGB"


def test_image_path_relative_and_multi_image(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    for name in ("a.png", "b.png"):
        Image.new("RGB", (5, 5), (1, 2, 3)).save(tmp_path / "images" / name)
    path = _write_tsv(
        tmp_path / "vqa.tsv",
        ["index", "image_path", "question", "answer"],
        [
            ["q1", "images/a.png", "What?", "thing"],
            ["q2", json.dumps(["images/a.png", "images/b.png"]), "Same?", "Yes"],
        ],
    )
    rows = read_benchmark_tsv(path)
    assert rows[0].images[0].path == tmp_path / "images/a.png"
    assert [ref.path.name for ref in rows[1].images] == ["a.png", "b.png"]
    assert rows[1].images[1].load().getpixel((0, 0)) == (1, 2, 3)
    assert rows[0].options == {}


def test_short_image_cell_refers_to_another_row(tmp_path: Path) -> None:
    img = _b64_png(seed=1)
    path = _write_tsv(
        tmp_path / "ref.tsv",
        ["index", "image", "question", "answer"],
        [["10", img, "Q1", "Yes"], ["11", "10", "Q2", "No"], ["12", "99", "Q3", "No"]],
    )
    rows, errors = read_benchmark_tsv(path, on_error="collect")
    assert [r.index for r in rows] == ["10", "11"]
    assert rows[1].images[0].data is rows[0].images[0].data  # shared, not decoded twice
    assert len(errors) == 1 and errors[0].row == 4 and errors[0].field == "image"


def test_quoted_cells_with_newlines_keep_line_numbers(tmp_path: Path) -> None:
    path = _write_tsv(
        tmp_path / "q.tsv",
        ["index", "image", "question", "answer"],
        [["1", _b64_png(), "two\nlines\twith tab", "a"], ["2", "@@bad@@" * 20, "Q", "b"]],
    )
    assert read_benchmark_tsv(path, on_error="collect")[0][0].question == "two\nlines\twith tab"
    with pytest.raises(DataError) as info:
        read_benchmark_tsv(path)
    assert info.value.row == 4  # the record starting after the two-line cell


def test_large_base64_field(tmp_path: Path) -> None:
    img = _b64_png(300, 300)
    assert len(img) > 131072  # above csv's default field size limit
    path = _write_tsv(
        tmp_path / "big.tsv", ["index", "image", "question", "answer"], [["1", img, "Q", "A"]]
    )
    (row,) = read_benchmark_tsv(path)
    assert row.images[0].load().size == (300, 300)


def test_missing_column_names_file_and_field(tmp_path: Path) -> None:
    path = _write_tsv(tmp_path / "bad.tsv", ["index", "image", "answer"], [["1", _b64_png(), "A"]])
    with pytest.raises(DataError) as info:
        read_benchmark_tsv(path)
    assert info.value.field == "question" and info.value.row == 1
    assert str(path) in str(info.value) and "question" in str(info.value)
    path = _write_tsv(tmp_path / "noimg.tsv", ["index", "question", "answer"], [["1", "Q", "A"]])
    with pytest.raises(DataError, match="image or image_path"):
        read_benchmark_tsv(path, on_error="collect")  # a bad header always raises


def test_bad_base64_names_row_and_field(tmp_path: Path) -> None:
    img = _b64_png()
    path = _write_tsv(
        tmp_path / "b.tsv",
        ["index", "image", "question", "answer"],
        [["1", img, "Q", "A"], ["2", img[:-3] + "!!!" + "x" * 80, "Q", "B"], ["3", img, "Q", "C"]],
    )
    with pytest.raises(DataError) as info:
        read_benchmark_tsv(path)
    err = info.value
    assert (err.row, err.row_id, err.field) == (3, "2", "image")
    assert f"{path}:3 (id=2): field 'image': not valid base64" in str(err)
    rows, errors = read_benchmark_tsv(path, on_error="collect")
    assert [r.index for r in rows] == ["1", "3"] and len(errors) == 1


def test_valid_base64_but_not_an_image_fails_at_load(tmp_path: Path) -> None:
    junk = base64.b64encode(b"definitely not a png" * 10).decode()
    path = _write_tsv(
        tmp_path / "j.tsv", ["index", "image", "question", "answer"], [["7", junk, "Q", "A"]]
    )
    (row,) = read_benchmark_tsv(path)
    with pytest.raises(ImageLoadError) as info:
        row.images[0].load()
    assert f"{path}:2 field 'image'" in str(info.value)


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        (["1", "IMG", "", "A"], "question", "empty question"),
        (["1", "IMG", "nan", "A"], "question", "empty question"),
        (["1", "IMG", "Q", ""], "answer", "empty answer"),
        (["", "IMG", "Q", "A"], "index", "empty index"),
        (["1", "", "Q", "A"], "image", "no image"),
        (["1", "IMG", "Q"], None, "3 cells but the header has 4"),
        (["1", "[not json" + "x" * 70, "Q", "A"], "image", "does not parse"),
        (["1", "short", "Q", "A"], "image", "neither base64 image data nor the index"),
    ],
)
def test_bad_rows(tmp_path: Path, row: list[str], field: str | None, message: str) -> None:
    row = [_b64_png() if cell == "IMG" else cell for cell in row]
    path = _write_tsv(tmp_path / "r.tsv", ["index", "image", "question", "answer"], [row])
    with pytest.raises(DataError, match=message) as info:
        read_benchmark_tsv(path)
    assert info.value.row == 2 and info.value.field == field
    assert str(path) in str(info.value)


def test_duplicate_index(tmp_path: Path) -> None:
    img = _b64_png()
    path = _write_tsv(
        tmp_path / "d.tsv",
        ["index", "image", "question", "answer"],
        [["1", img, "Q", "A"], ["1", img, "Q", "B"]],
    )
    with pytest.raises(DataError, match="duplicate index '1' \\(first seen on line 2\\)"):
        read_benchmark_tsv(path)


def test_answer_optional_when_asked(tmp_path: Path) -> None:
    path = _write_tsv(tmp_path / "t.tsv", ["index", "image", "question"], [["1", _b64_png(), "Q"]])
    with pytest.raises(DataError, match="answer"):
        read_benchmark_tsv(path)
    (row,) = read_benchmark_tsv(path, require_answer=False)
    assert row.answer is None


def test_bad_on_error_value(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="on_error"):
        read_benchmark_tsv(tmp_path / "x.tsv", on_error="skip")  # type: ignore[call-overload]
