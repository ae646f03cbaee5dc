"""Analytic FLOP counts for a forward pass (multiply-add = 2 FLOPs).

Decoder layer with n tokens, hidden d, key/value width d_kv = kv_heads * head_dim,
FFN width m (SwiGLU has three matrices: gate, up, down):

    f_layer(n) = 2n·d·(2d + 2·d_kv)      # q, o (d×d) and k, v (d×d_kv) projections
               + 2n·3·d·m                # SwiGLU gate, up, down
               + 4·n_q·n_k·d_head·heads  # QKᵀ and AV (full square, as SDPA computes it)

With d_kv = d this is FastV's `4nd² + 2n²d + 2ndm` except that SwiGLU counts `3ndm` (as
SparseVLM does) and attention counts `4n²d` for the two matmuls. The ViT's patch
convolution counts 2·patches·C·p²·d (the `conv` stem counts its own convolutions,
`conv_stem_flops`); ViT layers use the same form with a 2-matrix GELU MLP and no causal
saving. Norms, softmax, RoPE and activations are ignored (under 1% at these sizes).

Token reduction (`reduction_cost`): layer i processes `kept[i]` tokens (the strategy's
`tokens_per_layer`), so the decoder costs Σ_i f_layer(kept[i]); a strategy that ranks tokens
by attention at layer K adds its score row there (the `selection` term):

    s(n) = 2n·d·d_kv + 2·d·d_q + 2n·d_head·heads   # k for all n, q for one token, one QKᵀ row

The KV cache holds Σ_i kept[i] · 2·d_kv values per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from mllmkit.models.config import LMConfig, MLLMConfig, VisionConfig
from mllmkit.models.vision_stem import conv_stem_flops


class CountsTokens(Protocol):
    """What accounting needs from a reduction strategy (`mllmkit.infer.reduce.Strategy`)."""

    def tokens_per_layer(self, cfg: MLLMConfig, seq_len: int, n_images: int) -> list[int]: ...

    def scoring_layers(self, num_layers: int) -> tuple[int, ...]: ...

    def spec(self) -> str: ...


def decoder_layer_flops(cfg: LMConfig, n_query: int, n_key: int | None = None) -> int:
    """FLOPs of one decoder layer for `n_query` new tokens attending to `n_key` keys (plus
    the sink key of `attention_sink`)."""
    n_key = (n_query if n_key is None else n_key) + int(cfg.attention_sink)
    d, hd = cfg.hidden_size, cfg.resolved_head_dim
    d_q = cfg.num_heads * hd
    d_kv = cfg.num_kv_heads * hd
    proj = 2 * n_query * d * (2 * d_q + 2 * d_kv)
    mlp = 2 * n_query * 3 * d * cfg.intermediate_size
    attn = 4 * n_query * n_key * hd * cfg.num_heads
    return proj + mlp + attn


def vision_flops(cfg: VisionConfig, n_images: int) -> int:
    """FLOPs of the vision tower for `n_images` images (only the layers that run)."""
    d, m = cfg.hidden_size, cfg.intermediate_size
    n = cfg.num_patches + 1
    if cfg.stem == "conv":
        patch = conv_stem_flops(cfg.num_channels, cfg.patch_size, d, cfg.image_size)
    else:
        patch = 2 * cfg.num_patches * cfg.num_channels * cfg.patch_size**2 * d
    layer = 2 * n * 4 * d * d + 2 * n * 2 * d * m + 4 * n * n * d
    return n_images * (patch + cfg.feature_index * layer)


def tagger_flops(cfg: MLLMConfig, n_images: int) -> int:
    """FLOPs of the image tagger's matrix products (0 without one): its head and the class
    probabilities times the class words, per tower token, plus the class-word matrix (a
    [classes, vocab] mix of the embedding table) once per forward."""
    if not cfg.image_tags or n_images == 0:
        return 0
    dv, d, vocab = cfg.vision.hidden_size, cfg.lm.hidden_size, cfg.lm.vocab_size
    classes = sum(len(g.words) for g in cfg.image_tags)
    per_token = 2 * dv * classes + 2 * classes * d
    return n_images * cfg.vision.num_feature_tokens * per_token + 2 * classes * vocab * d


def connector_flops(cfg: MLLMConfig, n_images: int) -> int:
    """FLOPs of the connector (its Linear layers, and the image tagger if any) for
    `n_images` images."""
    dv, d = cfg.vision.hidden_size, cfg.lm.hidden_size
    n_in = cfg.vision.num_feature_tokens
    n_out = cfg.image_tokens_per_image
    tags = tagger_flops(cfg, n_images)
    if cfg.connector == "linear":
        return tags + n_images * 2 * n_in * dv * d
    if cfg.connector == "mlp2x_gelu":
        h = cfg.connector_hidden or d
        return tags + n_images * (2 * n_in * dv * h + 2 * n_in * h * d)
    if cfg.connector == "pixel_shuffle":
        return tags + n_images * 2 * n_out * (4 * dv) * d
    raise ValueError(f"no FLOP formula for connector {cfg.connector!r}")


@dataclass(frozen=True)
class PrefillFlops:
    """A breakdown of prefill FLOPs for one request."""

    vision: int
    connector: int
    decoder: int
    lm_head: int
    selection: int = 0  # scoring done by a token-reduction strategy

    @property
    def total(self) -> int:
        return self.vision + self.connector + self.decoder + self.lm_head + self.selection


def prefill_flops(
    cfg: MLLMConfig,
    seq_len: int,
    n_images: int,
    kept_per_layer: list[int] | None = None,
    logits_positions: int = 1,
) -> PrefillFlops:
    """Prefill FLOPs of one request of `seq_len` tokens (image tokens included).

    `kept_per_layer[i]` is the number of tokens decoder layer i processes (token reduction
    drops tokens at some layer); by default every layer sees all `seq_len` tokens.
    """
    layers = cfg.lm.num_layers
    kept = kept_per_layer or [seq_len] * layers
    if len(kept) != layers:
        raise ValueError(f"kept_per_layer has {len(kept)} entries for {layers} layers")
    decoder = sum(decoder_layer_flops(cfg.lm, n) for n in kept)
    head = 2 * logits_positions * cfg.lm.hidden_size * cfg.lm.vocab_size
    return PrefillFlops(
        vision=vision_flops(cfg.vision, n_images),
        connector=connector_flops(cfg, n_images),
        decoder=decoder,
        lm_head=head,
    )


def kv_cache_bytes(cfg: LMConfig, kept_per_layer: list[int], bytes_per_value: int = 4) -> int:
    """Bytes of keys + values cached for one request (per layer: tokens × kv width × 2)."""
    kv = cfg.num_kv_heads * cfg.resolved_head_dim
    return sum(2 * n * kv * bytes_per_value for n in kept_per_layer)


def selection_flops(cfg: LMConfig, n_tokens: int) -> int:
    """FLOPs of one attention score row (last token over `n_tokens` keys) at one layer."""
    hd = cfg.resolved_head_dim
    d_q, d_kv = cfg.num_heads * hd, cfg.num_kv_heads * hd
    return (
        2 * n_tokens * cfg.hidden_size * d_kv
        + 2 * cfg.hidden_size * d_q
        + (2 * n_tokens * hd * cfg.num_heads)
    )


@dataclass(frozen=True)
class ReductionCost:
    """Prefill FLOPs and KV-cache bytes of one request, reduced and full."""

    strategy: str
    tokens_per_layer: list[int]
    flops: PrefillFlops
    full_flops: PrefillFlops
    kv_bytes: int
    full_kv_bytes: int

    @property
    def flops_pct(self) -> float:
        return 100.0 * self.flops.total / self.full_flops.total

    def to_json(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "tokens_per_layer": self.tokens_per_layer,
            "prefill_flops": self.flops.total,
            "full_prefill_flops": self.full_flops.total,
            "flops_pct": round(self.flops_pct, 2),
            "kv_mb": round(self.kv_bytes / 2**20, 4),
            "full_kv_mb": round(self.full_kv_bytes / 2**20, 4),
        }


def reduction_cost(
    cfg: MLLMConfig,
    strategy: CountsTokens,
    seq_len: int,
    n_images: int,
    bytes_per_value: int = 4,
) -> ReductionCost:
    """Analytic cost of a prefill of `seq_len` tokens with `n_images` images under `strategy`
    (tokens per layer from `strategy.tokens_per_layer`, scoring rows at `scoring_layers`)."""
    kept = strategy.tokens_per_layer(cfg, seq_len, n_images)
    base = prefill_flops(cfg, seq_len, n_images, kept)
    scoring = strategy.scoring_layers(cfg.lm.num_layers)
    # the score row at layer i sees the tokens entering it: those the previous layer kept
    entering = [seq_len, *kept[:-1]]
    selection = sum(selection_flops(cfg.lm, entering[i]) for i in scoring)
    flops = PrefillFlops(base.vision, base.connector, base.decoder, base.lm_head, selection)
    full = [seq_len] * cfg.lm.num_layers
    return ReductionCost(
        strategy=strategy.spec(),
        tokens_per_layer=kept,
        flops=flops,
        full_flops=prefill_flops(cfg, seq_len, n_images, full),
        kv_bytes=kv_cache_bytes(cfg.lm, kept, bytes_per_value),
        full_kv_bytes=kv_cache_bytes(cfg.lm, full, bytes_per_value),
    )
