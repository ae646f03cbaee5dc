"""A world-trained model, exported to Hugging Face, answers like itself under transformers.

The model must use CLIP's `patch` stem (what HF LLaVA can express); the demo model's `conv`
stem is refused by the export. Any patch-stem checkpoint trained on the world works (e.g.
`mllm train` with the demo config's `stem: conv` changed to `stem: patch`).

Exports a native checkpoint with `mllm convert --to-hf`'s code path, loads the export with
`transformers.AutoModelForImageTextToText` / `AutoProcessor` (offline, no custom code), and
answers held-out world questions (short-answer format, every ability, multi-image included)
greedily on both sides. Reports how many answers are token-for-token identical and the
largest first-step logit difference.

    python benchmarks/export_parity.py --model PATCH_STEM_MODEL --data WORLD

Writes `benchmarks/results/export_parity.{json,md}`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result
from mllmkit.convert.verify import compare_with_transformers


def held_out_questions(data: Path, n: int) -> tuple[list[str], list[list[Path]]]:
    """The first `n` short-answer test questions, spread over abilities in file order."""
    questions: list[str] = []
    images: list[list[Path]] = []
    test = data / "test"
    for line in (test / "questions.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["format"] != "short":
            continue
        questions.append(row["question"])
        images.append([test / p for p in row["images"]])
        if len(questions) == n:
            break
    return questions, images


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", type=Path, required=True, help="native checkpoint folder")
    ap.add_argument("--data", type=Path, required=True, help="world folder (uses test/)")
    ap.add_argument("--n", type=int, default=200, help="questions to compare")
    ap.add_argument("--max-new-tokens", type=int, default=12)
    args = ap.parse_args()
    questions, images = held_out_questions(args.data, args.n)
    report = compare_with_transformers(
        args.model, questions, images, max_new_tokens=args.max_new_tokens
    )
    figures = {
        "questions": len(report.items),
        "identical_answers": report.n_agree,
        "agreement": report.agreement,
        "max_abs_logit_diff": report.max_abs_logit_diff,
    }
    table = "\n".join([
        "# Exported world-trained model: mllmkit vs transformers on held-out world questions",
        "",
        "| questions | identical answers | agreement | max first-step logit diff |",
        "|---:|---:|---:|---:|",
        f"| {figures['questions']} | {figures['identical_answers']} | "
        f"{100 * figures['agreement']:.1f}% | {figures['max_abs_logit_diff']:.2e} |",
    ])
    write_result("export_parity", figures, table)
    print(table)


if __name__ == "__main__":
    main()
