"""Corpus BLEU as coco-caption computes it for image captioning.

Corpus-level, not a mean of sentence scores: n-gram matches and lengths are summed over
all captions first, so a few short captions cannot dominate the score.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from mllmkit.eval.metrics.caption_tokens import check_caption_inputs, tokenize_caption


def ngram_counts(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    """Counts of the n-grams of exactly length `n`."""
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _closest_length(candidate_length: int, reference_lengths: list[int]) -> int:
    # coco-caption's "closest" option: nearest reference length, ties go to the shorter one.
    return min(reference_lengths, key=lambda length: (abs(length - candidate_length), length))


def bleu_scores(
    candidates: Mapping[Any, str], references: Mapping[Any, Sequence[str]], max_n: int = 4
) -> list[float]:
    """Corpus BLEU-1 .. BLEU-`max_n`, coco-caption's variant.

    Captions are tokenised with `tokenize_caption`. Per caption: clipped n-gram matches
    (each candidate n-gram counts at most as often as in the reference where it is most
    frequent), the candidate's number of n-grams, its length, and the reference length
    closest to it (ties → the shorter reference). Summed over the corpus:
    p_n = matches_n / ngrams_n, BP = exp(1 − ref_len / cand_len) if cand_len < ref_len
    else 1, BLEU-n = BP · (p_1 ⋯ p_n)^(1/n).

    Difference from coco-caption: it adds 1e-15 / 1e-9 to every count to avoid log(0), so
    its scores sit ~1e-9 below ours when all counts are positive, and where a precision is
    0 (or there are no n-grams at all) it reports a tiny positive number (≈ 5.6e-4 for
    BLEU-4) where we report 0.0. Empty corpus → all 0.0.
    """
    ids = check_caption_inputs(candidates, references)
    if max_n < 1:
        raise ValueError(f"max_n must be >= 1, got {max_n}")
    matches = [0] * max_n
    totals = [0] * max_n
    cand_len = ref_len = 0
    for key in ids:
        cand = tokenize_caption(candidates[key])
        refs = [tokenize_caption(r) for r in references[key]]
        cand_len += len(cand)
        ref_len += _closest_length(len(cand), [len(r) for r in refs])
        for n in range(1, max_n + 1):
            counts = ngram_counts(cand, n)
            max_ref: Counter[tuple[str, ...]] = Counter()
            for ref in refs:
                max_ref |= ngram_counts(ref, n)  # element-wise max
            matches[n - 1] += sum(min(c, max_ref[g]) for g, c in counts.items())
            totals[n - 1] += max(len(cand) - n + 1, 0)
    if cand_len == 0:
        return [0.0] * max_n
    brevity = 1.0 if cand_len >= ref_len else math.exp(1.0 - ref_len / cand_len)
    scores: list[float] = []
    log_sum = 0.0
    for n in range(1, max_n + 1):
        if matches[n - 1] == 0 or totals[n - 1] == 0:
            scores.extend([0.0] * (max_n - n + 1))
            break
        log_sum += math.log(matches[n - 1] / totals[n - 1])
        scores.append(brevity * math.exp(log_sum / n))
    return scores


def bleu4(candidates: Mapping[Any, str], references: Mapping[Any, Sequence[str]]) -> float:
    """Corpus BLEU-4 (coco-caption variant, see `bleu_scores`)."""
    return bleu_scores(candidates, references, max_n=4)[3]
