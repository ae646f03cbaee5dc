"""One Muon step on the demo model's instruct matrices: mllmkit's Muon vs `torch.optim.Muon`.

The demo config's model is built at its geometry, and every matrix an instruct stage
with `optimizer: muon` hands to Muon (the trainable connector and language model's
linear weights, not the head) gets a fixed random gradient. Timed in turns, same
process: `torch.optim.Muon` (Newton-Schulz in bfloat16, one matrix at a time), ours with
float32 iterations batched over equal shapes (the CPU default), and ours in bfloat16
(batching alone). Also reported: how far each update is from a float64 run of the same
algorithm, so a faster step is not a different one.

    python benchmarks/muon_step.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import interleaved_median_times, write_result
from mllmkit.demo import default_config_path
from mllmkit.models.mllm import MLLM
from mllmkit.train.build import model_config
from mllmkit.train.config import TrainConfig
from mllmkit.train.muon import Muon
from mllmkit.train.optim import muon_parameters


def demo_matrices() -> list[torch.nn.Parameter]:
    """The matrices Muon takes in the demo's instruct stage (connector and LM trainable)."""
    demo = TrainConfig.from_yaml(default_config_path())
    # tag words are token ids of the trained tokenizer: they add no parameters
    section = {k: v for k, v in demo.model.items() if k not in ("image_tags", "image_index_words")}
    cfg = model_config(
        section,
        vocab_size=demo.tokenizer.vocab_size,
        image_token_id=1,
        pad_token_id=0,
        eos_token_id=2,
    )
    model = MLLM(cfg)
    hidden = muon_parameters(model)
    trainable = [*model.connector.parameters(), *model.language_model.parameters()]
    return [p for p in trainable if id(p) in hidden]


def fresh(
    make: type, params: list[torch.Tensor], weight_decay: float, **kw: object
) -> tuple[list[torch.Tensor], torch.optim.Optimizer]:
    """Copies of `params` and an optimizer `make` over them, scaled as a stage's Muon is."""
    copies = [p.detach().clone().requires_grad_(True) for p in params]
    group = {"params": copies, "lr": 1e-3, "weight_decay": weight_decay}
    return copies, make([group], adjust_lr_fn="match_rms_adamw", **kw)


def update_of(
    make: type, params: list[torch.Tensor], grads: list[torch.Tensor], steps: int, **kw: object
) -> list[torch.Tensor]:
    """Each parameter's change after `steps` steps of a fresh optimizer from `params`."""
    copies, opt = fresh(make, params, 0.0, **kw)
    for _ in range(steps):
        for c, g in zip(copies, grads, strict=True):
            c.grad = g.to(c.dtype)
        opt.step()
    return [
        (c.detach() - p.detach().to(c.dtype)).double() for c, p in zip(copies, params, strict=True)
    ]


def rel_error(a: list[torch.Tensor], ref: list[torch.Tensor]) -> float:
    """Largest relative (Frobenius) distance of a matrix's update from the reference's."""
    return max(float((x - r).norm() / r.norm()) for x, r in zip(a, ref, strict=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    params = demo_matrices()
    grads = [torch.randn_like(p) * 1e-2 for p in params]

    def stepper(opt: torch.optim.Optimizer, ps: list[torch.Tensor]):
        def step() -> None:
            for p, g in zip(ps, grads, strict=True):
                p.grad = g
            opt.step()

        return step

    fns = {}
    for name, make, kw in (
        ("torch", torch.optim.Muon, {}),
        ("ours_float32", Muon, {"ns_dtype": torch.float32}),
        ("ours_bfloat16", Muon, {"ns_dtype": torch.bfloat16}),
    ):
        ps, opt = fresh(make, params, 0.1, **kw)
        fns[name] = stepper(opt, ps)
    times = interleaved_median_times(fns, args.repeats, warmup=3)

    ref = update_of(Muon, [p.double() for p in params], grads, 3, ns_dtype=torch.float64)
    errors = {
        "torch": rel_error(update_of(torch.optim.Muon, params, grads, 3), ref),
        "ours_float32": rel_error(update_of(Muon, params, grads, 3, ns_dtype=torch.float32), ref),
        "ours_bfloat16": rel_error(update_of(Muon, params, grads, 3, ns_dtype=torch.bfloat16), ref),
    }
    shapes = sorted({tuple(p.shape) for p in params})
    figures = {
        "torch_step_ms": 1e3 * times["torch"],
        "ours_step_ms": 1e3 * times["ours_float32"],
        "ours_bfloat16_step_ms": 1e3 * times["ours_bfloat16"],
        "speedup": times["torch"] / times["ours_float32"],
        "speedup_bfloat16": times["torch"] / times["ours_bfloat16"],
        "max_rel_error_vs_float64": errors,
        "matrices": len(params),
        "shapes": [list(s) for s in shapes],
        "threads": args.threads,
    }
    table = (
        "| Muon step | ms | vs torch | update's distance from float64 |\n"
        "|---|---:|---:|---:|\n"
        f"| `torch.optim.Muon` (bfloat16, per matrix) | {1e3 * times['torch']:.1f} | 1.00× | "
        f"{errors['torch']:.1e} |\n"
        f"| mllmkit, float32, batched by shape | {1e3 * times['ours_float32']:.1f} | "
        f"{figures['speedup']:.2f}× | {errors['ours_float32']:.1e} |\n"
        f"| mllmkit, bfloat16, batched by shape | {1e3 * times['ours_bfloat16']:.1f} | "
        f"{figures['speedup_bfloat16']:.2f}× | {errors['ours_bfloat16']:.1e} |\n\n"
        f"{len(params)} matrices of the demo model's instruct stage (shapes {shapes}), "
        f"{args.threads} threads, median of {args.repeats} steps taken in turns; distance: the "
        "largest relative Frobenius distance of a matrix's change over 3 steps from a float64 "
        "run of the same update."
    )
    write_result("muon_step", figures, table)
    print(table)


if __name__ == "__main__":
    main()
