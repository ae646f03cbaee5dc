"""LLaVA conversation files: happy paths and a battery of bad rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mllmkit.data.conversation import Conversation, Turn
from mllmkit.data.errors import DataError
from mllmkit.data.llava import read_conversations, validate_images


def _row(row_id: str, image=None, turns=None) -> dict:
    row: dict = {"id": row_id}
    if image is not None:
        row["image"] = image
    row["conversations"] = turns or [
        {"from": "human", "value": "What colour is it?"},
        {"from": "gpt", "value": "Red."},
    ]
    return row


def _write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _read_error(path: Path) -> DataError:
    with pytest.raises(DataError) as info:
        read_conversations(path)
    return info.value


def test_json_array_happy_path(tmp_path: Path) -> None:
    rows = [
        _row("one", "images/1.png"),
        _row(
            "multi",
            ["images/a.png", "images/b.png"],
            [
                {"from": "system", "value": "Be brief."},
                {"from": "human", "value": "<image>\n<image>\nSame shape?"},
                {"from": "gpt", "value": "Yes."},
                {"from": "human", "value": "And colour?"},
                {"from": "gpt", "value": "No."},
            ],
        ),
        _row(
            "text",
            None,
            [{"from": "human", "value": "Say hi."}, {"from": "gpt", "value": "Hi."}],
        ),
    ]
    path = tmp_path / "train.json"
    path.write_text(json.dumps(rows, indent=2))
    convs = read_conversations(path)
    assert [c.id for c in convs] == ["one", "multi", "text"]
    assert convs[0].images == [tmp_path / "images/1.png"]
    assert convs[0].turns == [
        Turn("user", "<image>\nWhat colour is it?"),
        Turn("assistant", "Red."),
    ]
    assert convs[1].images == [tmp_path / "images/a.png", tmp_path / "images/b.png"]
    assert [t.role for t in convs[1].turns] == ["system", "user", "assistant", "user", "assistant"]
    assert convs[1].n_image_tokens == 2
    assert convs[2].images == [] and convs[2].n_image_tokens == 0
    # `source` points at the line where each array item starts
    assert convs[0].source == f"{path}:2"
    assert convs[1].source == f"{path}:{2 + json.dumps(rows[0], indent=2).count(chr(10)) + 1}"


def test_jsonl_happy_path_and_image_root(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "train.jsonl", [_row("a", "x.png"), _row("b", "/abs/y.png")])
    convs = read_conversations(path, image_root=tmp_path / "pics")
    assert convs[0].images == [tmp_path / "pics" / "x.png"]
    assert convs[1].images == [Path("/abs/y.png")]  # absolute paths are kept
    assert convs[1].source == f"{path}:2"


def test_missing_marker_is_prepended_once_per_image(tmp_path: Path) -> None:
    turns = [{"from": "human", "value": "Compare them."}, {"from": "gpt", "value": "Same."}]
    path = _write_jsonl(tmp_path / "t.jsonl", [_row("p", ["a.png", "b.png"], turns)])
    (conv,) = read_conversations(path)
    assert conv.turns[0].text == "<image>\n<image>\nCompare them."


def test_marker_position_is_kept(tmp_path: Path) -> None:
    turns = [{"from": "human", "value": "Look: <image>"}, {"from": "gpt", "value": "Ok."}]
    path = _write_jsonl(tmp_path / "t.jsonl", [_row("p", "a.png", turns)])
    assert read_conversations(path)[0].turns[0].text == "Look: <image>"


def test_malformed_jsonl_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    good = json.dumps(_row("a", "x.png"))
    path.write_text(f"{good}\n\n{good[:-1]}\n")
    err = _read_error(path)
    assert f"{path}:3" in str(err)
    assert "malformed JSON" in str(err)
    assert err.row == 3


def test_malformed_json_array_names_line(tmp_path: Path) -> None:
    path = tmp_path / "train.json"
    first = json.dumps(_row("a"))
    second = json.dumps(_row("b"))
    path.write_text(f"[\n{first},\n{second}\n{first}\n]\n")  # missing comma after line 3
    err = _read_error(path)
    assert err.row == 4
    assert f"{path}:4" in str(err)


def test_trailing_comma_in_array(tmp_path: Path) -> None:
    path = tmp_path / "train.json"
    path.write_text(f"[\n{json.dumps(_row('a'))},\n]\n")
    err = _read_error(path)
    assert err.row == 3 and "malformed JSON" in str(err)


def test_missing_conversations_names_row_and_field(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "train.jsonl", [_row("a"), {"id": "abc", "image": "x.png"}])
    err = _read_error(path)
    assert str(err).startswith(f"{path}:2 (id=abc): field 'conversations': missing")
    assert (err.row, err.row_id, err.field) == (2, "abc", "conversations")


@pytest.mark.parametrize(
    ("turns", "field"),
    [
        (
            [{"from": "gpt", "value": "Hi"}, {"from": "human", "value": "x"}],
            "conversations[0].from",
        ),
        (
            [
                {"from": "human", "value": "a"},
                {"from": "human", "value": "b"},
                {"from": "gpt", "value": "c"},
            ],
            "conversations[1].from",
        ),
        (
            [
                {"from": "human", "value": "a"},
                {"from": "gpt", "value": "b"},
                {"from": "system", "value": "c"},
            ],
            "conversations[2].from",
        ),
        ([{"from": "human", "value": "a"}], "conversations"),
        ([{"from": "robot", "value": "a"}], "conversations[0].from"),
        ([{"from": "human"}], "conversations[0].value"),
        ([{"from": "human", "value": 3}, {"from": "gpt", "value": "b"}], "conversations[0].value"),
        ([{"from": "human", "value": "a"}, {"from": "gpt", "value": "<image>"}], None),
    ],
)
def test_bad_turns(tmp_path: Path, turns: list, field: str | None) -> None:
    path = _write_jsonl(tmp_path / "t.jsonl", [_row("r1", None, turns)])
    err = _read_error(path)
    assert err.row_id == "r1"
    if field is not None:
        assert err.field == field
    assert "(id=r1)" in str(err)


def test_image_count_mismatch_names_row_id(tmp_path: Path) -> None:
    turns = [{"from": "human", "value": "<image>\nWhich?"}, {"from": "gpt", "value": "Left."}]
    path = _write_jsonl(
        tmp_path / "t.jsonl", [_row("ok", "a.png"), _row("row7", ["a.png", "b.png"], turns)]
    )
    err = _read_error(path)
    assert "(id=row7)" in str(err)
    assert "1 '<image>' marker(s)" in str(err) and "2 image(s)" in str(err)
    assert err.row == 2


def test_marker_without_image(tmp_path: Path) -> None:
    turns = [{"from": "human", "value": "<image>\nWhat?"}, {"from": "gpt", "value": "A dog."}]
    path = _write_jsonl(tmp_path / "t.jsonl", [_row("x", None, turns)])
    assert "(id=x)" in str(_read_error(path))


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"conversations": []}, "id"),
        ({"id": "", "conversations": []}, "id"),
        ({"id": True, "conversations": []}, "id"),
        ({"id": "a", "image": 5, "conversations": []}, "image"),
        ({"id": "a", "image": ["ok.png", ""], "conversations": []}, "image"),
        ({"id": "a", "image": "x", "images": ["y"], "conversations": []}, "image"),
        ({"id": "a", "conversations": []}, "conversations"),
        ({"id": "a", "conversations": "hi"}, "conversations"),
    ],
)
def test_bad_fields(tmp_path: Path, row: dict, field: str) -> None:
    path = _write_jsonl(tmp_path / "t.jsonl", [row])
    err = _read_error(path)
    assert err.field == field
    assert f"field '{field}'" in str(err)


def test_integer_id_and_images_key(tmp_path: Path) -> None:
    row = _row("x", None)
    row["id"] = 17
    row["images"] = ["a.png"]
    (conv,) = read_conversations(_write_jsonl(tmp_path / "t.jsonl", [row]))
    assert conv.id == "17" and conv.images == [tmp_path / "a.png"]


@pytest.mark.parametrize(
    ("text", "line"), [("", None), ("  \n", None), ('"hello"', 1), ("\n\n42", 3)]
)
def test_not_rows(tmp_path: Path, text: str, line: int | None) -> None:
    path = tmp_path / "x.json"
    path.write_text(text)
    err = _read_error(path)
    assert err.row == line


def test_row_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text(
        '[\n{"id": "a", "conversations": [{"from": "human", "value": "q"}, '
        '{"from": "gpt", "value": "a"}]},\n[1, 2]\n]'
    )
    err = _read_error(path)
    assert err.row == 3 and "expected a JSON object" in str(err)


def test_empty_array_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text(" [ ] \n")
    assert read_conversations(path) == []


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        read_conversations(tmp_path / "none.json")


def test_validate_images_reports_every_bad_row(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((4, 4, 3), dtype=np.uint8)).save(tmp_path / "good.png")
    (tmp_path / "text.png").write_text("not an image")
    full = tmp_path / "full.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(
        full
    )
    (tmp_path / "cut.png").write_bytes(full.read_bytes()[:300])
    convs = [
        Conversation(
            "a", [tmp_path / "good.png"], [Turn("user", "<image>"), Turn("assistant", "x")]
        ),
        Conversation(
            "b", [tmp_path / "missing.png"], [Turn("user", "<image>"), Turn("assistant", "x")]
        ),
        Conversation(
            "c",
            [tmp_path / "good.png", tmp_path / "text.png"],
            [Turn("user", "<image><image>"), Turn("assistant", "x")],
        ),
        Conversation(
            "d", [tmp_path / "missing.png"], [Turn("user", "<image>"), Turn("assistant", "x")]
        ),
        Conversation(
            "e", [tmp_path / "cut.png"], [Turn("user", "<image>"), Turn("assistant", "x")]
        ),
    ]
    problems = validate_images(convs)
    assert [(p.conversation_id, p.path.name) for p in problems] == [
        ("b", "missing.png"),
        ("c", "text.png"),
        ("d", "missing.png"),
    ]
    assert "file not found" in str(problems[0])
    decoded = validate_images(convs, decode=True)
    assert [(p.conversation_id, p.path.name) for p in decoded][-1] == ("e", "cut.png")
    assert validate_images(convs[:1]) == []
    small = validate_images(convs[:1], max_pixels=10)
    assert len(small) == 1 and "above the limit" in small[0].reason
