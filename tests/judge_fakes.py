"""Deterministic fake judges and tiny judge data files shared by the judge tests.

The fake judge reads the answers back out of the judge prompt; each answer holds the
quality the judge "perceives" (``"ans 4"`` → 4, filler around it ignored), and ``"???"``
makes it reply with text that holds no verdict. So every verdict, and every agreement
number, is known in advance.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from PIL import Image

from mllmkit.backends.base import Request, Response
from mllmkit.judge.prompts import LETTERS, read_prompt, verdict_json

UNREADABLE = "???"


def _value(answer: str) -> int:
    """The number after "ans" (filler around it, as the verbosity probe adds, is ignored)."""
    match = re.search(r"\bans (\d+)", answer)
    assert match is not None, f"fake judge cannot read {answer!r}"
    return int(match.group(1))


class FakeJudge:
    """Verdicts from the numbers at the end of the answers (see the module docstring)."""

    name = "fake"

    def __init__(self, tag: str = "v1") -> None:
        self.tag = tag
        self.calls = 0
        self.batches = 0
        self.modes: list[str] = []  # the template of every prompt asked

    def fingerprint(self) -> str:
        return f"fake-judge-{self.tag}"

    def verdict(self, request: Request) -> str:
        parts = read_prompt(request.text())
        assert parts is not None, "the runner must send judge prompts"
        self.modes.append(parts.mode + ("+answer_first" if parts.answer_first else ""))
        if any(UNREADABLE in a for a in parts.answers):
            return "I am not sure about this one."
        values = [_value(a) for a in parts.answers]
        if parts.mode == "score":
            return verdict_json(f"[[{values[0]}]]", "mine" if parts.answer_first else None)
        if parts.mode == "pair":
            a, b = values
            return verdict_json("[[C]]" if a == b else ("[[A]]" if a > b else "[[B]]"))
        order = sorted(range(len(values)), key=lambda i: (-values[i], i))
        return verdict_json(", ".join(f"[[{LETTERS[i]}]]" for i in order))

    def generate(self, requests: list[Request]) -> list[Response]:
        self.calls += len(requests)
        self.batches += 1
        return [Response(self.verdict(r)) for r in requests]


def image_folder(root: Path) -> Path:
    (root / "images").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (10, 200, 10)).save(root / "images" / "a.png")
    return root


def write_items(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(i) + "\n" for i in items))
    return path


def item(i: int, mode: str, answers: list[str], human: object, source: str = "s") -> dict:
    return {
        "id": f"{mode}{i}",
        "mode": mode,
        "images": ["images/a.png"],
        "question": f"Question {i}?",
        "answers": answers,
        "human": human,
        "source": source,
    }


def score_items() -> list[dict]:
    """s1: human 5,3,1 vs judge 4,3,1; s2: human = judge (4,2,5) plus one unparsed."""
    rows = [(5, 4, "s1"), (3, 3, "s1"), (1, 1, "s1"), (4, 4, "s2"), (2, 2, "s2"), (5, 5, "s2")]
    items = [item(k, "score", [f"ans {j}"], h, src) for k, (h, j, src) in enumerate(rows)]
    items.append(item(len(rows), "score", [UNREADABLE], 3, "s2"))
    return items


def pair_items() -> list[dict]:
    rows = [([5, 1], "A"), ([2, 4], "B"), ([3, 3], "C"), ([4, 2], "B"), ([1, 1], "A")]
    items = [item(k, "pair", [f"ans {a}", f"ans {b}"], h) for k, ((a, b), h) in enumerate(rows)]
    items.append(item(len(rows), "pair", [UNREADABLE, "ans 2"], "A"))
    return items


def batch_items() -> list[dict]:
    rows = [
        ([3, 1, 2], ["A", "C", "B"]),
        ([1, 2, 3], ["A", "B", "C"]),
        ([2, 3, 1], ["B", "A", "C"]),
    ]
    return [
        item(k, "batch", [f"ans {v}" for v in values], human)
        for k, (values, human) in enumerate(rows)
    ]
