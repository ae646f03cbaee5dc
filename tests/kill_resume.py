"""The kill -9 + rerun protocol shared by the eval and judge resume tests.

A child process runs SCRIPT (`argv: data out delay`, writing `out/calls.txt` with the
number of backend calls it made); it is killed mid-run once `kill_after` answers are in
the cache, the same command is run again, and the result must equal an uninterrupted run
with nothing recomputed.
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


def run_child(script: Path, data: Path, out: Path, delay: float) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, str(script), str(data), str(out), str(delay)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def finished(cache: Path) -> int:
    """Answers with status ok in a cache file (a torn last line is not counted)."""
    if not cache.exists():
        return 0
    n = 0
    for line in cache.read_bytes().splitlines():
        with contextlib.suppress(ValueError, KeyError):  # a torn line
            n += json.loads(line)["status"] == "ok"
    return n


def check_kill_and_rerun(
    script_text: str, data: Path, tmp_path: Path, total: int, kill_after: int
) -> None:
    script = tmp_path / "run_child.py"
    script.write_text(script_text)
    out = tmp_path / "killed"

    proc = run_child(script, data, out, delay=0.05)
    deadline = time.monotonic() + 60
    while finished(out / "cache.jsonl") < kill_after:
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        assert time.monotonic() < deadline, "child made no progress"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    done = finished(out / "cache.jsonl")
    assert kill_after <= done < total, "the kill must land mid-run"
    assert not (out / "metrics.json").exists()

    rerun = run_child(script, data, out, delay=0.0)
    assert rerun.wait(timeout=120) == 0, rerun.stdout.read().decode() if rerun.stdout else ""
    assert int((out / "calls.txt").read_text()) == total - done  # nothing recomputed

    clean = run_child(script, data, tmp_path / "clean", delay=0.0)
    assert clean.wait(timeout=120) == 0
    assert int((tmp_path / "clean" / "calls.txt").read_text()) == total
    for name in ("predictions.jsonl", "metrics.json"):
        assert (out / name).read_text() == (tmp_path / "clean" / name).read_text()
