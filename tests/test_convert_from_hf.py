"""Import parity: an HF LLaVA folder converted by us computes what transformers computes.

Each shape is a random tiny `LlavaForConditionalGeneration` saved with `save_pretrained`
(and a `LlavaProcessor`), imported with `load_hf_llava`, then run side by side on a
left-padded batch whose second row holds two images.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

transformers = pytest.importorskip("transformers")

from convert_fixtures import images, make_hf_llava  # noqa: E402
from mllmkit.convert.from_hf import load_hf_llava  # noqa: E402
from mllmkit.data.conversation import Turn  # noqa: E402
from mllmkit.infer.generate import generate  # noqa: E402

QUESTIONS = ["what colour is the circle?", "how many squares are there?"]
N_IMAGES = [1, 2]


def _left_pad(rows: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r) :] = torch.tensor(r)
        mask[i, width - len(r) :] = 1
    return ids, mask


def _ours_inputs(processor, pics):  # type: ignore[no-untyped-def]
    rows, flat, k = [], [], 0
    for question, n in zip(QUESTIONS, N_IMAGES, strict=True):
        turns = [Turn("user", "<image>\n" * n + question)]
        rows.append(processor.encode_prompt(turns, n_images=n))
        flat += pics[k : k + n]
        k += n
    ids, mask = _left_pad(rows, processor.pad_token_id)
    return ids, mask, processor.preprocess_images(flat)


def _hf_inputs(hf_dir: Path, pics):  # type: ignore[no-untyped-def]
    proc = transformers.AutoProcessor.from_pretrained(str(hf_dir), local_files_only=True)
    proc.tokenizer.padding_side = "left"
    texts = []
    for question, n in zip(QUESTIONS, N_IMAGES, strict=True):
        content = [{"type": "image"}] * n + [{"type": "text", "text": question}]
        messages = [{"role": "user", "content": content}]
        texts.append(proc.apply_chat_template(messages, add_generation_prompt=True, tokenize=False))
    return proc(text=texts, images=pics, padding=True, return_tensors="pt")


CASES = [
    pytest.param("llama", -2, "default", False, None, id="llama-gqa-penultimate-untied"),
    pytest.param("qwen2", -1, "full", True, None, id="qwen2-bias-last-cls-tied"),
    pytest.param("llama", 1, "default", True, None, id="llama-layer1-tied"),
    pytest.param("qwen2", -2, "default", False, "foreign", id="qwen2-foreign-jinja"),
]


@pytest.mark.parametrize("text, layer, strategy, tie, template", CASES)
def test_import_matches_transformers(
    tmp_path: Path, text: str, layer: int, strategy: str, tie: bool, template: str | None
) -> None:
    from convert_fixtures import FOREIGN_TEMPLATE

    jinja = FOREIGN_TEMPLATE if template == "foreign" else None
    hf_dir = make_hf_llava(tmp_path / "hf", text, layer, strategy, tie, chat_template=jinja)
    hf = transformers.AutoModelForImageTextToText.from_pretrained(
        str(hf_dir), local_files_only=True
    ).eval()
    ours, processor = load_hf_llava(hf_dir)
    pics = images(sum(N_IMAGES))

    ids, mask, pixels = _ours_inputs(processor, pics)
    ref = _hf_inputs(hf_dir, pics)
    # the same prompt ids (chat template + <image> expansion) and the same pixels
    assert torch.equal(ids[mask.bool()], ref["input_ids"][ref["attention_mask"].bool()])
    assert torch.equal(mask, ref["attention_mask"])
    torch.testing.assert_close(pixels, ref["pixel_values"], atol=1e-5, rtol=0)

    pos = (mask.cumsum(1) - 1).clamp(min=0)
    with torch.no_grad():
        want = hf(
            input_ids=ref["input_ids"],
            pixel_values=ref["pixel_values"],
            attention_mask=mask,
            position_ids=pos,
        ).logits
        got = ours(ids, pixels, mask).logits
    real = mask.bool()
    torch.testing.assert_close(got[real], want[real], atol=1e-4, rtol=1e-4)

    eos = ours.config.eos_token_id
    mine = generate(ours, ids, mask, pixels, max_new_tokens=6, eos_token_ids=[eos])
    with torch.no_grad():
        out = hf.generate(
            **ref, do_sample=False, max_new_tokens=6, eos_token_id=eos, pad_token_id=eos
        )
    theirs = []
    for row in out[:, ids.shape[1] :].tolist():
        theirs.append(row[: row.index(eos)] if eos in row else row)
    assert any(mine), "greedy decoding stopped at once; the comparison would be empty"
    assert mine == theirs
