"""Judge benchmark: a trained judge against a trivial baseline, on held-out judge data.

Both judges answer the world's held-out judge benchmark (``test/judge_score.jsonl``,
``judge_pair.jsonl``, ``judge_batch.jsonl``, written by ``mllm world judge-data``) in
one run, through the same runner, prompts and parser:

- score: Pearson r with the rubric scores, per ability, averaged; for a judge with a
  `loglikelihood` (native) also with expected scores (`judge.expected`: the five
  verdicts weighted by the judge's probabilities), as ``pearson_expected``;
- pair: accuracy with ties, accuracy without ties; the pairs are asked a second time with
  the answers swapped (position probe) for position consistency;
- batch: normalised Levenshtein distance between orderings (lower is better).

With ``--pointwise`` the trained judge reaches its pair and batch verdicts from one score
per answer (`mllmkit.judge.pointwise`; the baseline is still asked for them directly);
with ``--answer-first`` its scores are asked with its own answer written first (a judge
tuned with ``mllm world judge-data --answer-first-scores``). Expected scores need the
plain score template, so they are skipped with ``--answer-first``.

    python benchmarks/judge.py --judge-model runs/judge/model --data runs/demo/world

Answers are cached under ``--out`` (one folder per judge and mode), so an interrupted
run resumes. Writes ``benchmarks/results/judge.json`` and ``judge.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result
from mllmkit.backends.base import supports_loglikelihood
from mllmkit.judge.runner import open_judge, run_judge

KEYS = (
    "pearson",
    "pearson_expected",
    "pair_acc",
    "pair_acc_no_ties",
    "levenshtein_norm",
    "position_consistency",
)
AIMS = {
    "pearson": ">= 0.8",
    "pearson_expected": ">= 0.8",
    "pair_acc": ">= 0.90",
    "pair_acc_no_ties": "-",
    "levenshtein_norm": "<= 0.15",
    "position_consistency": ">= 0.95",
}


def evaluate_judge(
    judge: str,
    world: Path,
    out: Path,
    limit: int | None,
    batch_size: int,
    constrain: bool,
    pointwise: bool = False,
    answer_first: bool = False,
) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    """The five figures for one judge, the item/unparsed counts behind them, and the
    decoding constraint its batch rankings ran under."""
    test = world / "test"
    model = open_judge(judge)  # loaded once for the three modes
    kwargs = {"batch_size": batch_size, "limit": limit, "progress": None, "constrain": constrain}
    score = run_judge(
        model,
        test / "judge_score.jsonl",
        "score",
        out / "score",
        answer_first=answer_first,
        **kwargs,
    )
    expected = None
    if supports_loglikelihood(model) and not answer_first:
        expected = run_judge(
            model,
            test / "judge_score.jsonl",
            "score",
            out / "score_expected",
            score_by="expected",
            **kwargs,
        )
    ways = {"pointwise": pointwise, "answer_first": answer_first, **kwargs}
    suffix = "_pointwise" if pointwise else ""
    pair = run_judge(
        model, test / "judge_pair.jsonl", "pair", out / f"pair{suffix}", probes="position", **ways
    )
    batch = run_judge(model, test / "judge_batch.jsonl", "batch", out / f"batch{suffix}", **ways)
    figures = {
        "pearson": score["agreement"]["average"],
        "pearson_expected": None if expected is None else expected["agreement"]["average"],
        "pair_acc": pair["agreement"]["accuracy"] if pair["agreement"]["n"] else None,
        "pair_acc_no_ties": (
            pair["agreement"]["accuracy_no_ties"] if pair["agreement"]["n_no_ties"] else None
        ),
        "levenshtein_norm": batch["agreement"]["levenshtein_norm"],
        "position_consistency": pair["probes"]["position"]["consistency"],
    }
    counts = {mode: m["counts"] for mode, m in (("score", score), ("pair", pair), ("batch", batch))}
    # accuracy per pair of answer kinds (items without kinds: none), as `mllm judge` reports it
    figures["pair_by_kinds"] = pair["agreement"].get("by_kinds", {})
    return figures, counts, batch["gen"].get("constraint")


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description="Trained judge vs baseline on world judge data.")
    parser.add_argument("--judge-model", required=True, help="the trained judge (a folder)")
    parser.add_argument("--data", required=True, type=Path, help="world folder with judge data")
    parser.add_argument("--baseline", default="baseline:longer", help="baseline judge spec")
    parser.add_argument("--out", type=Path, default=Path("runs/judge_bench"), help="cache folder")
    parser.add_argument("--limit", type=int, default=None, help="first N items of each file")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--no-constrain",
        action="store_true",
        help="decode batch rankings without the distinct-letters constraint",
    )
    parser.add_argument(
        "--pointwise",
        action="store_true",
        help="the trained judge's pair and batch verdicts from one score per answer",
    )
    parser.add_argument(
        "--answer-first",
        action="store_true",
        help="ask the trained judge's scores with its own answer first",
    )
    args = parser.parse_args()
    for mode in ("score", "pair", "batch"):
        path = args.data / "test" / f"judge_{mode}.jsonl"
        if not path.is_file():
            parser.error(f"{path} not found; run `mllm world judge-data --data {args.data}`")

    trained, trained_counts, constraint = evaluate_judge(
        args.judge_model,
        args.data,
        args.out / "trained",
        args.limit,
        args.batch_size,
        not args.no_constrain,
        args.pointwise,
        args.answer_first,
    )
    baseline, baseline_counts, _ = evaluate_judge(
        args.baseline,
        args.data,
        args.out / "baseline",
        args.limit,
        args.batch_size,
        not args.no_constrain,
    )
    rows = [f"| {k} | {_fmt(trained[k])} | {_fmt(baseline[k])} | {AIMS[k]} |" for k in KEYS]
    by_kinds = [
        f"| {k.replace('|', ' vs ')} | {v['n']} | {_fmt(v['accuracy'])} | "
        f"{_fmt(baseline['pair_by_kinds'].get(k, {}).get('accuracy'))} |"
        for k, v in trained["pair_by_kinds"].items()
    ]
    n = {mode: c["items"] for mode, c in trained_counts.items()}
    unparsed = {mode: c["unparsed"] for mode, c in trained_counts.items()}
    table = "\n".join(
        [
            "# Judge agreement on the held-out world judge benchmark",
            "",
            f"Trained judge: `{args.judge_model}`; baseline: `{args.baseline}`; "
            f"items per mode: {n}; unparsed verdicts of the trained judge: {unparsed}; "
            f"batch rankings decoded under constraint: `{constraint}`.",
            "",
            (
                "The trained judge's pair and batch verdicts are made pointwise (one score "
                "per answer, the higher score wins, equal scores tie), so they cannot "
                "depend on the order shown: position consistency is 1 by construction."
                if args.pointwise
                else "All verdicts are asked directly (one prompt per item)."
            )
            + (" Scores are asked with the judge's own answer first." if args.answer_first else ""),
            "",
            "| measure | trained | baseline | aim |",
            "|---|---|---|---|",
            *rows,
            "",
            "Levenshtein distance: lower is better. Position consistency: the pairs asked "
            "again with A and B swapped.",
            "",
            "Pair accuracy by the kinds of the two answers (answered verdicts only):",
            "",
            "| kinds | pairs | trained | baseline |",
            "|---|---|---|---|",
            *by_kinds,
        ]
    )
    path = write_result(
        "judge",
        {
            "trained": trained,
            "baseline": baseline,
            "counts": {"trained": trained_counts, "baseline": baseline_counts},
            "judge_model": args.judge_model,
            "batch_constraint": constraint,
            "baseline_spec": args.baseline,
            "pointwise": args.pointwise,
            "answer_first": args.answer_first,
        },
        table,
    )
    print(table)
    print(f"written {path}")


if __name__ == "__main__":
    main()
