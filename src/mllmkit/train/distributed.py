"""Data parallelism over `torch.distributed` (gloo on CPU), started by `torchrun`.

We all-reduce gradients by hand instead of wrapping the model in DDP: each process computes
the *sum* of its token losses divided by the global number of supervised tokens, so the
summed gradients equal single-process training on the same global batch exactly (up to
float summation order), whatever the split of tokens between processes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """Rank and world size of this process (1 process when not launched by torchrun)."""

    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_threads() -> int | None:
    """`OMP_NUM_THREADS` as a positive int, or None when unset or not one."""
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(env) if env.isdigit() and int(env) > 0 else None


def init_distributed() -> DistInfo:
    """Join the process group if `torchrun` set the environment; else run alone."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group(backend="gloo")
    return DistInfo(rank=dist.get_rank(), world_size=dist.get_world_size())


def all_reduce_sum(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum a tensor over processes in place (no-op alone)."""
    if info.world_size > 1:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def sync_gradients(params: list[torch.nn.Parameter], info: DistInfo) -> None:
    """Sum gradients over processes, flattened into one buffer to keep messages few."""
    if info.world_size <= 1:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset : offset + n].view_as(g))
        offset += n


def barrier(info: DistInfo) -> None:
    if info.world_size > 1:
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    if info.world_size > 1 and dist.is_initialized():
        dist.destroy_process_group()
