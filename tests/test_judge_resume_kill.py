"""Kill -9 a judging subprocess mid-run, rerun it, and get an uninterrupted run's result.

The child runs a slow deterministic judge; the parent waits until some verdicts are in
`cache.jsonl`, sends SIGKILL (no cleanup code can run), reruns the same command and
checks that only unanswered asks were sent again and that the outputs equal those of a
run that was never interrupted.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from judge_fakes import image_folder, item, write_items
from kill_resume import check_kill_and_rerun

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


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")
def test_kill_9_then_rerun_equals_uninterrupted(tmp_path: Path) -> None:
    root = image_folder(tmp_path / "data")
    items = [
        item(k, "pair", [f"ans {k % 5}", f"ans {(3 * k) % 5}"], "A" if k % 2 else "B")
        for k in range(N_ITEMS)
    ]
    data = write_items(root / "pair.jsonl", items)
    check_kill_and_rerun(SCRIPT, data, tmp_path, total=N_ASKS, kill_after=8)
