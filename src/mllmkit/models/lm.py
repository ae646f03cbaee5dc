"""Llama-compatible decoder (Qwen2 with `qkv_bias=True`), Llama parameter names.

The layer loop is explicit and carries the hidden states, the position ids and the token
mask, so token reduction can change them between layers: at prefill, a `reduction` strategy
(see `mllmkit.infer.reduce`) is asked before each layer it names which tokens each sample
keeps; the kept tokens are re-packed (left padded to the longest row, with a token mask) and
keep their original RoPE positions, so later layers — and their KV caches — hold only them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import torch
from torch import nn

from mllmkit.models.attention import Attention
from mllmkit.models.cache import KVCache
from mllmkit.models.config import LMConfig
from mllmkit.models.linear import Linear, linear
from mllmkit.models.masks import contiguous_spans, position_ids_from_mask, visibility_mask
from mllmkit.models.mlp import SwiGLU
from mllmkit.models.norm import RMSNorm
from mllmkit.models.rope import RotaryEmbedding
from mllmkit.models.select import take_positions


class LayerReduction(Protocol):
    """What the decoder needs from a token-reduction strategy (duck-typed; the strategies
    live in `mllmkit.infer.reduce`, which the model does not import)."""

    def reduction_layers(self, num_layers: int) -> tuple[int, ...]: ...

    def at_layer(self, **context: Any) -> list[torch.Tensor] | None: ...


def repack(
    keep: list[torch.Tensor], token_mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """Per-sample kept indices -> (index [B, K], new token mask [B, K], old->new map [B, T]).

    Rows are left padded to the longest kept row; a padding slot repeats the row's first kept
    token (masked out) so its hidden state and position stay finite and valid. Indices are
    sorted, de-duplicated and restricted to real tokens. Returns None when every sample keeps
    all its real tokens: keeping everything is then exactly the unreduced computation.
    """
    b, t = token_mask.shape
    if len(keep) != b:
        raise ValueError(f"reduction returned {len(keep)} keep lists for a batch of {b}")
    rows = []
    for i, k in enumerate(keep):
        k = torch.unique(k.to(device=token_mask.device, dtype=torch.long))
        if k.numel() and (int(k.min()) < 0 or int(k.max()) >= t):
            raise ValueError(f"reduction kept index out of range [0, {t}) in sample {i}")
        k = k[token_mask[i, k]]
        if k.numel() == 0:
            raise ValueError(f"reduction kept no real token in sample {i}")
        rows.append(k)
    if all(int(k.numel()) == int(token_mask[i].sum()) for i, k in enumerate(rows)):
        return None
    width = max(int(k.numel()) for k in rows)
    index = torch.empty(b, width, dtype=torch.long, device=token_mask.device)
    mask = torch.zeros(b, width, dtype=torch.bool, device=token_mask.device)
    old_to_new = torch.full((b, t), -1, dtype=torch.long, device=token_mask.device)
    for i, k in enumerate(rows):
        pad = width - k.numel()
        index[i, :pad] = k[0]
        index[i, pad:] = k
        mask[i, pad:] = True
        old_to_new[i, k] = torch.arange(pad, width, device=token_mask.device)
    return index, mask, old_to_new


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
        self.lm_head: Linear | None = None
        if not cfg.tie_word_embeddings:
            self.lm_head = Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        self.rotary = RotaryEmbedding(cfg.resolved_head_dim, cfg.rope_theta)

    @property
    def output_weight(self) -> torch.Tensor:
        return self.embed_tokens.weight if self.lm_head is None else self.lm_head.weight

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits for hidden states of any leading shape."""
        return linear(hidden, self.output_weight)

    def forward(
        self,
        inputs_embeds: torch.Tensor,
        position_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
        output_index: torch.Tensor | None = None,
        *,
        reduction: LayerReduction | None = None,
        image_mask: torch.Tensor | None = None,
        keep: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Run the decoder over new tokens.

        `attention_mask` is [B, T_new] or [B, T_past + T_new] (only its last T_new columns are
        read: the cache remembers the past). Without `position_ids`, positions continue from
        the cache as `cumsum(mask) - 1` (left padding takes position 0). Real tokens' positions
        must increase along the sequence.

        `output_index` [B, K] asks for the final hidden states at those positions only
        ([B, K, D] instead of [B, T, D]): the last layer then computes queries, attention
        output and MLP at K positions instead of T, which is most of a layer's cost.

        Token reduction (prefill only, i.e. without a past): `keep` (per-sample indices, e.g.
        chosen next to the vision tower) drops tokens before layer 0; `reduction` is asked
        before each of its `reduction_layers`, with `image_mask` [B, T] marking image tokens.
        `output_index` refers to the original positions; asking for a dropped one is an error.
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
        positions_from_mask = position_ids is None
        if position_ids is None:
            start = cache.next_position if past else None  # type: ignore[union-attr]
            position_ids = position_ids_from_mask(token_mask, start)

        attn_mask: torch.Tensor | None = None
        is_causal = False
        # padded rows whose real tokens are one run: causal attention without a mask
        row_spans: list[tuple[int, int]] | None = None
        if not past:
            empty = (~token_mask.any(dim=1)).nonzero().flatten().tolist()
            if empty:
                raise ValueError(f"attention_mask rows {empty} have no real token")
            if bool(token_mask.all()):
                is_causal = t > 1
            else:
                # positions computed from the mask rise by one along each run, so causal
                # order by index is the position rule of `visibility_mask`
                row_spans = contiguous_spans(token_mask) if positions_from_mask else None
                if row_spans is None:
                    attn_mask = visibility_mask(position_ids, position_ids, token_mask)
                elif all(s == 0 for s, _ in row_spans):
                    # right padding: a real token's causal window holds only earlier real
                    # tokens, so one causal call over the padded batch is exact for them
                    # (padding rows get values nothing reads) and skips a call per row
                    is_causal, row_spans = t > 1, None

        in_mask, in_pos = token_mask, position_ids
        hidden = inputs_embeds
        at_layers: tuple[int, ...] = ()
        if not past and (reduction is not None or keep is not None):
            if image_mask is None:
                image_mask = torch.zeros_like(token_mask)
            if tuple(image_mask.shape) != (b, t):
                raise ValueError(f"image_mask must be [{b}, {t}]; got {list(image_mask.shape)}")
            image_mask = image_mask.bool()
            if reduction is not None:
                at_layers = tuple(reduction.reduction_layers(len(self.layers)))
        state = _State(hidden, position_ids, token_mask, image_mask, output_index)
        if keep is not None and not past and state.drop(keep):
            attn_mask, is_causal, row_spans = state.visibility(), False, None
        cos, sin = self.rotary(state.position_ids, inputs_embeds.dtype)
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            if i in at_layers:
                chosen = reduction.at_layer(  # type: ignore[union-attr]
                    layer=i,
                    num_layers=len(self.layers),
                    hidden=state.hidden,
                    token_mask=state.token_mask,
                    position_ids=state.position_ids,
                    image_mask=state.image_mask,
                    attention=_score_source(layer, state, cos, sin),
                )
                if chosen is not None and state.drop(chosen):
                    attn_mask, is_causal, row_spans = state.visibility(), False, None
                    cos, sin = self.rotary(state.position_ids, inputs_embeds.dtype)
            hidden, token_mask, position_ids = state.hidden, state.token_mask, state.position_ids
            output_index = state.output_index
            hidden = layer(
                hidden,
                cos,
                sin,
                query_index=output_index if i == last else None,
                attn_mask=attn_mask,
                is_causal=is_causal,
                row_spans=row_spans,
                cache=cache,
                layer_index=i,
                token_mask=token_mask,
                position_ids=position_ids,
            )
            state.hidden = hidden
        if cache is not None:
            cache.advance(in_mask, in_pos)
        return self.norm(hidden)


class _State:
    """The tensors that travel between layers and shrink together when tokens are dropped."""

    def __init__(
        self,
        hidden: torch.Tensor,
        position_ids: torch.Tensor,
        token_mask: torch.Tensor,
        image_mask: torch.Tensor | None,
        output_index: torch.Tensor | None,
    ) -> None:
        self.hidden = hidden
        self.position_ids = position_ids
        self.token_mask = token_mask
        self.image_mask = image_mask
        self.output_index = output_index

    def drop(self, keep: list[torch.Tensor]) -> bool:
        """Keep only `keep` per sample; False (nothing changed) when all tokens are kept."""
        packed = repack(keep, self.token_mask)
        if packed is None:
            return False
        index, mask, old_to_new = packed
        if self.output_index is not None:
            mapped = old_to_new.gather(1, self.output_index)
            if bool((mapped < 0).any()):
                raise ValueError("token reduction dropped a position whose output was requested")
            self.output_index = mapped
        self.hidden = take_positions(self.hidden, index)
        self.position_ids = take_positions(self.position_ids, index)
        if self.image_mask is not None:
            self.image_mask = take_positions(self.image_mask, index)
        self.token_mask = mask
        return True

    def visibility(self) -> torch.Tensor | None:
        return visibility_mask(self.position_ids, self.position_ids, self.token_mask)


def _score_source(
    layer: DecoderLayer, state: _State, cos: torch.Tensor, sin: torch.Tensor
) -> Callable[[torch.Tensor], torch.Tensor]:
    """`query_index [B, Q] -> attention [B, heads, Q, T]` from this layer's own q/k."""

    def attention(query_index: torch.Tensor) -> torch.Tensor:
        x = layer.input_layernorm(state.hidden)
        return layer.self_attn.attention_probs(
            x, cos, sin, state.position_ids, state.token_mask, query_index
        )

    return attention
