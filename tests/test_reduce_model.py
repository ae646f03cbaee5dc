"""Token reduction inside the model: keep-all is exact, cached decoding after reduction equals
recomputing the reduced prefix, batches equal samples alone, analytic token counts match the
caches."""

from __future__ import annotations

import pytest
import torch

from mllmkit.infer.generate import generate
from mllmkit.infer.reduce import LayerContext, Strategy, parse_reduction
from mllmkit.models import MLLM, tiny_config
from mllmkit.models.cache import KVCache

IMG, PAD = 3, 0
SPECS = [
    "fastv:k=2,r=0.5",
    "pdrop:layers=1/3,keep=0.5/0.25",
    "random:keep=0.25,seed=0",
    "random:keep=0.5,seed=3,k=2",
    "pool:keep=0.25",
    "visionzip:keep=0.25",
    "visionzip:keep=0.5,merge=3",
]


@pytest.fixture(scope="module")
def model() -> MLLM:
    cfg = tiny_config(lm={"num_kv_heads": 2, "num_layers": 4})
    return MLLM(cfg, seed=0, init_std=0.3).eval()


def make_row(model: MLLM, seed: int, before: int, after: int, images: int = 1) -> torch.Tensor:
    per = model.image_tokens_per_image
    g = torch.Generator().manual_seed(seed)
    parts = [torch.randint(4, 96, (before,), generator=g)]
    for _ in range(images):
        parts += [torch.full((per,), IMG), torch.randint(4, 96, (1,), generator=g)]
    parts.append(torch.randint(4, 96, (after,), generator=g))
    return torch.cat(parts)


def left_pad(rows: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), PAD)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r) :], mask[i, width - len(r) :] = r, 1
    return ids, mask


def pixels(n: int, seed: int = 2) -> torch.Tensor:
    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


class Recorder(Strategy):
    """Delegates to a strategy and records, per layer, the positions of the kept tokens."""

    name = "recorder"

    def __init__(self, inner: Strategy) -> None:
        self.inner = inner
        self.kept: dict[int, set[int]] = {}

    def reduction_layers(self, num_layers: int) -> tuple[int, ...]:
        return self.inner.reduction_layers(num_layers)

    def select_at_layer(self, ctx: LayerContext) -> list[torch.Tensor] | None:
        assert ctx.batch_size == 1
        keep = self.inner.select_at_layer(ctx)
        assert keep is not None
        self.kept[ctx.layer] = {int(p) for p in ctx.position_ids[0, keep[0]]}
        return keep


class FixedKeep(Strategy):
    """Before each recorded layer keep exactly the recorded positions, plus every token at a
    later position (the generated ones): the reduced prefix, recomputed from scratch."""

    name = "fixed"

    def __init__(self, kept: dict[int, set[int]], prompt_len: int) -> None:
        self.kept, self.prompt_len = kept, prompt_len

    def reduction_layers(self, num_layers: int) -> tuple[int, ...]:
        return tuple(self.kept)

    def select_at_layer(self, ctx: LayerContext) -> list[torch.Tensor] | None:
        pos = ctx.position_ids[0]
        wanted = torch.tensor([p in self.kept[ctx.layer] for p in pos.tolist()])
        return [(wanted | (pos >= self.prompt_len)).nonzero().flatten()]


def test_keep_everything_equals_unreduced_exactly(model: MLLM) -> None:
    ids, mask = left_pad([make_row(model, 1, 3, 4), make_row(model, 2, 1, 6, images=2)])
    pix = pixels(3)
    with torch.no_grad():
        full = model(ids, pix, mask).logits
        for spec in ("none", "fastv:k=2,r=0", "pdrop:layers=1/2,keep=1/1", "random:keep=1"):
            kept = model(ids, pix, mask, reduction=parse_reduction(spec)).logits
            assert torch.equal(full, kept), spec
    plain = generate(model, ids, mask, pix, max_new_tokens=6, eos_token_ids=())
    same = generate(
        model,
        ids,
        mask,
        pix,
        max_new_tokens=6,
        eos_token_ids=(),
        reduction=parse_reduction("fastv:k=1,r=0"),
    )
    assert plain == same


def test_reduction_changes_output_and_shortens_later_caches(model: MLLM) -> None:
    ids = make_row(model, 4, 2, 5)[None]
    pix = pixels(1)
    cache = KVCache()
    with torch.no_grad():
        full = model(ids, pix).logits[:, -1]
        out = model(
            ids,
            pix,
            cache=cache,
            num_logits_to_keep=1,
            reduction=parse_reduction("fastv:k=2,r=0.5"),
        )
    assert not torch.allclose(full, out.logits[:, -1], atol=1e-4)
    t = ids.shape[1]
    assert [cache.past_length(i) for i in range(4)] == [t, t, t - 8, t - 8]


