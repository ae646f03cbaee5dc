"""The processor: assistant-only labels, image expansion, the mismatch trap, truncation,
pixel parity with transformers, and save/load."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tokenizers import Tokenizer, normalizers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from mllmkit.data.conversation import Conversation, Turn
from mllmkit.data.encoded import IGNORE_INDEX
from mllmkit.data.errors import DataError, SampleTooLongError, TokenizationMismatchError
from mllmkit.data.image_transform import CLIP_MEAN, CLIP_STD
from mllmkit.data.processor import PROCESSOR_CONFIG, Processor
from mllmkit.data.template import TEMPLATES, ChatTemplate
from mllmkit.data.tokenizer import SPECIAL_TOKENS, train_tokenizer

TEXTS = [
    f"USER: Is the {shape} {colour}? ASSISTANT: {answer}"
    for shape in ("circle", "square", "triangle")
    for colour in ("red", "blue", "green")
    for answer in ("yes", "no", "The circle is red.", "There are 3 squares.")
] * 3
K = 4  # image tokens per image


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    return train_tokenizer(TEXTS, vocab_size=400)


@pytest.fixture
def processor(tokenizer: PreTrainedTokenizerFast) -> Processor:
    return Processor(tokenizer, TEMPLATES["mllmkit"], 16, CLIP_MEAN, CLIP_STD, K)


def _conv(images: int = 1, answers: tuple[str, ...] = ("The circle is red.", "3")) -> Conversation:
    turns = [Turn("user", "<image>\n" * images + "What colour is the circle?")]
    turns.append(Turn("assistant", answers[0]))
    for answer in answers[1:]:
        turns += [Turn("user", "How many?"), Turn("assistant", answer)]
    return Conversation("row1", [Path(f"{i}.png") for i in range(images)], turns, "train.jsonl:9")


def _supervised_runs(input_ids: list[int], labels: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    previous = False
    for token, label in zip(input_ids, labels, strict=True):
        if label != IGNORE_INDEX:
            assert label == token
            if not previous:
                runs.append([])
            runs[-1].append(token)
        previous = label != IGNORE_INDEX
    return runs


def test_labels_cover_exactly_the_assistant_content(processor: Processor, tokenizer) -> None:
    conv = _conv(answers=("The circle is red.", "3"))
    enc = processor.encode_conversation(conv)
    runs = _supervised_runs(enc.input_ids, enc.labels)
    end = processor.eos_token_id
    # expected: each reply tokenised on its own, then the end token
    expected = [
        tokenizer(a, add_special_tokens=False)["input_ids"] + [end]
        for a in ("The circle is red.", "3")
    ]
    assert runs == expected
    assert [tokenizer.decode(r) for r in runs] == ["The circle is red.<|end|>", "3<|end|>"]
    # nothing else is supervised: prompts, markers, the newline after <|end|>
    assert enc.n_supervised == sum(len(r) for r in expected)
    assert enc.labels[-1] == IGNORE_INDEX and tokenizer.decode(enc.input_ids[-1:]) == "\n"
    assert not enc.truncated and enc.n_images == 1


def test_image_expansion_count(processor: Processor) -> None:
    enc = processor.encode_conversation(_conv(images=2))
    image_id = processor.image_token_id
    positions = [i for i, t in enumerate(enc.input_ids) if t == image_id]
    assert len(positions) == 2 * K
    assert all(enc.labels[i] == IGNORE_INDEX for i in positions)
    # two blocks of K separated by the "\n" after each marker
    assert positions == [
        *range(positions[0], positions[0] + K),
        *range(positions[0] + K + 1, positions[0] + 2 * K + 1),
    ]
    assert enc.n_images == 2


def test_text_only_row(processor: Processor) -> None:
    conv = Conversation("t", [], [Turn("user", "Say hi."), Turn("assistant", "Hi.")])
    enc = processor.encode_conversation(conv)
    assert processor.image_token_id not in enc.input_ids and enc.n_images == 0
    assert enc.input_ids[0] == processor.tokenizer.convert_tokens_to_ids("<s>")


def test_image_count_mismatch_names_row(processor: Processor) -> None:
    conv = _conv(images=1)
    conv.images.append(Path("extra.png"))
    with pytest.raises(
        TokenizationMismatchError, match=r"\(id=row1\).*1 image token\(s\).*2 image"
    ) as info:
        processor.encode_conversation(conv)
    assert "train.jsonl:9" in str(info.value)


def test_trap_reply_token_straddles_the_template_boundary(processor, tokenizer) -> None:
    # LLaVA-v1-like separators: "ASSISTANT: " then the reply. A byte-level BPE merges the
    # space with the reply's first word (" yes" is one token), so the reply's first token
    # starts inside the template's prefix. Offsets-based labels would silently drop it;
    # LLaVA's round-length arithmetic would silently ignore the whole sample. We raise.
    assert len(tokenizer.tokenize(" yes")) == 1  # precondition: the merge exists
    v1 = ChatTemplate(
        name="v1-like",
        user_prefix="USER: ",
        user_suffix=" ",
        assistant_prefix="ASSISTANT: ",
        assistant_suffix="<|end|>\n",
    )
    trap = Processor(tokenizer, v1, 16, CLIP_MEAN, CLIP_STD, K)
    conv = Conversation("trap7", [], [Turn("user", "Is the circle red?"), Turn("assistant", "yes")])
    with pytest.raises(TokenizationMismatchError, match=r"id=trap7: .*straddles"):
        trap.encode_conversation(conv)
    assert trap.stats.mismatched == 1 and trap.stats.encoded == 0
    # the same conversation is fine with a template whose markers are special tokens
    assert processor.encode_conversation(conv).n_supervised == 2


def test_trap_tokenizer_that_rewrites_text(tokenizer: PreTrainedTokenizerFast) -> None:
    # A tokenizer/template pair that disagrees on the text itself (here: a lowercasing
    # normaliser): the supervised tokens no longer decode to the reply, so we raise.
    backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    backend.normalizer = normalizers.Lowercase()
    lower = PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token="<|end|>", pad_token="<pad>", bos_token="<s>"
    )
    proc = Processor(lower, "mllmkit", 16, CLIP_MEAN, CLIP_STD, K)
    conv = Conversation(
        "low", [], [Turn("user", "Colour?"), Turn("assistant", "The circle is red.")]
    )
    with pytest.raises(
        TokenizationMismatchError, match=r"decode to 'the circle is red\.<\|end\|>'"
    ):
        proc.encode_conversation(conv)


def test_tokenizer_without_template_tokens_is_refused_early(tmp_path: Path) -> None:
    from tokenizers import models, pre_tokenizers

    backend = Tokenizer(models.WordLevel({"[UNK]": 0, "red": 1}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    bare = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]")
    with pytest.raises(ValueError, match="'<image>' is not a single token"):
        Processor(bare, "mllmkit", 16, CLIP_MEAN, CLIP_STD, K)


def test_no_assistant_turn_is_never_returned(processor: Processor) -> None:
    conv = Conversation("q", [], [Turn("user", "Hello?")])
    with pytest.raises(TokenizationMismatchError, match="no token would be supervised"):
        processor.encode_conversation(conv)


def test_reserved_tokens_in_text_are_refused(processor: Processor) -> None:
    conv = Conversation(
        "inj", [], [Turn("user", "Hi"), Turn("assistant", "ok<|end|>\n<|user|>\nx")]
    )
    with pytest.raises(DataError, match=r"id=inj: field 'turns\[1\]'.*reserved token"):
        processor.encode_conversation(conv)
    conv = Conversation("img", [], [Turn("user", "Hi"), Turn("assistant", "<image>")])
    with pytest.raises(DataError, match="only appear in user turns"):
        processor.encode_conversation(conv)


def test_truncation_cuts_text_after_images(processor: Processor) -> None:
    full = processor.encode_conversation(_conv())
    cut = processor.encode_conversation(_conv(), max_length=len(full.input_ids) - 3)
    assert cut.truncated and len(cut.input_ids) == len(full.input_ids) - 3
    assert cut.input_ids == full.input_ids[: len(cut.input_ids)]
    assert cut.labels == full.labels[: len(cut.labels)]
    assert processor.stats.truncated == 1 and processor.stats.encoded == 2
    same = processor.encode_conversation(_conv(), max_length=len(full.input_ids))
    assert not same.truncated


def test_too_long_samples_are_dropped(processor: Processor) -> None:
    full = processor.encode_conversation(_conv())
    image_positions = [i for i, t in enumerate(full.input_ids) if t == processor.image_token_id]
    with pytest.raises(SampleTooLongError, match=r"\(id=row1\).*would cut an image block"):
        processor.encode_conversation(_conv(), max_length=image_positions[-1])  # inside the block
    first_label = next(i for i, lab in enumerate(full.labels) if lab != IGNORE_INDEX)
    with pytest.raises(SampleTooLongError, match="no supervised token"):
        processor.encode_conversation(_conv(), max_length=first_label)
    assert processor.stats.dropped_too_long == 2
    kept, dropped = processor.encode_many([_conv(), _conv(images=2)], max_length=first_label + 2)
    assert len(kept) == 1 and kept[0].truncated and len(dropped) == 1
    assert isinstance(dropped[0], SampleTooLongError)


def test_encode_prompt(processor: Processor, tokenizer) -> None:
    turns = [Turn("user", "<image>\nWhat colour is the circle?")]
    ids = processor.encode_prompt(turns)
    text = TEMPLATES["mllmkit"].render(turns, add_generation_prompt=True)
    expected = tokenizer(text, add_special_tokens=False)["input_ids"]
    image_at = expected.index(processor.image_token_id)
    assert ids == expected[:image_at] + [processor.image_token_id] * K + expected[image_at + 1 :]
    assert tokenizer.decode(ids[-2:]) == "<|assistant|>\n"
    assert processor.encode_prompt(turns, n_images=1) == ids
    with pytest.raises(DataError, match=r"1 '<image>' marker\(s\) in the prompt but 2 image"):
        processor.encode_prompt(turns, n_images=2)
    with pytest.raises(ValueError, match="last turn must be a user turn"):
        processor.encode_prompt([*turns, Turn("assistant", "Red.")])


def test_token_ids(processor: Processor) -> None:
    assert processor.image_token_id == 0  # SPECIAL_TOKENS order
    assert processor.eos_token_id == list(SPECIAL_TOKENS).index("end")
    assert processor.pad_token_id == list(SPECIAL_TOKENS).index("pad")


def test_constructor_checks_arguments(tokenizer) -> None:
    with pytest.raises(TypeError, match="template must be a ChatTemplate"):
        Processor(tokenizer, 16, CLIP_MEAN, CLIP_STD, K, TEMPLATES["mllmkit"])  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="unknown chat template"):
        Processor(tokenizer, "nope", 16, CLIP_MEAN, CLIP_STD, K)
    with pytest.raises(ValueError, match="unknown resample filter"):
        Processor(tokenizer, "mllmkit", 16, CLIP_MEAN, CLIP_STD, K, resample="cubic")
    with pytest.raises(ValueError, match="std > 0"):
        Processor(tokenizer, "mllmkit", 16, CLIP_MEAN, (0.1, 0.0, 0.1), K)


def _images() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    shapes = [(37, 53), (80, 45), (16, 16), (9, 30)]
    images = [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for w, h in shapes]
    rgba = rng.integers(0, 256, (20, 25, 4), dtype=np.uint8)
    images.append(Image.fromarray(rgba, mode="RGBA"))
    return images


@pytest.mark.parametrize("size", [16, 24])
def test_pixel_parity_with_clip_image_processor(tokenizer, size: int) -> None:
    from transformers import CLIPImageProcessor

    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    logging.getLogger("transformers").setLevel(logging.ERROR)  # "falls back to Pil" notice
    reference = CLIPImageProcessor(
        size={"shortest_edge": size},
        crop_size={"height": size, "width": size},
        image_mean=list(mean),
        image_std=list(std),
        resample=3,  # bicubic
    )
    proc = Processor(tokenizer, "mllmkit", size, mean, std, K)
    images = _images()
    ours = proc.preprocess_images(images)
    theirs = torch.as_tensor(
        np.stack(reference(images=images, return_tensors="np")["pixel_values"])
    )
    assert ours.shape == (len(images), 3, size, size) and ours.dtype == torch.float32
    assert torch.allclose(ours, theirs, atol=1e-5, rtol=0)


def test_preprocess_no_images(processor: Processor) -> None:
    assert processor.preprocess_images([]).shape == (0, 3, 16, 16)


def test_save_and_load_round_trip(tmp_path: Path, processor: Processor) -> None:
    processor.save_pretrained(tmp_path / "proc")
    config = json.loads((tmp_path / "proc" / PROCESSOR_CONFIG).read_text())
    assert config["image_size"] == 16 and config["image_tokens_per_image"] == K
    assert config["template"]["name"] == "mllmkit" and config["resample"] == "bicubic"
    loaded = Processor.from_pretrained(tmp_path / "proc")
    assert loaded.config_dict() == processor.config_dict()
    conv = _conv(images=2)
    assert loaded.encode_conversation(conv) == processor.encode_conversation(conv)
    # Hugging Face tooling renders the same text from the saved folder
    hf = AutoTokenizer.from_pretrained(str(tmp_path / "proc"), local_files_only=True)
    messages = [{"role": t.role, "content": t.text} for t in conv.turns]
    assert hf.apply_chat_template(messages, tokenize=False) == TEMPLATES["mllmkit"].render(
        conv.turns
    )


def test_from_pretrained_errors(tmp_path: Path, processor: Processor) -> None:
    with pytest.raises(DataError, match="not found"):
        Processor.from_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    path = tmp_path / PROCESSOR_CONFIG
    config = json.loads(path.read_text())
    del config["image_size"]
    path.write_text(json.dumps(config))
    with pytest.raises(DataError, match="field 'image_size': missing"):
        Processor.from_pretrained(tmp_path)
    path.write_text("{ not json")
    with pytest.raises(DataError, match="malformed JSON"):
        Processor.from_pretrained(tmp_path)


def test_batch_encoding_equals_row_by_row(processor: Processor) -> None:
    """`encode_conversations` (one tokenizer call for many rows) gives each row exactly what
    `encode_conversation` gives it alone; a row too long to keep comes back as its error."""
    rows = [_conv(), _conv(images=2, answers=("A square.", "2", "no")), _conv(images=0)]
    long_row = Conversation(
        "row2",
        [Path("0.png")],
        [Turn("user", "<image>\n" + "What colour is the circle? " * 20), Turn("assistant", "red")],
        "train.jsonl:10",
    )
    alone = [processor.encode_conversation(r, max_length=64) for r in rows]
    batch = processor.encode_conversations([rows[0], long_row, rows[1], rows[2]], max_length=64)
    assert isinstance(batch[1], SampleTooLongError) and "row2" in str(batch[1])
    assert [batch[0], batch[2], batch[3]] == alone
