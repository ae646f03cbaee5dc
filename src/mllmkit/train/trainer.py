"""The training loop: stages in order, exact resume, data parallel, live progress.

Per optimizer step the global batch (`stage.batch_size` samples) is a pure function of the
data cursor; each process takes its contiguous share and runs it in micro-batches. The loss
of a micro-batch is its *sum* over supervised tokens divided by the number of supervised
tokens in the whole global batch (known up front from the labels), so gradient
accumulation and data parallelism give the same update as one big batch.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from mllmkit.models.io import save_model
from mllmkit.train.build import build_model, build_processor
from mllmkit.train.checkpoint import (
    TrainerState,
    list_checkpoints,
    load_checkpoint,
    read_state,
    save_checkpoint,
)
from mllmkit.train.components import head_param_groups, param_groups, set_trainable
from mllmkit.train.config import StageConfig, TrainConfig
from mllmkit.train.distributed import (
    DistInfo,
    all_reduce_sum,
    barrier,
    env_threads,
    init_distributed,
    shutdown,
    sync_gradients,
)
from mllmkit.train.feature_cache import VisionFeatureCache
from mllmkit.train.objectives import OBJECTIVES
from mllmkit.train.optim import build_optimizer
from mllmkit.train.progress import MetricsLog, make_progress, plot_loss
from mllmkit.train.sampler import EpochSampler
from mllmkit.train.schedule import SCHEDULES


@dataclass
class TrainResult:
    """Where the outputs of a run are."""

    out: Path
    model_dir: Path
    metrics: Path
    loss_plot: Path | None
    final_loss: float


def _log(info: DistInfo, msg: str) -> None:
    if info.is_main:
        print(msg, file=sys.stderr, flush=True)


def _rank_share(indices: list[int], info: DistInfo) -> list[int]:
    per = len(indices) // info.world_size
    return indices[info.rank * per : (info.rank + 1) * per]


def _tokens(model: torch.nn.Module, batch: dict) -> int:
    """Tokens a micro-batch runs through the model (for tokens/s): the text positions of a
    conversation batch, or the visual tokens of an image-only batch."""
    if "attention_mask" in batch:
        return int(batch["attention_mask"].sum())
    return int(batch["pixel_values"].shape[0]) * model.config.vision.num_feature_tokens


def _threads(configured: int | None, world_size: int) -> int:
    """Intra-op threads per process: the config's `threads`, else `OMP_NUM_THREADS` when set
    (so runs side by side can share the cores: two processes that each take every core
    spin on each other's OpenMP barriers, ~5x slower than one after the other), else the
    cores shared among this machine's processes."""
    return configured or env_threads() or max(1, (os.cpu_count() or 1) // world_size)


def _set_lr(opt: torch.optim.Optimizer, mult: float) -> float:
    for g in opt.param_groups:
        g["lr"] = g["base_lr"] * mult
    return opt.param_groups[0]["lr"]


def train(
    cfg: TrainConfig,
    *,
    resume: bool = True,
    progress: bool | None = None,
    stop_after: int | None = None,
) -> TrainResult:
    """Run every stage of `cfg`; resume from the newest checkpoint in `cfg.out` if any.

    `stop_after` ends the run after that many global optimizer steps (for tests and
    time-boxed runs); a checkpoint is written there so the run can be continued.
    """
    info = init_distributed()
    torch.set_num_threads(_threads(cfg.threads, info.world_size))
    out = Path(cfg.out)
    ckpt_root = out / "checkpoints"
    if info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        processor = build_processor(cfg, out, is_main=True)
    barrier(info)
    if not info.is_main:
        processor = build_processor(cfg, out, is_main=False)

    model = build_model(cfg, processor)
    state = TrainerState()
    checkpoints = list_checkpoints(ckpt_root) if resume else []
    latest = checkpoints[-1] if checkpoints else None
    if latest is not None:
        state = read_state(latest)
        _log(info, f"resuming from {latest} (step {state.global_step})")
    if progress is None:
        progress = info.is_main and sys.stderr.isatty()
    metrics = (
        MetricsLog(out / "metrics.jsonl", resume_step=state.global_step if latest else None)
        if info.is_main
        else None
    )

    last_loss = math.nan
    total_steps = sum(s.steps for s in cfg.stages)
    bar = make_progress(bool(progress))
    with bar:
        task = bar.add_task("train", total=total_steps, loss=math.nan, lr=0.0, tps=0.0)
        stage_index = state.stage_index
        while stage_index < len(cfg.stages):
            stage = cfg.stages[stage_index]
            set_trainable(model, stage.trainable)
            objective = OBJECTIVES[stage.objective]
            dataset = objective.dataset([cfg.resolve(p) for p in stage.data], processor, stage)
            head = objective.head(model, dataset, cfg.seed + 1000 * stage_index)
            trainable = [p for p in model.parameters() if p.requires_grad]
            groups = param_groups(model, stage.lr, stage.trainable, stage.weight_decay)
            if head is not None:
                trainable += list(head.parameters())
                groups += head_param_groups(head, stage.lr["vision"], stage.weight_decay)
            opt = build_optimizer(
                stage.optimizer,
                groups,
                model,
                stage.betas,
                tuple(stage.muon_on) if stage.muon_on is not None else None,
            )
            if latest is not None:  # the checkpoint belongs to this stage
                mid_stage = bool(state.stage_step)
                state = load_checkpoint(
                    latest, model, opt if mid_stage else None, head if mid_stage else None
                )
                latest = None
            bar.update(task, completed=state.global_step, description=stage.name)
            if state.stage_step >= stage.steps:
                stage_index += 1
                continue
            rep = dataset.report
            _log(
                info,
                f"stage {stage.name} ({stage.objective}): {rep.rows} rows, {rep.truncated} "
                f"truncated, {rep.dropped} dropped (too long); "
                f"{stage.steps} steps of {stage.batch_size}",
            )
            sampler = EpochSampler(
                len(dataset),
                seed=cfg.seed + 1000 * stage_index,
                lengths=dataset.lengths() if stage.group_by_length else None,
                batch_size=stage.batch_size,
            )
            if stage.batch_size % info.world_size:
                raise ValueError(
                    f"stage {stage.name}: batch_size {stage.batch_size} is not divisible "
                    f"by {info.world_size} processes"
                )
            model.train()
            # built after any checkpoint is loaded: it must hold this stage's tower output
            features = None
            if stage.cache_vision_features:
                features = VisionFeatureCache(model.vision_tower, processor)
                paths = dataset.image_paths()
                _log(info, f"stage {stage.name}: encoding {len(paths)} images once (frozen tower)")
                t0 = time.perf_counter()
                features.fill(paths)
                _log(info, f"stage {stage.name}: images encoded in {time.perf_counter() - t0:.0f}s")
            t_last, tok_since = time.perf_counter(), 0
            while state.stage_step < stage.steps:
                mult = SCHEDULES[stage.schedule](
                    state.stage_step,
                    stage.steps,
                    stage.warmup_ratio,
                    stage.min_lr_ratio,
                    stage.decay_ratio,
                )
                lr = _set_lr(opt, mult)
                global_idx = sampler.indices(state.cursor, stage.batch_size)
                n_global = dataset.loss_units(global_idx)
                mine = _rank_share(global_idx, info)
                loss_sum = torch.zeros(())
                for i in range(0, len(mine), stage.micro_batch_size):
                    part = mine[i : i + stage.micro_batch_size]
                    batch = (
                        dataset.batch(part) if features is None else dataset.batch(part, features)
                    )
                    tok_since += _tokens(model, batch)
                    s, _ = objective.loss_sum(model, head, batch)
                    (s / max(n_global, 1)).backward()
                    loss_sum += s.detach()
                sync_gradients(trainable, info)
                if stage.max_grad_norm and stage.max_grad_norm > 0:
                    torch.nn.utils.clip_grad_norm_(trainable, stage.max_grad_norm)
                opt.step()
                opt.zero_grad(set_to_none=True)
                state.stage_step += 1
                state.global_step += 1
                state.cursor += stage.batch_size
                last_loss = float(all_reduce_sum(loss_sum, info)) / max(n_global, 1)
                now = time.perf_counter()
                tps = tok_since * info.world_size / max(now - t_last, 1e-9)
                bar.update(task, advance=1, loss=last_loss, lr=lr, tps=tps)
                if metrics is not None and (
                    state.stage_step % cfg.log_every == 0 or state.stage_step == stage.steps
                ):
                    metrics.write(
                        {
                            "stage": stage.name,
                            "stage_step": state.stage_step,
                            "global_step": state.global_step,
                            "loss": last_loss,
                            "lr": lr,
                            "tokens_per_s": tps,
                            "time": time.time(),
                        }
                    )
                    t_last, tok_since = now, 0
                stage_done = state.stage_step >= stage.steps
                stopping = stop_after is not None and state.global_step >= stop_after
                if stage_done:
                    state.stage_index, state.stage_step, state.cursor = stage_index + 1, 0, 0
                if state.global_step % cfg.checkpoint_every == 0 or stage_done or stopping:
                    if info.is_main:
                        save_checkpoint(
                            ckpt_root,
                            model,
                            opt,
                            state,
                            keep=cfg.keep_checkpoints,
                            head=None if stage_done else head,
                        )
                    barrier(info)
                if stage_done and info.is_main:
                    stage_dir = out / "stages" / stage.name
                    save_model(model, stage_dir)
                    processor.save_pretrained(stage_dir)
                if stopping:
                    if metrics is not None:
                        metrics.close()
                    shutdown(info)
                    return TrainResult(out, out / "model", out / "metrics.jsonl", None, last_loss)
                if stage_done:
                    break
            stage_index += 1
        if latest is not None:
            # The newest checkpoint is past the last stage (the run had finished): the loop
            # above never loaded it, so load it here, or the fresh initial weights would be
            # saved as the final model.
            load_checkpoint(latest, model, None)
            latest = None

    model_dir = out / "model"
    plot = None
    if info.is_main:
        save_model(model, model_dir)
        processor.save_pretrained(model_dir)
        if metrics is not None:
            metrics.close()
        plot = plot_loss(out / "metrics.jsonl", out / "loss.png")
        # NaN: every stage was already done (a rerun of a finished run): nothing trained now
        done = "no steps left to train" if math.isnan(last_loss) else f"final loss {last_loss:.4f}"
        _log(info, f"saved {model_dir} ({done}); loss curve {plot}")
    barrier(info)
    shutdown(info)
    return TrainResult(out, model_dir, out / "metrics.jsonl", plot, last_loss)


__all__ = ["StageConfig", "TrainConfig", "TrainResult", "train"]
