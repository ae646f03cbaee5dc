"""How well a judge agrees with humans, in the three MLLM-as-a-Judge settings.

- Scoring: Pearson correlation with human 1–5 scores, per source dataset, then averaged
  (pooling sources would let a source's score level, not the judge's ranking of answers
  within it, drive the correlation).
- Pair comparison: accuracy with ties, accuracy without ties, macro F1 over A/B/C.
- Batch ranking: Levenshtein distance between orderings, normalised by length.
- Position consistency: does the verdict follow the answer when A and B are swapped?

Unparsed verdicts (None) are dropped from every metric and counted in ``n_unparsed``;
undefined values (a correlation of a constant, a mean of nothing) are None, never a
number that could be mistaken for a measurement.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

PAIR_LABELS = ("A", "B", "C")
_SWAP = {"A": "B", "B": "A", "C": "C"}


class ScoreItem(NamedTuple):
    """One scored answer: its source dataset, the human score, the judge's (None = unparsed)."""

    source: str
    human: float
    judge: float | None


class PairItem(NamedTuple):
    """One pair comparison: human and judge verdicts in A/B/C (C = tie; None = unparsed)."""

    human: str
    judge: str | None


class RankItem(NamedTuple):
    """One batch ranking: human and judge orderings, best first (None = unparsed)."""

    human: Sequence[str]
    judge: Sequence[str] | None


class SwapPair(NamedTuple):
    """Verdicts on the same two answers asked as (A=first, B=second) and swapped."""

    verdict_ab: str | None
    verdict_ba: str | None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson's r, or None when undefined (fewer than 2 points, or either side constant)."""
    if len(xs) != len(ys):
        raise ValueError(f"pearson needs equal lengths, got {len(xs)} and {len(ys)}")
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def pearson_by_source(items: Iterable[ScoreItem | tuple]) -> dict[str, Any]:
    """Pearson r between human and judge scores per source, and their mean.

    Items with an unparsed judge score (None) are dropped and counted in ``n_unparsed``.
    A source whose remaining scores are constant on either side (or that has fewer than
    two items) has no correlation: its entry in ``per_source`` is None, it is listed in
    ``undefined_sources`` and left out of ``average``. ``average`` is None when no source
    has a correlation.

    Returns ``{"per_source": {src: r | None}, "average": float | None, "n_unparsed": k,
    "undefined_sources": [...], "n_per_source": {src: items used}}``.
    """
    pairs: dict[str, list[tuple[float, float]]] = defaultdict(list)
    n_unparsed = 0
    for position, (source, human, judge) in enumerate(items, start=1):
        if not _is_number(human):
            raise ValueError(f"item {position}: field 'human' must be a number, got {human!r}")
        if judge is None:
            pairs.setdefault(source, [])
            n_unparsed += 1
            continue
        if not _is_number(judge):
            raise ValueError(f"item {position}: field 'judge' must be a number or None")
        pairs[source].append((float(human), float(judge)))
    ordered = sorted(pairs.items(), key=lambda kv: str(kv[0]))
    per_source = {src: pearson([h for h, _ in v], [j for _, j in v]) for src, v in ordered}
    defined = [r for r in per_source.values() if r is not None]
    return {
        "per_source": per_source,
        "average": sum(defined) / len(defined) if defined else None,
        "n_unparsed": n_unparsed,
        "undefined_sources": [src for src, r in per_source.items() if r is None],
        "n_per_source": {src: len(v) for src, v in ordered},
    }


def _check_label(value: Any, position: int, field: str, allow_none: bool) -> None:
    if value is None and allow_none:
        return
    if value not in PAIR_LABELS:
        raise ValueError(f"item {position}: field '{field}' must be A, B or C, got {value!r}")


