"""Which parameters belong to which component, and freezing by component.

The mapping from component names to modules is an explicit table, not a match on
parameter-name substrings.
"""

from __future__ import annotations

import torch

# component name -> attributes of `MLLM` (the image tagger reads the tower's features and
# is trained with it, so it belongs to the vision side; a model without one has None there)
COMPONENT_MODULES = {
    "vision": ("vision_tower", "image_tagger"),
    "connector": ("multi_modal_projector",),
    "lm": ("language_model",),
}


def component_parameters(model: torch.nn.Module, component: str) -> list[torch.nn.Parameter]:
    """Parameters of one component (shared/tied parameters appear once)."""
    params: dict[int, torch.nn.Parameter] = {}
    for attr in COMPONENT_MODULES[component]:
        module = getattr(model, attr, None)
        if module is not None:
            params.update((id(p), p) for p in module.parameters())
    return list(params.values())


def set_trainable(model: torch.nn.Module, trainable: list[str]) -> None:
    """Freeze every component not listed; unfreeze those listed."""
    for name in COMPONENT_MODULES:
        flag = name in trainable
        for p in component_parameters(model, name):
            p.requires_grad_(flag)


def param_groups(
    model: torch.nn.Module, lrs: dict[str, float], trainable: list[str], weight_decay: float
) -> list[dict]:
    """One AdamW group per trainable component (its own learning rate), with weight decay
    on matrices only — norms, biases and embeddings-as-vectors are not decayed."""
    groups = []
    seen: set[int] = set()
    for name in trainable:
        decay, no_decay = [], []
        for p in component_parameters(model, name):
            if id(p) in seen:
                continue
            seen.add(id(p))
            (decay if p.ndim >= 2 else no_decay).append(p)
        base = {"component": name, "base_lr": lrs[name], "lr": lrs[name]}
        if decay:
            groups.append({**base, "params": decay, "weight_decay": weight_decay})
        if no_decay:
            groups.append({**base, "params": no_decay, "weight_decay": 0.0})
    return groups


def head_param_groups(head: torch.nn.Module, lr: float, weight_decay: float) -> list[dict]:
    """AdamW groups for an objective's extra head (same decay rule as `param_groups`)."""
    decay = [p for p in head.parameters() if p.ndim >= 2]
    no_decay = [p for p in head.parameters() if p.ndim < 2]
    base = {"component": "head", "base_lr": lr, "lr": lr}
    groups = []
    if decay:
        groups.append({**base, "params": decay, "weight_decay": weight_decay})
    if no_decay:
        groups.append({**base, "params": no_decay, "weight_decay": 0.0})
    return groups
