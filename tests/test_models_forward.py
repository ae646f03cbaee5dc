"""MLLM forward: image scattering, padding invariance, KV cache, loss, model variants."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mllmkit.models import MLLM, KVCache, MLLMConfig, tiny_config
from mllmkit.models.vision import VisionTower

IMG = 3  # image token id of tiny_config
PAD = 0
ATOL = 1e-5


def build(cfg: MLLMConfig | None = None, seed: int = 0) -> MLLM:
    """Large init std: attention must depend visibly on positions and masks."""
    return MLLM(cfg or tiny_config(), seed=seed, init_std=0.3).eval()


def sample(n_text: int, n_images: int, per: int, seed: int) -> torch.Tensor:
    """Token ids: some text, each image's block of image tokens, more text."""
    g = torch.Generator().manual_seed(seed)
    parts = [torch.randint(4, 96, (2,), generator=g)]
    for _ in range(n_images):
        parts += [torch.full((per,), IMG), torch.randint(4, 96, (1,), generator=g)]
    parts.append(torch.randint(4, 96, (n_text,), generator=g))
    return torch.cat(parts)


def pad_batch(rows: list[torch.Tensor], side: str) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), PAD)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for i, r in enumerate(rows):
        sl = slice(width - len(r), width) if side == "left" else slice(0, len(r))
        ids[i, sl], mask[i, sl] = r, 1
    return ids, mask


def pixels(n: int, seed: int, size: int = 32) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_image_features_fill_image_positions_in_order() -> None:
    model = build()
    per = model.image_tokens_per_image
    ids = torch.stack([sample(3, 2, per, 0), sample(3, 2, per, 1)])
    pix = pixels(4, 0)
    with torch.no_grad():
        embeds = model.embed_inputs(ids, pix)
        feats = model.encode_images(pix)  # [4, per, D]
    got = embeds[ids == IMG].reshape(4, per, -1)
    torch.testing.assert_close(got, feats)
    text = model.language_model.embed_tokens(ids[ids != IMG])
    torch.testing.assert_close(embeds[ids != IMG], text)


@pytest.mark.parametrize("side", ["left", "right"])
def test_sample_alone_equals_sample_in_padded_batch(side: str) -> None:
    model = build()
    per = model.image_tokens_per_image
    rows = [sample(2, 1, per, 0), sample(9, 2, per, 1), sample(5, 0, per, 2)]
    images = [pixels(1, 10), pixels(2, 11), pixels(0, 12)]
    ids, mask = pad_batch(rows, side)
    with torch.no_grad():
        batched = model(ids, torch.cat(images), mask).logits
        for i, (row, img) in enumerate(zip(rows, images, strict=True)):
            alone = model(row[None], img if len(img) else None).logits[0]
            real = mask[i].bool()
            torch.testing.assert_close(batched[i][real], alone, atol=ATOL, rtol=0)


def _cfgs() -> dict[str, MLLMConfig]:
    return {
        "default": tiny_config(),
        "gqa": tiny_config(lm={"num_kv_heads": 2}),
        "mqa_qkv_bias": tiny_config(lm={"num_kv_heads": 1, "qkv_bias": True}),
        "untied": tiny_config(lm={"tie_word_embeddings": False}),
        "head_dim": tiny_config(lm={"head_dim": 16}),
        "penultimate_keep_cls": tiny_config(vision={"feature_layer": -2, "keep_cls": True}),
        "linear": tiny_config(connector="linear", vision={"hidden_act": "gelu"}),
        "pixel_shuffle": tiny_config(connector="pixel_shuffle"),
        "conv_stem": tiny_config(vision={"stem": "conv"}),
    }


@pytest.mark.parametrize("name", list(_cfgs()))
def test_cached_decoding_equals_full_recomputation(name: str) -> None:
    """Prefill on a left-padded batch, then feed 4 tokens one at a time: each step's logits
    equal the full forward over the whole sequence at that position."""
    model = build(_cfgs()[name])
    per = model.image_tokens_per_image
    rows = [sample(3, 1, per, 0), sample(1, 2, per, 1)]
    ids, mask = pad_batch(rows, "left")
    pix = torch.cat([pixels(1, 0), pixels(2, 1)])
    extra = torch.randint(4, 96, (2, 4), generator=torch.Generator().manual_seed(5))
    full_ids = torch.cat([ids, extra], dim=1)
    full_mask = torch.cat([mask, torch.ones_like(extra)], dim=1)
    with torch.no_grad():
        full = model(full_ids, pix, full_mask).logits
        cache = KVCache()
        steps = [model(ids, pix, mask, cache=cache, num_logits_to_keep=1).logits[:, -1]]
        for j in range(extra.shape[1]):
            out = model(extra[:, j : j + 1], attention_mask=torch.ones(2, 1), cache=cache)
            steps.append(out.logits[:, -1])
    t0 = ids.shape[1]
    for j, got in enumerate(steps):
        torch.testing.assert_close(got, full[:, t0 - 1 + j], atol=ATOL, rtol=0)
    assert len(cache) == model.config.lm.num_layers
    assert cache.layers[0].length == full_ids.shape[1]  # type: ignore[union-attr]