@pytest.mark.parametrize("spec", SPECS)
def test_cached_decoding_equals_recomputed_reduced_prefix(model: MLLM, spec: str) -> None:
    ids = make_row(model, 5, 2, 4)[None]
    pix = pixels(1)
    t0 = ids.shape[1]
    strategy = parse_reduction(spec)
    layered = bool(strategy.reduction_layers(4))
    recorder = Recorder(strategy) if layered else strategy
    steps, logits, tokens = 5, [], []
    cache = KVCache()
    with torch.no_grad():
        out = model(ids, pix, cache=cache, num_logits_to_keep=1, reduction=recorder)
        for _ in range(steps):
            last = out.logits[:, -1]
            logits.append(last)
            nxt = last.argmax(-1)
            tokens.append(int(nxt))
            out = model(
                nxt[:, None], attention_mask=torch.ones(1, 1), cache=cache, num_logits_to_keep=1
            )
        full_ids = torch.cat([ids, torch.tensor([tokens[:-1]])], dim=1)
        again = FixedKeep(recorder.kept, t0) if layered else strategy
        ref = model(full_ids, pix, reduction=again, num_logits_to_keep=steps).logits[0]
    torch.testing.assert_close(torch.cat(logits), ref, atol=1e-4, rtol=1e-4)
    assert generate(
        model, ids, None, pix, max_new_tokens=steps, eos_token_ids=(), reduction=strategy
    ) == [tokens]


@pytest.mark.parametrize("spec", SPECS)
def test_batch_of_three_equals_each_alone(model: MLLM, spec: str) -> None:
    rows = [make_row(model, 6, 1, 2), make_row(model, 7, 5, 6), make_row(model, 8, 0, 3, 2)]
    pix = pixels(4)
    per_row = [pix[0:1], pix[1:2], pix[2:4]]
    ids, mask = left_pad(rows)
    strategy = parse_reduction(spec)
    with torch.no_grad():
        batched = model(ids, pix, mask, num_logits_to_keep=1, reduction=strategy).logits[:, -1]
        for i, r in enumerate(rows):
            alone = model(r[None], per_row[i], num_logits_to_keep=1, reduction=strategy)
            torch.testing.assert_close(batched[i], alone.logits[0, -1], atol=1e-4, rtol=1e-4)
    together = generate(
        model, ids, mask, pix, max_new_tokens=4, eos_token_ids=(), reduction=strategy
    )
    singles = [
        generate(
            model, r[None], None, per_row[i], max_new_tokens=4, eos_token_ids=(), reduction=strategy
        )[0]
        for i, r in enumerate(rows)
    ]
    assert together == singles


@pytest.mark.parametrize("spec", [*SPECS, "none", "pdrop:keep=0.5/0.25"])
def test_tokens_per_layer_match_the_caches(model: MLLM, spec: str) -> None:
    ids = make_row(model, 9, 3, 3, images=2)[None]
    strategy = parse_reduction(spec)
    strategy.check(model.config)
    cache = KVCache()
    with torch.no_grad():
        model(ids, pixels(2), cache=cache, num_logits_to_keep=1, reduction=strategy)
    actual = [int(cache.layers[i].key_mask.sum()) for i in range(4)]  # type: ignore[union-attr]
    assert actual == strategy.tokens_per_layer(model.config, ids.shape[1], 2)
    assert actual != [ids.shape[1]] * 4 or spec == "none"


def test_fastv_keeps_the_most_attended_image_tokens(model: MLLM) -> None:
    """The kept set is the top half by the last token's attention at layer k, recomputed
    here from the layer's weights by hand (no SDPA, no shared helper)."""
    ids = make_row(model, 10, 2, 3)[None]
    rec = Recorder(parse_reduction("fastv:k=1,r=0.5"))
    with torch.no_grad():
        model(ids, pixels(1), reduction=rec)
        lm = model.language_model
        h = model.embed_inputs(ids, pixels(1))
        pos = torch.arange(ids.shape[1])[None]
        cos, sin = lm.rotary(pos)
        h = lm.layers[0](h, cos, sin, is_causal=True)
        att = lm.layers[1].self_attn
        x = lm.layers[1].input_layernorm(h)
        from mllmkit.models.rope import apply_rope

        q = apply_rope(att.q_proj(x).view(1, -1, 4, 8).transpose(1, 2), cos, sin)[:, :, -1:]
        k = apply_rope(att.k_proj(x).view(1, -1, 2, 8).transpose(1, 2), cos, sin)
        k = k.repeat_interleave(2, dim=1)
        probs = torch.softmax(q @ k.transpose(-1, -2) / 8**0.5, dim=-1).mean(1)[0, 0]
    img = (ids[0] == IMG).nonzero().flatten()
    top = img[probs[img].argsort(descending=True)[:8]]
    text = (ids[0] != IMG).nonzero().flatten()
    assert rec.kept[1] == {int(p) for p in torch.cat([text, top])}


def test_keep_everything_is_exact_when_images_are_marked_by_word() -> None:
    """The reduction path (after the connector hook) marks each image as the plain path does."""
    import dataclasses

    from mllmkit.models.config import ImageTagGroup

    words = ImageTagGroup(name="image", words=["first", "second"], token_ids=[[11], [12]])
    cfg = dataclasses.replace(tiny_config(lm={"num_layers": 3}), image_index_words=words)
    marked = MLLM(cfg, seed=0, init_std=0.3).eval()
    ids, mask = left_pad([make_row(marked, 1, 3, 4), make_row(marked, 2, 1, 6, images=2)])
    pix = pixels(3)
    with torch.no_grad():
        full = marked(ids, pix, mask).logits
        for spec in ("fastv:k=2,r=0", "pool:keep=1", "random:keep=1"):
            kept = marked(ids, pix, mask, reduction=parse_reduction(spec)).logits
            assert torch.equal(full, kept), spec
