"""Training data: LLaVA conversation files encoded once, images decoded once.

Encoding everything up front costs seconds for the world (tens of thousands of rows) and
keeps the step loop free of tokenisation; images are preprocessed on first use and kept
(the world's images are small), so later epochs do no decoding at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from mllmkit.data.collate import collate_train
from mllmkit.data.conversation import split_exchanges
from mllmkit.data.errors import DataError, SampleTooLongError
from mllmkit.data.images import load_image
from mllmkit.data.llava import read_conversations
from mllmkit.data.processor import Encoded, Processor


@dataclass
class EncodedRow:
    """One training sample: token ids, labels and its image files."""

    encoded: Encoded
    images: list[Path]


@dataclass
class EncodeReport:
    """What happened to the rows of a dataset while encoding (reported to the user)."""

    rows: int = 0
    truncated: int = 0
    dropped: int = 0


class PixelCache:
    """Preprocessed pixels per image file, decoded on first use and kept: the world's
    images are small, so later epochs do no decoding at all."""

    def __init__(self, processor: Processor) -> None:
        self.processor = processor
        self._cache: dict[Path, torch.Tensor] = {}

    def __call__(self, path: Path) -> torch.Tensor:
        cached = self._cache.get(path)
        if cached is None:
            cached = self.processor.preprocess_images([load_image(path)])[0]
            self._cache[path] = cached
        return cached


class ConversationDataset:
    """Rows of one or more LLaVA JSON/JSONL files, tokenised for a processor.

    With `split_turns`, every (user, assistant) exchange of a row is a sample of its own
    with the row's images (`conversation.split_exchanges`); the report counts samples.
    """

    def __init__(
        self, files: list[Path], processor: Processor, max_length: int, split_turns: bool = False
    ) -> None:
        self.processor = processor
        self.rows: list[EncodedRow] = []
        self.report = EncodeReport()
        self._pixels = PixelCache(processor)
        samples = [
            sample
            for path in files
            for row in read_conversations(path)
            for sample in (split_exchanges(row) if split_turns else [row])
        ]
        encoded = processor.encode_conversations(samples, max_length=max_length)
        for conv, enc in zip(samples, encoded, strict=True):
            self.report.rows += 1
            if isinstance(enc, SampleTooLongError):
                self.report.dropped += 1
                continue
            self.report.truncated += int(enc.truncated)
            self.rows.append(EncodedRow(enc, list(conv.images[: enc.n_images])))
        if not self.rows:
            raise DataError(f"{', '.join(map(str, files))}: no usable training rows")

    def __len__(self) -> int:
        return len(self.rows)

    def batch(
        self, indices: list[int], features: Callable[[Path], torch.Tensor] | None = None
    ) -> dict[str, torch.Tensor]:
        """Collate rows into right-padded tensors plus every image in order of appearance:
        as `pixel_values`, or as `image_features` (the vision tower's output per image file,
        from `features`, e.g. a `VisionFeatureCache`)."""
        rows = [self.rows[i] for i in indices]
        out = collate_train([r.encoded for r in rows], self.processor.pad_token_id)
        paths = [p for r in rows for p in r.images]
        if features is not None:
            out["image_features"] = torch.stack([features(p) for p in paths]) if paths else None
        else:
            images = [self._pixels(p) for p in paths]
            out["pixel_values"] = torch.stack(images) if images else None
        return out

    def image_paths(self) -> list[Path]:
        """Every image file the samples name, sorted, each once."""
        return sorted({p for r in self.rows for p in r.images})

    def lengths(self) -> list[int]:
        """Token length of every sample (image tokens included), for length grouping."""
        return [len(r.encoded.input_ids) for r in self.rows]

    def loss_units(self, indices: list[int]) -> int:
        """What the loss of these rows is averaged over: their supervised tokens."""
        return self.supervised_tokens(indices)

    def supervised_tokens(self, indices: list[int]) -> int:
        """Number of loss-bearing tokens in these rows (after the next-token shift)."""
        return sum(sum(1 for t in self.rows[i].encoded.labels[1:] if t != -100) for i in indices)
