"""`image_index_words`: each image of a sample marked with the LM's own embedding of a
word (first, second, ...), at the tokens' own scale; read from the embedding table, so it
trains with the LM; saved in the model config, refused by the Hugging Face export."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from mllmkit.convert.errors import ConversionError
from mllmkit.convert.hf_config import hf_config_from_mllm
from mllmkit.models import MLLM, load_model, save_model, tiny_config
from mllmkit.models.config import ConfigError, ImageTagGroup, MLLMConfig

WORDS = ImageTagGroup(name="image", words=["first", "second"], token_ids=[[11], [12, 13]])


def _config(**extra: object) -> MLLMConfig:
    return dataclasses.replace(tiny_config(), image_index_words=WORDS, **extra)


def _ids(cfg: MLLMConfig, n_images: int, text: list[int]) -> list[int]:
    return text + [cfg.image_token_id] * (cfg.image_tokens_per_image * n_images) + [6, 7]


def test_each_image_gets_its_words_embedding_at_the_tokens_scale() -> None:
    cfg = _config()
    model = MLLM(cfg, seed=0, init_std=0.3).eval()
    image = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    ids = torch.tensor([_ids(cfg, 2, [5])])
    with torch.no_grad():
        embeds = model.embed_inputs(ids, image.expand(2, -1, -1, -1))
        plain = model.encode_images(image)[0]
    table = model.language_model.embed_tokens.weight.detach()
    per = cfg.image_tokens_per_image
    first, second = embeds[0, 1 : 1 + per], embeds[0, 1 + per : 1 + 2 * per]
    for got, vector in ((first, table[11]), (second, (table[12] + table[13]) / 2)):
        direction = vector / vector.norm()
        want = plain + direction * plain.norm(dim=-1, keepdim=True) * cfg.image_index_weight
        torch.testing.assert_close(got, want)


def test_the_marks_follow_the_embedding_table() -> None:
    """Gradient reaches the word's embedding row through the marks (they are not a copy)."""
    cfg = _config()
    model = MLLM(cfg, seed=0, init_std=0.3)
    ids = torch.tensor([_ids(cfg, 2, [5])])
    out = model(ids, torch.randn(2, 3, 32, 32))
    out.logits.square().sum().backward()
    grad = model.language_model.embed_tokens.weight.grad
    assert grad is not None and grad[12].abs().sum() > 0  # 12 appears only as a mark


def test_too_many_images_is_a_clear_error() -> None:
    model = MLLM(_config(), seed=0)
    ids = torch.tensor([_ids(model.config, 3, [5])])
    with pytest.raises(ValueError, match=r"at most 2 per sample.*image_index_words"):
        model(ids, torch.randn(3, 3, 32, 32))


def test_save_load_round_trip_and_export_refuses(tmp_path: Path) -> None:
    cfg = _config(image_index_weight=0.25)
    model = MLLM(cfg, seed=0, init_std=0.3).eval()
    save_model(model, tmp_path / "m")
    again = load_model(tmp_path / "m")
    assert again.config == cfg == MLLMConfig.from_dict(cfg.to_dict())
    ids = torch.tensor([_ids(cfg, 2, [5])])
    pixels = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(again(ids, pixels).logits, model(ids, pixels).logits)
    with pytest.raises(ConversionError, match="image_index_words"):
        hf_config_from_mllm(cfg)


def test_words_and_a_learned_embedding_are_exclusive_and_ids_are_checked() -> None:
    with pytest.raises(ConfigError, match="set one"):
        _config(image_index_embedding=2)
    bad = ImageTagGroup(name="image", words=["first", "second"], token_ids=[[11], [10**6]])
    with pytest.raises(ConfigError, match="not in the vocab"):
        dataclasses.replace(tiny_config(), image_index_words=bad)


def test_a_train_config_names_the_words_and_the_tokenizer_finds_them() -> None:
    from mllmkit.data.tokenizer import train_tokenizer
    from mllmkit.train.build import model_config

    tok = train_tokenizer(["which image, the first or the second one"] * 4, vocab_size=280)
    model = {"vision": {"image_size": 32, "patch_size": 8}, "lm": {"hidden_size": 32}}
    cfg = model_config({**model, "image_index_words": ["first", "second"]}, vocab_size=len(tok),
                       image_token_id=3, pad_token_id=0, eos_token_id=1, tokenizer=tok)
    assert cfg.image_index_words is not None
    assert [tok.decode(ids) for ids in cfg.image_index_words.token_ids] == [" first", " second"]
    with pytest.raises(ValueError, match="list of words"):
        model_config({**model, "image_index_words": "first"}, vocab_size=len(tok),
                     image_token_id=3, pad_token_id=0, eos_token_id=1, tokenizer=tok)
