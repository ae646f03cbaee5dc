"""Measured prefill latency and decode speed, reduced vs full, in the same process.

Timings are warm (untimed warm-up runs first) and the median of repeats; strategies are
timed round-robin (full, A, B, full, A, B, ...) so slow drift of a shared machine affects
all of them alike. Prefill covers the vision tower, the connector and the decoder up to the
first token's logits; decode speed is greedy steps on the KV cache the prefill filled.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

import torch

from mllmkit.models.cache import KVCache
from mllmkit.models.mllm import MLLM


@dataclass(frozen=True)
class Latency:
    """Median prefill seconds and decode tokens/s (all rows of the batch counted)."""

    prefill_s: float
    decode_tokens_per_s: float

    def to_json(self) -> dict[str, float]:
        return {"prefill_s": self.prefill_s, "decode_tokens_per_s": self.decode_tokens_per_s}


@torch.inference_mode()
def _prefill(
    model: MLLM,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None,
    pixel_values: torch.Tensor | None,
    reduction: Any,
) -> tuple[KVCache, torch.Tensor]:
    cache = KVCache()
    out = model(
        input_ids,
        pixel_values,
        attention_mask,
        cache=cache,
        num_logits_to_keep=1,
        reduction=reduction,
    )
    return cache, out.logits[:, -1].argmax(-1)  # type: ignore[index]


@torch.inference_mode()
def _decode(model: MLLM, cache: KVCache, token: torch.Tensor, steps: int) -> None:
    ones = torch.ones(token.shape[0], 1, dtype=torch.long, device=token.device)
    for _ in range(steps):
        out = model(token[:, None], attention_mask=ones, cache=cache, num_logits_to_keep=1)
        token = out.logits[:, -1].argmax(-1)  # type: ignore[index]


def measure_latency(
    model: MLLM,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    pixel_values: torch.Tensor | None = None,
    reductions: dict[str, Any] | None = None,
    *,
    repeats: int = 5,
    warmup: int = 1,
    decode_steps: int = 8,
) -> dict[str, Latency]:
    """Latency per named reduction (`None` = full model), e.g. `{"none": None, "fastv":
    parse_reduction("fastv:k=2,r=0.75")}`, measured round-robin on the same inputs."""
    if repeats < 1 or warmup < 0 or decode_steps < 0:
        raise ValueError("repeats must be >= 1, warmup and decode_steps >= 0")
    reductions = {"none": None} if reductions is None else reductions
    model.eval()
    prefill: dict[str, list[float]] = {k: [] for k in reductions}
    decode: dict[str, list[float]] = {k: [] for k in reductions}
    for rep in range(warmup + repeats):
        for name, reduction in reductions.items():
            t0 = time.perf_counter()
            cache, token = _prefill(model, input_ids, attention_mask, pixel_values, reduction)
            t1 = time.perf_counter()
            _decode(model, cache, token, decode_steps)
            t2 = time.perf_counter()
            if rep >= warmup:
                prefill[name].append(t1 - t0)
                decode[name].append(t2 - t1)
    b = input_ids.shape[0]
    out = {}
    for name in reductions:
        dec = statistics.median(decode[name])
        tps = b * decode_steps / dec if decode_steps and dec > 0 else 0.0
        out[name] = Latency(statistics.median(prefill[name]), tps)
    return out
