"""Judge data from the world: candidate answers of known quality, labelled by the truth.

The world knows every answer, so it can write answers that are right, wordy, half right,
wrong or invented — and label them without a human. For each free-answer question of a
split, candidates of five kinds are made (the rubric, `RUBRIC`):

| kind            | score | what it is                                                     |
| --------------- | ----- | -------------------------------------------------------------- |
| `correct`       | 5     | the right answer, as the world writes it ("green")             |
| `verbose`       | 4     | the right answer wrapped in content-free filler                |
| `partial`       | 3     | half right: a near miss (count off by one; right row, wrong    |
|                 |       | column) or the right answer with one false detail ("green      |
|                 |       | circle" for a green cross; "left, and above it" when below)    |
| `wrong`         | 2     | another value from the question's answer space (never a near   |
|                 |       | miss: counts differ by 2+, cells differ in row and column)     |
| `hallucination` | 1     | a wrong value plus an object that is in none of the images     |

Files written (paths inside are relative to each file's folder, as everywhere):

- ``test/judge_score.jsonl``, ``test/judge_pair.jsonl``, ``test/judge_batch.jsonl`` —
  the held-out judge benchmark (format: docs/judge.md). Score items cycle through the
  kinds so each is equally common; pairs join two kinds of different quality (a share
  ``tie_fraction`` join two different answers of the same kind: a tie, "C"), with the
  better answer first in half of them; batches rank ``batch_answers`` distinct kinds.
- ``train/judge_train.jsonl`` — judge tuning data from the *training* split as LLaVA
  conversations: the user turn is the judge prompt (`mllmkit.judge.prompts`, the text
  judges are asked at evaluation time) with the image(s), the assistant turn the verdict
  JSON; every pair in both orders unless ``swap_train_pairs`` is off. Test-split scenes
  are checked not to occur in the training split.
- ``judge_data.json`` — the settings and row counts.

Every random choice comes from a per-question seeded stream, so two runs with the same
world and settings write identical bytes. This module only uses the prompt templates of
`mllmkit.judge` (plain strings); like the rest of `mllmkit.world` it never imports torch.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from mllmkit.judge.modes import get_mode
from mllmkit.judge.prompts import LETTERS, render_prompt, verdict_json
from mllmkit.world.config import WorldConfig
from mllmkit.world.questions import TEMPLATES, existence
from mllmkit.world.questions.base import YES, YES_NO
from mllmkit.world.questions.count import COUNTS
from mllmkit.world.questions.multi_image import ORDINALS
from mllmkit.world.questions.position import candidates as position_candidates
from mllmkit.world.questions.size import COMPARISONS
from mllmkit.world.questions.spatial import HORIZONTAL_ANSWERS, VERTICAL_ANSWERS
from mllmkit.world.refer import matches
from mllmkit.world.sample import SPLITS
from mllmkit.world.scene import Scene, SceneObject
from mllmkit.world.verify import VerificationError, answer_question, parse_question
from mllmkit.world.vocab import (
    CATEGORIES,
    CELL_PHRASES,
    CELLS,
    COLORS,
    SHAPES,
    SIZES,
    article,
)
from mllmkit.world.writers import llava_row, write_json, write_jsonl

FORMAT_VERSION = 1
RUBRIC: dict[str, int] = {"correct": 5, "verbose": 4, "partial": 3, "wrong": 2, "hallucination": 1}
KINDS: tuple[str, ...] = tuple(RUBRIC)
RUBRIC_TEXT: dict[str, str] = {
    "correct": "the right answer, concise",
    "verbose": "the right answer wrapped in filler that adds nothing",
    "partial": "half right: a near miss, or the right answer with one false detail",
    "wrong": "another value from the question's answer space",
    "hallucination": "a wrong value plus an object that is not in the image",
}
#: Content-free wrappers for `verbose` answers (no word of the world's vocabulary).
FILLERS: tuple[tuple[str, str], ...] = (
    ("Looking at the image carefully, the answer is ", "."),
    ("After examining the picture, I would say ", ". I hope this helps!"),
    ("Good question! Based on what I can see, it is ", "."),
    ("I have looked at every part of the image, and my answer is ", "."),
    ("From the picture, the answer seems to be ", ". Let me know if you need more."),
)
#: Kinds that can make a tie (two *different* answers of equal quality), tried in order.
TIE_KINDS: tuple[str, ...] = ("verbose", "hallucination", "wrong", "partial")
#: The judge-data stream id in `stream_rng`'s entropy layout (distinct from its streams).
JUDGE_STREAM = 0x4A554447
MODE_STREAMS: dict[str, int] = {"score": 0, "pair": 1, "batch": 2}
_MAX_TIE_DRAWS = 8


@dataclass(frozen=True)
class JudgeDataConfig:
    """How many judge items to make per free-answer question, and how.

    ``per_question``: items of each mode per test question (score items: at most 5, one
    per kind); ``train_per_question``: items of each mode per training question (each
    becomes one tuning conversation); ``tie_fraction``: share of pairs that are ties;
    ``batch_answers``: answers per batch item (distinct kinds, so at most 5); ``seed``:
    None uses the world's seed; ``swap_train_pairs``: the tuning data holds every training
    pair in both orders (A/B swapped, a tie stays C) — JudgeLM's swap augmentation (Zhu et
    al. 2023), which teaches a verdict that does not depend on which answer comes first.
    The held-out benchmark is never swapped: its position-consistency probe asks both
    orders itself. ``train_modes``: which modes' items become tuning rows (a judge used
    pointwise, `mllmkit.judge.pointwise`, only ever scores). ``answer_first_scores``:
    score rows teach the judge to write the question's true answer before the score
    (``{"Answer": "blue", "Judgement": "[[2]]"}``, the ``answer_first`` score template).
    """

    per_question: int = 1
    train_per_question: int = 1
    tie_fraction: float = 0.1
    batch_answers: int = 3
    seed: int | None = None
    swap_train_pairs: bool = True
    train_modes: tuple[str, ...] = ("score", "pair", "batch")
    answer_first_scores: bool = False

    def __post_init__(self) -> None:
        if self.per_question < 1 or self.train_per_question < 0:
            raise ValueError(
                "JudgeDataConfig: per_question must be >= 1 and train_per_question >= 0"
            )
        if not 0.0 <= self.tie_fraction <= 1.0:
            raise ValueError(
                f"JudgeDataConfig.tie_fraction must be in [0, 1], got {self.tie_fraction}"
            )
        if not 2 <= self.batch_answers <= len(KINDS):
            raise ValueError(
                f"JudgeDataConfig.batch_answers must be in 2..{len(KINDS)}, "
                f"got {self.batch_answers}"
            )
        if self.seed is not None and self.seed < 0:
            raise ValueError(f"JudgeDataConfig.seed must be non-negative, got {self.seed}")
        object.__setattr__(self, "train_modes", tuple(self.train_modes))
        bad = [m for m in self.train_modes if m not in MODE_STREAMS]
        if bad or not self.train_modes or len(set(self.train_modes)) != len(self.train_modes):
            raise ValueError(
                f"JudgeDataConfig.train_modes must be distinct names from "
                f"{list(MODE_STREAMS)}, got {list(self.train_modes)}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JudgeDataConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(
                f"JudgeDataConfig: unknown field(s) {unknown}; expected {sorted(known)}"
            )
        return cls(**d)


# --- one question and its answer space --------------------------------------------------


@dataclass(frozen=True)
class Question:
    """A free-answer question of the world with its scenes, template and answer space."""

    id: str
    images: tuple[str, ...]
    ability: str
    question: str
    answer: str
    scenes: tuple[Scene, ...]
    template: str
    slots: tuple[tuple[str, str], ...]
    space: tuple[str, ...]

    @property
    def slot(self) -> dict[str, str]:
        return dict(self.slots)


def _cell_rc(cell: str) -> tuple[int, int]:
    return divmod(CELLS.index(cell), 3)


Space = Callable[[str, WorldConfig], tuple[str, ...]]
ANSWER_SPACES: dict[str, Space] = {
    **dict.fromkeys(existence.TEMPLATE_NAMES, lambda a, cfg: YES_NO),
    "count.how_many": lambda a, cfg: COUNTS,
    "color.what": lambda a, cfg: COLORS,
    "shape.what": lambda a, cfg: SHAPES,
    "size.compare": lambda a, cfg: COMPARISONS,
    "size.what": lambda a, cfg: SIZES,
    "spatial.horizontal": lambda a, cfg: HORIZONTAL_ANSWERS,
    "spatial.vertical": lambda a, cfg: VERTICAL_ANSWERS,
    "position.where": lambda a, cfg: position_candidates(a),
    "text.read": lambda a, cfg: tuple(dict.fromkeys((*cfg.sign_texts, a))),
    "multi_image.more": lambda a, cfg: ORDINALS,
    "multi_image.which": lambda a, cfg: ORDINALS,
    "multi_image.both": lambda a, cfg: YES_NO,
}


def wrong_values(q: Question) -> tuple[str, ...]:
    """Values of the answer space that are plainly wrong (near misses left out)."""
    if q.template == "count.how_many":
        return tuple(v for v in q.space if abs(int(v) - int(q.answer)) >= 2)
    if q.template == "position.where":
        row, col = _cell_rc(q.answer)
        return tuple(c for c in q.space if _cell_rc(c)[0] != row and _cell_rc(c)[1] != col)
    return tuple(v for v in q.space if v != q.answer)


# --- the five kinds of candidate ----------------------------------------------------------


def _pick(rng: np.random.Generator, values: Sequence[str]) -> str:
    if not values:
        raise ValueError("nothing to choose from")
    return values[int(rng.integers(len(values)))]


def _referent(scene: Scene, desc: str) -> SceneObject:
    """The one object a referring expression ("large red object", "cross") names."""
    words = desc.split()
    attrs = {} if words[-1] == "object" else {"shape": words[-1]}
    for word in words[:-1]:
        attrs["size" if word in SIZES else "color"] = word
    found = [o for o in scene.objects if matches(o, attrs)]
    if len(found) != 1:
        raise ValueError(f"'the {desc}' names {len(found)} objects in scene {scene.id}")
    return found[0]


def _other(rng: np.random.Generator, values: Sequence[str], not_this: str) -> str:
    return _pick(rng, [v for v in values if v != not_this])


def _wrong_count(rng: np.random.Generator, n: int) -> int:
    """n ± 1, never below 1 (a scene always has a shape)."""
    return n + 1 if n <= 1 or rng.random() < 0.5 else n - 1


def _false_horizontal(rng: np.random.Generator, a: SceneObject, b: SceneObject) -> str:
    if a.col == b.col:
        return _pick(rng, HORIZONTAL_ANSWERS)
    return "right" if a.col < b.col else "left"


def _false_vertical(rng: np.random.Generator, a: SceneObject, b: SceneObject) -> str:
    if a.row == b.row:
        return _pick(rng, VERTICAL_ANSWERS)
    return "below" if a.row < b.row else "above"


def _partial(q: Question, rng: np.random.Generator) -> str:
    """Half right (see the module docstring); one rule per template, by exact name."""
    s, scene, answer = q.slot, q.scenes[0], q.answer
    name = q.template
    if name == "count.how_many":
        n = int(answer)
        near = [str(v) for v in (n - 1, n + 1) if str(v) in COUNTS]
        return _pick(rng, near)
    if name == "position.where":
        row, col = _cell_rc(answer)
        same_row = [c for c in q.space if _cell_rc(c)[0] == row and _cell_rc(c)[1] != col]
        return _pick(rng, same_row)
    if name == "color.what":
        return f"{answer} {_other(rng, SHAPES, _referent(scene, s['ref']).shape)}"
    if name == "shape.what":
        return f"{_other(rng, COLORS, _referent(scene, s['ref']).color)} {answer}"
    if name == "size.what":
        obj = _referent(scene, s["ref"])
        return f"{answer} {_other(rng, COLORS, obj.color)} {obj.shape}"
    if name in ("size.compare", "spatial.vertical"):
        a, b = _referent(scene, s["ref_a"]), _referent(scene, s["ref_b"])
        return f"{answer}, and to the {_false_horizontal(rng, a, b)} of it"
    if name == "spatial.horizontal":
        a, b = _referent(scene, s["ref_a"]), _referent(scene, s["ref_b"])
        return f"{answer}, and {_false_vertical(rng, a, b)} it"
    if name in existence.TEMPLATE_NAMES:
        if answer == YES:
            desc = s["desc"].split()
            attrs = {} if desc[-1] == "object" else {"shape": desc[-1]}
            attrs.update(("color", w) for w in desc[:-1] if w in COLORS)
            taken = {o.cell for o in scene.objects if matches(o, attrs)}
            cell = _pick(rng, [c for c in CELLS if c not in taken])
            return f"{answer}, {CELL_PHRASES[cell]}"
        return f"{answer}, and there are {_wrong_count(rng, len(scene.objects))} shapes"
    if name == "text.read":
        if scene.sign is None:
            raise ValueError(f"{q.id}: a text question about scene {scene.id}, which has no sign")
        cell = _other(rng, CELLS, scene.sign.cell)
        return f"{answer}, on a sign {CELL_PHRASES[cell]}"
    if TEMPLATES[name].ability == "multi_image":
        k = int(rng.integers(len(q.scenes)))
        n = _wrong_count(rng, len(q.scenes[k].objects))
        return f"{answer}; the {ORDINALS[k]} image has {n} shapes"
    raise ValueError(f"no partial-answer rule for template {name!r}")


def _hallucination(q: Question, rng: np.random.Generator) -> str:
    """A wrong value, then an object in none of the images, stated as fact."""
    present = {(o.color, o.shape) for scene in q.scenes for o in scene.objects}
    absent = [c for c in CATEGORIES if c not in present]
    color, shape = absent[int(rng.integers(len(absent)))]
    size = _pick(rng, SIZES)
    place = CELL_PHRASES[_pick(rng, CELLS)]
    desc = f"{size} {color} {shape}"
    return f"{_pick(rng, wrong_values(q))}. There is also {article(desc)} {desc} {place}."


def _verbose(q: Question, rng: np.random.Generator) -> str:
    prefix, suffix = FILLERS[int(rng.integers(len(FILLERS)))]
    return f"{prefix}{q.answer}{suffix}"


BUILDERS: dict[str, Callable[[Question, np.random.Generator], str]] = {
    "correct": lambda q, rng: q.answer,
    "verbose": _verbose,
    "partial": _partial,
    "wrong": lambda q, rng: _pick(rng, wrong_values(q)),
    "hallucination": _hallucination,
}


def candidate(kind: str, q: Question, rng: np.random.Generator) -> str:
    """One answer of `kind` (a key of `RUBRIC`) to question `q`."""
    if kind not in BUILDERS:
        raise ValueError(f"unknown answer kind {kind!r}; expected one of {list(BUILDERS)}")
    return BUILDERS[kind](q, rng)


def _check_coverage() -> None:
    missing = set(TEMPLATES) - set(ANSWER_SPACES)
    if missing:
        raise RuntimeError(f"judge data: templates without an answer space: {sorted(missing)}")
    if list(RUBRIC.values()) != sorted(RUBRIC.values(), reverse=True):
        raise RuntimeError("judge data: RUBRIC must list kinds from best to worst")


_check_coverage()


# --- items ------------------------------------------------------------------------------


class _Balance:
    """Counters that keep score kinds equally common and the better pair answer first in
    half of the pairs, across the whole split (questions are processed in file order)."""

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()
        self.better_first = 0
        self.better_second = 0

    def score_kinds(self, n: int, rng: np.random.Generator) -> list[str]:
        order = [KINDS[int(i)] for i in rng.permutation(len(KINDS))]
        chosen: list[str] = []
        for _ in range(min(n, len(KINDS))):
            kind = min((k for k in order if k not in chosen), key=lambda k: self.kinds[k])
            self.kinds[kind] += 1
            chosen.append(kind)
        return chosen

    def put_better_first(self, rng: np.random.Generator) -> bool:
        if self.better_first == self.better_second:
            first = bool(rng.random() < 0.5)
        else:
            first = self.better_first < self.better_second
        if first:
            self.better_first += 1
        else:
            self.better_second += 1
        return first


def _item(
    q: Question, item_id: str, mode: str, answers: list[str], human: Any, kinds: list[str]
) -> dict[str, Any]:
    return {
        "id": item_id,
        "mode": mode,
        "images": list(q.images),
        "question": q.question,
        "answers": answers,
        "human": human,
        "source": q.ability,
        "kinds": kinds,
        "question_id": q.id,
    }


def score_items(q: Question, n: int, rng: np.random.Generator, bal: _Balance) -> list[dict]:
    """`n` score items (at most one per kind, so at most 5), kinds kept equally common."""
    return [
        _item(q, f"{q.id}-s{k}", "score", [candidate(kind, q, rng)], RUBRIC[kind], [kind])
        for k, kind in enumerate(bal.score_kinds(n, rng))
    ]


def _tie(q: Question, rng: np.random.Generator) -> tuple[str, str, str] | None:
    for kind in [TIE_KINDS[int(i)] for i in rng.permutation(len(TIE_KINDS))]:
        first = candidate(kind, q, rng)
        for _ in range(_MAX_TIE_DRAWS):
            second = candidate(kind, q, rng)
            if second != first:
                return kind, first, second
    return None


def pair_items(
    q: Question, n: int, tie_fraction: float, rng: np.random.Generator, bal: _Balance
) -> list[dict]:
    """`n` pair items: two kinds of different quality (better one first in half of all
    pairs), or with probability `tie_fraction` two different answers of one kind (C)."""
    items = []
    for k in range(n):
        tie = _tie(q, rng) if rng.random() < tie_fraction else None
        if tie is not None:
            kind, a, b = tie
            items.append(_item(q, f"{q.id}-p{k}", "pair", [a, b], "C", [kind, kind]))
            continue
        i, j = sorted(int(x) for x in rng.choice(len(KINDS), size=2, replace=False))
        better, worse = KINDS[i], KINDS[j]  # KINDS runs from best to worst
        texts = {kind: candidate(kind, q, rng) for kind in (better, worse)}
        order = [better, worse] if bal.put_better_first(rng) else [worse, better]
        human = "A" if order[0] == better else "B"
        items.append(_item(q, f"{q.id}-p{k}", "pair", [texts[o] for o in order], human, order))
    return items


def batch_items(q: Question, n: int, size: int, rng: np.random.Generator) -> list[dict]:
    """`n` batch items of `size` distinct kinds in random order, ranked by the rubric."""
    items = []
    for k in range(n):
        picked = [KINDS[int(i)] for i in rng.choice(len(KINDS), size=size, replace=False)]
        shown = [picked[int(i)] for i in rng.permutation(size)]
        answers = [candidate(kind, q, rng) for kind in shown]
        human = sorted(LETTERS[:size], key=lambda letter: -RUBRIC[shown[LETTERS.index(letter)]])
        items.append(_item(q, f"{q.id}-b{k}", "batch", answers, human, shown))
    return items


def _rng(seed: int, split: str, index: int, mode: str) -> np.random.Generator:
    return np.random.default_rng([seed, SPLITS[split], index, JUDGE_STREAM, MODE_STREAMS[mode]])


def split_items(
    questions: Sequence[Question], split: str, seed: int, per_question: int, cfg: JudgeDataConfig
) -> dict[str, list[dict]]:
    """Score, pair and batch items for every question of a split, in question order."""
    out: dict[str, list[dict]] = {"score": [], "pair": [], "batch": []}
    score_bal, pair_bal = _Balance(), _Balance()
    for i, q in enumerate(questions):
        out["score"] += score_items(q, per_question, _rng(seed, split, i, "score"), score_bal)
        out["pair"] += pair_items(
            q, per_question, cfg.tie_fraction, _rng(seed, split, i, "pair"), pair_bal
        )
        out["batch"] += batch_items(
            q, per_question, cfg.batch_answers, _rng(seed, split, i, "batch")
        )
    return out


def swapped_pair(item: dict) -> dict:
    """The same pair with its answers in the other order; the verdict is mapped by the pair
    mode's own rule (`Mode.to_original`, as the position probe maps its answers back)."""
    if item["mode"] != "pair":
        raise ValueError(f"only pair items can be swapped, not {item['mode']!r}")
    reverse = (1, 0)
    return {
        **item,
        "id": f"{item['id']}-swap",
        "answers": [item["answers"][i] for i in reverse],
        "kinds": [item["kinds"][i] for i in reverse],
        "human": get_mode("pair").to_original(item["human"], reverse),
    }


