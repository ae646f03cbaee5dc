"""`mllm world judge-data` and `mllm judge` through the real command line (CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from judge_fakes import image_folder, pair_items, write_items
from mllmkit.cli import app
from mllmkit.world.generate import generate_world

runner = CliRunner()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "w"
    generate_world(out, 30, 12, 1, workers=1, progress=False)
    return out


def test_world_judge_data_then_judge_with_a_baseline(world: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["world", "judge-data", "--data", str(world), "--per-question", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "judge_pair.jsonl" in result.output and "judge_train.jsonl" in result.output
    n_questions = sum(
        1
        for line in (world / "test" / "questions.jsonl").read_text().splitlines()
        if json.loads(line)["format"] == "short"
    )
    pairs = (world / "test" / "judge_pair.jsonl").read_text().splitlines()
    assert len(pairs) == 2 * n_questions

    out = tmp_path / "out"
    args = ["judge", "--judge", "baseline:longer", "--mode", "pair"]
    args += ["--data", str(world / "test" / "judge_pair.jsonl"), "--out", str(out)]
    result = runner.invoke(app, [*args, "--probes", "position,verbosity", "--limit", "10"])
    assert result.exit_code == 0, result.output
    assert "accuracy (ties counted)" in result.output and "position consistency" in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["counts"]["items"] == 10 and metrics["model"] == "baseline:longer"
    assert metrics["probes"]["position"]["consistency"] == 1.0
    assert (out / "report.md").read_text().startswith("# Judge report (pair)")


def test_judge_errors_are_clear(tmp_path: Path) -> None:
    root = image_folder(tmp_path / "data")
    data = write_items(root / "pair.jsonl", pair_items())
    base = [
        "judge",
        "--judge",
        "baseline:longer",
        "--data",
        str(data),
        "--out",
        str(tmp_path / "o"),
    ]
    result = runner.invoke(app, [*base, "--mode", "ranking"])
    assert result.exit_code == 2 and "unknown judge mode 'ranking'" in result.output
    result = runner.invoke(app, [*base, "--mode", "pair", "--probes", "length"])
    assert result.exit_code == 2 and "unknown probe" in result.output
    result = runner.invoke(app, [*base, "--mode", "score"])
    assert result.exit_code == 2 and "no usable 'score' items" in result.output
    missing = ["judge", "--judge", "baseline:nope", "--mode", "pair", "--data", str(data)]
    result = runner.invoke(app, [*missing, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "unknown baseline judge" in result.output


def test_world_judge_data_refuses_a_non_world_folder(tmp_path: Path) -> None:
    result = runner.invoke(app, ["world", "judge-data", "--data", str(tmp_path)])
    assert result.exit_code == 1 and "no world.json" in result.output
