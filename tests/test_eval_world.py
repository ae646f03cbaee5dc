"""Every built-in world task runs end to end on a freshly generated (small) world."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mllmkit.eval.builtin import TASKS, WORLD_ABILITIES
from mllmkit.eval.runner import evaluate

world_generate = pytest.importorskip(
    "mllmkit.world.generate", reason="mllmkit.world.generate is not in place yet"
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    world_generate.generate_world(out, n_train=40, n_test=12, seed=0, progress=False)
    return out


def test_all_builtin_tasks_on_the_world(world: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    metrics = evaluate("instant:", ",".join(TASKS), out, data_dir=world, progress=False)
    tasks = metrics["tasks"]
    assert set(tasks) == set(TASKS)
    for name, task in tasks.items():
        assert "error" not in task, (name, task.get("error"))
        counts = task["counts"]
        assert counts["n"] > 0 and counts["bad_rows"] == 0 and counts["errors"] == 0, name
        for metric, result in task["metrics"].items():
            assert "error" not in result, (name, metric, result.get("error"))
    # instant answers "Yes" to every probe: POPE's yes-ratio is 1 and recall is 1
    pope = tasks["world-pope-random"]["metrics"]["pope"]["overall"]
    assert pope["yes_ratio"] == 1.0 and pope["recall"] == 1.0
    # instant answers "A": circular accuracy is 0 (no question has A right in all rotations)
    assert tasks["world-mcq-circular"]["metrics"]["circular"]["overall"]["circular_accuracy"] == 0
    assert set(tasks["world-yorn"]["metrics"]["accuracy"]["per_category"]) <= set(WORLD_ABILITIES)
    n_preds = sum(1 for _ in (out / "predictions.jsonl").open())
    assert n_preds == sum(t["counts"]["n"] for t in tasks.values())
    run = json.loads((out / "run.json").read_text())
    assert [t["spec"]["name"] for t in run["tasks"]] == list(TASKS)
