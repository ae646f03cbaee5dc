"""Caption tokenisation, corpus BLEU and CIDEr-D, golden values computed by hand."""

from __future__ import annotations

import math

import pytest

from mllmkit.eval.metrics.caption import (
    CaptionRecord,
    bleu4,
    bleu_scores,
    cider_d,
    cider_d_scores,
    score_captions,
    tokenize_caption,
)

# --- tokenisation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("A red cube.", ["a", "red", "cube"]),
        ("Two cats, sitting; on: a mat!", ["two", "cats", "sitting", "on", "a", "mat"]),
        ("The man's T-shirt", ["the", "man", "'s", "t-shirt"]),
        ("It don't fit", ["it", "do", "n't", "fit"]),
        ("they’re here", ["they", "'re", "here"]),  # curly apostrophe
        ("costs $3.50 (about 1,000 yen)", ["costs", "$", "3.50", "about", "1,000", "yen"]),
        ('"quoted" -- text...', ["quoted", "text"]),
        ("", []),
    ],
)
def test_tokenize(text: str, tokens: list[str]) -> None:
    assert tokenize_caption(text) == tokens


# --- BLEU ---------------------------------------------------------------------------------


def test_identical_is_one() -> None:
    cands = {1: "a red cube on the left", 2: "two blue spheres next to a cone"}
    refs = {1: ["a red cube on the left", "something else"], 2: [cands[2]]}
    assert bleu4(cands, refs) == pytest.approx(1.0)
    # punctuation and case do not matter after tokenisation
    assert bleu4({1: "A red cube, on the LEFT."}, {1: ["a red cube on the left"]}) == 1.0


