"""Reading judge data files: good rows, bad rows named by file/line/id/field, modes, limit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from mllmkit.data.errors import DataError
from mllmkit.judge.data import read_judge_file


def _write(path: Path, rows: list) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "images").mkdir()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(tmp_path / "images" / "a.png")
    return tmp_path


def _row(i: int, **changes: object) -> dict:
    row = {
        "id": f"q{i}",
        "mode": "pair",
        "images": ["images/a.png"],
        "question": "Which?",
        "answers": ["x", "y"],
        "human": "A",
        "source": "color",
    }
    row.update(changes)
    return row


def test_reads_good_rows_with_paths_relative_to_the_file(folder: Path) -> None:
    path = _write(folder / "j.jsonl", [_row(1), _row(2, human="C", kinds=["k1", "k2"])])
    data = read_judge_file(path, "pair")
    assert [i.id for i in data.items] == ["q1", "q2"]
    assert data.items[0].images == (folder / "images" / "a.png",)
    assert data.items[1].kinds == ("k1", "k2")
    assert data.items[1].line == 2
    assert data.bad_rows == []


def test_bad_rows_are_skipped_and_located(folder: Path) -> None:
    rows = [
        _row(1),
        "{not json",
        _row(3, human="D"),
        _row(4, answers=["only one"]),
        _row(5, images=["images/missing.png"]),
        _row(1),  # duplicate id
        _row(7, kinds=["one"]),
        {k: v for k, v in _row(8).items() if k != "question"},
    ]
    path = _write(folder / "j.jsonl", rows)
    data = read_judge_file(path, "pair")
    assert [i.id for i in data.items] == ["q1"]
    messages = data.bad_rows
    assert len(messages) == 7
    assert messages[0].startswith(f"{path}:2: not valid JSON")
    assert f"{path}:3 (id=q3): field 'human': must be 'A', 'B' or 'C'" in messages[1]
    assert "field 'answers': mode 'pair' needs 2..2 answers, got 1" in messages[2]
    assert "field 'images': image not found: images/missing.png" in messages[3]
    assert f"{path}:6 (id=q1): field 'id': duplicate id 'q1'" in messages[4]
    assert "field 'kinds'" in messages[5]
    assert f"{path}:8 (id=q8): field 'question': missing" in messages[6]


def test_other_modes_are_counted_and_limit_applies(folder: Path) -> None:
    rows = [_row(1), _row(2, mode="score", answers=["x"], human=4), _row(3), _row(4)]
    path = _write(folder / "j.jsonl", rows)
    data = read_judge_file(path, "pair", limit=2)
    assert [i.id for i in data.items] == ["q1", "q3"]
    assert data.other_mode_rows == 1
    scores = read_judge_file(path, "score")
    assert [i.id for i in scores.items] == ["q2"] and scores.items[0].human == 4


def test_no_usable_item_raises_naming_the_file(folder: Path) -> None:
    path = _write(folder / "j.jsonl", [_row(1, human="Z")])
    with pytest.raises(DataError, match=r"j\.jsonl: no usable 'pair' items; first problem"):
        read_judge_file(path, "pair")
    with pytest.raises(DataError, match="not found"):
        read_judge_file(folder / "nope.jsonl", "pair")
    with pytest.raises(ValueError, match="unknown judge mode"):
        read_judge_file(path, "ranking")
