"""`WorldConfig`: every knob of scene sampling, rendering and question assembly.

One dataclass so that `world.json` can record exactly what produced a dataset and
`WorldConfig.from_dict(json.load(...)["config"])` reproduces it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from mllmkit.world.vocab import SIGN_ALPHABET

FORMATS: tuple[str, ...] = ("short", "yorn", "mcq")

#: The grid has 9 cells and every object (and the sign) owns one.
_N_CELLS = 9


@dataclass(frozen=True)
class WorldConfig:
    """How scenes are sampled, drawn and turned into questions.

    Sizes are relative to a grid cell so the same scene renders at any resolution.
    ``object_scale`` shrinks objects inside their cells (high-res mode keeps objects
    small in a large image so that zoom/crop strategies have something to find).
    """

    image_size: int = 64
    object_scale: float = 1.0
    supersample: int = 4
    min_objects: int = 1
    max_objects: int = 6
    sign_prob: float = 0.5
    sign_alphabet: str = SIGN_ALPHABET
    sign_words: tuple[str, ...] = ()
    theme_prob: float = 0.4
    # question assembly
    questions_per_ability: int = 1
    turns: int = 6
    multi_image_fraction: float = 0.25
    # The training split's share, when it should differ (None: `multi_image_fraction`).
    # Raising it adds training conversations without touching the test benchmark: the
    # pairing draw of every scene is the same, so the test split stays as it was.
    train_multi_image_fraction: float | None = None
    multi_image_turns: int = 2
    format_weights: tuple[float, float, float] = (0.5, 0.25, 0.25)

    def __post_init__(self) -> None:
        def bad(field: str, why: str) -> None:
            raise ValueError(f"WorldConfig.{field}: {why}")

        if not 16 <= self.image_size <= 4096:
            bad("image_size", f"must be in 16..4096, got {self.image_size}")
        if not 0.05 <= self.object_scale <= 1.0:
            bad("object_scale", f"must be in 0.05..1, got {self.object_scale}")
        if self.supersample not in (1, 2, 3, 4, 6, 8):
            bad("supersample", f"must be one of 1, 2, 3, 4, 6, 8, got {self.supersample}")
        if not 1 <= self.min_objects <= self.max_objects:
            bad("min_objects", f"must be in 1..max_objects, got {self.min_objects}")
        cells_left = _N_CELLS - (1 if self.sign_prob > 0 else 0)
        if self.max_objects > cells_left:
            bad(
                "max_objects",
                f"must be at most {cells_left} (one cell per object"
                + (" plus one for the sign" if self.sign_prob > 0 else "")
                + ")",
            )
        for name in ("sign_prob", "theme_prob", "multi_image_fraction",
                     "train_multi_image_fraction"):
            value = getattr(self, name)
            if value is None:
                continue
            if not 0.0 <= value <= 1.0:
                bad(name, f"must be a probability in [0, 1], got {value}")
        if not self.sign_words and len(set(self.sign_alphabet)) < 4:
            bad("sign_alphabet", "needs at least 4 distinct characters (MCQ distractors)")
        if self.sign_words:
            if len(set(self.sign_words)) < 4:
                bad("sign_words", "needs at least 4 distinct words (MCQ distractors)")
            for word in self.sign_words:
                if not word or len(word) > 8 or '"' in word or word != word.strip():
                    bad("sign_words", f"{word!r} must be 1..8 visible characters without quotes")
        if self.questions_per_ability < 1:
            bad("questions_per_ability", "must be at least 1")
        if self.turns < 1 or self.multi_image_turns < 1:
            bad("turns", "turns and multi_image_turns must be at least 1")
        if len(self.format_weights) != len(FORMATS) or min(self.format_weights) < 0:
            bad("format_weights", f"needs {len(FORMATS)} non-negative weights {FORMATS}")
        if sum(self.format_weights) <= 0:
            bad("format_weights", "must not all be zero")

    @classmethod
    def high_res(cls, **overrides: Any) -> WorldConfig:
        """A 384 px world with objects kept small (a quarter of their usual size)."""
        values: dict[str, Any] = {"image_size": 384, "object_scale": 0.25, "supersample": 2}
        values.update(overrides)
        return cls(**values)

    def multi_image_share(self, split: str) -> float:
        """The probability that a scene of ``split`` gets a two-image conversation."""
        if split == "train" and self.train_multi_image_fraction is not None:
            return self.train_multi_image_fraction
        return self.multi_image_fraction

    @property
    def sign_texts(self) -> tuple[str, ...]:
        """The answer space of the text ability (single characters or the given words)."""
        if self.sign_words:
            return tuple(dict.fromkeys(self.sign_words))
        return tuple(dict.fromkeys(self.sign_alphabet))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["sign_words"] = list(self.sign_words)
        d["format_weights"] = list(self.format_weights)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WorldConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(
                f"WorldConfig: unknown field(s) {unknown}; expected some of {sorted(known)}"
            )
        values = dict(d)
        for key in ("sign_words", "format_weights"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)
