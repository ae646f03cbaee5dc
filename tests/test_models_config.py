"""Model configs: round trips, validation, derived token counts, connector registry."""

from __future__ import annotations

import pytest
import torch

from mllmkit.models import CONNECTORS, MLLM, ConfigError, LMConfig, MLLMConfig, VisionConfig
from mllmkit.models.connectors import PixelShuffleConnector, register_connector
from mllmkit.models.presets import tiny_config


def test_round_trip_through_dict() -> None:
    cfg = tiny_config(connector="pixel_shuffle", lm={"num_kv_heads": 2, "qkv_bias": True})
    again = MLLMConfig.from_dict(cfg.to_dict())
    assert again == cfg
    assert isinstance(again.vision, VisionConfig) and isinstance(again.lm, LMConfig)


@pytest.mark.parametrize(
    "section, key",
    [("top", "connecter"), ("vision", "patch_sise"), ("lm", "hidden")],
)
def test_unknown_keys_raise_with_their_name(section: str, key: str) -> None:
    data = tiny_config().to_dict()
    (data if section == "top" else data[section])[key] = 1
    with pytest.raises(ConfigError, match=key):
        MLLMConfig.from_dict(data)


def test_missing_token_id_raises() -> None:
    data = tiny_config().to_dict()
    del data["image_token_id"]
    with pytest.raises(ConfigError, match="image_token_id"):
        MLLMConfig.from_dict(data)


@pytest.mark.parametrize(
    "connector, keep_cls, expected",
    [
        ("linear", False, 16),
        ("linear", True, 17),
        ("mlp2x_gelu", False, 16),
        ("mlp2x_gelu", True, 17),
        ("pixel_shuffle", False, 4),
    ],
)
def test_image_tokens_per_image(connector: str, keep_cls: bool, expected: int) -> None:
    cfg = tiny_config(connector=connector, vision={"keep_cls": keep_cls})
    assert cfg.image_tokens_per_image == expected


def test_pixel_shuffle_refuses_class_token_and_odd_grid() -> None:
    with pytest.raises(ConfigError, match="keep_cls"):
        tiny_config(connector="pixel_shuffle", vision={"keep_cls": True})
    with pytest.raises(ConfigError, match="square grid"):  # 24/8 = 3x3 grid, odd side
        tiny_config(connector="pixel_shuffle", vision={"image_size": 24})


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"vision": {"feature_layer": -4}}, "feature_layer"),
        ({"vision": {"hidden_act": "relu"}}, "hidden_act"),
        ({"vision": {"image_size": 30}}, "image_size"),
        ({"lm": {"num_kv_heads": 3}}, "num_kv_heads"),
        ({"connector": "mlp3x"}, "connector"),
        ({"image_token_id": 96}, "image_token_id"),
        ({"connector": "linear", "connector_hidden": 8}, "connector_hidden"),
        ({"connector_hidden": 0}, "connector_hidden"),
    ],
)
def test_invalid_fields_are_named(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        tiny_config(**kwargs)


def test_connector_hidden_sets_the_mlp_width() -> None:
    model = MLLM(tiny_config(connector_hidden=48), seed=0)
    assert model.multi_modal_projector.linear_1.weight.shape == (48, 32)
    assert model.multi_modal_projector.linear_2.weight.shape == (32, 48)


def test_connector_registry_refuses_duplicates() -> None:
    assert set(CONNECTORS) >= {"linear", "mlp2x_gelu", "pixel_shuffle"}
    with pytest.raises(ValueError, match="already registered"):
        register_connector("linear")(PixelShuffleConnector)


def test_pixel_shuffle_groups_2x2_neighbourhoods() -> None:
    """Hand-checked layout: on a 4x4 grid, output token 0 concatenates patches (row, col)
    (0,0), (0,1), (1,0), (1,1); token 1 takes (0,2), (0,3), (1,2), (1,3)."""
    conn = PixelShuffleConnector(in_dim=1, out_dim=4)
    with torch.no_grad():
        conn.proj.weight.copy_(torch.eye(4))
    grid = torch.arange(16.0).reshape(1, 16, 1)  # value = row * 4 + col
    out = conn(grid)
    assert out.shape == (1, 4, 4)
    assert out[0, 0].tolist() == [0.0, 1.0, 4.0, 5.0]
    assert out[0, 1].tolist() == [2.0, 3.0, 6.0, 7.0]
    assert out[0, 2].tolist() == [8.0, 9.0, 12.0, 13.0]
    assert out[0, 3].tolist() == [10.0, 11.0, 14.0, 15.0]
