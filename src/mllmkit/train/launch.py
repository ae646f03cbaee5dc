"""Data-parallel training on one machine without `torchrun`: `train_processes(cfg, n)`.

Why: on a small CPU, two processes of one thread each run the demo's steps faster than one
process of two threads (each half-batch of tiny matrices keeps its core busy, with no
OpenMP barrier between the two cores inside every small kernel), and the
`train.distributed` all-reduce makes the summed gradients those of the same global batch.
`mllm demo --procs N` uses this; `torchrun --nproc_per_node N -m mllmkit.train` is the
same thing launched from the shell.
"""

from __future__ import annotations

import os
import socket
from typing import Any

import torch.multiprocessing as mp

from mllmkit.train.config import TrainConfig
from mllmkit.train.distributed import env_threads
from mllmkit.train.trainer import TrainResult, train


class ProcsError(ValueError):
    """The number of processes does not fit the config (or is not a positive number)."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def thread_budget() -> int:
    """Threads the whole run may use: `OMP_NUM_THREADS` when set, else the machine's cores."""
    return env_threads() or os.cpu_count() or 1


def _worker(
    rank: int,
    procs: int,
    port: int,
    threads: int,
    cfg: TrainConfig,
    kw: dict[str, Any],
    results: Any,
) -> None:
    os.environ.update(
        {
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": str(procs),
            "OMP_NUM_THREADS": str(threads),  # read by `trainer._threads`
        }
    )
    if rank:  # one live bar, from the process that also writes the logs
        kw = {**kw, "progress": False}
    result = train(cfg, **kw)
    if rank == 0:
        results.put(result)


def train_processes(
    cfg: TrainConfig,
    procs: int,
    *,
    resume: bool = True,
    progress: bool | None = None,
    stop_after: int | None = None,
) -> TrainResult:
    """`train(cfg)` in `procs` data-parallel processes (gloo on loopback), each with an even
    share of the thread budget; 1 runs in this process. The result is rank 0's outputs."""
    if procs < 1:
        raise ProcsError(f"procs must be >= 1 (got {procs})")
    kw: dict[str, Any] = {"resume": resume, "progress": progress, "stop_after": stop_after}
    if procs == 1:
        return train(cfg, **kw)
    for stage in cfg.stages:
        if stage.batch_size % procs:
            raise ProcsError(
                f"stage {stage.name}: batch_size {stage.batch_size} is not divisible by "
                f"{procs} processes"
            )
    threads = max(1, thread_budget() // procs)
    results = mp.get_context("spawn").SimpleQueue()  # rank 0's own TrainResult
    args = (procs, _free_port(), threads, cfg, kw, results)
    mp.spawn(_worker, args=args, nprocs=procs, join=True)
    return results.get()
