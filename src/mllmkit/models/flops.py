"""Parameter counts per component (shared/tied parameters counted once)."""

from __future__ import annotations

from torch import nn

from mllmkit.models.mllm import MLLM


def _count(params: list[nn.Parameter], seen: set[int]) -> int:
    total = 0
    for p in params:
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
    return total


def parameter_counts(model: MLLM) -> dict[str, int]:
    """Counts for the vision tower (all layers, and those `feature_layer` actually runs), the
    connector, the LM (embeddings, decoder layers, separate output head) and the total."""
    seen: set[int] = set()
    vt = model.vision_tower
    lm = model.language_model
    used = vt.config.feature_index
    counts = {
        "vision_tower": sum(p.numel() for p in vt.parameters()),
        "vision_tower_used": sum(p.numel() for p in vt.embeddings.parameters())
        + sum(p.numel() for p in vt.pre_layrnorm.parameters())
        + sum(p.numel() for layer in vt.encoder.layers[:used] for p in layer.parameters()),
        "connector": sum(p.numel() for p in model.multi_modal_projector.parameters()),
        "lm_embed_tokens": lm.embed_tokens.weight.numel(),
        "lm_layers": sum(p.numel() for p in lm.layers.parameters()) + lm.norm.weight.numel(),
        "lm_head": 0 if lm.lm_head is None else lm.lm_head.weight.numel(),
    }
    counts["language_model"] = _count(list(lm.parameters()), set())
    counts["total"] = _count(list(model.parameters()), seen)
    return counts
