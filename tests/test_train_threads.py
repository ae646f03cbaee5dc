"""Intra-op threads of a training process: config, then OMP_NUM_THREADS, then the cores."""

from __future__ import annotations

import os

import pytest

from mllmkit.train.trainer import _threads


def test_config_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert _threads(5, 1) == 5


def test_env_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert _threads(None, 2) == 1


@pytest.mark.parametrize("env", [None, "", "zero", "0", "-2"])
def test_cores_shared_among_processes(monkeypatch: pytest.MonkeyPatch, env: str | None) -> None:
    if env is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", env)
    cores = os.cpu_count() or 1
    assert _threads(None, 1) == cores
    assert _threads(None, cores * 2) == 1
