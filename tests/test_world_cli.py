"""`mllm world generate` and `mllm world preview` through Typer's test runner."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image
from typer.testing import CliRunner

from mllmkit.cli import app

runner = CliRunner()


def test_generate_then_preview(tmp_path: Path) -> None:
    out = tmp_path / "w"
    result = runner.invoke(
        app,
        [
            "world",
            "generate",
            "--out",
            str(out),
            "--train",
            "20",
            "--test",
            "10",
            "--seed",
            "7",
            "--max-objects",
            "3",
            "--abilities",
            "count,color,position",
            "--workers",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "train/instruct.jsonl" in result.output and "test/world_mcq.tsv" in result.output
    meta = json.loads((out / "world.json").read_text())
    assert meta["config"]["max_objects"] == 3 and meta["abilities"] == [
        "count",
        "color",
        "position",
    ]
    sheet = tmp_path / "sheet.png"
    result = runner.invoke(
        app, ["world", "preview", "--data", str(out), "--n", "6", "--out", str(sheet)]
    )
    assert result.exit_code == 0, result.output
    with Image.open(sheet) as im:
        assert im.size[0] >= 4 * 192 and im.size[1] > 2 * 192


def test_high_res_and_image_size(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "world",
            "generate",
            "--out",
            str(tmp_path / "h"),
            "--train",
            "2",
            "--test",
            "1",
            "--seed",
            "0",
            "--high-res",
        ],
    )
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "h/train/images/000000.png") as im:
        assert im.size == (384, 384)
    result = runner.invoke(
        app,
        [
            "world",
            "generate",
            "--out",
            str(tmp_path / "s"),
            "--train",
            "2",
            "--test",
            "1",
            "--seed",
            "0",
            "--image-size",
            "96",
        ],
    )
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "s/test/images/000000.png") as im:
        assert im.size == (96, 96)


def test_errors_are_messages_not_tracebacks(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "world",
            "generate",
            "--out",
            str(tmp_path / "w"),
            "--train",
            "2",
            "--test",
            "1",
            "--seed",
            "0",
            "--abilities",
            "colour",
        ],
    )
    assert result.exit_code == 1
    assert "unknown abilities" in result.output and "Traceback" not in result.output
    result = runner.invoke(
        app,
        [
            "world",
            "generate",
            "--out",
            str(tmp_path / "w"),
            "--train",
            "2",
            "--test",
            "1",
            "--seed",
            "0",
            "--max-objects",
            "12",
        ],
    )
    assert result.exit_code == 1 and "max_objects" in result.output
    result = runner.invoke(
        app,
        ["world", "preview", "--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "p.png")],
    )
    assert result.exit_code == 1 and "scenes.jsonl" in result.output
