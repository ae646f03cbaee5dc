"""Independent check that a question has exactly one correct answer, and that it is ours.

The verifier reads the question text back with the templates' patterns (exactly one
template form must match), then recomputes the answer from the scene with its own
evaluator per template — it never calls the generators. It raises `VerificationError`
when a referring expression names no object or several, when a comparison has no
answer (equal sizes, same column, equal counts, ...), when the answer differs from
the recorded one, or when MCQ options are not one right plus distinct wrong ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from mllmkit.world.formats import LETTERS, FormattedQuestion
from mllmkit.world.questions import ABILITIES, TEMPLATES, existence
from mllmkit.world.questions.base import QA, Template
from mllmkit.world.scene import Scene, SceneObject
from mllmkit.world.vocab import CELL_PHRASES, CELLS, COLORS, SHAPES, SIZES, article, plural


class VerificationError(ValueError):
    """A question that is ambiguous, unanswerable, or recorded with the wrong answer."""


def _fail(question: str, why: str) -> VerificationError:
    return VerificationError(f"{question!r}: {why}")


# --- reading descriptions -------------------------------------------------------------


def _attrs(desc: str, question: str) -> dict[str, str]:
    """``"large red circle"`` → ``{"size": "large", "color": "red", "shape": "circle"}``."""
    words = desc.split()
    attrs: dict[str, str] = {}
    head = words[-1]
    if head in SHAPES:
        attrs["shape"] = head
    elif head != "object":
        raise _fail(question, f"{desc!r} does not end in a shape or 'object'")
    for word in words[:-1]:
        key = "size" if word in SIZES else "color" if word in COLORS else None
        if key is None or key in attrs:
            raise _fail(question, f"cannot read {desc!r}")
        attrs[key] = word
    return attrs


def _matching(scene: Scene, attrs: dict[str, str]) -> list[SceneObject]:
    return [
        o for o in scene.objects if all(getattr(o, name) == value for name, value in attrs.items())
    ]


def _the(scene: Scene, desc: str, question: str) -> SceneObject:
    found = _matching(scene, _attrs(desc, question))
    if len(found) != 1:
        raise _fail(question, f"'the {desc}' matches {len(found)} objects in scene {scene.id!r}")
    return found[0]


def _count(scene: Scene, noun: str, question: str) -> int:
    if noun == "shapes":
        return len(scene.objects)
    if noun.endswith(" objects"):
        return len(_matching(scene, {"color": noun[: -len(" objects")]}))
    for shape in SHAPES:
        if plural(shape) == noun:
            return len(_matching(scene, {"shape": shape}))
    raise _fail(question, f"cannot count {noun!r}")


def _contains(scene: Scene, slots: dict[str, str], question: str) -> bool:
    if slots["a"] != article(slots["desc"]):
        raise _fail(question, f"wrong article {slots['a']!r} before {slots['desc']!r}")
    return bool(_matching(scene, _attrs(slots["desc"], question)))


def _row_col(obj: SceneObject) -> tuple[int, int]:
    return divmod(CELLS.index(obj.cell), 3)


def _two(scene: Scene, slots: dict[str, str], q: str) -> tuple[SceneObject, SceneObject]:
    a, b = _the(scene, slots["ref_a"], q), _the(scene, slots["ref_b"], q)
    if a is b:
        raise _fail(q, "compares an object with itself")
    return a, b


# --- evaluators: template name → answer of the free-answer form ----------------------

Evaluator = Callable[[Sequence[Scene], dict[str, str], str], str]


def _existence(scenes: Sequence[Scene], s: dict[str, str], q: str) -> str:
    return "Yes" if _contains(scenes[0], s, q) else "No"


def _count_answer(scenes: Sequence[Scene], s: dict[str, str], q: str) -> str:
    n = _count(scenes[0], s["noun"], q)
    if n > 4:
        raise _fail(q, f"count {n} is outside the answer space 0..4")
    return str(n)


def _size_compare(scenes: Sequence[Scene], s: dict[str, str], q: str) -> str:
    a, b = _two(scenes[0], s, q)
    if a.size == b.size:
        raise _fail(q, "both objects have the same size")
    return "larger" if a.size == "large" else "smaller"


def _horizontal(scenes: Sequence[Scene], s: dict[str, str], q: str) -> str:
    a, b = _two(scenes[0], s, q)
    (_, ca), (_, cb) = _row_col(a), _row_col(b)
    if ca == cb:
        raise _fail(q, "both objects are in the same column")
    return "left" if ca < cb else "right"


def _vertical(scenes: Sequence[Scene], s: dict[str, str], q: str) -> str:
    a, b = _two(scenes[0], s, q)
    (ra, _), (rb, _) = _row_col(a), _row_col(b)
    if ra == rb:
        raise _fail(q, "both objects are in the same row")
    return "above" if ra < rb else "below"


def _text(scenes: Sequence[Scene], s: dict[str, str], q: str) -> str:
    if scenes[0].sign is None:
        raise _fail(q, f"scene {scenes[0].id!r} has no sign")
    return scenes[0].sign.text


def _more(scenes: Sequence[Scene], s: dict[str, str], q: str) -> str:
    n1, n2 = (_count(scene, s["noun"], q) for scene in scenes)
    if n1 == n2:
        raise _fail(q, f"both images have {n1} {s['noun']}")
    return "first" if n1 > n2 else "second"


def _which(scenes: Sequence[Scene], s: dict[str, str], q: str) -> str:
    in1, in2 = (_contains(scene, s, q) for scene in scenes)
    if in1 == in2:
        raise _fail(q, "both or neither image contains it")
    return "first" if in1 else "second"


def _both(scenes: Sequence[Scene], s: dict[str, str], q: str) -> str:
    return "Yes" if all(_contains(scene, s, q) for scene in scenes) else "No"


EVALUATORS: dict[str, Evaluator] = {
    **dict.fromkeys(existence.TEMPLATE_NAMES, _existence),
    "count.how_many": _count_answer,
    "color.what": lambda sc, s, q: _the(sc[0], s["ref"], q).color,
    "shape.what": lambda sc, s, q: _the(sc[0], s["ref"], q).shape,
    "size.compare": _size_compare,
    "size.what": lambda sc, s, q: _the(sc[0], s["ref"], q).size,
    "spatial.horizontal": _horizontal,
    "spatial.vertical": _vertical,
    "position.where": lambda sc, s, q: _the(sc[0], s["ref"], q).cell,
    "text.read": _text,
    "multi_image.more": _more,
    "multi_image.which": _which,
    "multi_image.both": _both,
}

_PLACE_TO_CELL = {phrase: cell for cell, phrase in CELL_PHRASES.items()}


def _check_not_partly_true(template: Template, candidate: str, truth: str, q: str) -> None:
    """A wrong cell name must be plainly wrong: "top" is partly true of a top-left object."""
    partly = candidate != truth and set(candidate.split()) < set(truth.split())
    if template.name == "position.where" and partly:
        raise _fail(q, f"{candidate!r} is partly true of an object at the {truth}")


def _yorn_candidate(template: Template, s: dict[str, str], q: str) -> str:
    """The candidate answer a yes/no form states, read back from its slots."""
    if template.name == "position.where":
        return _PLACE_TO_CELL[s["place"]]
    if template.name == "shape.what" and s["a"] != article(s["candidate"]):
        raise _fail(q, f"wrong article {s['a']!r} before {s['candidate']!r}")
    if template.name == "multi_image.more" and s["candidate"] == s["other"]:
        raise _fail(q, "compares an image with itself")
    return s["candidate"]


# --- parsing and checking -------------------------------------------------------------


@cache
def _forms() -> list[tuple[str, Template, str, re.Pattern[str]]]:
    """Every (literal prefix, template, form, pattern); the prefix is a cheap first filter."""
    forms = []
    for template in TEMPLATES.values():
        for form, text, regex in (
            ("short", template.short, template.short_regex),
            ("yorn", template.yorn, template.yorn_regex),
        ):
            if text is not None and regex is not None:
                forms.append((text.split("{", 1)[0], template, form, regex))
    return forms


def parse_question(question: str) -> tuple[Template, str, dict[str, str]]:
    """The one (template, form, slots) whose pattern matches ``question`` in full.

    ``form`` is ``"short"`` or ``"yorn"``. Zero or several matches raise.
    """
    found: list[tuple[Template, str, dict[str, str]]] = []
    for prefix, template, form, regex in _forms():
        if question.startswith(prefix):
            m = regex.fullmatch(question)
            if m:
                found.append((template, form, m.groupdict()))
    if len(found) != 1:
        names = [f"{t.name}/{form}" for t, form, _ in found]
        raise _fail(question, f"matches {len(found)} question forms {names}, expected exactly 1")
    return found[0]


def answer_question(scenes: Scene | Sequence[Scene], question: str) -> str:
    """Recompute the answer of a free-answer or yes/no question from the scene(s)."""
    scene_list = [scenes] if isinstance(scenes, Scene) else list(scenes)
    return _answer(scene_list, question, *parse_question(question))


def _answer(
    scenes: Sequence[Scene], question: str, template: Template, form: str, slots: dict[str, str]
) -> str:
    n_images = ABILITIES[template.ability].n_images
    if len(scenes) != n_images:
        raise _fail(question, f"needs {n_images} image(s), got {len(scenes)}")
    truth = EVALUATORS[template.name](scenes, slots, question)
    if form == "short":
        return truth
    candidate = _yorn_candidate(template, slots, question)
    _check_not_partly_true(template, candidate, truth, question)
    return "Yes" if candidate == truth else "No"


def _check_mcq(
    scenes: Sequence[Scene], fq: FormattedQuestion, parsed: tuple[Template, str, dict[str, str]]
) -> None:
    q = fq.question
    if parsed[1] != "short":
        raise _fail(q, "an MCQ must ask the free-answer form of a question")
    truth = _answer(scenes, q, *parsed)
    options = fq.options or {}
    if not 2 <= len(options) <= len(LETTERS) or list(options) != list(LETTERS[: len(options)]):
        raise _fail(q, f"options must be lettered A, B, ... in order, got {list(options)}")
    texts = list(options.values())
    if len(set(texts)) != len(texts):
        raise _fail(q, f"repeated option texts {texts}")
    for text in texts:
        _check_not_partly_true(parsed[0], text, truth, q)
    right = [letter for letter, text in options.items() if text == truth]
    if len(right) != 1:
        raise _fail(q, f"{len(right)} options equal the answer {truth!r}")
    if fq.answer != right[0] or fq.answer_text != truth:
        raise _fail(
            q, f"recorded {fq.answer!r} ({fq.answer_text!r}), expected {right[0]!r} ({truth!r})"
        )


def verify_question(scenes: Scene | Sequence[Scene], qa: QA | FormattedQuestion) -> None:
    """Raise `VerificationError` unless ``qa`` has exactly one correct answer, its own.

    ``qa`` is a generated `QA` (free-answer form) or a `FormattedQuestion` in any format.
    """
    scene_list = [scenes] if isinstance(scenes, Scene) else list(scenes)
    if isinstance(qa, QA):
        if qa.answer not in qa.candidates:
            raise _fail(qa.question, f"answer {qa.answer!r} is not among its candidates")
        if len(set(qa.candidates)) != len(qa.candidates):
            raise _fail(qa.question, "repeated candidates")
        qa = FormattedQuestion(qa.ability, "short", qa.question, qa.answer, None, qa.answer)
    parsed = parse_question(qa.question)
    template, form, _ = parsed
    if template.ability != qa.ability:
        raise _fail(qa.question, f"is a {template.ability} question, recorded as {qa.ability}")
    if qa.format == "mcq":
        _check_mcq(scene_list, qa, parsed)
        return
    if qa.options is not None:
        raise _fail(qa.question, f"a {qa.format} question must not have options")
    if qa.format == "yorn" and form == "short" and not template.native:
        raise _fail(qa.question, "a yes/no record holds a free-answer question")
    if qa.format == "short" and form == "yorn":
        raise _fail(qa.question, "a free-answer record holds a yes/no statement")
    truth = _answer(scene_list, qa.question, *parsed)
    if qa.answer != truth or qa.answer_text != truth:
        raise _fail(qa.question, f"recorded answer {qa.answer!r}, the scene says {truth!r}")


def verify_record(scenes: Sequence[Scene], record: dict[str, Any]) -> None:
    """Check one flat ``questions.jsonl`` record against the scene(s) it shows."""
    fq = FormattedQuestion(
        ability=record["ability"],
        format=record["format"],
        question=record["question"],
        answer=record["answer"],
        options=record["options"],
        answer_text=record["answer_text"],
    )
    verify_question(scenes, fq)


def _check_coverage() -> None:
    missing = set(TEMPLATES) - set(EVALUATORS)
    if missing:
        raise RuntimeError(f"templates without an evaluator: {sorted(missing)}")


_check_coverage()
