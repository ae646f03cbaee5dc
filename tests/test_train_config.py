"""Training config validation: `init_std` is a positive number and reaches the model."""

from __future__ import annotations

import pytest

from mllmkit.train.config import ConfigError, TrainConfig

STAGE = {"name": "s", "data": ["x.jsonl"], "trainable": ["lm"], "lr": {"lm": 1e-3}, "steps": 1}


def test_init_std_defaults_and_is_read() -> None:
    assert TrainConfig.from_dict({"model": {}, "stages": [STAGE]}).init_std == 0.02
    assert TrainConfig.from_dict({"model": {}, "stages": [STAGE], "init_std": 0.1}).init_std == 0.1


@pytest.mark.parametrize("bad", [0, -0.1, "big"])
def test_init_std_must_be_positive(bad: object) -> None:
    with pytest.raises(ConfigError, match="init_std"):
        TrainConfig.from_dict({"model": {}, "stages": [STAGE], "init_std": bad})


def test_tokenizer_splits_are_read_and_checked() -> None:
    cfg = TrainConfig.from_dict(
        {"model": {}, "stages": [STAGE], "tokenizer": {"splits": ["cross|es"]}}
    )
    assert cfg.tokenizer.splits == ["cross|es"]
    with pytest.raises(ConfigError, match=r"tokenizer.*stem\|suffix"):
        TrainConfig.from_dict({"model": {}, "stages": [STAGE], "tokenizer": {"splits": ["x"]}})
    with pytest.raises(ConfigError, match="'splits' must be a list"):
        TrainConfig.from_dict(
            {"model": {}, "stages": [STAGE], "tokenizer": {"splits": "cross|es"}}
        )
