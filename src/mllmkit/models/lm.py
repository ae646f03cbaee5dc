"""Llama-compatible decoder (Qwen2 with `qkv_bias=True`), Llama parameter names.

The layer loop is explicit and carries the hidden states, the position ids and the token
mask, so a later feature (token reduction at a named layer) can change them between layers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mllmkit.models.attention import Attention
from mllmkit.models.cache import KVCache
from mllmkit.models.config import LMConfig
from mllmkit.models.masks import position_ids_from_mask, visibility_mask
from mllmkit.models.mlp import SwiGLU
from mllmkit.models.norm import RMSNorm
from mllmkit.models.rope import RotaryEmbedding
from mllmkit.models.select import take_positions


class DecoderLayer(nn.Module):
    def __init__(self, cfg: LMConfig) -> None:
        super().__init__()
        self.self_attn = Attention(cfg)
        self.mlp = SwiGLU(cfg.hidden_size, cfg.intermediate_size)
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        query_index: torch.Tensor | None = None,
        **attn: object,
    ) -> torch.Tensor:
        """[B, T, D] -> [B, T, D], or [B, K, D] at `query_index` (keys still see all T)."""
        a = self.self_attn(self.input_layernorm(x), cos, sin, query_index=query_index, **attn)
        if query_index is not None:
            x = take_positions(x, query_index)
        x = x + a
        return x + self.mlp(self.post_attention_layernorm(x))


class DecoderLM(nn.Module):
    """`forward(inputs_embeds, position_ids, attention_mask, cache) -> hidden` (after `norm`).

    Logits are a separate step (`logits(hidden)`) so callers project only the positions they
    need: the last one when generating, the supervised ones when training.
    """

    def __init__(self, cfg: LMConfig) -> None:
        super().__init__()
        self.config = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.num_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.lm_head: nn.Linear | None = None
        if not cfg.tie_word_embeddings:
            self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        self.rotary = RotaryEmbedding(cfg.resolved_head_dim, cfg.rope_theta)

    @property
    def output_weight(self) -> torch.Tensor:
        return self.embed_tokens.weight if self.lm_head is None else self.lm_head.weight

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits for hidden states of any leading shape."""
        return F.linear(hidden, self.output_weight)

    def forward(
        self,
        inputs_embeds: torch.Tensor,
        position_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
        output_index: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Run the decoder over new tokens.

        `attention_mask` is [B, T_new] or [B, T_past + T_new] (only its last T_new columns are
        read: the cache remembers the past). Without `position_ids`, positions continue from
        the cache as `cumsum(mask) - 1` (left padding takes position 0). Real tokens' positions
        must increase along the sequence.

        `output_index` [B, K] asks for the final hidden states at those positions only
        ([B, K, D] instead of [B, T, D]): the last layer then computes queries, attention
        output and MLP at K positions instead of T, which is most of a layer's cost.
        """
        b, t, _ = inputs_embeds.shape
        past = cache is not None and not cache.is_empty
        if past and cache.batch_size != b:  # type: ignore[union-attr]
            raise ValueError(f"the KV cache holds {cache.batch_size} samples, the input {b}")
        if attention_mask is None:
            token_mask = torch.ones(b, t, dtype=torch.bool, device=inputs_embeds.device)
        else:
            if (
                attention_mask.dim() != 2
                or attention_mask.shape[0] != b
                or attention_mask.shape[1] < t
            ):
                raise ValueError(
                    f"attention_mask must be [batch={b}, >= {t}]; got {list(attention_mask.shape)}"
                )
            token_mask = attention_mask[:, -t:].bool()
        if position_ids is None:
            start = cache.next_position if past else None  # type: ignore[union-attr]
            position_ids = position_ids_from_mask(token_mask, start)

        attn_mask: torch.Tensor | None = None
        is_causal = False
        if not past:
            empty = (~token_mask.any(dim=1)).nonzero().flatten().tolist()
            if empty:
                raise ValueError(f"attention_mask rows {empty} have no real token")
            if bool(token_mask.all()):
                is_causal = t > 1
            else:
                attn_mask = visibility_mask(position_ids, position_ids, token_mask)

        cos, sin = self.rotary(position_ids, inputs_embeds.dtype)
        hidden = inputs_embeds
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            hidden = layer(
                hidden,
                cos,
                sin,
                query_index=output_index if i == last else None,
                attn_mask=attn_mask,
                is_causal=is_causal,
                cache=cache,
                layer_index=i,
                token_mask=token_mask,
                position_ids=position_ids,
            )
        if cache is not None:
            cache.advance(token_mask, position_ids)
        return self.norm(hidden)
