"""The optimizer of a stage: AdamW, or Muon for hidden matrices with AdamW for the rest.

Muon (Jordan et al. 2024, "Muon: an optimizer for hidden layers"; `train/muon.py`:
`torch.optim.Muon`'s update with float32 iterations on a CPU) orthogonalises each
matrix's momentum by Newton-Schulz iterations, so every direction of a weight moves at a
similar rate instead of the few that dominate the gradient. It is meant for the matrices
inside a network: embeddings, the output head, norms and biases stay on AdamW.
`adjust_lr_fn="match_rms_adamw"` (Liu et al. 2025, "Muon is scalable") scales its update
to AdamW's typical RMS, so a stage's learning rates mean the same thing under either
optimizer.

A stage's `muon_on` narrows Muon to some kinds of matrix (`MUON_KINDS`: the attention
projections, the MLPs, the connector), by the class of the module that owns each linear
layer; the rest go to AdamW. Newton-Schulz costs a few matrix products per matrix and
step, so on a CPU the MLPs' wide matrices are a large share of a Muon step.

`StageOptimizer` steps both as one optimizer: one `param_groups` list (the schedule sets
every group's `lr`), one `state_dict` whose parameter indices run over both in turn, so
checkpoints and exact resume work unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mllmkit.models.attention import Attention
from mllmkit.models.connectors import Connector
from mllmkit.models.mlp import SwiGLU
from mllmkit.models.vision import VisionAttention, VisionMLP
from mllmkit.train.muon import Muon

OPTIMIZERS = ("adamw", "muon")

# the kinds of matrix `muon_on` may name: a linear layer's kind is its owning module's class
MUON_OWNERS: dict[str, tuple[type[nn.Module], ...]] = {
    "attention": (Attention, VisionAttention),
    "mlp": (SwiGLU, VisionMLP),
    "connector": (Connector,),
}
MUON_KINDS = tuple(MUON_OWNERS)


def muon_parameters(model: nn.Module, kinds: tuple[str, ...] | None = None) -> set[int]:
    """Ids of the hidden matrices Muon may take: weights of `nn.Linear` modules, except
    the language model's output head (an embedding in all but name). With `kinds` (names
    from `MUON_KINDS`), only the linear layers whose owning module is of those kinds."""
    head = getattr(getattr(model, "language_model", None), "lm_head", None)
    if kinds is None:
        linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    else:
        unknown = [k for k in kinds if k not in MUON_OWNERS]
        if unknown:
            raise ValueError(f"unknown muon_on kind(s) {unknown}; use {MUON_KINDS}")
        owners = tuple(c for k in kinds for c in MUON_OWNERS[k])
        linears = [
            child
            for parent in model.modules()
            if isinstance(parent, owners)
            for child in parent.modules()
            if isinstance(child, nn.Linear)
        ]
    return {id(m.weight) for m in linears if m is not head}


class StageOptimizer(torch.optim.Optimizer):
    """Several optimizers over disjoint parameters, stepped and checkpointed as one.

    It subclasses `torch.optim.Optimizer` for its type only and does not run its
    `__init__`: the parts own groups and state. So optimizer hooks and torch's LR
    schedulers are not supported on it; the trainer sets each group's `lr` itself.
    """

    def __init__(self, parts: list[torch.optim.Optimizer]) -> None:
        self.parts = parts
        self.defaults: dict[str, Any] = {}
        self.param_groups = [g for p in parts for g in p.param_groups]
        self.state: dict[Any, Any] = {}

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:
        for part in self.parts:
            part.step()

    def zero_grad(self, set_to_none: bool = True) -> None:
        for part in self.parts:
            part.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        state: dict[int, Any] = {}
        groups: list[dict[str, Any]] = []
        offset = 0
        for part in self.parts:
            sd = part.state_dict()
            for idx, s in sd["state"].items():
                state[idx + offset] = s
            for g in sd["param_groups"]:
                groups.append({**g, "params": [i + offset for i in g["params"]]})
            offset += sum(len(g["params"]) for g in sd["param_groups"])
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        groups = state_dict["param_groups"]
        offset = 0
        at = 0
        for part in self.parts:
            n_groups = len(part.param_groups)
            mine = groups[at : at + n_groups]
            n_params = sum(len(g["params"]) for g in mine)
            part.load_state_dict(
                {
                    "state": {
                        i - offset: s
                        for i, s in state_dict["state"].items()
                        if offset <= i < offset + n_params
                    },
                    "param_groups": [
                        {**g, "params": [i - offset for i in g["params"]]} for g in mine
                    ],
                }
            )
            at += n_groups
            offset += n_params
        self.param_groups = [g for p in self.parts for g in p.param_groups]


def build_optimizer(
    name: str,
    groups: list[dict],
    model: nn.Module,
    betas: tuple[float, float],
    muon_on: tuple[str, ...] | None = None,
) -> torch.optim.Optimizer:
    """The stage's optimizer over `groups` (each with `lr`, `base_lr`, `weight_decay`);
    `muon_on` (Muon only) narrows which matrices Muon takes (`muon_parameters`)."""
    if name == "adamw":
        # fused: one kernel per step instead of a loop over parameters
        return torch.optim.AdamW(groups, betas=betas, eps=1e-8, fused=True)
    if name != "muon":
        raise ValueError(f"unknown optimizer {name!r}; use one of {OPTIMIZERS}")
    hidden = muon_parameters(model, muon_on)
    muon_groups, adam_groups = [], []
    for g in groups:
        mats = [p for p in g["params"] if id(p) in hidden]
        rest = [p for p in g["params"] if id(p) not in hidden]
        if mats:
            muon_groups.append({**g, "params": mats})
        if rest:
            adam_groups.append({**g, "params": rest})
    parts: list[torch.optim.Optimizer] = []
    if muon_groups:
        parts.append(Muon(muon_groups, adjust_lr_fn="match_rms_adamw"))
    if adam_groups:
        parts.append(torch.optim.AdamW(adam_groups, betas=betas, eps=1e-8, fused=True))
    return parts[0] if len(parts) == 1 else StageOptimizer(parts)
