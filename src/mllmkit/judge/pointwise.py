"""Pointwise judging: a pair or batch verdict made from one score per answer.

The judge scores every answer of the item alone (the ``score`` template), and the verdict
follows from the scores: in a pair the higher score wins and equal scores are a tie
("C"); a batch is ranked by score, best first, equal scores in the order shown. This is
the other way of reaching pair and ranking verdicts that MLLM-as-a-Judge (Chen et al.
2024) and MT-Bench (Zheng et al. 2023) compare with asking for them directly: it needs a
judge that scores well, it cannot prefer a position (each answer is scored without the
others), and it costs one request per answer instead of one per item. A judge that
cannot compare two answers in one prompt but can check one answer against the image
(the native judges trained on the world, see `configs/judge.yaml`) judges pairs and
batches this way.
"""

from __future__ import annotations

from collections.abc import Sequence

from mllmkit.judge.asks import Ask, Verdict
from mllmkit.judge.modes import get_mode
from mllmkit.judge.prompts import LETTERS

POINTWISE_MODES: tuple[str, ...] = ("pair", "batch")


def score_asks(ask: Ask, answer_first: bool = False) -> list[Ask]:
    """One score ask per answer of `ask`, in the order shown."""
    if ask.item.mode not in POINTWISE_MODES:
        raise ValueError(
            f"pointwise judging applies to {list(POINTWISE_MODES)} items, not {ask.item.mode!r}"
        )
    return [
        Ask(ask.item, ask.probe, (answer,), (ask.perm[j],), "score", answer_first)
        for j, answer in enumerate(ask.answers)
    ]


def verdict_from_scores(mode: str, scores: Sequence[int | float]) -> str | list[str]:
    """The verdict in the order shown: pair "A"/"B"/"C" (tie), or a batch ranking."""
    if mode == "pair":
        if len(scores) != 2:
            raise ValueError(f"a pair needs 2 scores, got {len(scores)}")
        a, b = scores
        return "A" if a > b else "B" if b > a else "C"
    if mode == "batch":
        order = sorted(range(len(scores)), key=lambda j: (-scores[j], j))
        return [LETTERS[j] for j in order]
    raise ValueError(f"pointwise judging applies to {list(POINTWISE_MODES)}, not {mode!r}")


def fold(ask: Ask, parts: Sequence[Verdict]) -> Verdict:
    """One verdict for `ask` from its answers' score verdicts (`score_asks` order).

    Any missing, failed or unreadable score makes the whole verdict so (never guessed);
    ``raw`` joins the judge's score replies, so its own answers stay in the predictions.
    """
    raw = " | ".join(p.raw for p in parts)
    for status in ("bad_row", "error", "missing"):
        failed = [p for p in parts if p.status == status]
        if failed:
            return Verdict(status, raw=raw, error=failed[0].error)
    if any(p.status == "unparsed" for p in parts):
        return Verdict("unparsed", raw=raw)
    shown = verdict_from_scores(ask.item.mode, [p.shown for p in parts])  # type: ignore[misc]
    return Verdict("ok", shown, get_mode(ask.item.mode).to_original(shown, ask.perm), raw=raw)
