"""Bias probes: ask the same item again, changed in a way that should not matter.

- ``position`` (pair, batch): the answers in reverse order. The verdict is mapped back to
  the underlying answers; a consistent judge picks the same answer (pair) or gives the
  same ordering (batch) both times. Position does not apply to ``score`` (one answer).
- ``verbosity`` (score, pair, batch): one answer padded with neutral filler that adds no
  content (`PAD_PREFIX` + answer + `PAD_SUFFIX`). Score: does the score change? Pair:
  the *worse* answer (by the human label; ties are skipped) is padded — how often does
  the judge now prefer it? Batch: the human-worst answer is padded — does it climb?

Note on verbosity: under the world rubric a wordy correct answer is worth one point less
than a concise one (4 vs 5), so a rubric-following judge *lowers* padded scores; the bias
to look for is a score or preference that goes *up* with padding.

Probes are an explicit registry (`PROBES`) with exact names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from mllmkit.backends.hashing import sha256_text
from mllmkit.judge.agreement import levenshtein, position_consistency
from mllmkit.judge.asks import Ask, Verdict
from mllmkit.judge.data import JudgeItem
from mllmkit.judge.prompts import LETTERS

PAD_PREFIX = "Let me think about this carefully and look at the whole picture first. "
PAD_SUFFIX = " I checked every part of the image before giving this answer."

ProbeRow = tuple[JudgeItem, Verdict, Verdict]
"""(item, verdict on the item as given, verdict on the probe's version of it)."""


class Probe(Protocol):
    """A named probe: which modes it applies to, the ask it adds, and its summary."""

    name: str
    modes: tuple[str, ...]

    def ask(self, item: JudgeItem) -> Ask | None: ...

    def summarise(self, mode: str, rows: Sequence[ProbeRow]) -> dict[str, Any]: ...


def _share(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _counts(rows: Sequence[ProbeRow]) -> dict[str, int]:
    both = sum(1 for _, a, b in rows if a.ok and b.ok)
    unparsed = sum(1 for _, a, b in rows if a.answered and b.answered and not (a.ok and b.ok))
    return {"n": both, "n_unparsed": unparsed, "n_asked": len(rows)}


@dataclass(frozen=True)
class PositionProbe:
    """Answers shown in reverse order; see the module docstring."""

    name: str = "position"
    modes: tuple[str, ...] = ("pair", "batch")

    def ask(self, item: JudgeItem) -> Ask | None:
        perm = tuple(reversed(range(len(item.answers))))
        return Ask(item, self.name, tuple(item.answers[p] for p in perm), perm)

    def summarise(self, mode: str, rows: Sequence[ProbeRow]) -> dict[str, Any]:
        out: dict[str, Any] = _counts(rows)
        both = [(a, b) for _, a, b in rows if a.ok and b.ok]
        if mode == "pair":
            pairs = [(a.shown, b.shown) for a, b in both]
            out["consistency"] = position_consistency(pairs) if pairs else None
            # Raw position preference: share of non-tie verdicts naming the first slot.
            slots = [v.shown for a, b in both for v in (a, b) if v.shown != "C"]
            out["first_slot_rate"] = _share([s == "A" for s in slots])
        else:
            out["consistency"] = _share([a.original == b.original for a, b in both])
            distances = [
                levenshtein(a.original, b.original) / max(len(a.original), 1) for a, b in both
            ]
            out["levenshtein_norm"] = _mean(distances)
        return out


def pad(answer: str) -> str:
    """The answer wrapped in neutral filler (no content added or removed)."""
    return f"{PAD_PREFIX}{answer}{PAD_SUFFIX}"


def _padded_index(item: JudgeItem) -> int | None:
    """Which answer the verbosity probe pads: the only one (score), the human-worse one
    (pair; None for a tie), the human-worst one (batch)."""
    if item.mode == "score":
        return 0
    if item.mode == "pair":
        return None if item.human == "C" else (1 if item.human == "A" else 0)
    return LETTERS.index(item.human[-1])


@dataclass(frozen=True)
class VerbosityProbe:
    """One answer padded with neutral filler; see the module docstring."""

    name: str = "verbosity"
    modes: tuple[str, ...] = ("score", "pair", "batch")

    def ask(self, item: JudgeItem) -> Ask | None:
        index = _padded_index(item)
        if index is None:
            return None
        answers = tuple(pad(a) if i == index else a for i, a in enumerate(item.answers))
        return Ask(item, self.name, answers, tuple(range(len(answers))))

    def summarise(self, mode: str, rows: Sequence[ProbeRow]) -> dict[str, Any]:
        out: dict[str, Any] = _counts(rows)
        both = [(item, a, b) for item, a, b in rows if a.ok and b.ok]
        if mode == "score":
            deltas = [float(b.original) - float(a.original) for _, a, b in both]  # type: ignore[arg-type]
            out["mean_delta"] = _mean(deltas)
            out["changed"] = _share([d != 0 for d in deltas])
            out["increased"] = _share([d > 0 for d in deltas])
            out["decreased"] = _share([d < 0 for d in deltas])
        elif mode == "pair":
            flags = []
            for item, a, b in both:
                padded = LETTERS[_padded_index(item) or 0]
                flags.append((a.original == padded, b.original == padded))
            out["prefers_padded_before"] = _share([before for before, _ in flags])
            out["prefers_padded_after"] = _share([after for _, after in flags])
            out["flipped_to_padded"] = _share([after and not before for before, after in flags])
        else:
            gains = []
            for item, a, b in both:
                padded = LETTERS[_padded_index(item) or 0]
                gains.append(list(a.original).index(padded) - list(b.original).index(padded))  # type: ignore[call-overload]
            out["mean_rank_gain"] = _mean([float(g) for g in gains])
            out["moved_up"] = _share([g > 0 for g in gains])
            out["moved_down"] = _share([g < 0 for g in gains])
        return out


PROBES: dict[str, Probe] = {}


def _register(probe: Probe) -> None:
    if probe.name in PROBES:
        raise ValueError(f"probe {probe.name!r} registered twice")
    PROBES[probe.name] = probe


_register(PositionProbe())
_register(VerbosityProbe())


def resolve_probes(names: str | Sequence[str] | None) -> list[Probe]:
    """Probes from a comma-separated string or a list of exact names (unknown names raise)."""
    if names is None:
        return []
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in names if n not in PROBES]
    if unknown:
        raise ValueError(f"unknown probe(s) {unknown}; expected some of {list(PROBES)}")
    return [PROBES[n] for n in dict.fromkeys(names)]


def probes_fingerprint() -> str:
    """Hash of what probes change in a prompt (part of the cache key)."""
    return sha256_text(PAD_PREFIX, PAD_SUFFIX)
