"""`image_position_embedding`: one learned vector per image-token slot, added after the
connector, saved with the connector, refused by the Hugging Face export."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from mllmkit.convert.errors import ConversionError
from mllmkit.convert.hf_config import hf_config_from_mllm
from mllmkit.models import MLLM, load_model, save_model, tiny_config
from mllmkit.models.config import ConfigError, MLLMConfig
from mllmkit.train.components import set_trainable


def _config(**extra: object) -> MLLMConfig:
    return dataclasses.replace(tiny_config(), image_position_embedding=True, **extra)


def test_slots_get_their_own_vector_and_the_connector_owns_it() -> None:
    cfg = _config()
    model = MLLM(cfg, seed=0, init_std=0.3).eval()
    pos = model.multi_modal_projector.position_embedding
    assert pos is not None and tuple(pos.shape) == (cfg.image_tokens_per_image, 32)
    pixels = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        with_pos = model.encode_images(pixels)
        plain = model.multi_modal_projector(model.vision_tower(pixels))
    torch.testing.assert_close(with_pos - plain, pos.detach().expand(2, -1, -1))
    set_trainable(model, ["connector"])
    assert pos.requires_grad
    set_trainable(model, ["lm"])
    assert not pos.requires_grad


def test_off_by_default_and_same_initial_weights_as_before() -> None:
    base = tiny_config()
    assert not base.image_position_embedding
    a, b = (
        MLLM(base, seed=3),
        MLLM(dataclasses.replace(base, image_position_embedding=True), seed=3),
    )
    assert a.multi_modal_projector.position_embedding is None
    for name, value in a.state_dict().items():
        assert torch.equal(b.state_dict()[name], value), name


def test_save_load_round_trip_and_export_refuses(tmp_path: Path) -> None:
    cfg = _config()
    model = MLLM(cfg, seed=0, init_std=0.3).eval()
    save_model(model, tmp_path / "m")
    again = load_model(tmp_path / "m")
    assert again.config == cfg == MLLMConfig.from_dict(cfg.to_dict())
    ids = torch.tensor([[5] + [cfg.image_token_id] * cfg.image_tokens_per_image + [6, 7]])
    pixels = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(again(ids, pixels).logits, model(ids, pixels).logits)
    with pytest.raises(ConversionError, match="image_position_embedding"):
        hf_config_from_mllm(cfg)


def test_init_std_sets_the_slot_scale_and_nothing_else() -> None:
    base = _config()
    wide = dataclasses.replace(base, image_position_init_std=30.0)
    a, b = MLLM(base, seed=3, init_std=0.1), MLLM(wide, seed=3, init_std=0.1)
    pa = a.multi_modal_projector.position_embedding
    pb = b.multi_modal_projector.position_embedding
    assert pa is not None and pb is not None
    # the same draw, scaled: 30 / 0.1
    torch.testing.assert_close(pb.detach(), pa.detach() * 300.0)
    for name, value in a.state_dict().items():
        if name != "multi_modal_projector.position_embedding":
            assert torch.equal(b.state_dict()[name], value), name
    assert MLLMConfig.from_dict(wide.to_dict()) == wide


@pytest.mark.parametrize(("embedding", "std"), [(False, 30.0), (True, 0.0), (True, -1.0)])
def test_init_std_needs_the_embedding_and_a_positive_value(embedding: bool, std: float) -> None:
    with pytest.raises(ConfigError, match="image_position_init_std"):
        dataclasses.replace(
            tiny_config(), image_position_embedding=embedding, image_position_init_std=std
        )
