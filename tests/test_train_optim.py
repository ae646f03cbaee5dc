"""A stage's optimizer: Muon for hidden matrices, AdamW for the rest, checkpointed as one."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from torch import nn

from train_fixtures import make_world, write_config


class _Tiny(nn.Module):
    """Embedding -> two linears -> an output head named like the LM's."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 8)
        self.up = nn.Linear(8, 16)
        self.down = nn.Linear(16, 8)
        self.norm = nn.LayerNorm(8)
        self.language_model = nn.Module()
        self.language_model.lm_head = nn.Linear(8, 10, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(self.down(torch.relu(self.up(self.embed(x)))))
        return self.language_model.lm_head(h).logsumexp(-1).sum()


def _optimizer(model: nn.Module) -> torch.optim.Optimizer:
    from mllmkit.train.optim import build_optimizer

    groups = [{"params": list(model.parameters()), "lr": 1e-2, "base_lr": 1e-2,
               "weight_decay": 0.0}]
    return build_optimizer("muon", groups, model, (0.9, 0.999))


def _step(model: nn.Module, opt: torch.optim.Optimizer) -> None:
    model(torch.tensor([1, 2, 3])).backward()
    opt.step()
    opt.zero_grad(set_to_none=True)


def test_muon_takes_hidden_matrices_only() -> None:
    from mllmkit.train.muon import Muon
    from mllmkit.train.optim import StageOptimizer

    torch.manual_seed(0)
    model = _Tiny()
    opt = _optimizer(model)
    assert isinstance(opt, StageOptimizer)
    muon, adamw = opt.parts
    assert isinstance(muon, Muon) and isinstance(adamw, torch.optim.AdamW)
    on_muon = {id(p) for g in muon.param_groups for p in g["params"]}
    assert on_muon == {id(model.up.weight), id(model.down.weight)}
    on_adamw = {id(p) for g in adamw.param_groups for p in g["params"]}
    assert on_adamw == {id(p) for p in model.parameters()} - on_muon
    # the schedule sets `lr` on `param_groups`: they must be the parts' own groups
    opt.param_groups[0]["lr"] = 0.5
    assert muon.param_groups[0]["lr"] == 0.5


def test_muon_on_narrows_muon_to_the_named_kinds() -> None:
    """`muon_on: [attention]` puts exactly the attention projections (LM and tower) under
    Muon; the MLPs, the connector and the head stay on AdamW. Unset, every hidden matrix."""
    from mllmkit.models.mllm import MLLM
    from mllmkit.models.presets import tiny_config
    from mllmkit.train.optim import muon_parameters

    model = MLLM(tiny_config(), seed=0)
    names = {id(p): n for n, p in model.named_parameters()}

    def chosen(kinds: tuple[str, ...] | None) -> set[str]:
        return {names[i] for i in muon_parameters(model, kinds)}

    attention = chosen(("attention",))
    lm_layers, tower_layers = model.config.lm.num_layers, model.config.vision.num_layers
    assert len(attention) == 4 * (lm_layers + tower_layers)
    assert all(n.endswith("_proj.weight") and ".self_attn." in n for n in attention)
    mlp = chosen(("mlp",))
    assert len(mlp) == 3 * lm_layers + 2 * tower_layers
    connector = chosen(("connector",))
    assert connector and all(n.startswith("multi_modal_projector.") for n in connector)
    everything = chosen(None)
    assert attention | mlp | connector == everything
    assert not any("lm_head" in n or "embed" in n for n in everything)
    with pytest.raises(ValueError, match="unknown muon_on kind"):
        muon_parameters(model, ("norms",))


@pytest.mark.parametrize(
    ("optimizer", "muon_on", "message"),
    [
        ("adamw", ["attention"], "'muon_on' applies to optimizer 'muon' only"),
        ("muon", ["attn"], r"'muon_on' lists \['attn'\]; name one or more of"),
        ("muon", [], r"'muon_on' lists \[\]"),
    ],
)
def test_muon_on_config_errors(
    tmp_path: Path, optimizer: str, muon_on: list[str], message: str
) -> None:
    from mllmkit.train.config import ConfigError, TrainConfig

    path = write_config(tmp_path / "c.yaml", tmp_path / "world", tmp_path / "run")
    cfg = yaml.safe_load(path.read_text())
    cfg["stages"][1].update(optimizer=optimizer, muon_on=muon_on)
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError, match=f"stage 'instruct': {message}"):
        TrainConfig.from_yaml(path)


