"""From verdicts to agreement numbers, per mode (the rules live in `judge.agreement`).

Only items the judge *replied* to enter agreement: a parsed verdict counts, an unparsed
one is dropped and counted (``n_unparsed``). Backend errors and missing answers are not
replies — they are counted separately by the runner and retried by the next run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from mllmkit.judge.agreement import (
    PAIR_LABELS,
    PairItem,
    RankItem,
    ScoreItem,
    pair_agreement,
    pearson_by_source,
    ranking_distance,
)
from mllmkit.judge.asks import Verdict
from mllmkit.judge.data import JudgeItem

Row = tuple[JudgeItem, Verdict]


def _judged(v: Verdict) -> Any:
    return v.original if v.ok else None


def _mean_by(groups: dict[str, list[float]]) -> dict[str, dict[str, Any]]:
    return {
        key: {"mean_judge": sum(vals) / len(vals) if vals else None, "n": len(vals)}
        for key, vals in sorted(groups.items())
    }


def score_agreement(rows: Sequence[Row]) -> dict[str, Any]:
    """Pearson per source + average, and the mean judge score per human score and kind."""
    result = pearson_by_source([ScoreItem(item.source, item.human, _judged(v)) for item, v in rows])
    by_human: dict[str, list[float]] = defaultdict(list)
    by_kind: dict[str, list[float]] = defaultdict(list)
    for item, v in rows:
        human_key = f"{item.human:g}"
        by_human.setdefault(human_key, [])
        if item.kinds:
            by_kind.setdefault(item.kinds[0], [])
        if v.ok:
            by_human[human_key].append(float(v.original))  # type: ignore[arg-type]
            if item.kinds:
                by_kind[item.kinds[0]].append(float(v.original))  # type: ignore[arg-type]
    result["by_human_score"] = _mean_by(by_human)
    if by_kind:
        result["by_kind"] = _mean_by(by_kind)
    return result


def pair_agreement_rows(rows: Sequence[Row]) -> dict[str, Any]:
    """Accuracy with and without ties, macro F1, the human × judge confusion counts, and
    (items with ``kinds``) accuracy per pair of answer kinds, order ignored
    (``correct|wrong``): it separates pairs the answers' form settles (filler, an invented
    object) from pairs only the image settles (a right against a wrong value)."""
    result = pair_agreement([PairItem(item.human, _judged(v)) for item, v in rows])
    confusion = {h: dict.fromkeys(PAIR_LABELS, 0) for h in PAIR_LABELS}
    by_kinds: dict[str, list[PairItem]] = defaultdict(list)
    for item, v in rows:
        if v.ok:
            confusion[item.human][v.original] += 1  # type: ignore[index]
        if item.kinds:
            by_kinds["|".join(sorted(item.kinds))].append(PairItem(item.human, _judged(v)))
    result["confusion"] = confusion
    if by_kinds:
        result["by_kinds"] = {
            key: {"accuracy": a["accuracy"], "n": a["n"]}
            for key, a in ((k, pair_agreement(g)) for k, g in sorted(by_kinds.items()))
        }
    return result


def batch_agreement(rows: Sequence[Row]) -> dict[str, Any]:
    """Mean Levenshtein distance between orderings, normalised by length (and raw)."""
    result = ranking_distance([RankItem(item.human, _judged(v)) for item, v in rows])
    result["exact"] = (
        sum(1 for item, v in rows if v.ok and list(v.original) == list(item.human))  # type: ignore[call-overload]
        / result["n"]
        if result["n"]
        else None
    )
    return result


AGREEMENT = {"score": score_agreement, "pair": pair_agreement_rows, "batch": batch_agreement}
HEADLINE_KEY = {"score": "average", "pair": "accuracy", "batch": "levenshtein_norm"}


def agreement(mode: str, rows: Sequence[Row]) -> dict[str, Any]:
    """Agreement of the replied-to rows (see the module docstring)."""
    return AGREEMENT[mode]([(item, v) for item, v in rows if v.answered])


def headline(mode: str, result: dict[str, Any]) -> float | None:
    """The one number a summary shows: Pearson (average over sources), pair accuracy, or
    normalised Levenshtein distance. None when undefined (nothing parsed)."""
    if mode != "score" and not result.get("n"):
        return None
    value = result.get(HEADLINE_KEY[mode])
    return float(value) if value is not None else None
