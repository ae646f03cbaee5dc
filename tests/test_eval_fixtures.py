"""Shared fixtures for the evaluation tests: tiny benchmark files and a fake backend.

Imported by the `test_eval_*` / `test_backends_*` files (pytest puts `tests/` on the
path). Holds no tests itself except a check that the fixtures are what they claim.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path

from PIL import Image

from mllmkit.backends.base import Request, Response

COLORS = ["red", "green", "blue", "yellow"]
RGB = {
    "red": (220, 30, 30),
    "green": (30, 200, 30),
    "blue": (30, 30, 220),
    "yellow": (230, 230, 20),
}
MCQ_HEADER = ["index", "image_path", "question", "answer", "A", "B", "C", "D", "category"]


def write_image(path: Path, color: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), RGB[color]).save(path)
    return path


def write_tsv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    lines = ["\t".join(header)] + ["\t".join(str(c) for c in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_jsonl(path: Path, rows: list[dict | str]) -> Path:
    text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)
    path.write_text(text, encoding="utf-8")
    return path


def mcq_tsv(root: Path, n: int = 12, name: str = "mcq.tsv") -> Path:
    """n MCQ rows 'What color is the image?' with the 4 colours as options, gold rotates."""
    rows = []
    for i in range(n):
        color = COLORS[i % 4]
        write_image(root / "images" / f"{i}.png", color)
        k = (i - (i * 3) % 4) % 4  # rotate so the gold letter runs A, D, C, B, A, ...
        options = COLORS[k:] + COLORS[:k]
        answer = "ABCD"[options.index(color)]
        cat = "even" if i % 2 == 0 else "odd"
        rows.append([str(i), f"images/{i}.png", "What color is the image?", answer, *options, cat])
    return write_tsv(root / name, MCQ_HEADER, rows)


def yorn_tsv(root: Path, n: int = 12, name: str = "yorn.tsv") -> Path:
    rows = []
    for i in range(n):
        color = COLORS[i % 4]
        write_image(root / "images" / f"{i}.png", color)
        asked = color if i % 2 == 0 else COLORS[(i + 1) % 4]
        answer = "Yes" if asked == color else "No"
        rows.append([str(i), f"images/{i}.png", f"Is the image {asked}?", answer, "color"])
    return write_tsv(root / name, ["index", "image_path", "question", "answer", "category"], rows)


def vqa_tsv(root: Path, n: int = 8, name: str = "vqa.tsv") -> Path:
    rows = []
    for i in range(n):
        color = COLORS[i % 4]
        write_image(root / "images" / f"{i}.png", color)
        rows.append([str(i), f"images/{i}.png", "What color is the image?", color, "color"])
    return write_tsv(root / name, ["index", "image_path", "question", "answer", "category"], rows)


class FakeBackend:
    """Deterministic: the answer depends only on the request (prompt text + image pixels).

    - prompts with options: the letter whose option names the image's colour, except when
      the question id hash says "be wrong" (so accuracy is neither 0 nor 1);
    - yes/no prompts: Yes iff the asked colour is the image's colour (same wrongness rule);
    - other prompts: the colour name.
    `calls` counts requests answered; `delay` sleeps per batch; `fail_ids` answer with an
    error; `answers` overrides by sample id.
    """

    name = "fake"

    def __init__(self, delay: float = 0.0, fail_ids=(), answers=None, wrong_every: int = 5):
        self.calls = 0
        self.batches: list[int] = []
        self.delay = delay
        self.fail_ids = set(fail_ids)
        self.answers = dict(answers or {})
        self.wrong_every = wrong_every
        self._lock = threading.Lock()

    def fingerprint(self) -> str:
        return "fake-backend-v1"

    @staticmethod
    def _color(request: Request) -> str:
        images = request.images()
        if not images:
            return "none"
        rgb = images[0].getpixel((0, 0))
        return min(RGB, key=lambda c: sum(abs(a - b) for a, b in zip(RGB[c], rgb, strict=True)))

    def _wrong(self, request: Request) -> bool:
        key = f"{request.sample_id}|{request.text()}"
        h = int(hashlib.sha256(key.encode()).hexdigest(), 16)
        return self.wrong_every > 0 and h % self.wrong_every == 0

    def answer(self, request: Request) -> Response:
        if request.sample_id in self.fail_ids:
            return Response("", error="simulated failure")
        if request.sample_id in self.answers:
            return Response(self.answers[request.sample_id])
        text = request.text()
        color = self._color(request)
        wrong = self._wrong(request)
        if "\nA. " in text:
            letters = {}
            for line in text.splitlines():
                if len(line) > 3 and line[1:3] == ". ":
                    letters[line[3:]] = line[0]
            if wrong:
                pick = sorted(v for k, v in letters.items() if k != color)[0]
            else:
                pick = letters.get(color, "A")
            return Response(pick)
        if text.startswith("Is the image"):
            asked = text.split()[-1].rstrip("?")
            yes = (asked == color) != wrong
            return Response("Yes" if yes else "No")
        return Response(COLORS[(COLORS.index(color) + 1) % 4] if wrong else color)

    def generate(self, requests: list[Request]) -> list[Response]:
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            self.calls += len(requests)
            self.batches.append(len(requests))
        return [self.answer(r) for r in requests]


def test_fixtures_write_readable_files(tmp_path: Path) -> None:
    from mllmkit.data.tsv import read_benchmark_tsv

    rows = read_benchmark_tsv(mcq_tsv(tmp_path, n=4))
    assert [r.answer for r in rows] == ["A", "D", "C", "B"]
    assert rows[1].options == {"A": "blue", "B": "yellow", "C": "red", "D": "green"}