def test_state_dict_round_trip_continues_identically() -> None:
    torch.manual_seed(0)
    model = _Tiny()
    opt = _optimizer(model)
    for _ in range(3):
        _step(model, opt)
    twin = copy.deepcopy(model)
    twin_opt = _optimizer(twin)
    twin_opt.load_state_dict(copy.deepcopy(opt.state_dict()))
    for m, o in ((model, opt), (twin, twin_opt)):
        for _ in range(2):
            _step(m, o)
    for a, b in zip(model.parameters(), twin.parameters(), strict=True):
        assert torch.equal(a, b)


def test_unknown_optimizer_is_a_config_error(tmp_path: Path) -> None:
    from mllmkit.train.config import ConfigError, TrainConfig

    world = tmp_path / "world"
    path = write_config(tmp_path / "c.yaml", world, tmp_path / "run")
    cfg = yaml.safe_load(path.read_text())
    cfg["stages"][1]["optimizer"] = "sgd"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError, match="stage 'instruct': unknown optimizer 'sgd'"):
        TrainConfig.from_yaml(path)


def test_a_muon_stage_resumes_exactly(tmp_path: Path) -> None:
    """Stopped after 3 of 5 steps (mid instruct) and rerun: same losses and weights as a
    straight run, so Muon's momenta travel through the checkpoint like AdamW's."""
    from mllmkit.train.config import TrainConfig
    from mllmkit.train.trainer import train

    world = make_world(tmp_path)

    def config(name: str) -> TrainConfig:
        path = write_config(tmp_path / f"{name}.yaml", world, tmp_path / name, steps=(2, 3))
        cfg = yaml.safe_load(path.read_text())
        for stage in cfg["stages"]:
            stage["optimizer"] = "muon"
        path.write_text(yaml.safe_dump(cfg))
        return TrainConfig.from_yaml(path)

    train(config("straight"), progress=False)
    train(config("resumed"), progress=False, stop_after=3)
    assert not (tmp_path / "resumed" / "model").exists()
    train(config("resumed"), progress=False)

    def losses(run: str) -> list[float]:
        rows = (tmp_path / run / "metrics.jsonl").read_text().splitlines()
        return [json.loads(r)["loss"] for r in rows]

    assert losses("straight") == pytest.approx(losses("resumed"), abs=1e-6)
    assert len(losses("straight")) == 5
    a = load_file(str(tmp_path / "straight" / "model" / "model.safetensors"))
    b = load_file(str(tmp_path / "resumed" / "model" / "model.safetensors"))
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=0)


def test_a_stage_s_muon_on_reaches_its_optimizer(tmp_path: Path) -> None:
    """The trainer hands `muon_on` to the optimizer: a checkpoint of an instruct stage with
    `muon_on: [attention]` holds Muon momenta for the attention projections only (vision
    trainable: the tower's too) and AdamW moments for everything else."""
    from mllmkit.train.checkpoint import list_checkpoints
    from mllmkit.train.config import TrainConfig
    from mllmkit.train.trainer import train

    world = make_world(tmp_path)
    path = write_config(tmp_path / "c.yaml", world, tmp_path / "run", steps=(1, 2))
    cfg = yaml.safe_load(path.read_text())
    cfg["stages"][1].update(optimizer="muon", muon_on=["attention"])
    path.write_text(yaml.safe_dump(cfg))
    config = TrainConfig.from_yaml(path)
    train(config, progress=False, stop_after=2)
    ckpt = list_checkpoints(tmp_path / "run" / "checkpoints")[-1]
    keys = load_file(str(ckpt / "optimizer.safetensors")).keys()
    momenta = [k for k in keys if k.endswith(".momentum_buffer")]
    model_cfg = config.model
    layers = model_cfg["lm"]["num_layers"] + model_cfg["vision"]["num_layers"]
    assert len(momenta) == 4 * layers
    assert any(k.endswith(".exp_avg") for k in keys)
