"""`run_demo` end to end on a tiny config: world at the model's size, per-ability table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
    assert result.procs == 1

    # a world that matches every knob but lacks a file a stage reads (as one written
    # before that file existed would) is regenerated, not handed to a stage that fails
    (out / "world" / "train" / "instruct.jsonl").unlink()
    lines: list[str] = []
    run_demo(cfg, progress=False, log=lambda *a: lines.append(" ".join(map(str, a))))
    assert (out / "world" / "train" / "instruct.jsonl").is_file()
    assert any("instruct.jsonl is missing" in line for line in lines)
    assert not any("reusing" in line for line in lines)


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


def test_a_packaged_recipe_is_found_by_its_exact_name(tmp_path: Path) -> None:
    from mllmkit.demo import DemoConfig, config_path, default_config_path, training_config

    assert config_path(None) == default_config_path()
    assert config_path("demo") == default_config_path()
    long = training_config(DemoConfig(out=str(tmp_path / "d"), config="demo_long"))
    assert [s.name for s in long.stages][-1] == "instruct_more"
    own = tmp_path / "mine.yaml"
    own.write_text(default_config_path().read_text())
    assert config_path(str(own)) == own  # a file is used as given
    with pytest.raises(FileNotFoundError, match=r"packaged: .*demo_long"):
        config_path("demo_lon")  # no prefix or substring matching


def test_the_long_recipe_is_the_default_plus_one_stage() -> None:
    """`demo_long` must continue a finished default run: every stage before its last, the
    model and the seed are the default's."""
    from mllmkit.demo import config_path
    from mllmkit.train.config import TrainConfig

    short = TrainConfig.from_yaml(config_path("demo"))
    long = TrainConfig.from_yaml(config_path("demo_long"))
    assert long.stages[:-1] == short.stages
    assert (long.model, long.seed, long.processor, long.tokenizer) == (
        short.model, short.seed, short.processor, short.tokenizer,
    )
    extra = long.stages[-1]
    assert extra.steps > 0 and extra.data == short.stages[-1].data


def test_mllm_demo_refuses_an_unknown_recipe_before_doing_anything(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from mllmkit.cli import app

    out = tmp_path / "demo"
    res = CliRunner().invoke(app, ["demo", "--out", str(out), "--config", "no_such_recipe"])
    assert res.exit_code == 2
    assert "no_such_recipe" in res.output and "demo_long" in res.output
    assert not out.exists()  # no world generated for a run that cannot train


def test_demo_reuses_a_world_only_when_every_knob_matches(tmp_path: Path) -> None:
    from mllmkit.demo import DemoConfig, _world_matches
    from mllmkit.world.config import WorldConfig
    from mllmkit.world.generate import generate_world

    world = tmp_path / "world"
    written = WorldConfig(image_size=32)
    generate_world(world, 6, 4, 0, config=written, workers=1, progress=False)
    cfg = DemoConfig(train_scenes=6, test_scenes=4, seed=0)
    assert _world_matches(world, cfg, WorldConfig(image_size=32))
    assert not _world_matches(world, cfg, WorldConfig(image_size=64))
    assert not _world_matches(world, cfg, WorldConfig(image_size=32, max_objects=3))
    assert not _world_matches(world, cfg, WorldConfig(image_size=32,
                                                      train_multi_image_fraction=1.0))
    assert not _world_matches(world, DemoConfig(train_scenes=6, test_scenes=4, seed=1), written)
    assert not _world_matches(tmp_path / "nowhere", cfg, written)


def test_mllm_demo_help_names_every_packaged_recipe() -> None:
    from typer.testing import CliRunner

    from mllmkit.cli import app
    from mllmkit.demo import packaged_configs

    res = CliRunner().invoke(app, ["demo", "--help"], env={"COLUMNS": "250"})
    assert res.exit_code == 0
    recipes = [name for name in packaged_configs() if name.startswith("demo")]
    assert len(recipes) >= 4
    for name in recipes:
        assert f"{name} (" in res.output, name
