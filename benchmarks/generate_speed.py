"""Batched greedy generation speed: mllmkit vs `transformers` LLaVA, same weights, same run.

    python benchmarks/generate_speed.py            # batch 8, 576 visual tokens, 32 new tokens
    python benchmarks/generate_speed.py --small    # a seconds-long smoke run

The Hugging Face model is built offline from our config (`mllmkit.convert.hf_config`), and
our weights are copied into it by an explicit name rule (`language_model.lm_head.weight` ->
`lm_head.weight`, everything else gains the `model.` prefix). Both decode the same
left-padded batch greedily without early stop; the generated tokens are asserted equal, so
the speed ratio compares the same work. A third run, ours with every product on MKL's
sgemm as in `F.linear` (`linear.use_onednn_linear(False)`), shows how much of the ratio
is the choice of matmul kernel (`mllmkit.models.linear`). Writes
results/generate_speed.{json,md}.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import interleaved_median_times, write_result
from mllmkit.convert.hf_config import hf_config_from_mllm
from mllmkit.infer.generate import generate
from mllmkit.models import MLLM, linear
from mllmkit.models.config import LMConfig, MLLMConfig, VisionConfig

IMG, PAD, EOS = 3, 0, 1


def build(small: bool) -> MLLM:
    cfg = MLLMConfig(
        vision=VisionConfig(
            image_size=56 if small else 336,
            patch_size=14,
            hidden_size=32 if small else 128,
            num_layers=2,
            num_heads=2 if small else 4,
            intermediate_size=64 if small else 512,
            feature_layer=-2,
        ),
        lm=LMConfig(
            vocab_size=256 if small else 4096,
            hidden_size=64 if small else 512,
            num_layers=2 if small else 4,
            num_heads=4 if small else 8,
            num_kv_heads=4 if small else 8,
            intermediate_size=128 if small else 1376,
        ),
        connector="mlp2x_gelu",
        image_token_id=IMG,
        pad_token_id=PAD,
        eos_token_id=EOS,
    )
    # std 0.1: decisive logits, so float rounding differences cannot flip a greedy choice
    return MLLM(cfg, seed=0, init_std=0.1).eval()


def to_hf(model: MLLM):  # type: ignore[no-untyped-def]
    import transformers

    hf = transformers.LlavaForConditionalGeneration(hf_config_from_mllm(model.config)).eval()
    state = {}
    for key, value in model.state_dict().items():
        name = "lm_head.weight" if key == "language_model.lm_head.weight" else "model." + key
        state[name] = value
    missing, unexpected = hf.load_state_dict(state, strict=False)
    if unexpected or set(missing) - {"lm_head.weight"}:
        raise RuntimeError(f"name table mismatch: missing {missing}, unexpected {unexpected}")
    if "lm_head.weight" in missing:
        hf.tie_weights()
    return hf


def batch(model: MLLM, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    per = model.image_tokens_per_image
    g = torch.Generator().manual_seed(0)
    vocab = model.config.lm.vocab_size
    rows = [
        torch.cat(
            [
                torch.randint(4, vocab, (2,), generator=g),
                torch.full((per,), IMG),
                torch.randint(4, vocab, (4 + 3 * i,), generator=g),
            ]
        )
        for i in range(size)
    ]
    width = max(len(r) for r in rows)
    ids = torch.full((size, width), PAD)
    mask = torch.zeros(size, width, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r) :], mask[i, width - len(r) :] = r, 1
    size_px = model.config.vision.image_size
    return ids, mask, torch.randn(size, 3, size_px, size_px, generator=g)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--small", action="store_true")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--new-tokens", type=int, default=32)
    p.add_argument("--repeats", type=int, default=7, help="timed runs of each, alternating")
    a = p.parse_args()
    model = build(a.small)
    hf = to_hf(model)
    ids, mask, pix = batch(model, a.batch)
    n = a.new_tokens

    def ours() -> list[list[int]]:
        return generate(model, ids, mask, pix, max_new_tokens=n, eos_token_ids=())

    @torch.inference_mode()
    def theirs() -> list[list[int]]:
        out = hf.generate(
            input_ids=ids,
            attention_mask=mask,
            pixel_values=pix,
            max_new_tokens=n,
            min_new_tokens=n,
            do_sample=False,
            pad_token_id=PAD,
        )
        return out[:, ids.shape[1] :].tolist()

    def ours_mkl() -> list[list[int]]:
        with linear.use_onednn_linear(False):
            return ours()

    assert ours() == theirs() == ours_mkl(), "the implementations generated different tokens"
    times = interleaved_median_times({"ours": ours, "hf": theirs, "ours_mkl": ours_mkl}, a.repeats)
    t_ours, t_hf, t_mkl = times["ours"], times["hf"], times["ours_mkl"]
    figures = {
        "ours_tokens_per_s": a.batch * n / t_ours,
        "hf_tokens_per_s": a.batch * n / t_hf,
        "ratio": t_hf / t_ours,
        "ours_mkl_tokens_per_s": a.batch * n / t_mkl,
        "ratio_mkl": t_hf / t_mkl,
        "onednn_linear": linear.onednn_linear_enabled(),
        "batch": a.batch,
        "new_tokens": n,
        "visual_tokens": model.image_tokens_per_image,
        "repeats": a.repeats,
    }
    table = (
        "# Batched greedy generation: mllmkit vs transformers LLaVA (same weights, same tokens)"
        "\n\n| | tokens/s |\n| --- | ---: |\n"
        f"| mllmkit | {figures['ours_tokens_per_s']:.1f} |\n"
        f"| transformers | {figures['hf_tokens_per_s']:.1f} |\n"
        f"| ratio | {figures['ratio']:.2f}× |\n"
        f"| mllmkit, products on MKL | {figures['ours_mkl_tokens_per_s']:.1f} |\n"
        f"| ratio on MKL | {figures['ratio_mkl']:.2f}× |\n"
    )
    name = "generate_speed_small" if a.small else "generate_speed"
    print(table)
    print(write_result(name, figures, table))


if __name__ == "__main__":
    main()
