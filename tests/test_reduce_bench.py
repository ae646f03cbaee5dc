"""The reduction benchmark end to end on a tiny geometry, and the latency helper."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from mllmkit.infer.latency import measure_latency
from mllmkit.infer.reduce import parse_reduction
from mllmkit.infer.reduce.bench import TimingGeometry, default_specs, run_reduce_benchmark
from mllmkit.models import MLLM, tiny_config

KEYS = {
    "strategy",
    "keep",
    "accuracy",
    "accuracy_pct_of_full",
    "flops_pct",
    "prefill_speedup",
    "kv_mb",
}


def test_timing_only_benchmark_writes_results(tmp_path: Path) -> None:
    geo = TimingGeometry(
        image_size=56,
        patch_size=14,
        vision_width=16,
        hidden_size=32,
        num_layers=3,
        num_heads=2,
        intermediate_size=64,
        text_tokens=8,
        repeats=1,
    )
    specs = ["none", "fastv:k=1,r=0.5", "pdrop:layers=0/2,keep=0.5/0.25", "pool:keep=0.25"]
    rows = run_reduce_benchmark(
        None, None, tmp_path, tmp_path / "w", specs=specs, geometry=geo, command="mllm bench reduce"
    )
    data = json.loads((tmp_path / "reduce.json").read_text())
    assert data["command"] == "mllm bench reduce" and data["rows"] == rows
    assert [r["strategy"] for r in rows] == specs
    assert all(set(r) >= KEYS for r in rows)
    assert rows[0]["flops_pct"] == 100.0 and rows[0]["prefill_speedup"] == 1.0
    assert all(r["flops_pct"] < 100 and r["kv_mb"] < rows[0]["kv_mb"] for r in rows[1:])
    assert [r["keep"] for r in rows] == [1.0, 0.5, 0.25, 0.25]
    assert (tmp_path / "reduce.png").stat().st_size > 0
    md = (tmp_path / "reduce.md").read_text()
    assert "`fastv:k=1,r=0.5`" in md and "](reduce.png)" in md
    assert not list(tmp_path.glob("*.tmp"))


def test_default_grid_parses_and_fits() -> None:
    for depth in (2, 4, 32):
        specs = default_specs(depth)
        assert specs[0] == "none" and len(specs) == len(set(specs))
        cfg = tiny_config(lm={"num_layers": depth})
        for s in specs:
            parse_reduction(s).check(cfg)


def test_measure_latency_reports_every_strategy() -> None:
    model = MLLM(tiny_config(), seed=0)
    ids = torch.cat([torch.tensor([5, 6]), torch.full((16,), 3), torch.tensor([7, 8])])[None]
    pix = torch.randn(1, 3, 32, 32)
    lat = measure_latency(
        model,
        ids,
        None,
        pix,
        {"none": None, "fastv": parse_reduction("fastv:k=1,r=0.5")},
        repeats=2,
        decode_steps=2,
    )
    assert set(lat) == {"none", "fastv"}
    assert all(v.prefill_s > 0 and v.decode_tokens_per_s > 0 for v in lat.values())


def test_specs_a_checkpoint_cannot_run_are_named_not_fatal(tmp_path: Path) -> None:
    """Behind `pixel_shuffle` (4 patches -> 1 token) VisionZip cannot pick patches: the
    benchmark skips its accuracy with the strategy's own reason and still times it."""
    from mllmkit.infer.reduce.bench import unsupported_specs
    from mllmkit.models.io import read_config, save_model

    model = MLLM(tiny_config(connector="pixel_shuffle", vision={"keep_cls": False}), seed=0)
    save_model(model, tmp_path / "ckpt")
    specs = default_specs(2)
    skipped = unsupported_specs(read_config(tmp_path / "ckpt"), specs)
    assert sorted(skipped) == sorted(s for s in specs if s.startswith("visionzip:"))
    assert all("one to one" in why for why in skipped.values())
    model = MLLM(tiny_config(), seed=0)
    save_model(model, tmp_path / "plain")
    assert unsupported_specs(read_config(tmp_path / "plain"), specs) == {}
