"""Attention with a learned sink key: the arithmetic, padding and KV-cache invariance,
ranking scores, FLOPs, and export refusing it."""

from __future__ import annotations

import pytest
import torch

from mllmkit.models import MLLM, KVCache, tiny_config
from mllmkit.models.attention import Attention
from mllmkit.models.config import LMConfig
from test_models_forward import ATOL, pad_batch, pixels, sample


def _sink_model(num_kv_heads: int = 4) -> MLLM:
    cfg = tiny_config(lm={"attention_sink": True, "num_kv_heads": num_kv_heads})
    model = MLLM(cfg, seed=0, init_std=0.3).eval()
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():  # a sink that differs per head (it starts at zero)
        for layer in model.language_model.layers:
            layer.self_attn.sink_key.normal_(0.0, 2.0, generator=gen)
    return model


def test_sink_is_a_key_every_query_sees_with_a_zero_value() -> None:
    cfg = LMConfig(vocab_size=8, hidden_size=16, num_heads=2, num_kv_heads=1, attention_sink=True)
    attn = Attention(cfg)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in attn.parameters():
            p.normal_(0.0, 0.5, generator=gen)
    x = torch.randn(1, 5, 16, generator=gen)
    pos = torch.arange(5)[None]
    cos, sin = torch.ones(1, 5, 8), torch.zeros(1, 5, 8)  # no rotation: plain dot products
    out = attn(x, cos, sin, token_mask=torch.ones(1, 5, dtype=torch.bool), position_ids=pos)
    # by hand: scores over the causal keys plus q . sink_key, softmax, zero value for the sink
    q = attn.q_proj(x).view(5, 2, 8).transpose(0, 1)  # [H, T, hd]
    k = attn.k_proj(x).view(5, 8)
    v = attn.v_proj(x).view(5, 8)
    assert attn.sink_key is not None
    scores = q @ k.T / 8**0.5  # [H, T, T]
    scores = scores.masked_fill(~torch.ones(5, 5, dtype=torch.bool).tril(), float("-inf"))
    sink = q @ attn.sink_key[0] / 8**0.5  # [H, T]
    probs = torch.cat([scores, sink[..., None]], dim=-1).softmax(-1)[..., :5]
    want = attn.o_proj((probs @ v).transpose(0, 1).reshape(1, 5, 16))
    torch.testing.assert_close(out, want, atol=ATOL, rtol=0)
    # the weight left for the real keys is below one: attention can land on nothing
    assert float(probs.detach().sum(-1).max()) < 1.0


@pytest.mark.parametrize("kv_heads", [4, 2])
def test_sample_alone_equals_sample_in_padded_batch(kv_heads: int) -> None:
    model = _sink_model(kv_heads)
    per = model.image_tokens_per_image
    rows = [sample(2, 1, per, 0), sample(9, 2, per, 1), sample(5, 0, per, 2)]
    images = [pixels(1, 10), pixels(2, 11), pixels(0, 12)]
    ids, mask = pad_batch(rows, "left")
    with torch.no_grad():
        batched = model(ids, torch.cat(images), mask).logits
        for i, (row, img) in enumerate(zip(rows, images, strict=True)):
            alone = model(row[None], img if len(img) else None).logits[0]
            torch.testing.assert_close(batched[i][mask[i].bool()], alone, atol=ATOL, rtol=0)


@pytest.mark.parametrize("kv_heads", [4, 2])
def test_cached_decoding_equals_full_recomputation(kv_heads: int) -> None:
    model = _sink_model(kv_heads)
    per = model.image_tokens_per_image
    ids, mask = pad_batch([sample(3, 1, per, 0), sample(1, 2, per, 1)], "left")
    pix = torch.cat([pixels(1, 0), pixels(2, 1)])
    extra = torch.randint(4, 96, (2, 4), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        full = model(
            torch.cat([ids, extra], 1), pix, torch.cat([mask, torch.ones_like(extra)], 1)
        ).logits
        cache = KVCache()
        steps = [model(ids, pix, mask, cache=cache, num_logits_to_keep=1).logits[:, -1]]
        for j in range(extra.shape[1]):
            out = model(extra[:, j : j + 1], attention_mask=torch.ones(2, 1), cache=cache)
            steps.append(out.logits[:, -1])
    t0 = ids.shape[1]
    for j, got in enumerate(steps):
        torch.testing.assert_close(got, full[:, t0 - 1 + j], atol=ATOL, rtol=0)


def test_zero_sink_changes_outputs_and_the_flag_round_trips() -> None:
    """At init the sink is a zero key (softmax 'off by one'): outputs differ from plain
    attention, and the config flag survives save/load as a key of `lm`."""
    from mllmkit.models.config import MLLMConfig

    cfg = tiny_config(lm={"attention_sink": True})
    assert MLLMConfig.from_dict(cfg.to_dict()).lm.attention_sink
    sink = MLLM(cfg, seed=0, init_std=0.3).eval()
    plain = MLLM(tiny_config(), seed=0, init_std=0.3).eval()
    missing, unexpected = plain.load_state_dict(sink.state_dict(), strict=False)
    assert not missing and unexpected and all(k.endswith("self_attn.sink_key") for k in unexpected)
    ids = torch.tensor([[5, 6, 7, 8]])
    assert not torch.allclose(sink(ids).logits, plain(ids).logits)


def test_ranking_probabilities_leave_the_sink_its_share() -> None:
    model = _sink_model(2)
    layer = model.language_model.layers[0]
    x = torch.randn(1, 6, 32)
    pos = torch.arange(6)[None]
    cos, sin = model.language_model.rotary(pos)
    probs = layer.self_attn.attention_probs(
        x, cos, sin, pos, torch.ones(1, 6, dtype=torch.bool), torch.tensor([[5]])
    )
    total = probs.sum(-1)
    assert probs.shape == (1, 4, 1, 6) and bool((total < 1).all()) and bool((total > 0).all())


def test_flops_count_the_sink_key() -> None:
    from mllmkit.infer.flops import decoder_layer_flops

    plain = LMConfig(vocab_size=8, hidden_size=16, num_heads=2, num_kv_heads=2)
    sink = LMConfig(vocab_size=8, hidden_size=16, num_heads=2, num_kv_heads=2, attention_sink=True)
    # one more key per query: 4 * n * head_dim * heads = 4 * 10 * 8 * 2
    assert decoder_layer_flops(sink, 10) - decoder_layer_flops(plain, 10) == 640


def test_export_to_llava_refuses_a_sink() -> None:
    pytest.importorskip("transformers")
    from mllmkit.convert.hf_config import hf_config_from_mllm

    with pytest.raises(ValueError, match="attention_sink"):
        hf_config_from_mllm(tiny_config(lm={"attention_sink": True}))
