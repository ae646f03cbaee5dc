"""What the processor hands to training: token ids, labels, and counters."""

from __future__ import annotations

from dataclasses import asdict, dataclass

IGNORE_INDEX = -100
"""Label value the loss skips (PyTorch's `cross_entropy` default `ignore_index`)."""


@dataclass
class Encoded:
    """One tokenised training sample with `<image>` already expanded.

    `labels[i]` is `input_ids[i]` where the token belongs to an assistant reply (or its end
    token) and `IGNORE_INDEX` elsewhere; `n_images` images feed the image-token blocks in
    order; `truncated` says the text was cut to `max_length`.
    """

    input_ids: list[int]
    labels: list[int]
    n_images: int
    truncated: bool = False

    def __post_init__(self) -> None:
        if len(self.input_ids) != len(self.labels):
            raise ValueError(
                f"Encoded: {len(self.input_ids)} input ids but {len(self.labels)} labels"
            )

    @property
    def n_supervised(self) -> int:
        return sum(label != IGNORE_INDEX for label in self.labels)


@dataclass
class EncodeStats:
    """Running counts of what `Processor.encode_conversation` did, for a run's report.

    Each process (e.g. each DataLoader worker) keeps its own counts.
    """

    encoded: int = 0
    truncated: int = 0
    dropped_too_long: int = 0
    mismatched: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)
