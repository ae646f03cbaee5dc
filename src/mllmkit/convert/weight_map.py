"""Weight names: Hugging Face LLaVA ↔ mllmkit, as explicit prefix tables.

Our modules mirror HF's (`vision_tower` = `CLIPVisionTransformer`, `multi_modal_projector` =
`LlavaMultiModalProjector`, `language_model` = `LlamaModel`/`Qwen2Model` + `lm_head`), so a
name differs only in its leading component(s). Below each row is `(hf prefix, our prefix)`;
the rest of the name (e.g. `layers.{i}.self_attn.q_proj.weight`) is identical.

HF LLaVA checkpoints come in these layouts (all accepted on import, the first that accounts
for every key wins):

* `SAVED` – what `save_pretrained` writes (transformers 4.x and 5.x alike); we export this.
* `SAVED_CLIP_MODEL` – older checkpoints (e.g. llava-1.5) with `vision_tower.vision_model.`.
* `IN_MEMORY` – transformers 5.x module names (`model.` prefix), e.g. a `state_dict()` dump.
* `IN_MEMORY_CLIP_MODEL` – the same with `vision_model.` inside the tower.

All CLIP layers and `post_layernorm` are imported even when `vision_feature_layer` makes
them unused: our tower keeps them (so an export is complete and loads without missing
keys) and simply does not run them. `lm_head.weight` is absent when embeddings are tied.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from mllmkit.convert.errors import ConversionError

Layout = tuple[tuple[str, str], ...]

SAVED: Layout = (
    ("vision_tower.", "vision_tower."),
    ("multi_modal_projector.", "multi_modal_projector."),
    ("language_model.model.", "language_model."),
    ("language_model.lm_head.", "language_model.lm_head."),
)
SAVED_CLIP_MODEL: Layout = (
    ("vision_tower.vision_model.", "vision_tower."),
    ("multi_modal_projector.", "multi_modal_projector."),
    ("language_model.model.", "language_model."),
    ("language_model.lm_head.", "language_model.lm_head."),
)
IN_MEMORY: Layout = (
    ("model.vision_tower.", "vision_tower."),
    ("model.multi_modal_projector.", "multi_modal_projector."),
    ("model.language_model.", "language_model."),
    ("lm_head.", "language_model.lm_head."),
)
IN_MEMORY_CLIP_MODEL: Layout = (
    ("model.vision_tower.vision_model.", "vision_tower."),
    ("model.multi_modal_projector.", "multi_modal_projector."),
    ("model.language_model.", "language_model."),
    ("lm_head.", "language_model.lm_head."),
)
LAYOUTS: dict[str, Layout] = {
    "saved": SAVED,
    "saved_clip_model": SAVED_CLIP_MODEL,
    "in_memory": IN_MEMORY,
    "in_memory_clip_model": IN_MEMORY_CLIP_MODEL,
}
EXPORT_LAYOUT = SAVED
_SHOW = 12


def _names(keys: list[str]) -> str:
    more = len(keys) - _SHOW
    return ", ".join(keys[:_SHOW]) + (f", ... ({more} more)" if more > 0 else "")


def _rename(key: str, table: Layout, reverse: bool) -> str | None:
    pairs = [(ours, hf) if reverse else (hf, ours) for hf, ours in table]
    # the longest prefix first: `language_model.lm_head.` before `language_model.`
    for src, dst in sorted(pairs, key=lambda p: -len(p[0])):
        if key.startswith(src):
            return dst + key[len(src) :]
    return None


def hf_to_ours(
    state: Mapping[str, torch.Tensor], expected: set[str], source: str
) -> dict[str, torch.Tensor]:
    """Rename an HF state dict to our names; raise naming unknown and missing keys.

    `expected` is our model's key set: a layout is accepted only if it maps the HF keys onto
    exactly that set, so a stray, missing or misplaced tensor is reported by name.
    """
    best: tuple[int, list[str], list[str]] | None = None
    for table in LAYOUTS.values():
        renamed = {k: _rename(k, table, reverse=False) for k in state}
        unknown = sorted(k for k, v in renamed.items() if v is None or v not in expected)
        missing = sorted(expected - {v for v in renamed.values() if v is not None})
        if not unknown and not missing:
            return {renamed[k]: v for k, v in state.items()}  # type: ignore[misc]
        score = len(unknown) + len(missing)
        if best is None or score < best[0]:
            best = (score, unknown, missing)
    assert best is not None
    problems = []
    if best[1]:
        problems.append(f"unknown key(s) {_names(best[1])}")
    if best[2]:
        problems.append(f"missing key(s) (mllmkit names) {_names(best[2])}")
    raise ConversionError(f"{source}: " + "; ".join(problems))


def ours_to_hf(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename our state dict to the layout `save_pretrained` writes (`EXPORT_LAYOUT`)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        name = _rename(key, EXPORT_LAYOUT, reverse=True)
        if name is None:
            raise ConversionError(f"weight {key!r} has no Hugging Face LLaVA counterpart")
        out[name] = value
    return out
