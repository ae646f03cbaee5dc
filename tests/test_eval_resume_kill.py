"""Kill -9 an evaluation subprocess mid-run, rerun it, and get an uninterrupted run's result.

The child process runs a slow deterministic backend; the parent waits until some answers
are in `cache.jsonl`, sends SIGKILL (no cleanup code can run), reruns the same command,
and checks that (a) only unfinished samples were sent again and (b) predictions and
metrics equal those of a run that was never interrupted.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_eval_fixtures import mcq_tsv

SCRIPT = r'''
import sys, time
from pathlib import Path
from mllmkit.backends.base import Response
from mllmkit.eval.runner import evaluate
from mllmkit.eval.task import TaskSpec

class SlowBackend:
    """Answer depends on the request only; sleeps per batch so the parent can kill it."""
    name = "slow"

    def __init__(self, delay):
        self.delay = delay
        self.calls = 0

    def fingerprint(self):
        return "slow-backend-v1"

    def generate(self, requests):
        time.sleep(self.delay)
        self.calls += len(requests)
        return [Response("ABCD"[sum(r.text().encode()) % 4]) for r in requests]

data, out, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])
spec = TaskSpec(name="m", loader="tsv", path=data, format="mcq", circular=True)
backend = SlowBackend(delay)
evaluate(backend, [spec], out, batch_size=2, progress=False)
Path(out, "calls.txt").write_text(str(backend.calls))
'''

N_SAMPLES = 12 * 4  # 12 questions x 4 circular rotations


def _run(script: Path, data: Path, out: Path, delay: float) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, str(script), str(data), str(out), str(delay)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _finished(cache: Path) -> int:
    if not cache.exists():
        return 0
    n = 0
    for line in cache.read_bytes().splitlines():
        with contextlib.suppress(ValueError, KeyError):  # a torn line
            n += json.loads(line)["status"] == "ok"
    return n


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")
def test_kill_9_then_rerun_equals_uninterrupted(tmp_path: Path) -> None:
    script = tmp_path / "run_eval.py"
    script.write_text(SCRIPT)
    data = mcq_tsv(tmp_path / "data", n=12)
    out = tmp_path / "killed"

    proc = _run(script, data, out, delay=0.05)
    deadline = time.monotonic() + 60
    while _finished(out / "cache.jsonl") < 10:
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        assert time.monotonic() < deadline, "child made no progress"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    done = _finished(out / "cache.jsonl")
    assert 10 <= done < N_SAMPLES, "the kill must land mid-run"
    assert not (out / "metrics.json").exists()

    rerun = _run(script, data, out, delay=0.0)
    assert rerun.wait(timeout=120) == 0, rerun.stdout.read().decode() if rerun.stdout else ""
    assert int((out / "calls.txt").read_text()) == N_SAMPLES - done  # nothing recomputed

    clean = _run(script, data, tmp_path / "clean", delay=0.0)
    assert clean.wait(timeout=120) == 0
    assert int((tmp_path / "clean" / "calls.txt").read_text()) == N_SAMPLES
    for name in ("predictions.jsonl", "metrics.json"):
        assert (out / name).read_text() == (tmp_path / "clean" / name).read_text()