def tuning_row(item: dict, truth: str | None = None) -> dict:
    """A LLaVA conversation teaching the verdict for one item: the ``Judgement`` a perfect
    judge gives, written by the mode's own rule (the one the judge's parser reads back).

    With `truth` (score items only) the row uses the ``answer_first`` template and the
    verdict starts with that answer.
    """
    if truth is not None and item["mode"] != "score":
        raise ValueError(f"{item['id']}: only score rows can state the answer first")
    answer_first = truth is not None
    prompt = render_prompt(
        item["mode"], item["question"], item["answers"], answer_first=answer_first
    )
    reply = verdict_json(get_mode(item["mode"]).judgement(item["human"]), truth)
    return llava_row(f"judge-{item['id']}", item["images"], [(prompt, reply)])


# --- reading a world split ----------------------------------------------------------------


def _read_jsonl(path: Path) -> list[tuple[int, dict]]:
    if not path.is_file():
        raise ValueError(
            f"{path}: not found (is this a world folder written by `mllm world generate`?)"
        )
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                rows.append((number, json.loads(line)))
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: not valid JSON: {exc}") from None
    return rows


def load_scenes(split_dir: Path) -> dict[str, Scene]:
    """Scenes of a split by their image path (as ``questions.jsonl`` refers to them)."""
    path = split_dir / "scenes.jsonl"
    scenes = {}
    for number, row in _read_jsonl(path):
        where = f"{path}:{number}"
        scene = Scene.from_dict(row, where)
        if not isinstance(row.get("image"), str):
            raise ValueError(f"{where}: field 'image' must be the scene's image path")
        scenes[row["image"]] = scene
    return scenes


