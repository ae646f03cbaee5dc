"""Tokenizer training and loading: determinism, special tokens, local folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from mllmkit.data.errors import DataError
from mllmkit.data.tokenizer import SPECIAL_TOKENS, load_tokenizer, train_tokenizer

TEXTS = [
    f"The {colour} {shape} is at the {place}. How many {shape}s? There are {n}."
    for colour in ("red", "green", "blue")
    for shape in ("circle", "square", "triangle")
    for place in ("top left", "centre")
    for n in range(3)
]


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    return train_tokenizer(TEXTS, vocab_size=340)


def test_deterministic(tokenizer: PreTrainedTokenizerFast) -> None:
    again = train_tokenizer(list(TEXTS), vocab_size=340)
    assert again.backend_tokenizer.to_str() == tokenizer.backend_tokenizer.to_str()
    other = train_tokenizer(TEXTS[: len(TEXTS) // 3], vocab_size=340)
    assert other.backend_tokenizer.to_str() != tokenizer.backend_tokenizer.to_str()


def test_special_token_ids_and_roles(tokenizer: PreTrainedTokenizerFast) -> None:
    ids = tokenizer.convert_tokens_to_ids(list(SPECIAL_TOKENS.values()))
    assert ids == list(range(len(SPECIAL_TOKENS)))
    assert tokenizer.pad_token == "<pad>" and tokenizer.eos_token == "<|end|>"
    assert tokenizer.bos_token == "<s>"
    assert set(SPECIAL_TOKENS.values()) <= set(tokenizer.all_special_tokens)


def test_special_tokens_never_split(tokenizer: PreTrainedTokenizerFast) -> None:
    for token in SPECIAL_TOKENS.values():
        text = f"red{token}circle {token}{token}\n{token}."
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        token_id = tokenizer.convert_tokens_to_ids(token)
        assert ids.count(token_id) == 4, token
        assert tokenizer.decode(ids) == text  # byte-level: exact round trip
    # the tokenizer adds nothing by itself: the chat template writes BOS/EOS
    assert (
        tokenizer("red", add_special_tokens=True)["input_ids"]
        == tokenizer("red", add_special_tokens=False)["input_ids"]
    )


def test_unseen_characters_round_trip(tokenizer: PreTrainedTokenizerFast) -> None:
    text = "Ünïcødé ☃ 数字 \t tabs"
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text


def test_vocab_too_small() -> None:
    with pytest.raises(ValueError, match="too small"):
        train_tokenizer(TEXTS, vocab_size=100)


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    trained = train_tokenizer(TEXTS, vocab_size=340, out_dir=tmp_path / "tok")
    assert (tmp_path / "tok" / "tokenizer.json").is_file()
    config = json.loads((tmp_path / "tok" / "tokenizer_config.json").read_text())
    assert config["pad_token"] == "<pad>" and config["eos_token"] == "<|end|>"
    loaded = load_tokenizer(tmp_path / "tok")
    text = "<s><|user|>\n<image>\nHow many circles?<|end|>\n"
    assert loaded(text)["input_ids"] == trained(text)["input_ids"]
    assert loaded.pad_token_id == trained.pad_token_id


def test_load_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="tokenizer folder not found"):
        load_tokenizer(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as info:
        load_tokenizer(tmp_path / "empty")
    assert str(tmp_path / "empty") in str(info.value)


def test_load_foreign_tokenizer_and_add_special_tokens(tmp_path: Path) -> None:
    vocab = {"[UNK]": 0, "red": 1, "circle": 2}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]").save_pretrained(
        tmp_path / "foreign"
    )
    plain = load_tokenizer(tmp_path / "foreign")
    assert "<image>" not in plain.get_vocab() and plain.pad_token is None
    extended = load_tokenizer(tmp_path / "foreign", add_special_tokens=True)
    ids = extended("red <image> circle", add_special_tokens=False)["input_ids"]
    assert ids == [1, extended.convert_tokens_to_ids("<image>"), 2]
    assert extended.pad_token == "<pad>"
    assert len(extended) == 3 + len(SPECIAL_TOKENS)


def test_splits_force_a_boundary_inside_listed_words(tmp_path: Path) -> None:
    plain = train_tokenizer(TEXTS, vocab_size=340)
    split = train_tokenizer(
        TEXTS, vocab_size=340, splits=["square|s", "circle|s"], out_dir=tmp_path
    )

    def ids(tok: PreTrainedTokenizerFast, text: str) -> list[int]:
        return tok(text, add_special_tokens=False)["input_ids"]

    # without the split, BPE makes the frequent plural a token unrelated to the singular
    assert ids(plain, " squares")[:1] != ids(plain, " square")[:1]
    for word in ("square", "circle"):
        assert ids(split, f" {word}s") == ids(split, f" {word}") + ids(split, "s")
    text = "How many squares? circlesx Squares acircles triangles."
    assert split.decode(ids(split, text)) == text  # still an exact round trip
    # only inside the exact listed words: a longer word or another case is not cut there
    pieces = [p for p, _ in split.backend_tokenizer.pre_tokenizer.pre_tokenize_str(text)]
    assert pieces.count("s") == 1 and pieces.count("Ġcirclesx") == 1
    assert {"ĠSquares", "Ġacircles", "Ġtriangles"} <= set(pieces)
    # the boundary is part of the saved tokenizer, so Hugging Face tooling agrees
    assert ids(load_tokenizer(tmp_path), text) == ids(split, text)


@pytest.mark.parametrize("bad", ["crosses", "cross|", "|es", "cross|e|s", "cr oss|es", 3])
def test_malformed_split_is_rejected(bad: object) -> None:
    with pytest.raises(ValueError, match=r"stem\|suffix"):
        train_tokenizer(TEXTS, vocab_size=340, splits=[bad])  # type: ignore[list-item]
