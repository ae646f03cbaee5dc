"""`mllm serve` from the command line: clear refusals, and a real server process that
answers with the key it was given and shuts down cleanly."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest
from typer.testing import CliRunner

from mllmkit.cli import app
from mllmkit.serve.server import prefer_passive_openmp

runner = CliRunner()


def test_help_lists_the_options() -> None:
    result = runner.invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for flag in (
        "--model",
        "--host",
        "--port",
        "--api-key-env",
        "--max-batch-size",
        "--max-wait-ms",
        "--max-tokens-limit",
        "--max-images",
        "--max-pixels",
        "--max-body-bytes",
        "--allow-remote-images",
        "--allow-local-images",
        "--reduce",
    ):
        assert flag in result.output, flag


def test_refuses_to_start_without_the_key_variable() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MLLMKIT_TEST_NO_SUCH_KEY"}
    args = ["serve", "--model", "instant:", "--api-key-env", "MLLMKIT_TEST_NO_SUCH_KEY"]
    result = runner.invoke(app, args, env={**env, "MLLMKIT_TEST_NO_SUCH_KEY": ""})
    assert result.exit_code == 2
    assert "MLLMKIT_TEST_NO_SUCH_KEY is not set or empty" in result.output


def test_bad_model_and_bad_limits_are_clear(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")  # keep this process's environment as is
    result = runner.invoke(app, ["serve", "--model", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "cannot open model" in result.output
    result = runner.invoke(app, ["serve", "--model", "instant:", "--max-batch-size", "0"])
    assert result.exit_code == 2 and "max-batch-size" in result.output
    result = runner.invoke(app, ["serve", "--model", "instant:", "--reduce", "fastv:k=1,r=0.5"])
    assert result.exit_code == 2 and "--reduce needs a local checkpoint folder" in result.output


def _read_lines(stream, lines: queue.Queue[str]) -> None:
    for line in iter(stream.readline, ""):
        lines.put(line)


def test_a_real_server_process() -> None:
    env = {**os.environ, "MLLMKIT_TEST_CLI_KEY": "k-123"}
    cmd = [sys.executable, "-c", "from mllmkit.cli import main; main()", "serve"]
    cmd += ["--model", "instant:Blue", "--port", "0", "--api-key-env", "MLLMKIT_TEST_CLI_KEY"]
    cmd += ["--served-model-name", "blue"]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_read_lines, args=(proc.stderr, lines), daemon=True)
    reader.start()
    log: list[str] = []
    try:
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            log.append(line)
            match = re.search(r"running on (http://127\.0\.0\.1:\d+)", line)
            url = match.group(1) if match else None
        assert url is not None, "".join(log)
        body = {"model": "blue", "messages": [{"role": "user", "content": "colour?"}]}
        with httpx.Client(base_url=url, timeout=30) as c:
            assert c.get("/health").json()["status"] == "ok"
            assert c.post("/v1/chat/completions", json=body).status_code == 401
            r = c.post("/v1/chat/completions", json=body, headers={"Authorization": "Bearer k-123"})
            assert r.status_code == 200, r.text
            assert r.json()["choices"][0]["message"]["content"] == "Blue"
            assert r.json()["model"] == "blue"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal
    assert proc.returncode in (0, -signal.SIGTERM)
    reader.join(10)  # the process has exited: its stderr reaches EOF
    while not lines.empty():
        log.append(lines.get())
    assert "Application shutdown complete" in "".join(log), "".join(log)


def test_prefer_passive_openmp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert prefer_passive_openmp() and os.environ["OMP_WAIT_POLICY"] == "ACTIVE"  # user's wins
    monkeypatch.delenv("OMP_WAIT_POLICY")
    monkeypatch.setitem(sys.modules, "torch", sys.modules.get("torch", object()))
    assert not prefer_passive_openmp()  # too late: torch is loaded
    assert "OMP_WAIT_POLICY" not in os.environ
    monkeypatch.delitem(sys.modules, "torch")
    assert prefer_passive_openmp() and os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
