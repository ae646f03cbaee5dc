"""Train a small byte-level BPE tokenizer offline, or load any local HF tokenizer folder.

The trained tokenizer is a standard `PreTrainedTokenizerFast` saved as `tokenizer.json` +
`tokenizer_config.json`, so Hugging Face tooling loads it without mllmkit. Byte-level BPE
never meets an unknown character, and keeps exact character offsets (no normaliser), which
the processor needs to map assistant text to tokens.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from mllmkit.data.errors import DataError
from mllmkit.data.token_splits import split_pattern

SPECIAL_TOKENS: dict[str, str] = {
    "image": "<image>",
    "user": "<|user|>",
    "assistant": "<|assistant|>",
    "system": "<|system|>",
    "end": "<|end|>",
    "pad": "<pad>",
    "bos": "<s>",
}
"""Special tokens of mllmkit tokenizers; their ids are 0..6 in this order when trained here."""

_N_BYTES = 256
_EXTRA_SPECIAL = ("image", "user", "assistant", "system")


def train_tokenizer(
    texts: Iterable[str],
    vocab_size: int = 512,
    out_dir: str | Path | None = None,
    *,
    min_frequency: int = 2,
    splits: Sequence[str] = (),
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer on `texts` (deterministic for the same texts).

    `splits` lists words with a forced token boundary, written `stem|suffix` (e.g.
    `cross|es`): wherever the whole word occurs, the stem and the suffix are tokenized
    apart, so "crosses" starts with the same token as "cross" instead of being a token
    unrelated to it (BPE makes frequent plurals single tokens). Why: a small model must
    otherwise learn from scratch that a question's plural names the same thing as the
    singular its other questions (and the image tags) use. Exact, case-sensitive words.

    The vocabulary holds the special tokens (ids 0..6), all 256 bytes, then merges up to
    `vocab_size`. Special tokens are never split. No BOS/EOS is added by the tokenizer
    itself: the chat template writes them, so the text decides and nothing is doubled.
    Saved with `save_pretrained(out_dir)` when `out_dir` is given.
    """
    specials = list(SPECIAL_TOKENS.values())
    if vocab_size < _N_BYTES + len(specials):
        raise ValueError(
            f"vocab_size={vocab_size} is too small: byte-level BPE needs {_N_BYTES} byte tokens "
            f"plus {len(specials)} special tokens"
        )
    backend = Tokenizer(models.BPE())
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    pattern = split_pattern(splits)
    backend.pre_tokenizer = (
        byte_level
        if pattern is None
        else pre_tokenizers.Sequence(
            [pre_tokenizers.Split(Regex(pattern), behavior="isolated"), byte_level]
        )
    )
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[AddedToken(t, special=True, normalized=False) for t in specials],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(_checked_texts(texts), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=SPECIAL_TOKENS["bos"],
        eos_token=SPECIAL_TOKENS["end"],
        pad_token=SPECIAL_TOKENS["pad"],
    )
    # listed as special (not only added) so tokenizer_config.json names them for HF tooling
    tokenizer.add_special_tokens(
        {"additional_special_tokens": [SPECIAL_TOKENS[k] for k in _EXTRA_SPECIAL]}
    )
    if out_dir is not None:
        tokenizer.save_pretrained(str(out_dir))
    return tokenizer


def load_tokenizer(
    path: str | Path, *, add_special_tokens: bool = False
) -> PreTrainedTokenizerBase:
    """Load a local Hugging Face tokenizer folder (never downloads).

    With `add_special_tokens=True`, mllmkit's special tokens missing from the vocabulary
    are added (and `<pad>` becomes the pad token if there is none); the model's embedding
    table must then grow to `len(tokenizer)`.
    """
    path = Path(path)
    if not path.is_dir():
        raise DataError("tokenizer folder not found", path=path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, TypeError) as exc:
        raise DataError(f"cannot load a tokenizer from this folder: {exc}", path=path) from exc
    if add_special_tokens:
        add_missing_special_tokens(tokenizer)
    return tokenizer


def add_missing_special_tokens(tokenizer: PreTrainedTokenizerBase) -> list[str]:
    """Add the `SPECIAL_TOKENS` the tokenizer lacks; return the ones added."""
    vocab = tokenizer.get_vocab()
    missing = [t for t in SPECIAL_TOKENS.values() if t not in vocab]
    _add_special(tokenizer, missing)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = SPECIAL_TOKENS["pad"]
    return missing


def _add_special(tokenizer: PreTrainedTokenizerBase, tokens: list[str]) -> None:
    if tokens:
        tokenizer.add_tokens(
            [AddedToken(t, special=True, normalized=False) for t in tokens], special_tokens=True
        )


def _checked_texts(texts: Iterable[str]) -> Iterable[str]:
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"train_tokenizer: text #{i} is {type(text).__name__}, not str")
        yield text
