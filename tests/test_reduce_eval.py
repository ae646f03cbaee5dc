"""`mllm eval --reduce`: the native backend runs the strategy, the report gets its cost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mllmkit.cli import app
from test_eval_fixtures import mcq_tsv
from test_serve_fixtures import build_tiny_checkpoint

torch = pytest.importorskip("torch")
runner = CliRunner()
TEXTS = ["What color is the image? red green blue yellow", "A. red B. green Answer."] * 4


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_checkpoint(tmp_path_factory.mktemp("ckpt"), TEXTS, weight_scale=1.0)


def _tasks(root: Path) -> Path:
    mcq = mcq_tsv(root, n=4)
    path = root / "tasks.yaml"
    path.write_text(f"tasks:\n  - {{name: colors, loader: tsv, path: {mcq.name}, format: mcq}}\n")
    return path


def test_eval_reduce_writes_accounting(checkpoint: Path, tmp_path: Path) -> None:
    tasks = _tasks(tmp_path)
    out = tmp_path / "out"
    args = ["eval", "--model", str(checkpoint), "--tasks", str(tasks), "--out", str(out)]
    result = runner.invoke(app, [*args, "--reduce", "fastv:k=1,r=0.5", "--max-new-tokens", "3"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "reduction.json").read_text())
    assert summary["strategy"] == "fastv:k=1,r=0.5" and summary["requests"] == 4
    assert 50 < summary["flops_pct"] < 100
    assert summary["mean_kv_mb"] < summary["mean_full_kv_mb"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["reduction"] == summary
    assert "reduce=fastv:k=1,r=0.5" in metrics["model"]
    assert "## Token reduction" in (out / "report.md").read_text()

    # the reduction is part of the model fingerprint: the full run does not reuse answers
    full = tmp_path / "full"
    args_full = ["eval", "--model", str(checkpoint), "--tasks", str(tasks), "--out", str(full)]
    assert runner.invoke(app, [*args_full, "--max-new-tokens", "3"]).exit_code == 0
    run_r = json.loads((out / "run.json").read_text())
    run_f = json.loads((full / "run.json").read_text())
    assert run_r["model_fingerprint"] != run_f["model_fingerprint"]


def test_eval_reduce_errors(checkpoint: Path, tmp_path: Path) -> None:
    tasks = _tasks(tmp_path)
    base = ["eval", "--tasks", str(tasks), "--out", str(tmp_path / "o")]
    bad = runner.invoke(app, [*base, "--model", str(checkpoint), "--reduce", "fastv:q=1"])
    assert bad.exit_code == 2 and "unknown key 'q'" in bad.output
    deep = runner.invoke(app, [*base, "--model", str(checkpoint), "--reduce", "fastv:k=5"])
    assert deep.exit_code == 2 and "outside the model's 2 decoder layers" in deep.output
    inst = runner.invoke(app, [*base, "--model", "instant:", "--reduce", "none"])
    assert inst.exit_code == 2 and "checkpoint folder" in inst.output
