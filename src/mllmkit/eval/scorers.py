"""Task-level metrics by exact name: each wraps one scorer of `mllmkit.eval.metrics`.

A task lists the metric names it wants (`TaskSpec.metrics`); each returns
`{"overall": {...}, "per_category": {category: {...}}, "headline": key}` where
`headline` names the number summary tables show. Samples with status `bad_row` never
reach a scorer; failed requests do (as empty answers), so a model that crashes on hard
questions does not look better for it.

| name       | formats          | what                                                     |
| ---------- | ---------------- | -------------------------------------------------------- |
| `accuracy` | mcq, yorn, vqa   | mean per-sample score (`predictions.jsonl` `score`)      |
| `mcq`      | mcq              | `score_mcq`: accuracy + unmatched counts                 |
| `circular` | mcq (circular)   | `score_circular`: vanilla and CircularEval accuracy      |
| `pope`     | yorn (rule pope) | `score_pope`: acc, precision, recall, F1, yes-ratio      |
| `mme`      | yorn (rule mme)  | `score_mme`: acc, acc+, score per subtask, group totals  |
| `vqa`      | vqa              | `score_vqa`: VQAv2 accuracy                              |
| `bleu4`    | caption          | corpus BLEU-4 (coco-caption variant)                     |
| `cider_d`  | caption          | CIDEr-D (coco-caption variant)                           |
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mllmkit.eval.prediction import Prediction
    from mllmkit.eval.task import TaskSpec

ScoreFn = Callable[["TaskSpec", "list[Prediction]"], dict[str, Any]]


@dataclass(frozen=True)
class Scorer:
    """A named metric: which task formats it applies to and how to compute it."""

    name: str
    formats: tuple[str, ...]
    fn: ScoreFn
    headline: str
    needs_circular: bool = False
    yes_no_rule: str | None = None


SCORERS: dict[str, Scorer] = {}


def register(scorer: Scorer) -> Scorer:
    if scorer.name in SCORERS:
        raise ValueError(f"metric {scorer.name!r} is already registered")
    SCORERS[scorer.name] = scorer
    return scorer


def _split(result: dict[str, Any], drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """Scorer dict → overall numbers (scalars only) + per_category."""
    overall = {
        k: v
        for k, v in result.items()
        if k != "per_category" and k not in drop and isinstance(v, int | float)
    }
    return {"overall": overall, "per_category": result.get("per_category", {})}


def _text(p: Prediction) -> str | None:
    return p.raw if p.answered else None


def _accuracy(spec: TaskSpec, preds: list[Prediction]) -> dict[str, Any]:
    by_cat: dict[str, list[float]] = defaultdict(list)
    for p in preds:
        by_cat[p.category].append(p.score or 0.0)

    def summary(values: list[float]) -> dict[str, Any]:
        return {"accuracy": sum(values) / len(values) if values else 0.0, "n": len(values)}

    everything = [v for vs in by_cat.values() for v in vs]
    return {
        "overall": summary(everything),
        "per_category": {c: summary(by_cat[c]) for c in sorted(by_cat)},
    }


def _mcq(spec: TaskSpec, preds: list[Prediction]) -> dict[str, Any]:
    from mllmkit.eval.metrics.mcq import MCQResult, score_mcq

    records = [MCQResult(p.id, p.category, p.extracted, str(p.gold)) for p in preds]
    return _split(score_mcq(records))


def _circular(spec: TaskSpec, preds: list[Prediction]) -> dict[str, Any]:
    from mllmkit.eval.metrics.circular import CircularRecord, score_circular

    records = [
        CircularRecord(
            p.extra["question_id"],
            p.extra["rotation"],
            p.category,
            bool(p.correct),
            p.extra["n_rotations"],
        )
        for p in preds
    ]
    return _split(score_circular(records))


def _pope(spec: TaskSpec, preds: list[Prediction]) -> dict[str, Any]:
    from mllmkit.eval.metrics.pope import PopeRecord, score_pope

    records = [PopeRecord(p.id, p.category, _text(p), str(p.gold)) for p in preds]
    return _split(score_pope(records))


def _mme(spec: TaskSpec, preds: list[Prediction]) -> dict[str, Any]:
    from mllmkit.eval.metrics.mme import MMERecord, score_mme

    records = [
        MMERecord(p.extra.get("image_id", p.id), p.category, _text(p), str(p.gold)) for p in preds
    ]
    result = score_mme(records, groups=spec.subtask_groups)
    # "score" = sum of the group totals (MME's perception + cognition "total score").
    overall: dict[str, Any] = {"score": sum(result["per_group"].values())}
    overall.update({f"{g}_score": v for g, v in result["per_group"].items()})
    overall["n"] = result["n"]
    overall["unknown"] = result["unknown"]
    return {"overall": overall, "per_category": result["per_subtask"]}


def _vqa(spec: TaskSpec, preds: list[Prediction]) -> dict[str, Any]:
    from mllmkit.eval.metrics.vqa import VQARecord, score_vqa

    records = [VQARecord(p.id, p.category, _text(p), p.gold) for p in preds]
    return _split(score_vqa(records))


def _caption_inputs(preds: list[Prediction]) -> tuple[dict[str, str], dict[str, list[str]]]:
    cands = {p.id: p.raw for p in preds}
    refs = {p.id: [p.gold] if isinstance(p.gold, str) else list(p.gold) for p in preds}
    return cands, refs


def _by_category(preds: list[Prediction]) -> dict[str, list[Prediction]]:
    by_cat: dict[str, list[Prediction]] = defaultdict(list)
    for p in preds:
        by_cat[p.category].append(p)
    return {c: by_cat[c] for c in sorted(by_cat)}


def _bleu4(spec: TaskSpec, preds: list[Prediction]) -> dict[str, Any]:
    """Corpus BLEU-4 overall and over each category's sub-corpus."""
    from mllmkit.eval.metrics.caption import bleu4

    def compute(ps: list[Prediction]) -> dict[str, Any]:
        return {"bleu4": bleu4(*_caption_inputs(ps)) if ps else 0.0, "n": len(ps)}

    return {
        "overall": compute(preds),
        "per_category": {c: compute(ps) for c, ps in _by_category(preds).items()},
    }


