"""`mllm convert` both ways, and its error path (a clear message, exit code 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

pytest.importorskip("transformers")

from convert_fixtures import make_native
from mllmkit.cli import app
from mllmkit.models.io import load_model


def test_round_trip_through_the_cli(tmp_path: Path) -> None:
    native = make_native(tmp_path / "native")
    runner = CliRunner()
    res = runner.invoke(app, ["convert", "--to-hf", str(native), "--out", str(tmp_path / "hf")])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["model_type"] == "llava"
    back = tmp_path / "back"
    res = runner.invoke(app, ["convert", "--from-hf", str(tmp_path / "hf"), "--out", str(back)])
    assert res.exit_code == 0, res.output
    a, b = load_model(native), load_model(back)
    assert a.config == b.config
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())


def test_errors_are_reported_not_raised(tmp_path: Path) -> None:
    native = make_native(tmp_path / "native", connector="pixel_shuffle")
    runner = CliRunner()
    res = runner.invoke(app, ["convert", "--to-hf", str(native), "--out", str(tmp_path / "hf")])
    assert res.exit_code == 1
    assert "pixel_shuffle" in res.output
    res = runner.invoke(app, ["convert", "--out", str(tmp_path / "x")])
    assert res.exit_code != 0
    assert "exactly one" in res.output
