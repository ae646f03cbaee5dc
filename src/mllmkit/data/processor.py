"""The processor: chat template + tokenizer + image preprocessing, with honest labels.

`encode_conversation` renders a conversation with the template and tokenises the whole
text once with character offsets. A token is supervised when its characters lie inside
an assistant turn's content or the end token after it. Then each `<image>` token becomes
`image_tokens_per_image` copies of the image token id (never supervised). Before
rendering, `image_placement` may move each user turn's `<image>` markers before or after
its text (`conversation.place_images`); the default keeps them where the data put them.

The tokenisation-mismatch trap: LLaVA tokenises rounds separately, and when a template
or tokenizer change makes the round lengths stop adding up it sets *every* label to
IGNORE with only a warning, so a run trains on nothing. Here every sample is checked:
the supervised tokens of each assistant turn must decode back to exactly that turn's
text plus the end token, no token may straddle a span boundary, and the number of
`<image>` tokens must equal the number of images. Any failure raises
`TokenizationMismatchError` naming the row; a sample with no supervised token is never
returned.

Truncation to `max_length` cuts from the end. A cut may shorten the text (the sample is
marked `truncated`) but never falls inside or before an image block, and never leaves a
sample with no supervised token; either raises `SampleTooLongError` (a row to skip and
count, see `encode_many`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from transformers import PreTrainedTokenizerBase

from mllmkit.data.conversation import (
    IMAGE_PLACEMENTS,
    IMAGE_TOKEN,
    Conversation,
    Turn,
    place_images,
)
from mllmkit.data.encoded import IGNORE_INDEX, Encoded, EncodeStats
from mllmkit.data.errors import DataError, SampleTooLongError, TokenizationMismatchError
from mllmkit.data.image_transform import clip_preprocess, resample_filter
from mllmkit.data.template import ChatTemplate, get_template
from mllmkit.data.tokenizer import load_tokenizer

__all__ = [
    "PROCESSOR_CONFIG",
    "EncodeStats",
    "Encoded",
    "Processor",
    "SampleTooLongError",
    "TokenizationMismatchError",
]

PROCESSOR_CONFIG = "processor_config.json"
_FORMAT_VERSION = 1


class Processor:
    """Turns conversations and images into model inputs; see the module docstring."""

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        template: ChatTemplate | str,
        image_size: int,
        image_mean: Sequence[float],
        image_std: Sequence[float],
        image_tokens_per_image: int,
        resample: str = "bicubic",
        image_placement: str = "as_written",
    ) -> None:
        if image_placement not in IMAGE_PLACEMENTS:
            raise ValueError(
                f"image_placement must be one of {IMAGE_PLACEMENTS}, got {image_placement!r}"
            )
        if isinstance(template, str):
            template = get_template(template)
        if not isinstance(template, ChatTemplate):
            raise TypeError(
                f"template must be a ChatTemplate or a registered template name, got "
                f"{type(template).__name__} (arguments: tokenizer, template, image_size, "
                "image_mean, image_std, image_tokens_per_image)"
            )
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError("Processor needs a fast tokenizer (character offsets are required)")
        if int(image_size) < 1 or int(image_tokens_per_image) < 1:
            raise ValueError(
                f"image_size ({image_size}) and image_tokens_per_image "
                f"({image_tokens_per_image}) must be positive"
            )
        if len(image_mean) != 3 or len(image_std) != 3 or min(image_std) <= 0:
            raise ValueError(
                "image_mean/image_std need 3 values each and std > 0, "
                f"got {image_mean}, {image_std}"
            )
        resample_filter(resample)  # validate the name now, not at the first image
        self.tokenizer = tokenizer
        self.template = template
        self.image_size = int(image_size)
        self.image_mean = tuple(float(x) for x in image_mean)
        self.image_std = tuple(float(x) for x in image_std)
        self.image_tokens_per_image = int(image_tokens_per_image)
        self.resample = resample
        self.image_placement = image_placement
        self.stats = EncodeStats()
        self._image_token_id = self._single_token_id(IMAGE_TOKEN, "the image marker")
        self._eos_token_id = self._single_token_id(template.stop, "the template's stop string")
        self._reserved = sorted(
            {t for t in tokenizer.all_special_tokens if t and t != IMAGE_TOKEN} | {template.stop}
        )

    def _single_token_id(self, text: str, what: str) -> int:
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) != 1:
            raise ValueError(
                f"{what} {text!r} is not a single token in this tokenizer (it splits into "
                f"{len(ids)}); load it with load_tokenizer(path, add_special_tokens=True) or "
                "train one with train_tokenizer"
            )
        return int(ids[0])

    # ----------------------------------------------------------------- token ids
    @property
    def image_token_id(self) -> int:
        """Id of `<image>`; the model replaces these positions with image features."""
        return self._image_token_id

    @property
    def eos_token_id(self) -> int:
        """Id of the template's stop string (`<|end|>`): generation stops on it."""
        return self._eos_token_id

    @property
    def pad_token_id(self) -> int:
        """The tokenizer's pad id, or the stop id when it has none (masked out anyway)."""
        pad = self.tokenizer.pad_token_id
        return self._eos_token_id if pad is None else int(pad)

    # ----------------------------------------------------------------- images
    def preprocess_images(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """Images → FloatTensor [N, 3, S, S] (CLIP-style; see `image_transform`)."""
        s = self.image_size
        if not images:
            return torch.zeros((0, 3, s, s), dtype=torch.float32)
        arrays = [
            clip_preprocess(img, s, self.image_mean, self.image_std, self.resample)
            for img in images
        ]
        return torch.from_numpy(np.stack(arrays))

    # ----------------------------------------------------------------- text
    def encode_conversation(self, conv: Conversation, max_length: int | None = None) -> Encoded:
        """Tokenise a conversation with assistant-only labels and expanded image tokens."""
        result = self.encode_conversations([conv], max_length)[0]
        if isinstance(result, SampleTooLongError):
            raise result
        return result

    def encode_conversations(
        self, convs: Sequence[Conversation], max_length: int | None = None
    ) -> list[Encoded | SampleTooLongError]:
        """`encode_conversation` for many rows, with one tokenizer call per chunk of rows.

        Why: per-row calls spent more time in the tokenizer wrapper than in tokenising; a
        batch is encoded in the tokenizer's native code, in parallel. A row too long to keep
        comes back as its `SampleTooLongError` (the caller decides whether to skip it); any
        other problem raises, naming the row.
        """
        prepared = [(conv, *self._prepare(conv)) for conv in convs]
        out: list[Encoded | SampleTooLongError] = []
        chunk = 2048
        for start in range(0, len(prepared), chunk):
            part = prepared[start : start + chunk]
            encs = self.tokenizer(
                [text for _, text, _ in part],
                add_special_tokens=False,
                return_offsets_mapping=True,
            )
            for j, (conv, text, targets) in enumerate(part):
                try:
                    out.append(
                        self._finish(
                            conv,
                            text,
                            targets,
                            encs["input_ids"][j],
                            encs["offset_mapping"][j],
                            max_length,
                        )
                    )
                except SampleTooLongError as exc:
                    out.append(exc)
        return out

    def _prepare(self, conv: Conversation) -> tuple[str, list[tuple[int, int]]]:
        """Check a row's turns and render it: (text, supervised character spans)."""
        self._check_turns(conv.turns, self._where(conv))
        turns = place_images(conv.turns, self.image_placement)
        text = self.template.render(turns)
        targets = self.template.supervised_spans(turns)
        if not targets:
            self.stats.mismatched += 1
            raise TokenizationMismatchError(
                "no assistant turn, so no token would be supervised",
                field="conversations",
                **self._where(conv),
            )
        return text, targets

    @staticmethod
    def _where(conv: Conversation) -> dict[str, Any]:
        return {"path": conv.source or None, "row_id": conv.id}

    def _finish(
        self,
        conv: Conversation,
        text: str,
        targets: list[tuple[int, int]],
        token_ids: Sequence[int],
        offsets: Sequence[tuple[int, int]],
        max_length: int | None,
    ) -> Encoded:
        """Labels, image expansion and truncation of one tokenised row."""
        where = self._where(conv)
        ids = [int(i) for i in token_ids]
        labels = self._labels(ids, offsets, text, targets, where)
        n_markers = ids.count(self._image_token_id)
        if n_markers != len(conv.images):
            self.stats.mismatched += 1
            raise TokenizationMismatchError(
                f"{n_markers} image token(s) after tokenisation but {len(conv.images)} image(s)",
                field="conversations",
                **where,
            )
        ids, labels = self._expand_images(ids, labels)
        truncated = False
        if max_length is not None and len(ids) > max_length:
            ids, labels = self._truncate(ids, labels, max_length, where)
            truncated = True
        self.stats.encoded += 1
        self.stats.truncated += int(truncated)
        return Encoded(input_ids=ids, labels=labels, n_images=len(conv.images), truncated=truncated)

    def encode_many(
        self, conversations: Iterable[Conversation], max_length: int | None = None
    ) -> tuple[list[Encoded], list[SampleTooLongError]]:
        """Encode many rows, skipping (and returning) those too long to keep.

        Other errors still raise: a tokenisation mismatch means the template and tokenizer
        disagree, which skipping would hide.
        """
        kept: list[Encoded] = []
        dropped: list[SampleTooLongError] = []
        for result in self.encode_conversations(list(conversations), max_length):
            if isinstance(result, SampleTooLongError):
                dropped.append(result)
            else:
                kept.append(result)
        return kept, dropped

    def encode_prompt(self, turns: Sequence[Turn], n_images: int | None = None) -> list[int]:
        """Ids of `turns` rendered with the generation prompt, `<image>` expanded.

        The turns end with a user turn; the result ends with the assistant prefix. Pass
        `n_images` (the images that will go with the prompt) to have the marker count
        checked here rather than inside the model.
        """
        turns = list(turns)
        if not turns or turns[-1].role != "user":
            raise ValueError("encode_prompt: the last turn must be a user turn")
        self._check_turns(turns, {"path": None, "row_id": None})
        n_markers = sum(t.text.count(IMAGE_TOKEN) for t in turns)
        if n_images is not None and n_images != n_markers:
            raise DataError(
                f"{n_markers} '{IMAGE_TOKEN}' marker(s) in the prompt but {n_images} image(s)",
                field="turns",
            )
        text = self._render_generation_prompt(place_images(turns, self.image_placement))
        ids = [int(i) for i in self.tokenizer(text, add_special_tokens=False)["input_ids"]]
        if ids.count(self._image_token_id) != n_markers:
            raise TokenizationMismatchError(
                f"{n_markers} '{IMAGE_TOKEN}' marker(s) in the text but "
                f"{ids.count(self._image_token_id)} image token(s) after tokenisation",
                field="turns",
            )
        return self._expand_images(ids, [IGNORE_INDEX] * len(ids))[0]

    def _render_generation_prompt(self, turns: list[Turn]) -> str:
        """The prompt text ending with the assistant prefix (a subclass may render it with
        another template; everything around it in `encode_prompt` stays shared)."""
        return self.template.render(turns, add_generation_prompt=True)

    def count_image_tokens(self, n_images: int) -> int:
        """How many positions `n_images` images occupy in the sequence."""
        return n_images * self.image_tokens_per_image

    # ----------------------------------------------------------------- internals
    def _check_turns(self, turns: Sequence[Turn], where: dict[str, Any]) -> None:
        """Refuse text that contains control tokens (it would forge turn boundaries)."""
        for i, turn in enumerate(turns):
            for token in self._reserved:
                if token in turn.text:
                    raise DataError(
                        f"{turn.role} text contains the reserved token {token!r}",
                        field=f"turns[{i}]",
                        **where,
                    )
            if turn.role != "user" and IMAGE_TOKEN in turn.text:
                raise DataError(
                    f"'{IMAGE_TOKEN}' may only appear in user turns", field=f"turns[{i}]", **where
                )

    def _labels(
        self,
        ids: list[int],
        offsets: Sequence[tuple[int, int]],
        text: str,
        targets: list[tuple[int, int]],
        where: dict[str, Any],
    ) -> list[int]:
        labels = [IGNORE_INDEX] * len(ids)
        members: list[list[int]] = [[] for _ in targets]
        for i, (start, end) in enumerate(offsets):
            if end <= start:
                continue
            for k, (a, b) in enumerate(targets):
                if a <= start and end <= b:
                    labels[i] = ids[i]
                    members[k].append(i)
                    break
                if start < b and end > a:
                    self.stats.mismatched += 1
                    raise TokenizationMismatchError(
                        f"token {i} (characters {start}..{end}, {text[start:end]!r}) straddles "
                        f"the boundary of assistant span {k} ({text[a:b]!r}); the template's "
                        "markers merge with the reply's text under this tokenizer",
                        field="conversations",
                        **where,
                    )
        for k, (a, b) in enumerate(targets):
            idx = members[k]
            contiguous = bool(idx) and idx == list(range(idx[0], idx[-1] + 1))
            decoded = self.tokenizer.decode(
                [ids[i] for i in idx], skip_special_tokens=False, clean_up_tokenization_spaces=False
            )
            if not contiguous or decoded != text[a:b]:
                self.stats.mismatched += 1
                raise TokenizationMismatchError(
                    f"supervised tokens of assistant turn {k} decode to {decoded!r}, expected "
                    f"{text[a:b]!r}",
                    field="conversations",
                    **where,
                )
        return labels

    def _expand_images(self, ids: list[int], labels: list[int]) -> tuple[list[int], list[int]]:
        k, image_id = self.image_tokens_per_image, self._image_token_id
        out_ids: list[int] = []
        out_labels: list[int] = []
        for token, label in zip(ids, labels, strict=True):
            if token == image_id:
                out_ids += [image_id] * k
                out_labels += [IGNORE_INDEX] * k
            else:
                out_ids.append(token)
                out_labels.append(label)
        return out_ids, out_labels

    def _truncate(
        self, ids: list[int], labels: list[int], max_length: int, where: dict[str, Any]
    ) -> tuple[list[int], list[int]]:
        image_positions = [i for i, t in enumerate(ids) if t == self._image_token_id]
        if image_positions and image_positions[-1] >= max_length:
            self.stats.dropped_too_long += 1
            raise SampleTooLongError(
                f"{len(ids)} tokens; cutting to max_length={max_length} would cut an image block "
                f"(the last image token is at position {image_positions[-1]}); sample dropped",
                field="conversations",
                **where,
            )
        ids, labels = ids[:max_length], labels[:max_length]
        if all(label == IGNORE_INDEX for label in labels):
            self.stats.dropped_too_long += 1
            raise SampleTooLongError(
                f"cutting to max_length={max_length} leaves no supervised token; sample dropped",
                field="conversations",
                **where,
            )
        return ids, labels

    # ----------------------------------------------------------------- persistence
    def config_dict(self) -> dict[str, Any]:
        return {
            "format_version": _FORMAT_VERSION,
            "image_size": self.image_size,
            "image_mean": list(self.image_mean),
            "image_std": list(self.image_std),
            "image_tokens_per_image": self.image_tokens_per_image,
            "resample": self.resample,
            "image_placement": self.image_placement,
            "template": self.template.to_dict(),
        }

    def save_pretrained(self, directory: str | Path) -> None:
        """Write `processor_config.json` and the tokenizer files (with the Jinja template)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.tokenizer.chat_template = self.template.to_jinja()
        self.tokenizer.save_pretrained(str(directory))
        (directory / PROCESSOR_CONFIG).write_text(
            json.dumps(self.config_dict(), indent=2) + "\n", encoding="utf-8"
        )

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> Processor:
        """Load a folder written by `save_pretrained`."""
        path = Path(directory) / PROCESSOR_CONFIG
        if not path.is_file():
            raise DataError("not found (is this a processor or model folder?)", path=path)
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataError(f"malformed JSON: {exc.msg}", path=path, row=exc.lineno) from exc
        if not isinstance(config, dict):
            raise DataError("expected a JSON object", path=path)
        version = config.get("format_version")
        if version != _FORMAT_VERSION:
            raise DataError(
                f"unsupported format version {version!r} (this mllmkit reads {_FORMAT_VERSION})",
                path=path,
                field="format_version",
            )
        keys = ("image_size", "image_mean", "image_std", "image_tokens_per_image", "template")
        for key in keys:
            if key not in config:
                raise DataError("missing", path=path, field=key)
        try:
            template = ChatTemplate.from_dict(config["template"])
        except (TypeError, ValueError) as exc:
            raise DataError(str(exc), path=path, field="template") from exc
        placement = config.get("image_placement", "as_written")
        if placement not in IMAGE_PLACEMENTS:
            raise DataError(
                f"{placement!r} is not one of {IMAGE_PLACEMENTS}",
                path=path,
                field="image_placement",
            )
        return cls(
            load_tokenizer(Path(directory)),
            template,
            image_size=config["image_size"],
            image_mean=config["image_mean"],
            image_std=config["image_std"],
            image_tokens_per_image=config["image_tokens_per_image"],
            resample=config.get("resample", "bicubic"),
            image_placement=placement,
        )
