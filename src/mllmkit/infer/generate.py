"""Batched generation with a KV cache.

Prompts are LEFT padded so every row's next token comes from the last column. The prompt is
run once (prefill), then one token per step; a row that emits an end token is finished and
dropped from the running batch (its output is padded), and the loop ends when every row is
finished or `max_new_tokens` is reached. Returned token lists exclude the prompt and the end
token.

Stop *strings* are applied at text level by `generate_text`, after generation: the decoder
does not stop early on them (end tokens still stop it). A `constraint`
(`mllmkit.infer.constraints`) vetoes tokens that would break a rule on the generated text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import torch

from mllmkit.infer.sampling import RowRandom, check_sampling_args, select_next
from mllmkit.infer.text import Decoder, truncate_at_stop
from mllmkit.models.cache import KVCache
from mllmkit.models.mllm import MLLM


class Constraint(Protocol):
    def allows(self, ids: list[int], token: int) -> bool: ...


MAX_REJECTIONS = 256
"""Vetoed choices per row and step before a constraint gives up and keeps the model's own
choice: a rule no token can satisfy must not stall decoding (the text then simply fails
whatever check the rule stood for)."""


def _enforce(
    constraint: Constraint,
    prefixes: list[list[int]],
    logits: torch.Tensor,
    chosen: torch.Tensor,
    temperature: float,
    top_p: float,
    uniforms: torch.Tensor | None,
) -> torch.Tensor:
    """`chosen` [B] with each vetoed token replaced by the next choice the constraint allows.

    The next choice is made by the same rule (argmax, or the same uniform draw) on the row's
    logits with the vetoed tokens at -inf, so greedy gets the most likely allowed token and
    sampling a draw from the distribution renormalised over the allowed tokens."""
    out = chosen.clone()
    for r, prefix in enumerate(prefixes):
        token = int(out[r])
        row: torch.Tensor | None = None
        for _ in range(MAX_REJECTIONS):
            if constraint.allows(prefix, token):
                out[r] = token
                break
            if row is None:
                row = logits[r : r + 1].clone()
            row[0, token] = float("-inf")
            if bool(torch.isinf(row).all()):
                break
            u = None if uniforms is None else uniforms[r : r + 1]
            token = int(select_next(row, temperature, top_p, u)[0])
    return out


def _default_eos(model: MLLM, eos_token_ids: Iterable[int] | None) -> list[int]:
    if eos_token_ids is None:
        return [model.config.eos_token_id]
    return [int(t) for t in eos_token_ids]


@torch.inference_mode()
def generate(
    model: MLLM,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    pixel_values: torch.Tensor | None = None,
    *,
    max_new_tokens: int = 32,
    temperature: float = 0.0,
    top_p: float = 1.0,
    eos_token_ids: Iterable[int] | None = None,
    seed: int | Sequence[int | None] | None = None,
    reduction: Any = None,
    constraint: Constraint | None = None,
) -> list[list[int]]:
    """New token ids per row.

    `eos_token_ids=None` means the model config's `eos_token_id`; pass `()` to never stop
    early. `seed` (default 0) seeds sampling: an int seeds one generator for the batch, a
    list gives each row its own generator so its sample is the same alone or in any batch.
    `reduction` (a `mllmkit.infer.reduce` strategy) drops visual tokens once, at prefill;
    decode steps then attend to each layer's own (possibly shorter) cache. `constraint`
    (`allows(ids_so_far, token)`) vetoes tokens; see `mllmkit.infer.constraints`.
    """
    check_sampling_args(temperature, top_p)
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    if input_ids.dim() != 2:
        raise ValueError(f"input_ids must be [batch, length]; got {list(input_ids.shape)}")
    b = input_ids.shape[0]
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    if attention_mask.shape != input_ids.shape:
        raise ValueError(
            f"attention_mask shape {list(attention_mask.shape)} differs from input_ids "
            f"{list(input_ids.shape)}"
        )
    right_padded = (~attention_mask[:, -1].bool()).nonzero().flatten().tolist()
    if right_padded:
        raise ValueError(
            f"generate needs LEFT padding: rows {right_padded} end with padding "
            "(attention_mask is 0 in the last column)"
        )
    if b == 0 or max_new_tokens == 0:
        return [[] for _ in range(b)]

    device = input_ids.device
    eos = torch.tensor(_default_eos(model, eos_token_ids), dtype=torch.long, device=device)
    pad = model.config.pad_token_id
    rng = RowRandom(seed, b) if temperature > 0 else None
    out = torch.full((b, max_new_tokens), pad, dtype=torch.long, device=device)
    length = torch.zeros(b, dtype=torch.long, device=device)  # tokens before any end token
    active = torch.arange(b, device=device)  # original row of each running row

    # Toggle modes only when needed: `train()`/`eval()` walk every submodule, which costs
    # more than a decode step of a small model.
    was_training = model.training
    if was_training:
        model.eval()
    try:
        cache = KVCache()
        result = model(
            input_ids,
            pixel_values,
            attention_mask,
            cache=cache,
            num_logits_to_keep=1,
            reduction=reduction,
        )
        logits = result.logits[:, -1]  # type: ignore[index]
        for step in range(max_new_tokens):
            uniforms = None if rng is None else rng.uniform().to(device)[active]
            nxt = select_next(logits, temperature, top_p, uniforms)
            if constraint is not None:
                # running rows have no end token yet, so `out` holds exactly their tokens
                prefixes = out[active, :step].tolist()
                nxt = _enforce(constraint, prefixes, logits, nxt, temperature, top_p, uniforms)
            done = torch.isin(nxt, eos)
            out[active, step] = torch.where(done, torch.full_like(nxt, pad), nxt)
            length[active] += (~done).long()
            if done.any():
                keep = (~done).nonzero().flatten()
                active, nxt = active[keep], nxt[keep]
                cache.select(keep)
            if active.numel() == 0 or step == max_new_tokens - 1:
                break
            ones = torch.ones(active.numel(), 1, dtype=torch.long, device=device)
            result = model(nxt[:, None], attention_mask=ones, cache=cache, num_logits_to_keep=1)
            logits = result.logits[:, -1]  # type: ignore[index]
    finally:
        if was_training:
            model.train()
    return [out[i, : int(length[i])].tolist() for i in range(b)]


def generate_text(
    model: MLLM,
    tokenizer: Decoder,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    pixel_values: torch.Tensor | None = None,
    *,
    stop: Sequence[str] = (),
    skip_special_tokens: bool = True,
    **kwargs: Any,
) -> list[str]:
    """`generate`, decode with `tokenizer`, then cut each text at its first stop string."""
    ids = generate(model, input_ids, attention_mask, pixel_values, **kwargs)
    texts = [tokenizer.decode(row, skip_special_tokens=skip_special_tokens) for row in ids]
    return [truncate_at_stop(t, stop) for t in texts]
