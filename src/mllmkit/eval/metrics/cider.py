"""CIDEr-D, the COCO captioning consensus metric, as coco-caption's `CiderD`.

TF-IDF weights make n-grams that every image's references share ("a", "of a") worth
nothing and image-specific ones worth much; the "-D" parts (clipping and a length penalty)
stop a caption from scoring by repeating rare words or by being long.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from mllmkit.eval.metrics.bleu import ngram_counts
from mllmkit.eval.metrics.caption_tokens import check_caption_inputs, tokenize_caption

Vector = list[dict[tuple[str, ...], float]]


class _Weights:
    """Document frequencies over the reference corpus (one document = one image's refs)."""

    def __init__(self, reference_tokens: list[list[list[str]]], max_n: int) -> None:
        self.max_n = max_n
        self.log_n_images = math.log(float(len(reference_tokens)))
        self.df: Counter[tuple[str, ...]] = Counter()
        for refs in reference_tokens:
            grams = {g for ref in refs for n in range(1, max_n + 1) for g in ngram_counts(ref, n)}
            self.df.update(grams)

    def vector(self, tokens: list[str]) -> tuple[Vector, list[float]]:
        """TF-IDF vector per n (tf × (log N − log max(1, df))) and its L2 norm per n."""
        vec: Vector = [{} for _ in range(self.max_n)]
        norm = [0.0] * self.max_n
        for n in range(1, self.max_n + 1):
            for gram, tf in ngram_counts(tokens, n).items():
                weight = tf * (self.log_n_images - math.log(max(1.0, self.df[gram])))
                vec[n - 1][gram] = weight
                norm[n - 1] += weight * weight
        return vec, [math.sqrt(x) for x in norm]


def _similarity(
    hyp: tuple[Vector, list[float], int], ref: tuple[Vector, list[float], int], sigma: float
) -> list[float]:
    (h_vec, h_norm, h_len), (r_vec, r_norm, r_len) = hyp, ref
    penalty = math.exp(-((h_len - r_len) ** 2) / (2.0 * sigma**2))
    values: list[float] = []
    for n in range(len(h_vec)):
        ref_n = r_vec[n]
        value = sum(min(w, ref_n.get(g, 0.0)) * ref_n.get(g, 0.0) for g, w in h_vec[n].items())
        if h_norm[n] != 0.0 and r_norm[n] != 0.0:
            value /= h_norm[n] * r_norm[n]
        values.append(value * penalty)
    return values


def cider_d_scores(
    candidates: Mapping[Any, str],
    references: Mapping[Any, Sequence[str]],
    sigma: float = 6.0,
    max_n: int = 4,
) -> dict[Any, float]:
    """CIDEr-D of each caption (coco-caption's `CiderD`), keyed by id.

    With captions tokenised by `tokenize_caption` and N = number of images:

    - weight of an n-gram in a caption = its count × (log N − log max(1, df)), df = the
      number of images whose references contain it (the IDF comes from the references only);
    - for each n = 1..4 and each reference: clipped cosine
      Σ_g min(h_g, r_g) · r_g / (‖h‖ ‖r‖) (no division when a norm is 0), times the length
      penalty exp(−(len_h − len_r)² / (2σ²)), σ = 6;
    - score = 10 × mean over references of the mean over n.

    Lengths are word counts; coco-caption counts bigrams (words − 1), which gives the same
    difference whenever both captions are non-empty, and an empty caption scores 0 either
    way. With a single image every weight is log 1 − log 1 = 0, so every score is 0 —
    CIDEr-D needs a corpus.
    """
    ids = check_caption_inputs(candidates, references)
    if not ids:
        return {}
    ref_tokens = [[tokenize_caption(r) for r in references[key]] for key in ids]
    weights = _Weights(ref_tokens, max_n)
    scores: dict[Any, float] = {}
    for key, refs in zip(ids, ref_tokens, strict=True):
        cand = tokenize_caption(candidates[key])
        hyp = (*weights.vector(cand), len(cand))
        total = [0.0] * max_n
        for ref in refs:
            sims = _similarity(hyp, (*weights.vector(ref), len(ref)), sigma)
            total = [a + b for a, b in zip(total, sims, strict=True)]
        scores[key] = 10.0 * (sum(total) / max_n) / len(refs)
    return scores


def cider_d(
    candidates: Mapping[Any, str],
    references: Mapping[Any, Sequence[str]],
    sigma: float = 6.0,
    max_n: int = 4,
) -> float:
    """Corpus CIDEr-D: the mean of `cider_d_scores` over the images (0.0 when empty)."""
    scores = cider_d_scores(candidates, references, sigma=sigma, max_n=max_n)
    return sum(scores.values()) / len(scores) if scores else 0.0