def load_questions(split_dir: Path, cfg: WorldConfig) -> list[Question]:
    """The free-answer questions of a split, each re-verified against its scenes."""
    scenes = load_scenes(split_dir)
    path = split_dir / "questions.jsonl"
    out = []
    for number, row in _read_jsonl(path):
        if row.get("format") != "short":
            continue
        where = f"{path}:{number} (id={row.get('id')})"
        try:
            shown = tuple(scenes[p] for p in row["images"])
        except KeyError as exc:
            raise ValueError(f"{where}: field 'images': no scene for {exc}") from None
        try:
            truth = answer_question(shown, row["question"])
            template, _, slots = parse_question(row["question"])
        except VerificationError as exc:
            raise ValueError(f"{where}: field 'question': {exc}") from None
        if truth != row["answer"]:
            raise ValueError(
                f"{where}: field 'answer' is {row['answer']!r}, the scene says {truth!r}"
            )
        out.append(
            Question(
                id=str(row["id"]),
                images=tuple(row["images"]),
                ability=row["ability"],
                question=row["question"],
                answer=truth,
                scenes=shown,
                template=template.name,
                slots=tuple(slots.items()),
                space=ANSWER_SPACES[template.name](truth, cfg),
            )
        )
    return out


def check_disjoint(train: dict[str, Scene], test_questions: Sequence[Question]) -> None:
    """Raise if a test judge item shows a scene whose content occurs in the training split."""
    train_keys = {scene.key() for scene in train.values()}
    for q in test_questions:
        for image, scene in zip(q.images, q.scenes, strict=True):
            if scene.key() in train_keys:
                raise ValueError(
                    f"test question {q.id}: scene {image} also occurs in the training split; "
                    "the held-out judge benchmark must not share scenes with judge tuning data"
                )


