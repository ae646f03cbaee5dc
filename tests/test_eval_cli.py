"""`mllm eval` and `mllm eval merge` through the real command line (Typer's CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from mllmkit.cli import app
from test_eval_fixtures import mcq_tsv, write_jsonl, yorn_tsv

runner = CliRunner()


def _yaml(root: Path) -> Path:
    mcq = mcq_tsv(root, n=6)
    yorn = yorn_tsv(root, n=6)
    path = root / "tasks.yaml"
    path.write_text(
        "tasks:\n"
        f"  - {{name: colors, loader: tsv, path: {mcq.name}, format: mcq}}\n"
        f"  - {{name: yn, loader: tsv, path: {yorn.name}, format: yorn, yes_no_rule: pope}}\n"
    )
    return path


def test_eval_with_instant_backend_prints_summary(tmp_path: Path) -> None:
    tasks = _yaml(tmp_path)
    out = tmp_path / "out"
    args = ["eval", "--model", "instant:", "--tasks", str(tasks), "--out", str(out)]
    result = runner.invoke(app, [*args, "--batch-size", "4", "--limit", "5"])
    assert result.exit_code == 0, result.output
    assert "colors" in result.output and "mcq/accuracy" in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    # instant answers "A"; gold letters of the first 5 rows are A, D, C, B, A -> 2/5
    assert metrics["tasks"]["colors"]["metrics"]["mcq"]["overall"]["accuracy"] == 0.4
    # instant answers "Yes" to yes/no: POPE yes-ratio is 1 whatever the labels are
    assert metrics["tasks"]["yn"]["metrics"]["pope"]["overall"]["yes_ratio"] == 1.0


def test_replay_rescoring_from_cli(tmp_path: Path) -> None:
    mcq = mcq_tsv(tmp_path, n=6)
    task = tmp_path / "colors.yaml"
    task.write_text(f"{{name: colors, loader: tsv, path: {mcq.name}, format: mcq}}\n")
    # predictions made elsewhere for rows 0..3 only (gold letters A, D, C, B)
    preds = write_jsonl(
        tmp_path / "preds.jsonl",
        [{"id": str(i), "prediction": f"The answer is {'ADCB'[i]}."} for i in range(4)],
    )
    out = tmp_path / "out"
    args = ["eval", "--model", f"replay:{preds}", "--tasks", str(task), "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    m = json.loads((out / "metrics.json").read_text())["tasks"]["colors"]
    assert m["metrics"]["mcq"]["overall"]["accuracy"] == 4 / 6  # rows 4, 5 have no answer
    assert m["counts"]["errors"] == 2
    assert any("no prediction for id '5'" in msg for msg in m["issues"])


def test_shard_and_merge_from_cli(tmp_path: Path) -> None:
    tasks = _yaml(tmp_path)
    for i in range(2):
        args = ["eval", "--model", "instant:", "--tasks", str(tasks), "--shard", f"{i}/2"]
        result = runner.invoke(app, [*args, "--out", str(tmp_path / f"s{i}")])
        assert result.exit_code == 0, result.output
    merged = tmp_path / "merged"
    result = runner.invoke(
        app, ["eval", "merge", str(tmp_path / "s0"), str(tmp_path / "s1"), "--out", str(merged)]
    )
    assert result.exit_code == 0, result.output
    single = tmp_path / "single"
    args = ["eval", "--model", "instant:", "--tasks", str(tasks), "--out", str(single)]
    assert runner.invoke(app, args).exit_code == 0
    for name in ("predictions.jsonl", "metrics.json"):
        assert (merged / name).read_text() == (single / name).read_text()


def test_cli_errors_are_clear(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", "--model", "instant:", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "--tasks" in result.output
    result = runner.invoke(
        app, ["eval", "--model", "instant:", "--tasks", "world-nope", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2 and "unknown task 'world-nope'" in result.output
    result = runner.invoke(
        app, ["eval", "--model", str(tmp_path / "nomodel"), "--tasks", "x", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2 and "cannot open model" in result.output
    result = runner.invoke(app, ["eval", "merge", str(tmp_path), "--out", str(tmp_path / "m")])
    assert result.exit_code == 2 and "no run.json" in result.output
