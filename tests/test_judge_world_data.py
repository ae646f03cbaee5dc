"""Judge data from the world: labels that match the truth, balance, determinism, and
held-out test scenes."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from mllmkit.data.llava import read_conversations
from mllmkit.judge.data import read_judge_file
from mllmkit.judge.parse import parse_pair, parse_ranking, parse_score
from mllmkit.judge.prompts import SCORE_REPLY_ANSWER_FIRST, render_prompt
from mllmkit.world.generate import generate_world
from mllmkit.world.judge_data import (
    FILLERS,
    KINDS,
    RUBRIC,
    JudgeDataConfig,
    check_disjoint,
    load_questions,
    load_scenes,
    make_judge_data,
    wrong_values,
)
from mllmkit.world.verify import answer_question, parse_question
from mllmkit.world.vocab import CELL_PHRASES, CELLS, COLORS, SHAPES

FILES = (
    "test/judge_score.jsonl",
    "test/judge_pair.jsonl",
    "test/judge_batch.jsonl",
    "train/judge_train.jsonl",
    "judge_data.json",
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world") / "w"
    generate_world(out, 60, 30, 5, workers=1, progress=False)
    make_judge_data(out, JudgeDataConfig(per_question=2, tie_fraction=0.2))
    return out


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _digests(world: Path) -> dict[str, str]:
    return {f: hashlib.sha256((world / f).read_bytes()).hexdigest() for f in FILES}


def _scenes(world: Path, split: str, images: list[str]):
    scenes = load_scenes(world / split)
    return [scenes[p] for p in images]


def test_files_are_written_and_readable(world: Path) -> None:
    for mode in ("score", "pair", "batch"):
        data = read_judge_file(world / "test" / f"judge_{mode}.jsonl", mode)
        assert data.bad_rows == [] and len(data.items) > 50
    summary = json.loads((world / "judge_data.json").read_text())
    assert summary["rubric"] == RUBRIC and summary["seed"] == 5


def test_same_seed_same_bytes_other_seed_differs(world: Path) -> None:
    before = _digests(world)
    make_judge_data(world, JudgeDataConfig(per_question=2, tie_fraction=0.2))
    assert _digests(world) == before
    make_judge_data(world, JudgeDataConfig(per_question=2, tie_fraction=0.2, seed=6))
    changed = _digests(world)
    assert changed["test/judge_score.jsonl"] != before["test/judge_score.jsonl"]
    make_judge_data(world, JudgeDataConfig(per_question=2, tie_fraction=0.2))  # restore
    assert _digests(world) == before


_ALSO = re.compile(r"^(.+)\. There is also an? (small|large) (\w+) (\w+) (.+)\.$")


def _check_candidate(kind: str, text: str, truth: str, record: dict, scenes) -> None:
    """Each kind says what the rubric says it says, checked against the scenes."""
    question = record["question"]
    if kind == "correct":
        assert text == truth
    elif kind == "verbose":
        assert any(text == f"{p}{truth}{s}" for p, s in FILLERS)
    elif kind == "wrong":
        assert text != truth
        assert answer_question(scenes, question) != text
        if record["ability"] == "count":
            assert abs(int(text) - int(truth)) >= 2
        if record["ability"] == "position":
            (r1, c1), (r2, c2) = divmod(CELLS.index(truth), 3), divmod(CELLS.index(text), 3)
            assert r1 != r2 and c1 != c2
    elif kind == "hallucination":
        match = _ALSO.match(text)
        assert match, text
        value, _, color, shape, place = match.groups()
        assert value != truth and color in COLORS and shape in SHAPES
        assert place in CELL_PHRASES.values()
        shown = {(o.color, o.shape) for s in scenes for o in s.objects}
        assert (color, shape) not in shown, "the invented object must not be in the image"
    elif kind == "partial":
        assert text != truth
        if record["ability"] == "count":
            assert abs(int(text) - int(truth)) == 1
        elif record["ability"] == "position":
            (r1, c1), (r2, c2) = divmod(CELLS.index(truth), 3), divmod(CELLS.index(text), 3)
            assert r1 == r2 and c1 != c2
        else:
            _check_false_detail(text, truth, record, scenes)
    else:
        raise AssertionError(f"unknown kind {kind}")


def _matching(scene, desc: str) -> list:
    words = desc.split()
    return [
        o
        for o in scene.objects
        if (words[-1] == "object" or o.shape == words[-1])
        and all(w in (o.size, o.color) for w in words[:-1])
    ]


def _the(scene, desc: str):
    found = _matching(scene, desc)
    assert len(found) == 1, desc
    return found[0]


_RELATION = {"left": (1, -1), "right": (1, 1), "above": (0, -1), "below": (0, 1)}


def _holds(relation: str, a, b) -> bool:
    axis, sign = _RELATION[relation]
    pa, pb = divmod(CELLS.index(a.cell), 3), divmod(CELLS.index(b.cell), 3)
    return (pa[axis] - pb[axis]) * sign > 0


def _check_false_detail(text: str, truth: str, record: dict, scenes) -> None:
    """A partial answer keeps the right answer and adds one detail the scene contradicts."""
    _, _, slots = parse_question(record["question"])
    scene = scenes[0]
    ability = record["ability"]
    if ability == "color":
        color, shape = text.split()
        assert color == truth and shape != _the(scene, slots["ref"]).shape
    elif ability == "shape":
        color, shape = text.split()
        assert shape == truth and color != _the(scene, slots["ref"]).color
    elif ability == "size" and "ref" in slots:
        size, color, shape = text.split()
        obj = _the(scene, slots["ref"])
        assert size == truth and shape == obj.shape and color != obj.color
    elif ability in ("size", "spatial"):
        head, detail = text.split(", and ")
        relation = detail.removeprefix("to the ").removesuffix(" of it").removesuffix(" it")
        assert head == truth
        assert not _holds(relation, _the(scene, slots["ref_a"]), _the(scene, slots["ref_b"]))
    elif ability == "existence" and truth == "Yes":
        head, place = text.split(", ", 1)
        cell = next(c for c, phrase in CELL_PHRASES.items() if phrase == place)
        assert head == truth
        assert _matching(scene, slots["desc"]) and cell not in {
            o.cell for o in _matching(scene, slots["desc"])
        }
    elif ability == "existence":
        assert text == f"No, and there are {int(text.split()[4])} shapes"
        assert int(text.split()[4]) != len(scene.objects)
    elif ability == "text":
        head, place = text.split(", on a sign ")
        assert head == truth and place != CELL_PHRASES[scene.sign.cell]
    else:
        head, detail = text.split("; the ")
        ordinal, _, _, n, _ = detail.split()
        assert head == truth
        assert int(n) != len(scenes[("first", "second").index(ordinal)].objects)


def test_every_candidate_matches_its_kind_and_score(world: Path) -> None:
    questions = {r["id"]: r for r in _rows(world / "test" / "questions.jsonl")}
    for mode in ("score", "pair", "batch"):
        for row in _rows(world / "test" / f"judge_{mode}.jsonl"):
            record = questions[row["question_id"]]
            scenes = _scenes(world, "test", row["images"])
            truth = answer_question(scenes, record["question"])
            assert truth == record["answer"] and row["source"] == record["ability"]
            for kind, text in zip(row["kinds"], row["answers"], strict=True):
                _check_candidate(kind, text, truth, record, scenes)


def test_human_labels_follow_the_rubric(world: Path) -> None:
    for row in _rows(world / "test" / "judge_score.jsonl"):
        assert row["human"] == RUBRIC[row["kinds"][0]]
    pairs = _rows(world / "test" / "judge_pair.jsonl")
    for row in pairs:
        a, b = (RUBRIC[k] for k in row["kinds"])
        assert row["human"] == ("C" if a == b else "A" if a > b else "B")
        if row["human"] == "C":
            assert row["answers"][0] != row["answers"][1]
    for row in _rows(world / "test" / "judge_batch.jsonl"):
        scores = [RUBRIC[k] for k in row["kinds"]]
        assert len(set(scores)) == len(scores) == 3
        assert [scores["ABC".index(x)] for x in row["human"]] == sorted(scores, reverse=True)


def test_kinds_and_pair_order_are_balanced(world: Path) -> None:
    kinds = Counter(r["kinds"][0] for r in _rows(world / "test" / "judge_score.jsonl"))
    assert set(kinds) == set(KINDS) and max(kinds.values()) - min(kinds.values()) <= 1
    humans = Counter(r["human"] for r in _rows(world / "test" / "judge_pair.jsonl"))
    assert abs(humans["A"] - humans["B"]) <= 1
    assert 0 < humans["C"] < 0.4 * sum(humans.values())


def test_tuning_rows_teach_the_right_verdict(world: Path) -> None:
    path = world / "train" / "judge_train.jsonl"
    rows = _rows(path)
    convs = read_conversations(path)
    assert len(convs) == len(rows) > 100
    train_images = {p.name for p in (world / "train" / "images").iterdir()}
    modes = Counter()
    for raw, conv in zip(rows, convs, strict=True):
        user, reply = conv.turns[0].text, conv.turns[1].text
        prompt = user.replace("<image>\n", "")
        assert user == "<image>\n" * len(conv.images) + prompt
        assert all(p.name in train_images and p.parent.parent.name == "train" for p in conv.images)
        if prompt.startswith("Score"):
            modes["score"] += 1
            assert parse_score(reply) in RUBRIC.values()
        elif prompt.startswith("Which"):
            modes["pair"] += 1
            assert parse_pair(reply) in ("A", "B", "C")
        else:
            modes["batch"] += 1
            assert parse_ranking(reply, 3) is not None
        assert raw["id"].startswith("judge-train-")
    # every training pair is there in both orders (swap_train_pairs is on by default)
    assert modes["pair"] == 2 * modes["score"] == 2 * modes["batch"]


def _pair_rows(path: Path) -> list[dict]:
    return [
        r
        for r in _rows(path)
        if r["conversations"][0]["value"].replace("<image>\n", "").startswith("Which")
    ]


def test_swapped_pairs_follow_their_original_with_answers_and_verdict_swapped(
    world: Path,
) -> None:
    rows = _pair_rows(world / "train" / "judge_train.jsonl")
    originals, swaps = rows[0::2], rows[1::2]
    assert len(originals) == len(swaps) > 20
    flip = {"A": "B", "B": "A", "C": "C"}
    verdicts = Counter()
    for o, s in zip(originals, swaps, strict=True):
        assert s["id"] == o["id"] + "-swap" and s["image"] == o["image"]
        po, ps = o["conversations"][0]["value"], s["conversations"][0]["value"]
        ao = re.findall(r"^\[([AB])\] (.*)$", po, flags=re.M)
        as_ = re.findall(r"^\[([AB])\] (.*)$", ps, flags=re.M)
        assert [t for _, t in as_] == [t for _, t in ao][::-1]
        vo = parse_pair(o["conversations"][1]["value"])
        vs = parse_pair(s["conversations"][1]["value"])
        assert vs == flip[vo]
        verdicts[vo] += 1
    assert verdicts["A"] and verdicts["B"] and verdicts["C"]


def test_without_swapping_pairs_appear_once_and_the_test_set_is_the_same(
    world: Path, tmp_path: Path
) -> None:
    other = tmp_path / "w"
    shutil.copytree(world, other)
    config = JudgeDataConfig(per_question=2, tie_fraction=0.2, swap_train_pairs=False)
    make_judge_data(other, config)
    rows = _rows(other / "train" / "judge_train.jsonl")
    assert not any(r["id"].endswith("-swap") for r in rows)
    assert len(_pair_rows(other / "train" / "judge_train.jsonl")) * 2 == len(
        _pair_rows(world / "train" / "judge_train.jsonl")
    )
    for f in FILES[:3]:
        assert (other / f).read_bytes() == (world / f).read_bytes(), f


def test_tuning_prompt_is_the_evaluation_prompt(world: Path) -> None:
    questions = {q.id: q for q in load_questions(world / "train", _config(world))}
    row = _rows(world / "train" / "judge_train.jsonl")[0]
    qid = row["id"][len("judge-") :].rsplit("-", 1)[0]
    user = row["conversations"][0]["value"]
    q = questions[qid]
    assert user.startswith("<image>\n" * len(q.images))
    assert render_prompt("score", q.question, ["x"]).split("\n")[1] in user  # same question line


def test_answer_first_score_rows_state_the_truth_and_train_modes_select_rows(
    world: Path, tmp_path: Path
) -> None:
    other = tmp_path / "w"
    shutil.copytree(world, other)
    config = JudgeDataConfig(
        per_question=2, tie_fraction=0.2, train_modes=["score"], answer_first_scores=True
    )
    make_judge_data(other, config)
    questions = {q.id: q for q in load_questions(other / "train", _config(other))}
    rows = _rows(other / "train" / "judge_train.jsonl")
    # score rows only, each as many as with every mode
    assert rows and all(re.search(r"-s\d+$", r["id"]) for r in rows)
    assert len(rows) == sum(
        1 for r in _rows(world / "train" / "judge_train.jsonl") if re.search(r"-s\d+$", r["id"])
    )
    for row in rows:
        qid = row["id"][len("judge-") :].rsplit("-", 1)[0]
        user, reply = (turn["value"] for turn in row["conversations"])
        assert user.endswith(SCORE_REPLY_ANSWER_FIRST)
        verdict = json.loads(reply)
        assert verdict["Answer"] == questions[qid].answer
        assert parse_score(reply) is not None
    for f in FILES[:3]:  # the held-out benchmark does not change
        assert (other / f).read_bytes() == (world / f).read_bytes(), f
    for bad in ([], ["rank"], ["score", "score"]):
        with pytest.raises(ValueError, match="train_modes"):
            JudgeDataConfig(train_modes=bad)


def _config(world: Path):
    from mllmkit.world.config import WorldConfig

    return WorldConfig.from_dict(json.loads((world / "world.json").read_text())["config"])


def test_wrong_values_exclude_near_misses(world: Path) -> None:
    for q in load_questions(world / "test", _config(world)):
        wrong = wrong_values(q)
        assert wrong and q.answer not in wrong and set(wrong) <= set(q.space)


def test_test_scenes_seen_in_training_are_refused(world: Path) -> None:
    test_questions = load_questions(world / "test", _config(world))
    train = load_scenes(world / "train")
    check_disjoint(train, test_questions)  # the world keeps splits apart
    leaked = {**train, "leak.png": test_questions[0].scenes[0]}
    with pytest.raises(ValueError, match="also occurs in the training split"):
        check_disjoint(leaked, test_questions)


def test_bad_inputs_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no world\.json"):
        make_judge_data(tmp_path)
    with pytest.raises(ValueError, match="tie_fraction"):
        JudgeDataConfig(tie_fraction=1.5)
    with pytest.raises(ValueError, match="batch_answers"):
        JudgeDataConfig(batch_answers=6)
    with pytest.raises(ValueError, match="unknown field"):
        JudgeDataConfig.from_dict({"per_questions": 2})


def test_judge_data_does_not_import_torch() -> None:
    code = "import sys, mllmkit.world.judge_data; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
