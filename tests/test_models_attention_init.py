"""`lm_attention_init: mimetic`: query heads start part copy of their key head, so a fresh
head scores a token's match with itself above its match with unrelated tokens; nothing
else about a seeded model changes."""

from __future__ import annotations

import math

import pytest
import torch

from mllmkit.models import MLLM, tiny_config
from mllmkit.models.attention import Attention
from mllmkit.models.attention_init import ATTENTION_INITS, init_attention_
from mllmkit.train.config import ConfigError, TrainConfig


def _model(scheme: str, **lm: object) -> MLLM:
    return MLLM(tiny_config(lm=dict(lm) or None), seed=0, init_std=0.3, lm_attention_init=scheme)


def _head_scores(attn: Attention, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per query head: mean score of each token with itself, and with other tokens."""
    hd, group = attn.head_dim, attn.num_heads // attn.num_kv_heads
    q = attn.q_proj(x).view(len(x), attn.num_heads, hd)
    k = attn.k_proj(x).view(len(x), attn.num_kv_heads, hd).repeat_interleave(group, dim=1)
    scores = torch.einsum("ihd,jhd->hij", q, k)  # [heads, tokens, tokens]
    eye = torch.eye(len(x), dtype=torch.bool)
    return scores[:, eye].mean(dim=1), scores[:, ~eye].mean(dim=1)


@pytest.mark.parametrize("kv_heads", [4, 2])
def test_mimetic_heads_score_a_token_with_itself_highest(kv_heads: int) -> None:
    x = torch.randn(256, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        for attn in (
            layer.self_attn
            for layer in _model("mimetic", num_kv_heads=kv_heads).language_model.layers
        ):
            own, other = _head_scores(attn, x)
            # the copied part gives every head a positive self-match of b * |W_k x|^2
            assert (own > 5 * other.abs() + 1.0).all(), (own, other)
        normal = _model("normal", num_kv_heads=kv_heads).language_model.layers[0].self_attn
        own, _ = _head_scores(normal, x)
        assert not (own > 1.0).all()  # independent draws: no such bias in every head


def test_only_the_query_projections_change_and_by_the_stated_mix() -> None:
    normal, mimetic = _model("normal", num_kv_heads=2), _model("mimetic", num_kv_heads=2)
    ref = dict(normal.named_parameters())
    changed = [n for n, p in mimetic.named_parameters() if not torch.equal(p, ref[n])]
    assert changed and all(n.endswith("self_attn.q_proj.weight") for n in changed)
    attn, base = (
        mimetic.language_model.layers[1].self_attn,
        normal.language_model.layers[1].self_attn,
    )
    hd = attn.head_dim
    k = base.k_proj.weight.view(2, hd, -1).repeat_interleave(2, dim=0).reshape(-1, 32)
    torch.testing.assert_close(attn.q_proj.weight, (base.q_proj.weight + k) / math.sqrt(2.0))


def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="not one of"):
        init_attention_([], "identity")
    assert ATTENTION_INITS == ("normal", "mimetic")
    stage = {"name": "s", "data": ["x"], "trainable": ["lm"], "lr": {"lm": 1e-3}, "steps": 1}
    raw = {"model": {}, "lm_attention_init": "identity", "stages": [stage]}
    with pytest.raises(ConfigError, match=r"'lm_attention_init' 'identity' is not one of"):
        TrainConfig.from_dict(raw)
    with pytest.raises(ConfigError, match="only shapes a fresh model"):
        TrainConfig.from_dict({**raw, "lm_attention_init": "mimetic", "init_from": "runs/x"})


def test_query_biases_take_the_same_mix() -> None:
    model = MLLM(tiny_config(lm={"qkv_bias": True, "num_kv_heads": 2}), seed=0, init_std=0.3)
    attn = model.language_model.layers[0].self_attn
    with torch.no_grad():  # biases start at zero; give them values to mix
        attn.q_proj.bias.normal_(generator=torch.Generator().manual_seed(2))
        attn.k_proj.bias.normal_(generator=torch.Generator().manual_seed(3))
    q_bias, k_bias = attn.q_proj.bias.clone(), attn.k_proj.bias.clone()
    init_attention_([attn], "mimetic")
    k_rows = k_bias.view(2, attn.head_dim).repeat_interleave(2, dim=0).reshape(-1)
    torch.testing.assert_close(attn.q_proj.bias, (q_bias + k_rows) / math.sqrt(2.0))
