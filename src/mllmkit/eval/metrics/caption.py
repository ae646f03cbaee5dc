"""Caption metrics: corpus BLEU-4 and CIDEr-D (coco-caption variants) on shared tokens.

The implementations live in `bleu.py` and `cider.py`; both tokenise with
`tokenize_caption` (lower-cased, PTB-style, punctuation removed — see its docstring), so
the two scores always see the same words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mllmkit.eval.metrics.bleu import bleu4, bleu_scores
from mllmkit.eval.metrics.caption_tokens import tokenize_caption
from mllmkit.eval.metrics.cider import cider_d, cider_d_scores
from mllmkit.eval.metrics.records import check_unique, coerce_records

__all__ = [
    "CaptionRecord",
    "bleu4",
    "bleu_scores",
    "cider_d",
    "cider_d_scores",
    "score_captions",
    "tokenize_caption",
]


@dataclass(frozen=True)
class CaptionRecord:
    """One generated caption with its reference captions (None prediction = empty caption)."""

    sample_id: Any
    prediction: str | None
    references: Sequence[str]


def score_captions(records: Iterable[CaptionRecord | tuple]) -> dict[str, Any]:
    """BLEU-1..4 and CIDEr-D over a list of records, for runners that work row by row.

    Returns ``{"bleu1", "bleu2", "bleu3", "bleu4", "cider_d", "n"}``. A None prediction
    (backend error) is scored as an empty caption. Duplicate ids raise.
    """
    rows = coerce_records(records, CaptionRecord)
    check_unique((r.sample_id for r in rows), "sample_id")
    candidates: Mapping[Any, str] = {
        r.sample_id: "" if r.prediction is None else r.prediction for r in rows
    }
    references = {r.sample_id: r.references for r in rows}
    bleu = bleu_scores(candidates, references, max_n=4)
    result: dict[str, Any] = {f"bleu{n}": bleu[n - 1] for n in range(1, 5)}
    result["cider_d"] = cider_d(candidates, references)
    result["n"] = len(rows)
    return result
