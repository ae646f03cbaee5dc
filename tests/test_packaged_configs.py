"""Every training config shipped in `mllmkit/configs` parses, and its model section builds."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from mllmkit.models import MLLM
from mllmkit.train.build import model_config
from mllmkit.train.config import TrainConfig

CONFIGS = sorted(
    Path(str(p)) for p in resources.files("mllmkit.configs").iterdir() if p.name.endswith(".yaml")
)


def test_the_demo_configs_are_packaged() -> None:
    names = {p.name for p in CONFIGS}
    assert {"demo.yaml", "demo_image_first.yaml", "demo_spatial.yaml", "judge.yaml"} <= names


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mllmkit.world.generate import generate_world

    out = tmp_path_factory.mktemp("world") / "w"
    generate_world(out, 30, 5, seed=0, workers=1, progress=False)
    return out


@pytest.mark.parametrize(
    "path", [p for p in CONFIGS if p.name.startswith("demo")], ids=lambda p: p.name
)
def test_demo_recipes_read_files_the_world_writes(path: Path, world: Path) -> None:
    # `mllm demo` points data_root at a fresh world: every file a stage names must be one
    # that `mllm world generate` writes (a per-ability file, say), or the run fails late.
    for file in TrainConfig.from_yaml(path, data_root=str(world)).data_files():
        assert file.is_file(), f"{path.name}: {file.relative_to(world)}"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_parses_and_its_model_builds(path: Path) -> None:
    cfg = TrainConfig.from_yaml(path)
    assert cfg.stages
    if cfg.init_from:  # the model comes from that folder
        return
    from mllmkit.data.tokenizer import train_tokenizer

    tok = train_tokenizer(["a small red circle at the top left"] * 4, vocab_size=280)
    config = model_config(
        cfg.model,
        vocab_size=len(tok),
        image_token_id=3,
        pad_token_id=0,
        eos_token_id=1,
        tokenizer=tok,
    )
    model = MLLM(config, init_std=cfg.init_std)
    assert model.image_tokens_per_image > 0
