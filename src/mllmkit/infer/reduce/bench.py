"""`mllm bench reduce`: strategy × budget -> accuracy, FLOPs, prefill speedup, KV memory.

Two measurements, one table:

- *accuracy*: each spec runs the eval harness (task `world-short` by default) on a trained
  checkpoint through the native backend; FLOPs % and KV MB there are analytic means over
  the requests (`mllmkit.infer.flops.reduction_cost`).
- *timing*: a wider randomly initialised model with LLaVA-like geometry (24×24 = 576 visual
  tokens) times warm, median prefill of one request per spec, round-robin against the full
  model in the same process (`mllmkit.infer.latency`). Its vision tower is kept light on
  purpose, so the figure is about the language model, where reduction acts.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mllmkit.infer.reduce.base import Strategy
from mllmkit.infer.reduce.registry import parse_reduction
from mllmkit.infer.reduce.report import atomic_write
from mllmkit.models.config import MLLMConfig

log = logging.getLogger(__name__)

BUDGETS = (0.5, 0.25, 0.125)


def default_specs(num_layers: int, budgets: tuple[float, ...] = BUDGETS) -> list[str]:
    """`none` plus each strategy at each kept share (`fastv` at layer min(2, L-1); `pdrop`
    stages at its default depths with final share = budget; `pool` only where 1/s²)."""
    k = max(1, min(2, num_layers - 1))
    specs = ["none"]
    for b in budgets:
        specs.append(f"fastv:k={k},r={1 - b:g}")
        if num_layers >= 3:
            specs.append(f"pdrop:keep={min(1.0, 4 * b):g}/{min(1.0, 2 * b):g}/{b:g}")
        else:
            specs.append(f"pdrop:layers=0/1,keep={min(1.0, 2 * b):g}/{b:g}")
        specs.append(f"visionzip:keep={b:g}")
        if b == 0.25:
            specs.append("pool:keep=0.25")
        specs.append(f"random:keep={b:g},seed=0")
    return specs


def kept_share(strategy: Strategy) -> float:
    """The share of visual tokens a spec keeps at its deepest stage (the table's budget)."""
    values = {f.name: getattr(strategy, f.name) for f in strategy.__dataclass_fields__.values()}
    if "r" in values:
        return 1.0 - float(values["r"])
    keep = values.get("keep", 1.0)
    return float(keep[-1] if isinstance(keep, tuple) else keep)


@dataclass
class TimingGeometry:
    """The timing model: 336 px / 14 px patches = 576 visual tokens, light vision tower."""

    image_size: int = 336
    patch_size: int = 14
    vision_width: int = 64
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 2048
    text_tokens: int = 48
    repeats: int = 5
    extra: dict[str, Any] = field(default_factory=dict)


def timing_model(geo: TimingGeometry) -> Any:
    from mllmkit.models import MLLM
    from mllmkit.models.config import LMConfig, MLLMConfig, VisionConfig

    cfg = MLLMConfig(
        vision=VisionConfig(
            image_size=geo.image_size,
            patch_size=geo.patch_size,
            hidden_size=geo.vision_width,
            num_layers=1,
            num_heads=2,
            intermediate_size=2 * geo.vision_width,
            keep_cls=False,
        ),
        lm=LMConfig(
            vocab_size=1024,
            hidden_size=geo.hidden_size,
            num_layers=geo.num_layers,
            num_heads=geo.num_heads,
            num_kv_heads=geo.num_heads,
            intermediate_size=geo.intermediate_size,
        ),
        connector="mlp2x_gelu",
        image_token_id=3,
        pad_token_id=0,
        eos_token_id=1,
    )
    return MLLM(cfg, seed=0).eval()


def time_specs(specs: list[str], geo: TimingGeometry) -> dict[str, dict[str, float]]:
    """Per spec: prefill seconds, speedup over `none`, FLOPs % and KV MB on the geometry."""
    import torch

    from mllmkit.infer.flops import reduction_cost
    from mllmkit.infer.latency import measure_latency

    model = timing_model(geo)
    cfg = model.config
    per = cfg.image_tokens_per_image
    g = torch.Generator().manual_seed(0)
    text = torch.randint(4, cfg.lm.vocab_size, (max(2, geo.text_tokens),), generator=g)
    head = min(8, text.numel() // 2)  # the question follows the image, as in LLaVA prompts
    ids = torch.cat([text[:head], torch.full((per,), cfg.image_token_id), text[head:]])[None]
    pix = torch.randn(1, 3, geo.image_size, geo.image_size, generator=g)
    strategies: dict[str, Any] = {}
    for spec in specs:
        s = parse_reduction(spec)
        if spec != "none":
            s = _fit(s, cfg.lm.num_layers)
            s.check(cfg)
        strategies[spec] = s
    lat = measure_latency(model, ids, None, pix, strategies, repeats=geo.repeats, decode_steps=0)
    full = lat["none"].prefill_s
    out = {}
    for spec, s in strategies.items():
        cost = reduction_cost(cfg, s, ids.shape[1], 1)
        out[spec] = {
            "prefill_s": lat[spec].prefill_s,
            "prefill_speedup": full / lat[spec].prefill_s,
            "flops_pct": cost.flops_pct,
            "kv_mb": cost.kv_bytes / 2**20,
        }
    return out


def _fit(strategy: Strategy, num_layers: int) -> Strategy:
    """The same spec on the timing model's depth (explicit pdrop layers re-derived)."""
    from mllmkit.infer.reduce.pdrop import PyramidDrop

    if isinstance(strategy, PyramidDrop) and strategy.layers:
        return PyramidDrop((), strategy.keep)
    return strategy


def evaluate_specs(
    model_dir: Path, data_dir: Path, work: Path, specs: list[str], task: str, limit: int | None
) -> dict[str, dict[str, Any]]:
    """Per spec: accuracy on `task` and the analytic FLOPs % / KV MB of the requests run."""
    from mllmkit.backends.native import NativeBackend
    from mllmkit.eval.report import headline
    from mllmkit.eval.runner import evaluate

    out = {}
    for spec in specs:
        backend = NativeBackend(model_dir, reduction=spec)  # "none" too: same accounting
        slug = spec.replace(":", "_").replace(",", "_").replace("=", "").replace("/", "-")
        # from nothing: the FLOPs / KV figures are summed over the requests the backend
        # runs, and answers cached by an earlier run would leave them empty
        shutil.rmtree(work / slug, ignore_errors=True)
        metrics = evaluate(backend, task, work / slug, limit=limit, data_dir=data_dir)
        _, acc = headline(metrics["tasks"][task])
        summary = backend.reduction_summary()
        row: dict[str, Any] = {"accuracy": acc}
        if summary and summary.get("requests"):
            row["flops_pct"] = summary["flops_pct"]
            row["kv_mb"] = summary["mean_kv_mb"]
        out[spec] = row
    return out


def run_reduce_benchmark(
    model_dir: Path | None,
    data_dir: Path | None,
    results_dir: Path,
    work_dir: Path,
    *,
    specs: list[str] | None = None,
    task: str = "world-short",
    limit: int | None = None,
    geometry: TimingGeometry | None = None,
    command: str = "",
) -> list[dict[str, Any]]:
    """Run both measurements, write `reduce.json` / `reduce.md` / `reduce.png` to
    `results_dir`, return the rows. Without a model only the timing part runs."""
    from mllmkit.models.io import read_config

    geo = geometry or TimingGeometry()
    cfg = None if model_dir is None else read_config(model_dir)
    specs = specs or default_specs(geo.num_layers if cfg is None else cfg.lm.num_layers)
    accuracy: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    if model_dir is not None and cfg is not None:
        if data_dir is None:
            raise ValueError("--model needs --data (the world benchmark folder)")
        skipped = unsupported_specs(cfg, specs)
        for spec, why in skipped.items():
            log.warning("accuracy of %s not measured: %s", spec, why)
        runnable = [s for s in specs if s not in skipped]
        accuracy = evaluate_specs(Path(model_dir), Path(data_dir), work_dir, runnable, task, limit)
    log.info("timing %d specs on the %d-token geometry", len(specs), _tokens(geo))
    timing = time_specs(specs, geo)
    full_acc = accuracy.get("none", {}).get("accuracy")
    rows = []
    for spec in specs:
        acc = accuracy.get(spec, {}).get("accuracy")
        t = timing[spec]
        # FLOPs % / KV MB describe the checkpoint's requests; without a checkpoint, the timing
        # model's; a spec the checkpoint cannot run has none (never the other model's figure)
        own = accuracy.get(spec, {}) if model_dir is not None else t
        rows.append(
            {
                "strategy": spec,
                "keep": kept_share(parse_reduction(spec)),
                "accuracy": acc,
                "accuracy_pct_of_full": (
                    None if acc is None or not full_acc else round(100 * acc / full_acc, 2)
                ),
                "flops_pct": _round(own.get("flops_pct"), 2),
                "prefill_speedup": round(t["prefill_speedup"], 3),
                "kv_mb": _round(own.get("kv_mb"), 4),
                "timing_flops_pct": round(t["flops_pct"], 2),
                "timing_kv_mb": round(t["kv_mb"], 3),
                "timing_prefill_s": round(t["prefill_s"], 5),
            }
        )
        if spec in skipped:
            rows[-1]["note"] = f"not run on the checkpoint: {skipped[spec]}"
    write_results(results_dir, rows, command, geo)
    return rows


def unsupported_specs(cfg: MLLMConfig, specs: list[str]) -> dict[str, str]:
    """Specs a model of config `cfg` cannot run (e.g. VisionZip behind a connector that
    merges patches), each with the strategy's own reason: the table keeps their timing row."""
    out = {}
    for spec in specs:
        try:
            parse_reduction(spec).check(cfg)
        except ValueError as exc:
            out[spec] = str(exc)
    return out


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _tokens(geo: TimingGeometry) -> int:
    return (geo.image_size // geo.patch_size) ** 2


def table(rows: list[dict[str, Any]]) -> str:
    def fmt(v: Any, spec: str = "{:.4f}") -> str:
        return "-" if v is None else spec.format(v)

    lines = [
        "| strategy | keep | accuracy | % of full | FLOPs % | KV MB | timing FLOPs % "
        "| prefill speedup |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| `{r['strategy']}` | {r['keep']:g} | {fmt(r['accuracy'])} "
            f"| {fmt(r['accuracy_pct_of_full'], '{:.1f}')} | {fmt(r['flops_pct'], '{:.1f}')} "
            f"| {fmt(r['kv_mb'], '{:.3f}')} | {fmt(r.get('timing_flops_pct'), '{:.1f}')} "
            f"| {r['prefill_speedup']:.2f}× |"
        )
    return "\n".join(lines)


def write_results(
    results_dir: Path, rows: list[dict[str, Any]], command: str, geo: TimingGeometry
) -> None:
    results_dir.mkdir(parents=True, exist_ok=True)
    plot(rows, results_dir / "reduce.png")
    data = {"rows": rows, "command": command}
    atomic_write(results_dir / "reduce.json", json.dumps(data, indent=2) + "\n")
    note = (
        f"Accuracy, FLOPs % and KV MB: the evaluated checkpoint (analytic, mean per request). "
        f"Timing FLOPs % and prefill speedup: a random model with {_tokens(geo)} visual "
        f"tokens, width {geo.hidden_size}, {geo.num_layers} layers (analytic; warm median of "
        f"{geo.repeats}, same process)."
    )
    md = "# Visual-token reduction\n\n" + note + "\n\n" + table(rows) + "\n"
    notes = [f"- `{r['strategy']}`: {r['note']}" for r in rows if r.get("note")]
    if notes:
        md += "\n" + "\n".join(notes) + "\n"
    md += "\n![Accuracy and prefill speedup against prefill FLOPs](reduce.png)\n"
    if command:
        md += f"\nReproduce: `{command}`\n"
    atomic_write(results_dir / "reduce.md", md)


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Accuracy (% of full, or absolute without a full run) and speedup vs FLOPs %."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    by_name: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_name.setdefault(r["strategy"].split(":")[0], []).append(r)
    for name, rs in by_name.items():
        measured = sorted(
            (r for r in rs if r["flops_pct"] is not None and r["accuracy"] is not None),
            key=lambda r: r["flops_pct"],
        )
        if measured:
            acc = [r["accuracy_pct_of_full"] or r["accuracy"] for r in measured]
            ax1.plot([r["flops_pct"] for r in measured], acc, "o-", label=name)
        ax2.plot([r["keep"] for r in rs], [r["prefill_speedup"] for r in rs], "o-", label=name)
    ax1.set_xlabel("prefill FLOPs (% of full)")
    ax1.set_ylabel("accuracy (% of full)")
    ax2.set_xlabel("visual tokens kept (share)")
    ax2.set_ylabel("prefill speedup (×)")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp")
    fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    tmp.replace(path)  # atomic: a crash never leaves half a picture under the real name