def test_bleu_golden_one_sentence() -> None:
    # cand: the cat sat on the mat   ref: the cat sat on a mat   (both 6 tokens: BP = 1)
    # 1-grams: the(2, clipped to 1) cat sat on mat -> 5/6
    # 2-grams: the cat, cat sat, sat on match; on the, the mat do not -> 3/5
    # 3-grams: the cat sat, cat sat on -> 2/4
    # 4-grams: the cat sat on -> 1/3
    scores = bleu_scores({0: "the cat sat on the mat"}, {0: ["the cat sat on a mat"]})
    assert scores[0] == pytest.approx(5 / 6)
    assert scores[1] == pytest.approx((5 / 6 * 3 / 5) ** (1 / 2))
    assert scores[3] == pytest.approx((5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** (1 / 4))  # (1/12)^(1/4)


def test_bleu_is_corpus_level_not_a_mean() -> None:
    cands = {0: "the cat sat on the mat", 1: "the cat sat on the mat"}
    refs = {0: ["the cat sat on a mat"], 1: ["the cat sat on the mat"]}
    # summed: p1 = (5+6)/12, p2 = (3+5)/10, p3 = (2+4)/8, p4 = (1+3)/6
    expected = (11 / 12 * 8 / 10 * 6 / 8 * 4 / 6) ** (1 / 4)  # 0.7782
    assert bleu4(cands, refs) == pytest.approx(expected)
    mean_of_sentences = ((1 / 12) ** 0.25 + 1.0) / 2  # 0.7686: what we must NOT compute
    assert abs(bleu4(cands, refs) - mean_of_sentences) > 1e-3


def test_bleu_brevity_penalty_closest_reference() -> None:
    cand = {0: "the cat sat on the mat"}  # 6 tokens, all n-grams match the references
    # references of 8 and 7 tokens: closest is 7 -> BP = exp(1 - 7/6)
    refs = {0: ["the cat sat on the mat today ok", "the cat sat on the mat now"]}
    assert bleu4(cand, refs) == pytest.approx(math.exp(1 - 7 / 6))
    # tie between 5 and 7 tokens (both 1 away): the shorter wins -> ref_len 5 < 6 -> BP = 1
    refs_tie = {0: ["the cat sat on the mat now", "the cat sat on it"]}
    # p1 = 6/6; 2-grams 5/5; 3-grams 4/4; 4-grams 3/3 (all in the 7-token reference)
    assert bleu4(cand, refs_tie) == pytest.approx(1.0)


def test_bleu_zero_cases() -> None:
    # no 4-gram matches -> 0.0 (coco-caption reports ~1e-4 from its smoothing epsilons)
    assert bleu4({0: "the cat sat on the mat"}, {0: ["the cat is on the mat"]}) == 0.0
    # shorter than 4 tokens: no 4-grams at all
    assert bleu4({0: "a cat"}, {0: ["a cat"]}) == 0.0
    assert bleu_scores({0: "a cat"}, {0: ["a cat"]})[:2] == [1.0, 1.0]
    assert bleu4({}, {}) == 0.0
    assert bleu4({0: ""}, {0: ["a cat"]}) == 0.0


def test_caption_input_errors() -> None:
    with pytest.raises(ValueError, match="same ids"):
        bleu4({0: "a"}, {1: ["a"]})
    with pytest.raises(ValueError, match="references 0"):
        cider_d({0: "a"}, {0: []})
    with pytest.raises(ValueError, match="references 0"):
        cider_d({0: "a"}, {0: "a"})  # a bare string is not a list of references


# --- CIDEr-D ------------------------------------------------------------------------------

LN2 = math.log(2)


def test_cider_d_identical_small_corpus() -> None:
    # N = 2 images, log N = ln 2. df: "a" in both (weight ln2 - ln2 = 0), every other
    # n-gram in one image (weight ln2).
    # image 1, "a cat" vs "a cat": n=1: vec {a: 0, cat: L}, |v| = L, cosine = L*L/(L*L) = 1
    #   n=2: {a cat: L} -> 1; n=3, n=4: empty -> 0.  mean over n = 2/4; x10 = 5.0
    cands = {1: "a cat", 2: "a dog"}
    refs = {1: ["a cat"], 2: ["a dog"]}
    assert cider_d_scores(cands, refs) == {1: pytest.approx(5.0), 2: pytest.approx(5.0)}
    assert cider_d(cands, refs) == pytest.approx(5.0)


def test_cider_d_clipping_and_length_penalty() -> None:
    # image 1: candidate "cat cat cat" vs reference "a cat"
    # n=1: hyp {cat: 3L} (|h| = 3L), ref {a: 0, cat: L} (|r| = L)
    #      clipped: min(3L, L) * L / (3L * L) = 1/3   (without clipping it would be 1)
    # n=2: hyp {cat cat: 2L}, ref {a cat: L}: no shared bigram -> 0
    # n=3: hyp {cat cat cat: L}, ref has no trigram (norm 0) -> 0
    # length penalty: exp(-(3 - 2)^2 / (2 * 6^2)) = exp(-1/72)
    # score = 10 * (1/3) / 4 * exp(-1/72) = (10/12) * exp(-1/72) = 0.82184
    cands = {1: "cat cat cat", 2: "a dog"}
    refs = {1: ["a cat"], 2: ["a dog"]}
    scores = cider_d_scores(cands, refs)
    assert scores[1] == pytest.approx(10 / 12 * math.exp(-1 / 72))
    assert scores[2] == pytest.approx(5.0)
    assert cider_d(cands, refs) == pytest.approx((10 / 12 * math.exp(-1 / 72) + 5.0) / 2)


def test_cider_d_averages_over_references() -> None:
    # image 1 refs "a cat", "the cat"; image 2 ref "a dog"; N = 2 -> weights as above,
    # plus "the", "the cat": L.
    # vs "a cat": 2/4 (as in the identical case)
    # vs "the cat": n=1: shared "cat": L*L / (L * |{the: L, cat: L}| = L*sqrt2) = 1/sqrt2;
    #               n=2: "a cat" vs "the cat" -> 0.  -> (1/sqrt2)/4
    # image 1 = 10 * (2/4 + (1/sqrt2)/4) / 2 = 1.25 * (2 + 1/sqrt2) = 3.38388
    cands = {1: "a cat", 2: "a dog"}
    refs = {1: ["a cat", "the cat"], 2: ["a dog"]}
    expected_1 = 1.25 * (2 + 1 / math.sqrt(2))
    assert cider_d_scores(cands, refs)[1] == pytest.approx(expected_1)
    assert cider_d(cands, refs) == pytest.approx((expected_1 + 5.0) / 2)


def test_cider_d_idf_ignores_ngrams_common_to_all_images() -> None:
    # "a" appears in every image's references: weight 0, so matching only "a" scores 0.
    cands = {1: "a", 2: "a dog"}
    refs = {1: ["a cat"], 2: ["a dog"]}
    assert cider_d_scores(cands, refs)[1] == 0.0


def test_cider_d_single_image_and_empty() -> None:
    # one image: log N = 0, every weight is 0
    assert cider_d({1: "a cat"}, {1: ["a cat"]}) == 0.0
    assert cider_d({}, {}) == 0.0
    assert cider_d({1: "", 2: "a dog"}, {1: ["a cat"], 2: ["a dog"]}) == pytest.approx(2.5)


def test_score_captions_records() -> None:
    records = [
        CaptionRecord("1", "a cat", ["a cat"]),
        ("2", "a dog", ["a dog"]),
        CaptionRecord("3", None, ["a cow"]),  # error -> empty caption
    ]
    result = score_captions(records)
    # CIDEr-D: N = 3, weights ln3 - ln(df); "a": df 3 -> 0. images 1, 2 score 5.0, image 3 0
    assert result["cider_d"] == pytest.approx(10 / 3)
    # BLEU-1: cand tokens a cat a dog = 4, all match; closest ref lengths 2 + 2 + (empty
    # candidate, 0 tokens -> closest ref 2) = 6 -> BP = exp(1 - 6/4)
    assert result["bleu1"] == pytest.approx(math.exp(1 - 6 / 4))
    assert result["bleu4"] == 0.0
    assert result["n"] == 3