def make_judge_data(world_dir: str | Path, config: JudgeDataConfig | None = None) -> dict[str, int]:
    """Write the judge benchmark (test split) and tuning data (train split) into a world.

    Returns rows per written file (relative paths). See the module docstring.
    """
    config = config or JudgeDataConfig()
    world_dir = Path(world_dir)
    meta_path = world_dir / "world.json"
    if not meta_path.is_file():
        raise ValueError(
            f"{world_dir}: no world.json; generate a world first (mllm world generate)"
        )
    meta = json.loads(meta_path.read_text())
    world_cfg = WorldConfig.from_dict(meta["config"])
    seed = config.seed if config.seed is not None else int(meta["seed"])

    test_questions = load_questions(world_dir / "test", world_cfg)
    check_disjoint(load_scenes(world_dir / "train"), test_questions)
    counts: dict[str, int] = {}
    test = split_items(test_questions, "test", seed, config.per_question, config)
    for mode, items in test.items():
        counts[f"test/judge_{mode}.jsonl"] = write_jsonl(
            world_dir / "test" / f"judge_{mode}.jsonl", items
        )
    rows: list[dict] = []
    if config.train_per_question:
        train_questions = load_questions(world_dir / "train", world_cfg)
        train = split_items(train_questions, "train", seed, config.train_per_question, config)
        if config.swap_train_pairs:
            train["pair"] = [x for item in train["pair"] for x in (item, swapped_pair(item))]
        # score rows state the true answer first when asked to (`tuning_row`)
        truths = {q.id: q.answer for q in train_questions} if config.answer_first_scores else {}
        rows = [
            tuning_row(item, truths.get(item["question_id"]) if mode == "score" else None)
            for mode in MODE_STREAMS
            if mode in config.train_modes
            for item in train[mode]
        ]
    counts["train/judge_train.jsonl"] = write_jsonl(world_dir / "train" / "judge_train.jsonl", rows)
    write_json(
        world_dir / "judge_data.json",
        {
            "format_version": FORMAT_VERSION,
            "seed": seed,
            "config": config.to_dict(),
            "rubric": RUBRIC,
            "counts": counts,
        },
    )
    return counts
