"""Logit parity with Hugging Face `LlavaForConditionalGeneration` (CLIP + Llama / Qwen2).

Weights are copied from a randomly initialised HF model by name (only the `model.` prefix
differs), which checks parameter names, RoPE convention, norms, GQA, q/k/v biases, the
vision feature layer / class-token choice and the image-feature scatter in one go.
"""

from __future__ import annotations

import pytest
import torch

transformers = pytest.importorskip("transformers")

from convert_fixtures import build_hf_llava  # noqa: E402
from mllmkit.models import MLLM, LMConfig, MLLMConfig, VisionConfig  # noqa: E402

IMG = 3


def _ours(text: str, feature_layer: int, keep_cls: bool, tie: bool) -> MLLM:
    cfg = MLLMConfig(
        vision=VisionConfig(
            image_size=32,
            patch_size=8,
            hidden_size=32,
            num_layers=3,
            num_heads=2,
            intermediate_size=64,
            feature_layer=feature_layer,
            keep_cls=keep_cls,
        ),
        lm=LMConfig(
            vocab_size=96,
            hidden_size=32,
            num_layers=2,
            num_heads=4,
            num_kv_heads=2,
            intermediate_size=64,
            qkv_bias=text == "qwen2",
            tie_word_embeddings=tie,
        ),
        image_token_id=IMG,
        pad_token_id=0,
        eos_token_id=1,
    )
    return MLLM(cfg, seed=1).eval()


def _copy(hf, ours: MLLM) -> None:  # type: ignore[no-untyped-def]
    state = {}
    for k, v in hf.state_dict().items():
        if k == "lm_head.weight":
            k = "language_model.lm_head.weight"
        else:
            k = k.removeprefix("model.")
        state[k] = v
    expected = set(ours.state_dict())
    if "language_model.lm_head.weight" not in expected:
        state.pop("language_model.lm_head.weight", None)
    ours.load_state_dict(state, strict=True)


@pytest.mark.parametrize(
    "text, feature_layer, keep_cls, tie",
    [("llama", -2, False, False), ("qwen2", -1, True, True), ("llama", 1, False, True)],
)
def test_logits_match_transformers(
    text: str, feature_layer: int, keep_cls: bool, tie: bool
) -> None:
    hf = build_hf_llava(96, IMG, text, feature_layer, "full" if keep_cls else "default", tie)
    ours = _ours(text, feature_layer, keep_cls, tie)
    _copy(hf, ours)
    per = ours.image_tokens_per_image
    g = torch.Generator().manual_seed(0)
    rows = [
        torch.cat(
            [torch.tensor([5]), torch.full((per,), IMG), torch.randint(4, 96, (6,), generator=g)]
        ),
        torch.cat(
            [
                torch.randint(4, 96, (2,), generator=g),
                torch.full((per,), IMG),
                torch.randint(4, 96, (1,), generator=g),
            ]
        ),
    ]
    width = max(len(r) for r in rows)
    ids = torch.zeros(2, width, dtype=torch.long)
    mask = torch.zeros(2, width, dtype=torch.long)
    for i, r in enumerate(rows):  # left padding, as in generation
        ids[i, width - len(r) :], mask[i, width - len(r) :] = r, 1
    pos = (mask.cumsum(1) - 1).clamp(min=0)
    pix = torch.randn(2, 3, 32, 32, generator=g)
    with torch.no_grad():
        ref = hf(input_ids=ids, pixel_values=pix, attention_mask=mask, position_ids=pos).logits
        got = ours(ids, pix, mask).logits
    real = mask.bool()
    torch.testing.assert_close(got[real], ref[real], atol=1e-5, rtol=1e-4)
