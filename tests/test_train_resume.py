"""Training resumes exactly: K steps straight == K/2 steps, kill -9, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from train_fixtures import make_world, write_config


def _losses(out: Path) -> dict[int, float]:
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    return {r["global_step"]: r["loss"] for r in rows}


def _weights(model_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(model_dir / "model.safetensors"))


def _assert_same_run(a_dir: Path, b_dir: Path, steps: list[int]) -> None:
    """Two runs logged the same losses at `steps` and ended with the same weights."""
    a, b = _losses(a_dir), _losses(b_dir)
    assert sorted(a) == sorted(b) == steps
    for step in a:
        assert a[step] == pytest.approx(b[step], abs=1e-6), step
    wa, wb = _weights(a_dir / "model"), _weights(b_dir / "model")
    assert wa.keys() == wb.keys()
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], atol=1e-6, rtol=0)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_world(tmp_path_factory.mktemp("resume"))


def test_schedule_and_lr_groups(world: Path, tmp_path: Path) -> None:
    from mllmkit.train.config import TrainConfig
    from mllmkit.train.trainer import train

    cfg = TrainConfig.from_yaml(write_config(tmp_path / "c.yaml", world, tmp_path / "run"))
    result = train(cfg, progress=False)
    rows = [json.loads(x) for x in result.metrics.read_text().splitlines()]
    assert [r["stage"] for r in rows] == ["align"] * 3 + ["instruct"] * 3
    assert [r["global_step"] for r in rows] == list(range(1, 7))
    assert all(r["loss"] > 0 for r in rows)
    assert (result.out / "loss.png").stat().st_size > 1000
    assert (result.model_dir / "model.safetensors").exists()
    assert (result.out / "stages" / "align" / "config.json").exists()


def test_frozen_components_do_not_move(world: Path, tmp_path: Path) -> None:
    from mllmkit.train.config import TrainConfig
    from mllmkit.train.trainer import train

    cfg = TrainConfig.from_yaml(
        write_config(tmp_path / "c.yaml", world, tmp_path / "run", steps=(2, 1))
    )
    train(cfg, progress=False, stop_after=2)  # align only: LM frozen
    ckpt = sorted((tmp_path / "run" / "checkpoints").iterdir())
    first, last = _weights(ckpt[0]), _weights(ckpt[-1])
    lm_keys = [k for k in first if k.startswith("language_model.")]
    vis_keys = [k for k in first if k.startswith("vision_tower.")]
    assert lm_keys and vis_keys
    assert all(torch.equal(first[k], last[k]) for k in lm_keys)
    assert any(not torch.equal(first[k], last[k]) for k in vis_keys)


def test_rerunning_a_finished_run_keeps_its_weights(world: Path, tmp_path: Path) -> None:
    """Running the same config again after it finished must not save fresh weights."""
    from mllmkit.train.config import TrainConfig
    from mllmkit.train.trainer import train

    cfg = TrainConfig.from_yaml(
        write_config(tmp_path / "c.yaml", world, tmp_path / "run", steps=(1, 1))
    )
    first = _weights(train(cfg, progress=False).model_dir)
    again = _weights(train(cfg, progress=False).model_dir)
    assert first.keys() == again.keys()
    assert all(torch.equal(first[k], again[k]) for k in first)


@pytest.mark.slow
@pytest.mark.parametrize("frozen_vision", [False, True], ids=["tower-trained", "tower-cached"])
def test_kill_and_resume_is_exact(world: Path, tmp_path: Path, frozen_vision: bool) -> None:
    """With `frozen_vision` the run is killed inside a stage that caches the tower's output:
    the resumed run must refill the cache with the very same values."""
    straight = tmp_path / "straight"
    cfg_a = write_config(
        tmp_path / "a.yaml", world, straight, steps=(3, 5), frozen_vision=frozen_vision
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "mllmkit.train"]
    subprocess.run([*cmd, str(cfg_a)], check=True, env=env, capture_output=True)

    resumed = tmp_path / "resumed"
    cfg_b = write_config(
        tmp_path / "b.yaml", world, resumed, steps=(3, 5), frozen_vision=frozen_vision
    )
    proc = subprocess.Popen([*cmd, str(cfg_b)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    # kill -9 once at least half of the 8 steps are checkpointed (mid instruct stage)
    deadline = time.time() + 120
    while time.time() < deadline:
        done = [p for p in (resumed / "checkpoints").glob("step-*") if not p.name.endswith("tmp")]
        if any(int(p.name.split("-")[1]) >= 4 for p in done):
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (resumed / "model").exists(), "the run finished before it could be killed"
    subprocess.run([*cmd, str(cfg_b)], check=True, env=env, capture_output=True)

    _assert_same_run(straight, resumed, list(range(1, 9)))


def test_a_stage_appended_to_a_finished_run_continues_it_exactly(
    world: Path, tmp_path: Path
) -> None:
    """Appending a stage to a finished run's config and rerunning it into the same folder
    continues from the last checkpoint; it ends with the losses and weights of the longer
    config run from scratch, so a recipe can grow by a stage without retraining."""
    import yaml

    from mllmkit.train.config import TrainConfig
    from mllmkit.train.trainer import train

    straight = tmp_path / "straight"
    full = TrainConfig.from_yaml(write_config(tmp_path / "a.yaml", world, straight, steps=(2, 2)))
    train(full, progress=False)

    grown = tmp_path / "grown"
    path = write_config(tmp_path / "b.yaml", world, grown, steps=(2, 2))
    two_stages = yaml.safe_load(path.read_text())
    # the straight run's tokenizer: one trained on the first stage's data alone would differ
    two_stages["tokenizer"] = {"path": str(straight / "model")}
    first_only = {**two_stages, "stages": two_stages["stages"][:1]}
    path.write_text(yaml.safe_dump(first_only))
    train(TrainConfig.from_yaml(path), progress=False)
    assert sorted(_losses(grown)) == [1, 2]
    path.write_text(yaml.safe_dump(two_stages))
    train(TrainConfig.from_yaml(path), progress=False)

    _assert_same_run(straight, grown, [1, 2, 3, 4])
