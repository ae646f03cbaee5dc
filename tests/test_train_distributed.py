"""`torchrun --nproc_per_node 2` data parallelism equals one process on the same global batch."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from train_fixtures import make_world, write_config


@pytest.mark.slow
def test_two_processes_match_one(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = tmp_path / "single"
    cfg1 = write_config(tmp_path / "one.yaml", world, single, steps=(2, 2), batch=4, micro=1,
                        every=100)
    subprocess.run([sys.executable, "-m", "mllmkit.train", str(cfg1)], check=True, env=env,
                   capture_output=True)

    ddp = tmp_path / "ddp"
    cfg2 = write_config(tmp_path / "two.yaml", world, ddp, steps=(2, 2), batch=4, micro=1,
                        every=100)
    # the same tokenizer for both runs: hand the single run's tokenizer to the ddp run
    (ddp / "tokenizer").mkdir(parents=True)
    for f in (single / "tokenizer").iterdir():
        (ddp / "tokenizer" / f.name).write_bytes(f.read_bytes())
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "mllmkit.train", str(cfg2)],
        env=env, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]

    def losses(out: Path) -> list[float]:
        return [json.loads(x)["loss"] for x in (out / "metrics.jsonl").read_text().splitlines()]

    la, lb = losses(single), losses(ddp)
    assert len(la) == len(lb) == 4
    assert la == pytest.approx(lb, abs=1e-5)
    wa = load_file(str(single / "model" / "model.safetensors"))
    wb = load_file(str(ddp / "model" / "model.safetensors"))
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], atol=1e-5, rtol=0)


@pytest.mark.slow
def test_spawned_processes_match_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`train_processes(cfg, 2)` (what `mllm demo --procs 2` runs) equals one process."""
    from mllmkit.train.config import TrainConfig
    from mllmkit.train.launch import train_processes

    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # the budget: 1 thread per process
    world = make_world(tmp_path)
    single, spawned = tmp_path / "single", tmp_path / "spawned"
    cfg1 = write_config(tmp_path / "one.yaml", world, single, steps=(2, 2), batch=4, micro=1,
                        every=100)
    cfg2 = write_config(tmp_path / "two.yaml", world, spawned, steps=(2, 2), batch=4, micro=1,
                        every=100)
    one = train_processes(TrainConfig.from_yaml(cfg1), 1, progress=False)
    (spawned / "tokenizer").mkdir(parents=True)
    for f in (single / "tokenizer").iterdir():
        (spawned / "tokenizer" / f.name).write_bytes(f.read_bytes())
    two = train_processes(TrainConfig.from_yaml(cfg2), 2, progress=False)
    assert two.model_dir == spawned / "model"
    assert two.final_loss == pytest.approx(one.final_loss, abs=1e-5)
    # rank 0's own result comes back: a rerun of the finished run trains nothing (NaN)
    again = train_processes(TrainConfig.from_yaml(cfg2), 2, progress=False)
    assert math.isnan(again.final_loss)

    def losses(out: Path) -> list[float]:
        return [json.loads(x)["loss"] for x in (out / "metrics.jsonl").read_text().splitlines()]

    assert losses(single) == pytest.approx(losses(spawned), abs=1e-5)
    wa = load_file(str(single / "model" / "model.safetensors"))
    wb = load_file(str(spawned / "model" / "model.safetensors"))
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], atol=1e-5, rtol=0)


def test_spawn_rejects_an_indivisible_batch(tmp_path: Path) -> None:
    from mllmkit.train.config import TrainConfig
    from mllmkit.train.launch import train_processes

    world = make_world(tmp_path)
    cfg = write_config(tmp_path / "c.yaml", world, tmp_path / "o", steps=(1, 1), batch=3,
                       micro=1, every=100)
    with pytest.raises(ValueError, match="batch_size 3 is not divisible by 2 processes"):
        train_processes(TrainConfig.from_yaml(cfg), 2)
    with pytest.raises(ValueError, match="procs must be >= 1"):
        train_processes(TrainConfig.from_yaml(cfg), 0)


def test_train_cli_names_procs_when_the_batch_does_not_split(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from mllmkit.cli import app

    world = make_world(tmp_path)
    cfg = write_config(tmp_path / "c.yaml", world, tmp_path / "o", steps=(1, 1), batch=3,
                       micro=1, every=100)
    res = CliRunner().invoke(app, ["train", str(cfg), "--procs", "2"])
    assert res.exit_code == 2
    flat = " ".join(res.output.replace("│", " ").split())  # the error box wraps lines
    assert "--procs" in flat and "not divisible by 2 processes" in flat
    assert not (tmp_path / "o").exists()  # refused before anything was written
