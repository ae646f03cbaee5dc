"""Linear layers whose float32 CPU products run on oneDNN's matmul instead of MKL's sgemm.

Why: PyTorch sends a float32 `F.linear` on CPU to MKL. On the AMD EPYC (AVX-512) machines
this project runs on, oneDNN's matmul — shipped inside PyTorch, and the kernel that
`torch.compile` itself emits for CPU linears (`torch.ops.mkldnn._linear_pointwise`) — is
1.2-1.45x faster on prefill- and training-sized products ([4824, 512] x [512, 1376]: 47 ms
vs 33 ms) and streams the weights of decode-sized ones (8 rows) at ~11 GB/s instead of
~8. A call costs ~20 us more to set up, so small products stay on `F.linear`.

`Linear` is an `nn.Linear` (same parameters, names, initialisation and state dict) whose
forward calls `linear()`. With autograd, the forward product and the input gradient use
oneDNN and the weight gradient uses MKL (`grad_out^T @ x`, where oneDNN was slower in
every training shape measured). Both paths compute the same products with a different
summation order, so results agree to float32 rounding, not bit for bit.

`set_onednn_linear(False)` turns the oneDNN path off everywhere (e.g. to compare);
`use_onednn_linear(False)` does so for a `with` block.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

MIN_MACS = 1 << 22
"""Multiply-adds (rows x in x out) from which a product goes to oneDNN: ~4M MACs take
~45 us at this CPU's matmul rate, so the extra ~20 us of set-up is repaid."""

MIN_WEIGHT = 1 << 18
"""Weight elements (1 MiB in float32) from which a product goes to oneDNN whatever its
rows: decoding reads each weight once per step, and oneDNN reads it faster."""


def _probe() -> bool:
    """Whether this PyTorch build has the oneDNN op and it computes `F.linear`: the op is
    internal to PyTorch, so a build without it, or with another signature, falls back to
    `F.linear` instead of failing (~3 ms, once, at import)."""
    if not torch.backends.mkldnn.is_available():
        return False
    try:
        g = torch.Generator().manual_seed(0)
        x, w, b = (torch.randn(*s, generator=g) for s in ((3, 8), (4, 8), (4,)))
        out = torch.ops.mkldnn._linear_pointwise(x, w, b, "none", [], "")
        return bool(torch.allclose(out, F.linear(x, w, b), rtol=1e-5, atol=1e-5))
    except (AttributeError, RuntimeError, TypeError):
        return False


_AVAILABLE = _probe()
_enabled = _AVAILABLE


def onednn_linear_enabled() -> bool:
    """Whether large float32 CPU products currently go to oneDNN."""
    return _enabled


def set_onednn_linear(enabled: bool) -> bool:
    """Turn the oneDNN path on or off for every `Linear`; returns the previous setting.
    Turning it on where this PyTorch build lacks oneDNN leaves it off."""
    global _enabled
    previous = _enabled
    _enabled = bool(enabled) and _AVAILABLE
    return previous


@contextmanager
def use_onednn_linear(enabled: bool) -> Iterator[None]:
    """`set_onednn_linear(enabled)` for the duration of a `with` block, then the previous
    setting again (also on an exception)."""
    previous = set_onednn_linear(enabled)
    try:
        yield
    finally:
        set_onednn_linear(previous)


def _onednn(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


def _autocast_on() -> bool:
    try:
        return bool(torch.is_autocast_enabled("cpu"))
    except TypeError:  # PyTorch before 2.4 takes no device argument
        return bool(torch.is_autocast_cpu_enabled())


def _use_onednn(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> bool:
    if not _enabled or x.device.type != "cpu" or weight.device.type != "cpu":
        return False
    if _autocast_on():
        return False  # F.linear applies autocast's lower-precision product
    if x.dtype != torch.float32 or weight.dtype != torch.float32 or weight.dim() != 2:
        return False
    if bias is not None and bias.dtype != torch.float32:
        return False
    if x.layout != torch.strided or weight.layout != torch.strided or x.dim() < 1:
        return False
    out_features, in_features = weight.shape
    rows = x.numel() // max(in_features, 1)
    if rows == 0 or x.shape[-1] != in_features:
        return False  # F.linear gives the empty result or the shape error
    return weight.numel() >= MIN_WEIGHT or rows * in_features * out_features >= MIN_MACS


class _OneDNNLinear(torch.autograd.Function):
    """y = x W^T + b: forward and grad_x on oneDNN, grad_W on MKL (faster there)."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return _onednn(x, weight, bias)

    @staticmethod
    @once_differentiable
    def backward(  # type: ignore[override]
        ctx: Any, grad: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        x, weight = ctx.saved_tensors
        grad_x = grad_w = grad_b = None
        g2 = grad.reshape(-1, grad.shape[-1])
        if ctx.needs_input_grad[0]:
            # g W = linear(g, W^T): the transposed view is read in place, no copy
            grad_x = _onednn(grad, weight.t())
        if ctx.needs_input_grad[1]:
            grad_w = g2.t() @ x.reshape(-1, x.shape[-1])
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = g2.sum(0)
        return grad_x, grad_w, grad_b


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """`F.linear(x, weight, bias)`, on oneDNN for large float32 CPU products."""
    if not _use_onednn(x, weight, bias):
        return F.linear(x, weight, bias)
    if torch.is_grad_enabled() and (
        x.requires_grad or weight.requires_grad or (bias is not None and bias.requires_grad)
    ):
        return _OneDNNLinear.apply(x, weight, bias)
    return _onednn(x, weight, bias)


class Linear(nn.Linear):
    """`nn.Linear` whose product goes through `linear()` (oneDNN for large CPU products)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)
