"""Parse judge verdicts: tolerant of formatting, never guessing.

The judge prompts ask for JSON with a ``Judgement`` field holding ``[[5]]`` (a 1–5 score),
``[[A]]`` / ``[[B]]`` / ``[[C]]`` (C = tie) or an ordering ``[[B]], [[A]], [[C]]``. Real
judges wrap the JSON in prose or code fences, use single quotes, or drop the JSON and
write a lone ``[[4]]``; all of that is read. What is *not* read is anything ambiguous or
malformed — two different verdicts, a score of 6, an ordering that is not a permutation:
those return None, so they are dropped from agreement metrics and counted, instead of
being turned into a verdict the judge did not give.

Where verdicts are looked for:

1. every JSON object in the text (balanced braces, parsed with `json`, or as a Python
   literal when it uses single quotes), at any nesting depth, under a key spelled
   ``Judgement`` or ``Judgment`` in any case;
2. the ``[[...]]`` markers in the text *outside* those objects (prose before/after, or the
   whole text when there is no JSON).

Every verdict found must be valid and all must agree; otherwise the result is None.
"""

from __future__ import annotations

import ast
import json
import re
import string
from collections.abc import Callable
from typing import Any

_MALFORMED = object()
_JUDGEMENT_KEYS = frozenset({"judgement", "judgment"})
_MARKER = r"\[\[[^\[\]]*\]\]"
MARKER_CONTENT = re.compile(r"\[\[\s*([^\[\]]*?)\s*\]\]")
MARKER_RUN = re.compile(rf"{_MARKER}(?:[\s,;>]*{_MARKER})*")
"""Adjacent ``[[...]]`` markers read as one verdict (an ordering); also used by the
decoding constraint `mllmkit.infer.constraints.DistinctRankingLetters`."""
_LETTER_LIST = re.compile(r"[A-Za-z](?:\s*[,;>]\s*[A-Za-z]|\s+[A-Za-z])*")
_SCORE = re.compile(r"[1-5]")
_MAX_FAILED_BRACES = 64
"""Unparseable "{" positions tried before giving up on finding JSON: each try scans to the
end of the text, so a degenerate "{{{{..." output would otherwise cost quadratic time."""


def _matching_brace(text: str, start: int) -> int | None:
    """Index of the brace closing the one at `start`, skipping quoted strings."""
    depth = 0
    quote: str | None = None
    escaped = False
    for j in range(start, len(text)):
        ch = text[j]
        if quote is not None:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return j
    return None


def _load_object(chunk: str) -> dict[str, Any] | None:
    try:
        value = json.loads(chunk, strict=False)  # strict=False: raw newlines inside strings
    except ValueError:
        try:
            value = ast.literal_eval(chunk)  # single-quoted, Python-style dicts; no code runs
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return None
    return value if isinstance(value, dict) else None


def _json_objects(text: str) -> list[tuple[int, int, dict[str, Any]]]:
    """(start, end, object) for each outermost parseable JSON object in `text`."""
    found: list[tuple[int, int, dict[str, Any]]] = []
    position = 0
    failures = 0
    while failures < _MAX_FAILED_BRACES and (start := text.find("{", position)) >= 0:
        end = _matching_brace(text, start)
        parsed = _load_object(text[start : end + 1]) if end is not None else None
        if parsed is not None and end is not None:
            found.append((start, end + 1, parsed))
            position = end + 1
        else:
            failures += 1
            position = start + 1
    return found


def _judgement_values(value: Any) -> list[Any]:
    """Values of every judgement key in a parsed JSON value, at any depth."""
    out: list[Any] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and key.strip().lower() in _JUDGEMENT_KEYS:
                out.append(item)
            else:
                out.extend(_judgement_values(item))
    elif isinstance(value, list):
        for item in value:
            out.extend(_judgement_values(item))
    return out


def _verdicts(
    text: Any,
    from_field: Callable[[Any], Any],
    from_marker_run: Callable[[list[str]], list[Any]],
) -> Any:
    """The single verdict the text gives, or None.

    `from_field` reads a Judgement value (returns a verdict or `_MALFORMED`);
    `from_marker_run` reads one run of adjacent ``[[...]]`` markers' contents from the prose
    (returns a list of verdicts, possibly containing `_MALFORMED`).
    """
    if not isinstance(text, str) or not text.strip():
        return None
    found: list[Any] = []
    outside: list[str] = []
    position = 0
    for start, end, obj in _json_objects(text):
        outside.append(text[position:start])
        position = end
        found.extend(from_field(value) for value in _judgement_values(obj))
    outside.append(text[position:])
    # " | " keeps markers on the two sides of a JSON object from forming one run.
    for run in MARKER_RUN.finditer(" | ".join(outside)):
        found.extend(from_marker_run(MARKER_CONTENT.findall(run.group(0))))
    if not found or any(v is _MALFORMED for v in found):
        return None
    first = found[0]
    return first if all(v == first for v in found) else None


# --- scores -----------------------------------------------------------------------------


def _score_atom(content: str) -> Any:
    content = content.strip()
    return int(content) if _SCORE.fullmatch(content) else _MALFORMED


