"""Kill -9 a judging subprocess mid-run, rerun it, and get an uninterrupted run's result.

The child runs a slow deterministic judge; the parent waits until some verdicts are in
`cache.jsonl`, sends SIGKILL (no cleanup code can run), reruns the same command and
checks that only unanswered asks were sent again and that the outputs equal those of a
run that was never interrupted.
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

from judge_fakes import image_folder, item, write_items

SCRIPT = r"""
import sys, time
from pathlib import Path
from mllmkit.backends.base import Response
from mllmkit.judge.prompts import read_prompt, verdict_json
from mllmkit.judge.runner import run_judge

class SlowJudge:
    name = "slow"

    def __init__(self, delay):
        self.delay = delay
        self.calls = 0

    def fingerprint(self):
        return "slow-judge-v1"

    def generate(self, requests):
        time.sleep(self.delay)
        self.calls += len(requests)
        out = []
        for r in requests:
            a, b = (int(x.split()[-1]) for x in read_prompt(r.text()).answers)
            out.append(Response(verdict_json("[[A]]" if a >= b else "[[B]]")))
        return out

data, out, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])
judge = SlowJudge(delay)
run_judge(judge, data, "pair", out, batch_size=2, probes="position,verbosity", progress=False)
Path(out, "calls.txt").write_text(str(judge.calls))
"""

N_ITEMS = 12
N_ASKS = N_ITEMS * 3  # as given, swapped, padded


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
    script = tmp_path / "run_judge.py"
    script.write_text(SCRIPT)
    root = image_folder(tmp_path / "data")
    items = [
        item(k, "pair", [f"ans {k % 5}", f"ans {(3 * k) % 5}"], "A" if k % 2 else "B")
        for k in range(N_ITEMS)
    ]
    data = write_items(root / "pair.jsonl", items)
    out = tmp_path / "killed"

    proc = _run(script, data, out, delay=0.05)
    deadline = time.monotonic() + 60
    while _finished(out / "cache.jsonl") < 8:
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        assert time.monotonic() < deadline, "child made no progress"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    done = _finished(out / "cache.jsonl")
    assert 8 <= done < N_ASKS, "the kill must land mid-run"
    assert not (out / "metrics.json").exists()

    rerun = _run(script, data, out, delay=0.0)
    assert rerun.wait(timeout=120) == 0, rerun.stdout.read().decode() if rerun.stdout else ""
    assert int((out / "calls.txt").read_text()) == N_ASKS - done  # nothing recomputed

    clean = _run(script, data, tmp_path / "clean", delay=0.0)
    assert clean.wait(timeout=120) == 0
    assert int((tmp_path / "clean" / "calls.txt").read_text()) == N_ASKS
    for name in ("predictions.jsonl", "metrics.json"):
        assert (out / name).read_text() == (tmp_path / "clean" / name).read_text()
