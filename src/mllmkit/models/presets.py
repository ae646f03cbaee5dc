"""Small named model configurations, for tests and quick experiments."""

from __future__ import annotations

from typing import Any

from mllmkit.models.config import LMConfig, MLLMConfig, VisionConfig


def tiny_config(
    vocab_size: int = 96,
    *,
    image_token_id: int = 3,
    pad_token_id: int = 0,
    eos_token_id: int = 1,
    connector: str = "mlp2x_gelu",
    connector_hidden: int | None = None,
    vision: dict[str, Any] | None = None,
    lm: dict[str, Any] | None = None,
) -> MLLMConfig:
    """A model that runs in milliseconds: 32x32 images in 8x8 patches (16 tokens), 32-wide
    vision and LM, 2 layers each. `vision` / `lm` override single fields."""
    v = {
        "image_size": 32,
        "patch_size": 8,
        "hidden_size": 32,
        "num_layers": 2,
        "num_heads": 2,
        "intermediate_size": 64,
    }
    d = {
        "vocab_size": vocab_size,
        "hidden_size": 32,
        "num_layers": 2,
        "num_heads": 4,
        "num_kv_heads": 4,
        "intermediate_size": 64,
    }
    return MLLMConfig(
        vision=VisionConfig(**{**v, **(vision or {})}),
        lm=LMConfig(**{**d, **(lm or {})}),
        connector=connector,
        connector_hidden=connector_hidden,
        image_token_id=image_token_id,
        pad_token_id=pad_token_id,
        eos_token_id=eos_token_id,
    )