def _score_field(value: Any) -> Any:
    if isinstance(value, bool):
        return _MALFORMED
    if isinstance(value, int):
        return value if 1 <= value <= 5 else _MALFORMED
    if isinstance(value, float):
        return int(value) if value.is_integer() and 1 <= value <= 5 else _MALFORMED
    if isinstance(value, str):
        markers = MARKER_CONTENT.findall(value)
        if not markers:
            return _score_atom(value)
        atoms = [_score_atom(m) for m in markers]
        return atoms[0] if all(a == atoms[0] for a in atoms) else _MALFORMED
    return _MALFORMED


def parse_score(text: str | None) -> int | None:
    """A 1–5 score from a judge's answer, or None.

    Accepted: ``{"Judgement": "[[4]]"}`` (also ``4`` or ``"4"`` as the value, whitespace
    inside the brackets, single-quoted JSON, JSON inside prose or code fences) and a lone
    ``[[4]]`` without JSON. None when: nothing is found; two different scores appear
    (e.g. JSON says ``[[4]]`` and the prose ``[[3]]``); a verdict is out of range or not an
    integer (``[[6]]``, ``[[4.5]]``, ``[[4/5]]``); the field holds prose ("good").
    """
    return _verdicts(text, _score_field, lambda run: [_score_atom(m) for m in run])


# --- pairs ------------------------------------------------------------------------------


def _pair_atom(content: str) -> Any:
    content = content.strip().upper()
    return content if content in ("A", "B", "C") else _MALFORMED


def _pair_field(value: Any) -> Any:
    if not isinstance(value, str):
        return _MALFORMED
    markers = MARKER_CONTENT.findall(value)
    if not markers:
        return _pair_atom(value)
    atoms = [_pair_atom(m) for m in markers]
    return atoms[0] if all(a == atoms[0] for a in atoms) else _MALFORMED


def parse_pair(text: str | None) -> str | None:
    """ "A", "B" or "C" (tie) from a pair-comparison verdict, or None.

    Accepted: ``[[A]]`` in the Judgement field or alone in the text, a bare letter as the
    field's value (``{"Judgement": "B"}``), lower-case letters inside the brackets. None
    when ambiguous (``[[A]]`` and ``[[B]]`` both present) or malformed (``[[D]]``,
    ``[[Tie]]``, ``[[A or B]]``).
    """
    return _verdicts(text, _pair_field, lambda run: [_pair_atom(m) for m in run])


# --- rankings ---------------------------------------------------------------------------


def _letters(content: str) -> list[str] | None:
    content = content.strip()
    if not _LETTER_LIST.fullmatch(content):
        return None
    return [c.upper() for c in content if c.isalpha()]


def _ranking_from_markers(contents: list[str], n: int) -> Any:
    # Either one marker per position ([[B]], [[A]], [[C]]) or one marker holding the whole
    # order ([[B, A, C]]).
    if len(contents) == 1:
        order = _letters(contents[0])
    else:
        singles = [_letters(c) for c in contents]
        order = [s[0] for s in singles if s and len(s) == 1]
        if len(order) != len(contents):
            return _MALFORMED
    return _valid_ranking(order, n)


def _valid_ranking(order: list[str] | None, n: int) -> Any:
    if order is None or sorted(order) != list(string.ascii_uppercase[:n]):
        return _MALFORMED
    return tuple(order)


def _ranking_field(value: Any, n: int) -> Any:
    if isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            return _MALFORMED
        contents = [(MARKER_CONTENT.findall(v) or [v]) for v in value]
        if any(len(c) != 1 for c in contents):
            return _MALFORMED
        singles = [_letters(c[0]) for c in contents]
        if any(s is None or len(s) != 1 for s in singles):
            return _MALFORMED
        return _valid_ranking([s[0] for s in singles if s], n)
    if not isinstance(value, str):
        return _MALFORMED
    markers = MARKER_CONTENT.findall(value)
    if markers:
        return _ranking_from_markers(markers, n)
    return _valid_ranking(_letters(value), n)


def parse_ranking(text: str | None, n: int) -> list[str] | None:
    """An ordering of the first `n` letters (best first) from a batch-ranking verdict, or None.

    Accepted in the Judgement field: ``"[[B]], [[A]], [[C]]"`` (separators: commas,
    semicolons, ``>`` or spaces), ``"[[B, A, C]]"``, ``"B, A, C"``, ``"B > A > C"`` (but not
    ``"BAC"``: letters need a separator, or "cab" would read as an ordering) and
    lists (``["[[B]]", "[[A]]", "[[C]]"]`` or ``["B", "A", "C"]``); in prose, one run of
    adjacent markers such as ``[[B]], [[A]], [[C]]``. Lower-case letters are read as
    capitals. The result must be a permutation of A, B, C, … (n letters): a missing,
    repeated or extra letter gives None, and so does a second, different ordering anywhere
    in the text (a lone ``[[B]]`` in the prose is a different ordering).
    """
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 26:
        raise ValueError(f"n must be an int between 1 and 26, got {n!r}")
    verdict = _verdicts(
        text,
        lambda value: _ranking_field(value, n),
        lambda run: [_ranking_from_markers(run, n)],
    )
    return list(verdict) if verdict is not None else None
