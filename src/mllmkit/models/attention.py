"""Grouped-query self-attention with Llama parameter names, on SDPA.

`q_proj/k_proj/v_proj` carry a bias iff `qkv_bias` (Qwen2); `o_proj` never does.
The visibility mask is either given (shared by every layer when there is no past), replaced
by `is_causal=True` (no padding, no past: the cheapest path), replaced by causal attention
on each row's span of real tokens (padding that leaves one run per row, no past), or built
here from the layer's cache, whose length may differ from other layers'.

`attention_probs` is the one place attention *weights* are computed: token reduction asks
for a few query rows over all keys from this layer's own q/k projections (as PyramidDrop
does), so the forward pass itself stays on SDPA and never materialises full attention maps.

With `attention_sink`, every query also sees one extra key per key/value head: a learned
vector without RoPE (`sink_key`, zero at init: softmax "off by one", E. Miller 2023; learned
sinks as in gpt-oss, attention sinks of Xiao et al. 2023) whose value is zero. Why: softmax
weights over real tokens sum to one, so a query for "the red object" in a scene without one
still reads *some* object's value, and "found it" cannot be told from "found the nearest".
With a sink the weight can go to nothing, and the output's size says whether anything
matched. Such layers always take the explicit-mask path of SDPA (the sink column is
visible to every query, which `is_causal` cannot express).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mllmkit.models.cache import KVCache
from mllmkit.models.config import LMConfig
from mllmkit.models.linear import Linear
from mllmkit.models.masks import visibility_mask
from mllmkit.models.rope import apply_rope
from mllmkit.models.select import take_positions


class Attention(nn.Module):
    def __init__(self, cfg: LMConfig) -> None:
        super().__init__()
        self.num_heads = cfg.num_heads
        self.num_kv_heads = cfg.num_kv_heads
        self.head_dim = cfg.resolved_head_dim
        d, hd = cfg.hidden_size, self.head_dim
        self.q_proj = Linear(d, cfg.num_heads * hd, bias=cfg.qkv_bias)
        self.k_proj = Linear(d, cfg.num_kv_heads * hd, bias=cfg.qkv_bias)
        self.v_proj = Linear(d, cfg.num_kv_heads * hd, bias=cfg.qkv_bias)
        self.o_proj = Linear(cfg.num_heads * hd, d, bias=False)
        self.sink_key: nn.Parameter | None = None
        if cfg.attention_sink:
            self.sink_key = nn.Parameter(torch.zeros(cfg.num_kv_heads, hd))

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        *,
        attn_mask: torch.Tensor | None = None,
        is_causal: bool = False,
        cache: KVCache | None = None,
        layer_index: int = 0,
        token_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        query_index: torch.Tensor | None = None,
        row_spans: list[tuple[int, int]] | None = None,
    ) -> torch.Tensor:
        """Keys/values from every position of `x`; queries from every position, or only at
        `query_index` [B, K] (output [B, K, D] then). `row_spans` (one `(start, end)` run of
        real tokens per row, no past) replaces the mask by causal attention per row; padding
        positions then get zeros, which nothing reads."""
        b, t, _ = x.shape
        hd = self.head_dim
        k = self.k_proj(x).view(b, t, self.num_kv_heads, hd).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.num_kv_heads, hd).transpose(1, 2)
        k = apply_rope(k, cos, sin)
        q_in, q_cos, q_sin, q_pos = x, cos, sin, position_ids
        if query_index is not None:
            if position_ids is None or token_mask is None:
                raise ValueError("selected queries need token_mask and position_ids")
            q_in, q_cos, q_sin, q_pos = (
                take_positions(y, query_index) for y in (x, cos, sin, position_ids)
            )
        tq = q_in.shape[1]
        q = apply_rope(
            self.q_proj(q_in).view(b, tq, self.num_heads, hd).transpose(1, 2), q_cos, q_sin
        )

        key_pos, key_mask = position_ids, token_mask
        rebuild = query_index is not None
        if cache is not None:
            if token_mask is None or position_ids is None:
                raise ValueError("attention with a KV cache needs token_mask and position_ids")
            rebuild = rebuild or cache.past_length(layer_index) > 0
            entry = cache.append(layer_index, k, v, token_mask, position_ids)
            k, v, key_pos, key_mask = entry.key, entry.value, entry.key_pos, entry.key_mask
        if rebuild:
            attn_mask = visibility_mask(q_pos, key_pos, key_mask)  # type: ignore[arg-type]
            is_causal = False
        if self.sink_key is not None:
            if q_pos is None or key_pos is None or key_mask is None:
                raise ValueError("attention with a sink needs token_mask and position_ids")
            k, v, attn_mask = self._with_sink(k, v, q_pos, key_pos, key_mask)
            is_causal, row_spans = False, None

        if self.num_kv_heads != self.num_heads:
            rep = self.num_heads // self.num_kv_heads
            k = k[:, :, None].expand(b, self.num_kv_heads, rep, k.shape[2], hd).flatten(1, 2)
            v = v[:, :, None].expand(b, self.num_kv_heads, rep, v.shape[2], hd).flatten(1, 2)

        if row_spans is not None and not rebuild:
            out = q.new_zeros(b, self.num_heads, tq, hd)
            for i, (s, e) in enumerate(row_spans):
                out[i, :, s:e] = F.scaled_dot_product_attention(
                    q[i : i + 1, :, s:e], k[i : i + 1, :, s:e], v[i : i + 1, :, s:e], is_causal=True
                )[0]
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=is_causal)
        return self.o_proj(out.transpose(1, 2).reshape(b, tq, self.num_heads * hd))

    def _with_sink(
        self,
        k: torch.Tensor,
        v: torch.Tensor,
        q_pos: torch.Tensor,
        key_pos: torch.Tensor,
        key_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Keys and values with the sink appended as the last key, and the boolean
        [B, 1, Tq, Tk + 1] visibility (the position rule of `visibility_mask`, plus the
        sink column, which every query sees)."""
        assert self.sink_key is not None
        b = k.shape[0]
        sink_k = self.sink_key.to(k.dtype)[None, :, None].expand(b, -1, 1, -1)
        k = torch.cat([k, sink_k], dim=2)
        v = torch.cat([v, v.new_zeros(b, v.shape[1], 1, v.shape[3])], dim=2)
        visible = (key_pos[:, None, :] <= q_pos[:, :, None]) & key_mask[:, None, :]
        visible = torch.cat([visible, visible.new_ones(*visible.shape[:2], 1)], dim=2)
        return k, v, visible[:, None]

    def attention_probs(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        position_ids: torch.Tensor,
        token_mask: torch.Tensor,
        query_index: torch.Tensor,
    ) -> torch.Tensor:
        """Softmax attention [B, heads, Q, T] of the queries at `query_index` [B, Q] over all
        T keys of `x` (normed layer input), with RoPE and the position/mask visibility rule.

        Costs one k projection over T tokens and a q projection over Q: a 1×T row per query
        instead of the T×T map that eager attention would materialise."""
        b, t, _ = x.shape
        hd = self.head_dim
        k = self.k_proj(x).view(b, t, self.num_kv_heads, hd).transpose(1, 2)
        k = apply_rope(k, cos, sin)
        q_in, q_cos, q_sin, q_pos = (
            take_positions(y, query_index) for y in (x, cos, sin, position_ids)
        )
        tq = q_in.shape[1]
        q = apply_rope(
            self.q_proj(q_in).view(b, tq, self.num_heads, hd).transpose(1, 2), q_cos, q_sin
        )
        if self.num_kv_heads != self.num_heads:
            k = k.repeat_interleave(self.num_heads // self.num_kv_heads, dim=1)
        scores = (q.float() @ k.float().transpose(-1, -2)) * hd**-0.5  # [B, H, Q, T]
        visible = (position_ids[:, None, :] <= q_pos[:, :, None]) & token_mask[:, None, :]
        scores = scores.masked_fill(~visible[:, None], float("-inf"))
        if self.sink_key is None:
            return torch.softmax(scores, dim=-1)
        # the sink takes its share as in the forward pass; the probabilities returned are
        # those of the T real keys (a row then sums to less than one)
        sink = self.sink_key.float()
        if self.num_kv_heads != self.num_heads:
            sink = sink.repeat_interleave(self.num_heads // self.num_kv_heads, dim=0)
        sink_scores = (q.float() @ sink[None, :, :, None]) * hd**-0.5  # [B, H, Q, 1]
        return torch.softmax(torch.cat([scores, sink_scores], dim=-1), dim=-1)[..., :-1]
