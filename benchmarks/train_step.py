"""One training step: mllmkit's MLLM vs transformers' LlavaForConditionalGeneration.

Both models are built offline at the same geometry (widths, layers, heads, visual tokens,
batch, sequence) and run the same step: forward, next-token loss on the answer tokens,
backward, AdamW. We report tokens/s for each (median of repeats, same process), their
ratio, and the FLOP/s our step achieves against this machine's measured float32 matmul peak.
A third run, ours with every product on MKL's sgemm as in `F.linear`
(`linear.use_onednn_linear(False)`), shows how much of the ratio is the matmul kernel.

    python benchmarks/train_step.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import interleaved_median_times, matmul_peak_gflops, write_result
from mllmkit.convert.hf_config import hf_config_from_mllm
from mllmkit.infer.flops import prefill_flops
from mllmkit.models import linear
from mllmkit.models.config import LMConfig, MLLMConfig, VisionConfig
from mllmkit.models.mllm import MLLM
from mllmkit.train.loss import token_loss_sum


def build_hf(cfg: MLLMConfig) -> torch.nn.Module:
    """transformers' LLaVA at our geometry, configured by the converter's own mapping."""
    from transformers import LlavaForConditionalGeneration

    hf = hf_config_from_mllm(cfg)
    hf._attn_implementation = "sdpa"
    return LlavaForConditionalGeneration(hf)


def make_batch(cfg: MLLMConfig, batch: int, text: int, answer: int, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    n_img = cfg.image_tokens_per_image
    ids = torch.randint(3, cfg.lm.vocab_size, (batch, n_img + text), generator=g)
    ids[ids == cfg.image_token_id] = 3
    ids[:, :n_img] = cfg.image_token_id
    labels = torch.full_like(ids, -100)
    labels[:, -answer:] = ids[:, -answer:]
    pixels = torch.randn(batch, 3, cfg.vision.image_size, cfg.vision.image_size, generator=g)
    return {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "labels": labels,
        "pixel_values": pixels,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--text", type=int, default=96, help="text tokens per sample")
    ap.add_argument("--answer", type=int, default=24, help="supervised tokens per sample")
    # 5 repeats gave ratios from 1.22 to 1.62 for the same code on this shared machine;
    # 15 (about 15 s more) keep two runs within a few percent
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lm-hidden", type=int, default=256)
    ap.add_argument("--lm-layers", type=int, default=4)
    ap.add_argument("--lm-intermediate", type=int, default=768)
    ap.add_argument("--vision-hidden", type=int, default=128)
    ap.add_argument("--vision-layers", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=768)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    cfg = MLLMConfig(
        vision=VisionConfig(image_size=64, patch_size=8, hidden_size=args.vision_hidden,
                            num_layers=args.vision_layers, num_heads=4,
                            intermediate_size=4 * args.vision_hidden),
        lm=LMConfig(vocab_size=args.vocab, hidden_size=args.lm_hidden, num_layers=args.lm_layers,
                    num_heads=4, num_kv_heads=4, intermediate_size=args.lm_intermediate),
        connector="mlp2x_gelu", image_token_id=args.vocab - 1, pad_token_id=0, eos_token_id=1,
    )
    batch = make_batch(cfg, args.batch, args.text, args.answer, seed=0)
    tokens = int(batch["attention_mask"].sum())

    ours = MLLM(cfg, seed=0).train()
    opt_ours = torch.optim.AdamW(ours.parameters(), lr=1e-4)

    def step_ours() -> None:
        s, n = token_loss_sum(ours, batch)
        (s / n).backward()
        opt_ours.step()
        opt_ours.zero_grad(set_to_none=True)

    hf = build_hf(cfg).train()
    opt_hf = torch.optim.AdamW(hf.parameters(), lr=1e-4)

    def step_hf() -> None:
        out = hf(**batch)
        out.loss.backward()
        opt_hf.step()
        opt_hf.zero_grad(set_to_none=True)

    def step_ours_mkl() -> None:
        with linear.use_onednn_linear(False):
            step_ours()

    steps = {"ours": step_ours, "hf": step_hf, "ours_mkl": step_ours_mkl}
    times = interleaved_median_times(steps, args.repeats, warmup=2)
    t_o, t_h, t_m = times["ours"], times["hf"], times["ours_mkl"]
    peak = matmul_peak_gflops()
    seq = cfg.image_tokens_per_image + args.text
    fwd = prefill_flops(cfg, seq, n_images=1, logits_positions=args.answer).total * args.batch
    achieved = 3 * fwd / t_o / 1e9
    figures = {
        "ours_tokens_per_s": tokens / t_o,
        "hf_tokens_per_s": tokens / t_h,
        "ratio": t_h / t_o,
        "ours_step_s": t_o,
        "hf_step_s": t_h,
        "ours_mkl_step_s": t_m,
        "ratio_mkl": t_h / t_m,
        "onednn_linear": linear.onednn_linear_enabled(),
        "achieved_gflops": achieved,
        "peak_gflops": peak,
        "pct_of_peak": 100 * achieved / peak,
        "geometry": {"batch": args.batch, "seq": seq, "visual_tokens": cfg.image_tokens_per_image,
                     "vision": cfg.vision.to_dict(), "lm": cfg.lm.to_dict()},
        "threads": args.threads,
    }
    table = (
        "| model | step s | tokens/s |\n|---|---:|---:|\n"
        f"| mllmkit | {t_o:.3f} | {tokens / t_o:,.0f} |\n"
        f"| transformers Llava | {t_h:.3f} | {tokens / t_h:,.0f} |\n"
        f"| mllmkit, products on MKL | {t_m:.3f} | {tokens / t_m:,.0f} |\n\n"
        f"Ratio (ours/HF tokens/s): **{t_h / t_o:.2f}×** ({t_h / t_m:.2f}× on MKL). "
        f"Achieved {achieved:.1f} GFLOP/s of a measured {peak:.1f} GFLOP/s float32 matmul "
        f"peak ({100 * achieved / peak:.0f}%)."
    )
    write_result("train_step", figures, table)
    print(table)


if __name__ == "__main__":
    main()