def pair_agreement(items: Iterable[PairItem | tuple]) -> dict[str, Any]:
    """Agreement of pair-comparison verdicts (A, B, or C = tie) with the human ones.

    - ``accuracy``: share of parsed items where judge == human, ties counted as a class;
    - ``accuracy_no_ties``: the same after dropping items where the human *or* the judge
      said tie (C);
    - ``macro_f1``: mean over classes of F1 = 2·TP / (2·TP + FP + FN), over the classes
      that occur in the human or the judge labels (a class absent from both has F1 = 0/0
      and is left out rather than counted as 0); ``per_class_f1`` gives each.

    Unparsed judge verdicts are dropped and counted in ``n_unparsed``. With nothing left,
    accuracies and macro F1 are 0.0 (see the counts ``n`` and ``n_no_ties``).
    """
    parsed: list[tuple[str, str]] = []
    n_unparsed = 0
    for position, (human, judge) in enumerate(items, start=1):
        _check_label(human, position, "human", allow_none=False)
        _check_label(judge, position, "judge", allow_none=True)
        if judge is None:
            n_unparsed += 1
        else:
            parsed.append((human, judge))
    no_ties = [(h, j) for h, j in parsed if h != "C" and j != "C"]
    per_class: dict[str, float] = {}
    for label in PAIR_LABELS:
        tp = sum(1 for h, j in parsed if h == label and j == label)
        fp = sum(1 for h, j in parsed if h != label and j == label)
        fn = sum(1 for h, j in parsed if h == label and j != label)
        if tp + fp + fn:
            per_class[label] = 2 * tp / (2 * tp + fp + fn)
    return {
        "accuracy": _mean_bool(h == j for h, j in parsed),
        "accuracy_no_ties": _mean_bool(h == j for h, j in no_ties),
        "macro_f1": sum(per_class.values()) / len(per_class) if per_class else 0.0,
        "per_class_f1": per_class,
        "n": len(parsed),
        "n_no_ties": len(no_ties),
        "n_unparsed": n_unparsed,
    }


def _mean_bool(flags: Iterable[bool]) -> float:
    values = list(flags)
    return sum(values) / len(values) if values else 0.0


def levenshtein(a: Sequence[Any], b: Sequence[Any]) -> int:
    """Edit distance (insertions, deletions, substitutions, each cost 1) between sequences."""
    previous = list(range(len(b) + 1))
    for i, item_a in enumerate(a, start=1):
        current = [i]
        for j, item_b in enumerate(b, start=1):
            current.append(
                min(
                    previous[j] + 1,  # delete item_a
                    current[j - 1] + 1,  # insert item_b
                    previous[j - 1] + (item_a != item_b),  # substitute (or keep)
                )
            )
        previous = current
    return previous[-1]


def ranking_distance(items: Iterable[RankItem | tuple]) -> dict[str, Any]:
    """Mean Levenshtein distance between judge and human orderings, normalised by length.

    Each item's distance is divided by the ordering's length (the longer of the two if
    they differ), so 0 is identical and 1 is as far apart as possible, whatever the batch
    size. The MLLM-as-a-Judge release forgets this division; its raw mean is reported as
    ``levenshtein_raw`` for comparison. Unparsed judge orderings are dropped and counted.

    Returns ``{"levenshtein_norm", "levenshtein_raw", "n", "n_unparsed"}``; the means are
    None when no item is left (a distance of 0 would claim perfect agreement).
    """
    normalised: list[float] = []
    raw: list[int] = []
    n_unparsed = 0
    for position, (human, judge) in enumerate(items, start=1):
        if isinstance(human, str) or not isinstance(human, Sequence) or len(human) == 0:
            raise ValueError(f"item {position}: field 'human' must be a non-empty ordering")
        if judge is None:
            n_unparsed += 1
            continue
        if isinstance(judge, str) or not isinstance(judge, Sequence):
            raise ValueError(f"item {position}: field 'judge' must be an ordering or None")
        distance = levenshtein(list(human), list(judge))
        raw.append(distance)
        normalised.append(distance / max(len(human), len(judge)))
    return {
        "levenshtein_norm": sum(normalised) / len(normalised) if normalised else None,
        "levenshtein_raw": sum(raw) / len(raw) if raw else None,
        "n": len(raw),
        "n_unparsed": n_unparsed,
    }


def position_consistency(pairs: Iterable[SwapPair | tuple]) -> float:
    """Share of pairs whose verdict picks the same *answer* when A and B are swapped.

    Each pair is (verdict with the original order, verdict with the answers swapped). The
    swapped verdict is mapped back (A↔B, tie stays tie) before comparing, so "A" then "B"
    is consistent (same answer both times) and "A" then "A" is position bias. Pairs with
    an unparsed verdict are dropped; 0.0 when none is left.
    """
    flags: list[bool] = []
    for position, (ab, ba) in enumerate(pairs, start=1):
        _check_label(ab, position, "verdict_ab", allow_none=True)
        _check_label(ba, position, "verdict_ba", allow_none=True)
        if ab is not None and ba is not None:
            flags.append(ab == _SWAP[ba])
    return _mean_bool(flags)
