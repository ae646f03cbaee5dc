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
    assert {"demo.yaml", "demo_image_first.yaml", "judge.yaml"} <= names


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