def test_cache_accepts_hf_style_full_width_mask() -> None:
    model = build()
    ids = torch.randint(4, 96, (2, 6))
    mask = torch.tensor([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]])
    nxt = torch.randint(4, 96, (2, 1))
    with torch.no_grad():
        a, b = KVCache(), KVCache()
        model(ids, attention_mask=mask, cache=a)
        model(ids, attention_mask=mask, cache=b)
        short = model(nxt, attention_mask=torch.ones(2, 1), cache=a).logits
        wide = model(nxt, attention_mask=torch.cat([mask, torch.ones(2, 1)], 1), cache=b).logits
    torch.testing.assert_close(short, wide)
    assert a.next_position.tolist() == [5, 7]  # type: ignore[union-attr]


def test_multi_token_chunk_after_prefill_is_causal() -> None:
    """Three new tokens at once on top of a cache: same as the full forward."""
    model = build()
    ids = torch.randint(4, 96, (1, 9))
    with torch.no_grad():
        full = model(ids).logits
        cache = KVCache()
        model(ids[:, :6], cache=cache)
        chunk = model(ids[:, 6:], cache=cache).logits
    torch.testing.assert_close(chunk, full[:, 6:], atol=ATOL, rtol=0)


def test_feature_layer_indexes_hidden_states() -> None:
    """feature_layer=-2 on a 3-layer tower = the last layer of a 2-layer copy; 0 = embeddings
    after pre_layrnorm."""
    cfg3 = tiny_config(vision={"num_layers": 3, "feature_layer": -2}).vision
    tower3 = VisionTower(cfg3)
    cfg2 = tiny_config(vision={"num_layers": 2, "feature_layer": -1}).vision
    tower2 = VisionTower(cfg2)
    state = {k: v for k, v in tower3.state_dict().items() if "layers.2." not in k}
    tower2.load_state_dict(state)
    pix = pixels(2, 0)
    with torch.no_grad():
        torch.testing.assert_close(tower3(pix), tower2(pix))
        tower0 = VisionTower(tiny_config(vision={"feature_layer": 0, "keep_cls": True}).vision)
        emb = tower0.pre_layrnorm(tower0.embeddings(pix))
        torch.testing.assert_close(tower0(pix), emb)
    assert tower3(pix).shape == (2, 16, 32)


@pytest.mark.parametrize(
    "connector, keep_cls, tokens",
    [("mlp2x_gelu", True, 17), ("linear", False, 16), ("pixel_shuffle", False, 4)],
)
def test_encode_images_token_counts(connector: str, keep_cls: bool, tokens: int) -> None:
    model = build(tiny_config(connector=connector, vision={"keep_cls": keep_cls}))
    with torch.no_grad():
        assert model.encode_images(pixels(3, 0)).shape == (3, tokens, 32)


def test_untied_model_has_its_own_head_and_tied_has_none() -> None:
    tied, untied = build(), build(tiny_config(lm={"tie_word_embeddings": False}))
    assert "language_model.lm_head.weight" not in tied.state_dict()
    assert "language_model.lm_head.weight" in untied.state_dict()
    ids = torch.randint(4, 96, (1, 5))
    with torch.no_grad():
        h = untied.hidden_states(ids)
        torch.testing.assert_close(untied(ids).logits, h @ untied.language_model.lm_head.weight.T)
        h = tied.hidden_states(ids)
        torch.testing.assert_close(tied(ids).logits, h @ tied.language_model.embed_tokens.weight.T)


