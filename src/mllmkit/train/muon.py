"""Muon with its Newton-Schulz iterations in float32 on a CPU, batched over equal shapes.

Muon (Jordan et al. 2024, "Muon: an optimizer for hidden layers") keeps a momentum per
matrix and moves each matrix along an orthogonalised momentum: five Newton-Schulz
iterations of a quintic push every singular value of the (Nesterov) momentum towards 1.
The update here is `torch.optim.Muon`'s, step for step (momentum by `lerp`, Nesterov,
decoupled weight decay, the "original" or "match_rms_adamw" learning-rate scale of Liu et
al. 2025, "Muon is scalable"), and its state has the same `momentum_buffer` per matrix, so
a checkpoint of either loads into the other.

Why not `torch.optim.Muon` itself: it runs the iterations in bfloat16 whatever the device.
That suits a GPU; on most CPUs bfloat16 matrix products are slower than float32 ones
(1.7x on an AVX512-BF16 Xeon, ~100x where the CPU has no bfloat16 instructions; one AMD
EPYC seen here was the exception, ~2.5x faster in bfloat16), and the iterations are most
of a Muon step on the small models trained here. `ns_dtype` picks the iterations' dtype
(default: bfloat16 on CUDA, float32 elsewhere), and matrices of the same shape (after
turning tall ones wide) are orthogonalised together by batched matrix products, a few
large calls instead of many small ones. It also needs no particular torch release
(`torch.optim.Muon` arrived in 2.9).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import torch
from torch import Tensor

# the quintic's coefficients (Jordan et al.): the largest slope at zero for which five
# iterations still land every singular value in roughly [0.7, 1.2]
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
NS_STEPS = 5
ADJUST_LR_FNS = ("original", "match_rms_adamw")


def newton_schulz(
    x: Tensor, coefficients: tuple[float, float, float], steps: int, eps: float
) -> Tensor:
    """Orthogonalise a stack of wide matrices `x` ([batch, rows, cols], rows <= cols) in
    its own dtype: scale each to Frobenius norm 1 (so its spectral norm is at most 1),
    then `steps` iterations of X <- aX + (bA + cA^2)X with A = XX^T."""
    a, b, c = coefficients
    x = x / x.norm(dim=(-2, -1), keepdim=True).clamp(min=eps)
    for _ in range(steps):
        gram = x @ x.mT
        poly = torch.baddbmm(gram, gram, gram, beta=b, alpha=c)
        x = torch.baddbmm(x, poly, x, beta=a)
    return x


def adjusted_lr(lr: float, adjust_lr_fn: str | None, shape: torch.Size) -> float:
    """The learning rate a matrix of `shape` steps with: "original" scales by
    sqrt(max(1, rows/cols)), "match_rms_adamw" by 0.2 sqrt(max(rows, cols)) so the
    update's RMS is AdamW's typical one; None means "original" (as in torch)."""
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return lr * math.sqrt(max(1.0, rows / cols))
    return lr * 0.2 * math.sqrt(max(rows, cols))


class Muon(torch.optim.Optimizer):
    """Muon over 2-D parameters; same arguments and defaults as `torch.optim.Muon`, plus
    `ns_dtype` (None: bfloat16 on CUDA, float32 elsewhere)."""

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        weight_decay: float = 0.1,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_coefficients: tuple[float, float, float] = NS_COEFFICIENTS,
        eps: float = 1e-7,
        ns_steps: int = NS_STEPS,
        adjust_lr_fn: str | None = None,
        ns_dtype: torch.dtype | None = None,
    ) -> None:
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(
                f"Muon needs lr, momentum and weight_decay >= 0; got {lr}, {momentum}, "
                f"{weight_decay}"
            )
        if adjust_lr_fn is not None and adjust_lr_fn not in ADJUST_LR_FNS:
            raise ValueError(f"unknown adjust_lr_fn {adjust_lr_fn!r}; use one of {ADJUST_LR_FNS}")
        if len(ns_coefficients) != 3 or not 0 < ns_steps < 100:
            raise ValueError("Muon needs three ns_coefficients and 0 < ns_steps < 100")
        defaults = {
            "lr": lr,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "nesterov": nesterov,
            "ns_coefficients": tuple(ns_coefficients),
            "eps": eps,
            "ns_steps": ns_steps,
            "adjust_lr_fn": adjust_lr_fn,
        }
        super().__init__(params, defaults)
        self.ns_dtype = ns_dtype
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError(
                        f"Muon takes 2-D parameters only; got one of shape {tuple(p.shape)}"
                    )

    def _ns_dtype(self, device: torch.device) -> torch.dtype:
        if self.ns_dtype is not None:
            return self.ns_dtype
        return torch.bfloat16 if device.type == "cuda" else torch.float32

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        # momentum first, for every matrix of every group; then one batch of iterations per
        # (device, shape, iteration settings), so matrices of different groups share calls
        todo: dict[tuple, list[tuple[Tensor, Tensor, dict]]] = defaultdict(list)
        for group in self.param_groups:
            mu = group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse or p.grad.is_complex():
                    raise ValueError("Muon takes dense real gradients only")
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p.grad)
                buf = state["momentum_buffer"]
                buf.lerp_(p.grad, 1 - mu)
                update = p.grad.lerp(buf, mu) if group["nesterov"] else buf
                wide = update if update.shape[0] <= update.shape[1] else update.mT
                key = (
                    update.device,
                    tuple(wide.shape),
                    tuple(group["ns_coefficients"]),  # a list after a checkpoint's load
                    group["ns_steps"],
                    group["eps"],
                )
                todo[key].append((p, wide, group))
        for (device, _, coefficients, steps, eps), items in todo.items():
            dtype = self._ns_dtype(device)
            stack = torch.stack([wide.to(dtype) for _, wide, _ in items])
            ortho = newton_schulz(stack, coefficients, steps, eps)
            for (p, _, group), o in zip(items, ortho, strict=True):
                if p.shape[0] > p.shape[1]:
                    o = o.mT
                p.mul_(1 - group["lr"] * group["weight_decay"])
                p.add_(
                    o.to(p.dtype), alpha=-adjusted_lr(group["lr"], group["adjust_lr_fn"], p.shape)
                )
        return loss
