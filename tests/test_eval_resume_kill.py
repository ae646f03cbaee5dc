"""Kill -9 an evaluation subprocess mid-run, rerun it, and get an uninterrupted run's result.

The child process runs a slow deterministic backend; the parent waits until some answers
are in `cache.jsonl`, sends SIGKILL (no cleanup code can run), reruns the same command,
and checks that (a) only unfinished samples were sent again and (b) predictions and
metrics equal those of a run that was never interrupted.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from kill_resume import check_kill_and_rerun
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


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")
def test_kill_9_then_rerun_equals_uninterrupted(tmp_path: Path) -> None:
    data = mcq_tsv(tmp_path / "data", n=12)
    check_kill_and_rerun(SCRIPT, data, tmp_path, total=N_SAMPLES, kill_after=10)