def test_image_token_count_mismatch_is_a_clear_error() -> None:
    model = build()
    per = model.image_tokens_per_image
    ids = torch.stack([sample(3, 1, per, 0), sample(3, 1, per, 1)])
    with pytest.raises(ValueError, match=r"32 image-token positions.*\[16, 16\].*1 image"):
        model(ids, pixels(1, 0))
    with pytest.raises(ValueError, match="0 image"):
        model(ids)
    broken = ids.clone()
    broken[0, 2] = 50  # one image token of row 0 overwritten by text
    with pytest.raises(ValueError, match=r"\[15, 16\]"):
        model(broken, pixels(2, 0))


def test_loss_is_mean_next_token_cross_entropy_over_labelled_tokens() -> None:
    model = build()
    per = model.image_tokens_per_image
    ids, mask = pad_batch([sample(6, 1, per, 0), sample(2, 1, per, 1)], "right")
    labels = ids.clone()
    labels[ids == IMG] = -100
    labels[mask == 0] = -100
    labels[:, :3] = -100
    pix = pixels(2, 0)
    out = model(ids, pix, mask, labels=labels)
    logits = out.logits
    # by hand: position t predicts label t+1
    losses = [
        -torch.log_softmax(logits[b, t], -1)[labels[b, t + 1]]
        for b in range(2)
        for t in range(ids.shape[1] - 1)
        if labels[b, t + 1] != -100
    ]
    assert out.num_loss_tokens == len(losses) == int((labels[:, 1:] != -100).sum())
    torch.testing.assert_close(out.loss, torch.stack(losses).mean())
    lean = model(ids, pix, mask, labels=labels, return_logits=False)
    assert lean.logits is None
    torch.testing.assert_close(lean.loss, out.loss)
    lean.loss.backward()
    assert model.vision_tower.embeddings.patch_embedding.weight.grad is not None
    assert model.multi_modal_projector.linear_1.weight.grad is not None


def test_selected_outputs_equal_full_outputs_at_those_positions() -> None:
    """The last layer computing queries only at chosen positions changes nothing there."""
    model = build()
    per = model.image_tokens_per_image
    ids, mask = pad_batch([sample(6, 1, per, 0), sample(2, 1, per, 1)], "right")
    pix = pixels(2, 0)
    index = torch.tensor([[0, 5, 20, 24], [3, 3, 19, 1]])
    with torch.no_grad():
        full = model.hidden_states(ids, pix, mask)
        part = model.hidden_states(ids, pix, mask, output_index=index)
    expected = torch.stack([full[b, index[b]] for b in range(2)])
    torch.testing.assert_close(part, expected, atol=ATOL, rtol=0)


def test_lean_loss_with_a_row_without_supervision() -> None:
    model = build()
    ids = torch.randint(4, 96, (2, 8))
    labels = ids.clone()
    labels[1] = -100
    labels[0, :4] = -100
    full = model(ids, labels=labels)
    lean = model(ids, labels=labels, return_logits=False)
    assert full.num_loss_tokens == lean.num_loss_tokens == 4
    torch.testing.assert_close(lean.loss, full.loss)
    nothing = model(ids, labels=torch.full_like(ids, -100), return_logits=False)
    assert nothing.num_loss_tokens == 0 and float(nothing.loss.detach()) == 0.0
    nothing.loss.backward()  # still part of the graph: a data-parallel step can run it


def test_loss_matches_functional_cross_entropy_without_padding() -> None:
    model = build()
    ids = torch.randint(4, 96, (3, 12))
    out = model(ids, labels=ids)
    ref = F.cross_entropy(out.logits[:, :-1].reshape(-1, 96), ids[:, 1:].reshape(-1))
    torch.testing.assert_close(out.loss, ref)


def test_bad_labels_raise() -> None:
    model = build()
    ids = torch.randint(4, 96, (1, 5))
    with pytest.raises(ValueError, match="outside"):
        model(ids, labels=torch.full_like(ids, 500))
    with pytest.raises(ValueError, match="labels shape"):
        model(ids, labels=ids[:, :3])


def test_all_padding_row_raises() -> None:
    model = build()
    with pytest.raises(ValueError, match=r"rows \[1\]"):
        model(torch.ones(2, 4, dtype=torch.long), attention_mask=torch.tensor([[1] * 4, [0] * 4]))


def test_seeded_init_is_reproducible() -> None:
    a, b, c = build(seed=1), build(seed=1), build(seed=2)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k
    emb_a, emb_c = a.language_model.embed_tokens.weight, c.language_model.embed_tokens.weight
    assert not torch.equal(emb_a, emb_c)
