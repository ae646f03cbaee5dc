"""Run a native checkpoint and its Hugging Face export side by side and compare answers.

`compare_with_transformers` exports the checkpoint to a temporary folder, loads it back with
`AutoModelForImageTextToText` + `AutoProcessor` (the HF side renders the prompt with the
exported Jinja template and expands `<image>` itself), and greedily decodes every question
on both sides. It reports, per question, both answers, whether the token ids agree, and the
largest difference of the first-step logits; the summary is the agreement rate.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from mllmkit.convert.to_hf import export_to_hf
from mllmkit.data.conversation import IMAGE_TOKEN, Turn
from mllmkit.data.images import load_image
from mllmkit.data.processor import Processor
from mllmkit.infer.generate import generate
from mllmkit.models.io import load_model

ImageInput = Image.Image | str | Path


@dataclass
class ItemComparison:
    question: str
    ours: str
    theirs: str
    ours_ids: list[int]
    theirs_ids: list[int]
    max_abs_logit_diff: float

    @property
    def agree(self) -> bool:
        return self.ours_ids == self.theirs_ids


@dataclass
class VerifyReport:
    items: list[ItemComparison] = field(default_factory=list)

    @property
    def n_agree(self) -> int:
        return sum(item.agree for item in self.items)

    @property
    def agreement(self) -> float:
        return self.n_agree / len(self.items) if self.items else 1.0

    @property
    def max_abs_logit_diff(self) -> float:
        return max((item.max_abs_logit_diff for item in self.items), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": len(self.items),
            "n_agree": self.n_agree,
            "agreement": self.agreement,
            "max_abs_logit_diff": self.max_abs_logit_diff,
            "items": [asdict(item) | {"agree": item.agree} for item in self.items],
        }

    def summary(self) -> str:
        return (
            f"{self.n_agree}/{len(self.items)} answers identical "
            f"(max first-step logit difference {self.max_abs_logit_diff:.2e})"
        )


def _images(value: ImageInput | Sequence[ImageInput] | None) -> list[Image.Image]:
    if value is None:
        return []
    items = [value] if isinstance(value, Image.Image | str | Path) else list(value)
    return [v if isinstance(v, Image.Image) else load_image(v) for v in items]


def _trim(ids: list[int], eos: int) -> list[int]:
    return ids[: ids.index(eos)] if eos in ids else ids


@torch.inference_mode()
def compare_with_transformers(
    native_dir: str | Path,
    questions: Sequence[str],
    images: Sequence[ImageInput | Sequence[ImageInput] | None],
    *,
    max_new_tokens: int = 32,
    hf_dir: str | Path | None = None,
) -> VerifyReport:
    """Answer each question (with its image or list of images) natively and via transformers.

    `hf_dir` keeps the export there; by default it goes to a temporary folder.
    """
    import transformers

    if len(questions) != len(images):
        raise ValueError(f"{len(questions)} questions but {len(images)} image entries")
    model = load_model(native_dir).eval()
    processor = Processor.from_pretrained(native_dir)
    eos, pad = model.config.eos_token_id, model.config.pad_token_id
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(hf_dir) if hf_dir is not None else Path(tmp) / "hf"
        export_to_hf(model, processor, out)
        hf = transformers.AutoModelForImageTextToText.from_pretrained(
            str(out), local_files_only=True
        ).eval()
        hf_proc = transformers.AutoProcessor.from_pretrained(str(out), local_files_only=True)
        report = VerifyReport()
        for question, entry in zip(questions, images, strict=True):
            pics = _images(entry)
            ids = processor.encode_prompt(
                [Turn("user", (IMAGE_TOKEN + "\n") * len(pics) + question)], n_images=len(pics)
            )
            input_ids = torch.tensor([ids])
            pixels = processor.preprocess_images(pics) if pics else None
            ours_logits = model(input_ids, pixels, num_logits_to_keep=1).logits[0, -1]
            mine = generate(model, input_ids, None, pixels, max_new_tokens=max_new_tokens)[0]

            content = [{"type": "image"}] * len(pics) + [{"type": "text", "text": question}]
            text = hf_proc.apply_chat_template(
                [{"role": "user", "content": content}], add_generation_prompt=True, tokenize=False
            )
            inputs = hf_proc(text=[text], images=pics or None, return_tensors="pt")
            their_logits = hf(**inputs).logits[0, -1]
            seq = hf.generate(
                **inputs,
                do_sample=False,
                max_new_tokens=max_new_tokens,
                eos_token_id=eos,
                pad_token_id=pad,
            )
            theirs = _trim(seq[0, inputs["input_ids"].shape[1] :].tolist(), eos)
            report.items.append(
                ItemComparison(
                    question=question,
                    ours=processor.tokenizer.decode(mine, skip_special_tokens=True),
                    theirs=hf_proc.tokenizer.decode(theirs, skip_special_tokens=True),
                    ours_ids=mine,
                    theirs_ids=theirs,
                    max_abs_logit_diff=float((ours_logits - their_logits).abs().max()),
                )
            )
    return report
