"""The image tagger: config checks, word embeddings per class, where tags land, their scale,
save/load, the vision component owning it, and the exporter refusing it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mllmkit.models import MLLM, load_model, save_model
from mllmkit.models.config import ConfigError, ImageTagGroup, LMConfig, MLLMConfig, VisionConfig
from mllmkit.models.connectors import build_connector

VISION = VisionConfig(
    image_size=32, patch_size=8, hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32
)
LM = LMConfig(
    vocab_size=40, hidden_size=16, num_layers=1, num_heads=2, num_kv_heads=2, intermediate_size=32
)
GROUPS = [
    ImageTagGroup(name="kind", words=["", "circle", "big cross"], token_ids=[[], [9], [10, 11]]),
    ImageTagGroup(name="color", words=["", "red"], token_ids=[[], [12]]),
]


def _config(**kw: object) -> MLLMConfig:
    base: dict = dict(
        vision=VISION,
        lm=LM,
        connector="pixel_shuffle",
        image_tags=GROUPS,
        image_token_id=3,
        pad_token_id=0,
        eos_token_id=1,
    )
    base.update(kw)
    return MLLMConfig(**base)


def _model(seed: int = 0, **kw: object) -> MLLM:
    model = MLLM(_config(**kw), seed=seed, init_std=0.3)
    with torch.no_grad():  # a confident, non-uniform tagger
        assert model.image_tagger is not None
        model.image_tagger.head.weight.normal_(0, 1.0, generator=torch.Generator().manual_seed(1))
    return model


def test_config_round_trips_and_bad_groups_are_refused() -> None:
    cfg = _config()
    again = MLLMConfig.from_dict(cfg.to_dict())
    assert again == cfg and isinstance(again.image_tags[0], ImageTagGroup)  # type: ignore[index]
    with pytest.raises(ConfigError, match=r"token ids \[99\] are not in \[0, 40\)"):
        _config(image_tags=[ImageTagGroup(name="k", words=["", "x"], token_ids=[[], [99]])])
    with pytest.raises(ConfigError, match="repeats a group"):
        _config(image_tags=[GROUPS[0], GROUPS[0]])
    with pytest.raises(ConfigError, match="has ids exactly when it has a word"):
        ImageTagGroup(name="k", words=["", "x"], token_ids=[[4], [5]])
    with pytest.raises(ConfigError, match="'token_ids' has 1 entries for 2 'words'"):
        ImageTagGroup(name="k", words=["", "x"], token_ids=[[]])
    with pytest.raises(ConfigError, match="'image_tag_weight' must be > 0"):
        _config(image_tag_weight=0.0)
    with pytest.raises(ConfigError, match="image tag group: unknown key"):
        MLLMConfig.from_dict({**cfg.to_dict(), "image_tags": [{"name": "k", "wrds": []}]})


def test_word_matrix_is_each_class_mean_word_embedding() -> None:
    model = _model()
    tagger = model.image_tagger
    assert tagger is not None
    emb = model.language_model.embed_tokens.weight
    words = tagger.word_matrix(emb)
    assert words.shape == (5, 16)
    torch.testing.assert_close(words[1], emb[9])
    torch.testing.assert_close(words[2], (emb[10] + emb[11]) / 2)
    torch.testing.assert_close(words[4], emb[12])
    assert words[0].abs().sum() == 0 and words[3].abs().sum() == 0  # classes with no word


def test_tags_are_expected_words_pooled_per_output_token_and_rescaled() -> None:
    model = _model()
    tagger = model.image_tagger
    assert tagger is not None
    features = torch.randn(2, 16, 16)  # 4x4 patches -> 2x2 output tokens
    emb = model.language_model.embed_tokens.weight
    # expected embedding: softmax per group, times that group's word rows
    k_logits, c_logits = tagger.head(features).split([3, 2], dim=-1)
    words = tagger.word_matrix(emb)
    tags = k_logits.softmax(-1) @ words[:3] + c_logits.softmax(-1) @ words[3:]
    torch.testing.assert_close(tagger.tag_embeddings(features, emb), tags)
    pooled = model.multi_modal_projector.pool_tokens(tags)
    assert pooled.shape == (2, 4, 16)
    # output token 0 covers patches (0,0), (0,1), (1,0), (1,1) of the 4x4 grid
    torch.testing.assert_close(pooled[:, 0], tags[:, [0, 1, 4, 5]].mean(dim=1))
    projected = model.multi_modal_projector.project(features)
    image_tokens = model.project_features(features)
    tag_part = image_tokens - projected
    torch.testing.assert_close(tag_part.norm(dim=-1), projected.norm(dim=-1))
    cos = torch.nn.functional.cosine_similarity(tag_part, pooled, dim=-1)
    torch.testing.assert_close(cos, torch.ones_like(cos))
    half = _model(image_tag_weight=0.5)
    half_part = half.project_features(features) - half.multi_modal_projector.project(features)
    torch.testing.assert_close(half_part.norm(dim=-1), 0.5 * projected.norm(dim=-1))


def test_the_tagger_changes_image_tokens_and_nothing_else() -> None:
    tagged = _model()
    plain = MLLM(_config(image_tags=None), seed=0, init_std=0.3)
    missing, unexpected = plain.load_state_dict(tagged.state_dict(), strict=False)
    assert not missing and all(k.startswith("image_tagger.") for k in unexpected) and unexpected
    ids = torch.tensor([[5, 6] + [3] * 4 + [7, 8]])
    text = torch.tensor([[5, 6, 7, 8]])
    pixels = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(tagged(text).logits, plain(text).logits)
    assert not torch.allclose(tagged(ids, pixels).logits, plain(ids, pixels).logits)


def test_pool_tokens_is_identity_for_token_keeping_connectors() -> None:
    x = torch.randn(2, 5, 8)
    for name in ("linear", "mlp2x_gelu"):
        assert torch.equal(build_connector(name, 8, 8, None).pool_tokens(x), x)


def test_zero_initialised_tagger_gives_each_group_its_mean_word() -> None:
    model = MLLM(_config(), seed=0, init_std=0.3)
    tagger = model.image_tagger
    assert tagger is not None and tagger.head.weight.abs().sum() == 0
    emb = model.language_model.embed_tokens.weight
    words = tagger.word_matrix(emb)
    tags = tagger.tag_embeddings(torch.randn(1, 3, 16), emb)
    torch.testing.assert_close(tags[0, 1], words[:3].mean(0) + words[3:].mean(0))


def test_save_and_load_keep_the_tagger(tmp_path: Path) -> None:
    model = _model().eval()
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    ids = torch.tensor([[5] + [3] * 4 + [7]])
    pixels = torch.randn(1, 3, 32, 32)
    assert torch.equal(model(ids, pixels).logits, loaded(ids, pixels).logits)


def test_the_vision_component_owns_the_tagger() -> None:
    from mllmkit.train.components import component_parameters, set_trainable

    model = _model()
    tagger = model.image_tagger
    assert tagger is not None
    vision = {id(p) for p in component_parameters(model, "vision")}
    assert {id(p) for p in tagger.parameters()} <= vision
    set_trainable(model, ["connector", "lm"])
    assert not any(p.requires_grad for p in tagger.parameters())
    set_trainable(model, ["vision"])
    assert all(p.requires_grad for p in tagger.parameters())


def test_export_to_llava_refuses_a_tagger() -> None:
    pytest.importorskip("transformers")
    from mllmkit.convert.hf_config import hf_config_from_mllm

    with pytest.raises(ValueError, match="image_tags"):
        hf_config_from_mllm(_config(connector="mlp2x_gelu"))
