"""`image_index_embedding`: one learned vector per image of a sample (first, second, ...),
added to that image's tokens at the tokens' own scale; owned by the connector, saved with
it, refused by the Hugging Face export."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from mllmkit.convert.errors import ConversionError
from mllmkit.convert.hf_config import hf_config_from_mllm
from mllmkit.models import MLLM, load_model, save_model, tiny_config
from mllmkit.models.config import ConfigError, MLLMConfig
from mllmkit.models.mllm import image_index_in_sample
from mllmkit.train.components import set_trainable


def _config(n: int = 2, **extra: object) -> MLLMConfig:
    return dataclasses.replace(tiny_config(), image_index_embedding=n, **extra)


def _ids(cfg: MLLMConfig, n_images: int, text: list[int]) -> list[int]:
    return text + [cfg.image_token_id] * (cfg.image_tokens_per_image * n_images) + [6, 7]


def test_index_of_each_image_within_its_sample() -> None:
    per = 3
    rows = [[1, 1, 1, 1, 1, 1, 0], [0, 0, 0, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0, 0]]
    is_image = torch.tensor(rows, dtype=torch.bool)
    assert image_index_in_sample(is_image, per).tolist() == [0, 1, 0]


def test_the_same_image_twice_is_told_apart_and_the_connector_owns_the_vectors() -> None:
    cfg = _config()
    model = MLLM(cfg, seed=0, init_std=0.3).eval()
    table = model.multi_modal_projector.image_index_embedding
    assert table is not None and tuple(table.shape) == (2, cfg.lm.hidden_size)
    image = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    ids = torch.tensor([_ids(cfg, 2, [5])])
    with torch.no_grad():
        embeds = model.embed_inputs(ids, image.expand(2, -1, -1, -1))
        plain = model.encode_images(image)[0]
    per = cfg.image_tokens_per_image
    first, second = embeds[0, 1 : 1 + per], embeds[0, 1 + per : 1 + 2 * per]
    assert not torch.allclose(first, second)
    # each image's offset is its slot's direction at `weight` x each token's own norm
    for got, slot in ((first, 0), (second, 1)):
        direction = table[slot] / table[slot].norm()
        want = plain + direction * plain.norm(dim=-1, keepdim=True) * cfg.image_index_weight
        torch.testing.assert_close(got, want.detach())
    set_trainable(model, ["connector"])
    assert table.requires_grad
    set_trainable(model, ["lm"])
    assert not table.requires_grad


def test_a_sample_alone_equals_the_same_sample_in_a_padded_batch() -> None:
    cfg = _config()
    model = MLLM(cfg, seed=0, init_std=0.3).eval()
    gen = torch.Generator().manual_seed(2)
    pixels = torch.randn(3, 3, 32, 32, generator=gen)
    two = _ids(cfg, 2, [5, 9])
    one = _ids(cfg, 1, [5, 9, 10, 11])
    pad = cfg.pad_token_id
    length = max(len(two), len(one))
    batch = torch.tensor([[pad] * (length - len(one)) + one, [pad] * (length - len(two)) + two])
    mask = batch != pad
    with torch.no_grad():
        alone = model(torch.tensor([two]), pixels[1:]).logits[0]
        together = model(batch, pixels, attention_mask=mask).logits[1, length - len(two) :]
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-5)


def test_more_images_than_slots_is_a_clear_error() -> None:
    cfg = _config(n=1)
    model = MLLM(cfg, seed=0)
    ids = torch.tensor([_ids(cfg, 2, [5])])
    with pytest.raises(ValueError, match="at most 1 per sample"):
        model(ids, torch.randn(2, 3, 32, 32))


def test_off_by_default_and_same_initial_weights_as_before() -> None:
    base = tiny_config()
    assert base.image_index_embedding == 0
    a, b = MLLM(base, seed=3), MLLM(_config(), seed=3)
    assert a.multi_modal_projector.image_index_embedding is None
    for name, value in a.state_dict().items():
        assert torch.equal(b.state_dict()[name], value), name


def test_save_load_round_trip_and_export_refuses(tmp_path: Path) -> None:
    cfg = _config(n=3, image_index_weight=0.25)
    model = MLLM(cfg, seed=0, init_std=0.3).eval()
    save_model(model, tmp_path / "m")
    again = load_model(tmp_path / "m")
    assert again.config == cfg == MLLMConfig.from_dict(cfg.to_dict())
    ids = torch.tensor([_ids(cfg, 2, [5])])
    pixels = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(again(ids, pixels).logits, model(ids, pixels).logits)
    with pytest.raises(ConversionError, match="image_index_embedding"):
        hf_config_from_mllm(cfg)


@pytest.mark.parametrize(
    ("field", "value"),
    [("image_index_embedding", -1), ("image_index_weight", 0.0), ("image_index_weight", -1.0)],
)
def test_bad_settings_are_refused(field: str, value: float) -> None:
    with pytest.raises(ConfigError, match=field):
        dataclasses.replace(tiny_config(), **{field: value})