def _cider_d(spec: TaskSpec, preds: list[Prediction]) -> dict[str, Any]:
    """CIDEr-D; per category = mean of per-image scores with the *whole* corpus's IDF."""
    from mllmkit.eval.metrics.caption import cider_d_scores

    scores = cider_d_scores(*_caption_inputs(preds)) if preds else {}

    def mean(ps: list[Prediction]) -> dict[str, Any]:
        vals = [scores[p.id] for p in ps]
        return {"cider_d": sum(vals) / len(vals) if vals else 0.0, "n": len(vals)}

    return {
        "overall": mean(preds),
        "per_category": {c: mean(ps) for c, ps in _by_category(preds).items()},
    }


register(Scorer("accuracy", ("mcq", "yorn", "vqa"), _accuracy, "accuracy"))
register(Scorer("mcq", ("mcq",), _mcq, "accuracy"))
register(Scorer("circular", ("mcq",), _circular, "circular_accuracy", needs_circular=True))
register(Scorer("pope", ("yorn",), _pope, "f1", yes_no_rule="pope"))
register(Scorer("mme", ("yorn",), _mme, "score", yes_no_rule="mme"))
register(Scorer("vqa", ("vqa",), _vqa, "accuracy"))
register(Scorer("bleu4", ("caption",), _bleu4, "bleu4"))
register(Scorer("cider_d", ("caption",), _cider_d, "cider_d"))


def run_scorers(spec: TaskSpec, preds: list[Prediction]) -> dict[str, Any]:
    """Every metric of the task; a metric that fails is reported, not raised."""
    scored = [p for p in preds if p.status != "bad_row"]
    out: dict[str, Any] = {}
    for name in spec.metrics:
        scorer = SCORERS[name]
        try:
            result = scorer.fn(spec, scored)
        except Exception as exc:  # never lose a finished run to a metric bug or odd data
            result = {"overall": {}, "per_category": {}, "error": f"{type(exc).__name__}: {exc}"}
        result["headline"] = scorer.headline
        out[name] = result
    return out
