"""`run_demo` end to end on a tiny config: world at the model's size, per-ability table."""

from __future__ import annotations

import json
from pathlib import Path

from train_fixtures import write_config


def test_demo_renders_the_world_at_the_model_size_and_reports_every_ability(
    tmp_path: Path,
) -> None:
    from PIL import Image

    from mllmkit.demo import ABILITIES, DemoConfig, format_table, run_demo

    config = write_config(tmp_path / "tiny.yaml", tmp_path / "unused", tmp_path / "unused",
                          steps=(1, 1))
    out = tmp_path / "demo"
    cfg = DemoConfig(out=str(out), train_scenes=30, test_scenes=8, config=str(config),
                     eval_batch_size=16, workers=1)
    result = run_demo(cfg, progress=False, log=lambda *_: None)

    image = next((out / "world" / "test" / "images").iterdir())
    assert Image.open(image).size == (32, 32)  # TINY_MODEL's vision image_size
    assert set(result.accuracy) <= set(ABILITIES) and {"existence", "color"} <= set(result.accuracy)
    assert all(0.0 <= a <= 1.0 for a in result.accuracy.values())
    assert json.loads((out / "demo_summary.json").read_text())["accuracy"] == result.accuracy
    assert "existence" in format_table(result)
    assert (Path(result.model_dir) / "model.safetensors").exists()


def test_demo_seeds_the_world_and_the_model_separately(tmp_path: Path) -> None:
    from mllmkit.demo import DemoConfig, default_config_path, training_config
    from mllmkit.train.config import TrainConfig

    yaml_seed = TrainConfig.from_yaml(default_config_path()).seed
    base = DemoConfig(out=str(tmp_path / "demo"), seed=yaml_seed + 3)
    tcfg = training_config(base)
    assert tcfg.seed == yaml_seed  # the world's seed does not reach the model
    assert Path(tcfg.out) == tmp_path / "demo" / "train"
    assert Path(tcfg.data_root) == tmp_path / "demo" / "world"
    override = DemoConfig(out=str(tmp_path / "demo"), model_seed=yaml_seed + 5)
    assert training_config(override).seed == yaml_seed + 5
