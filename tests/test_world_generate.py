"""`generate_world`: determinism, no leakage, balance and the files it writes."""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from mllmkit.world.caption import caption
from mllmkit.world.config import WorldConfig
from mllmkit.world.generate import generate_world, sample_split
from mllmkit.world.preview import make_preview
from mllmkit.world.scene import Scene
from mllmkit.world.verify import parse_question, verify_record

RECORD_FIELDS = [
    "id",
    "split",
    "images",
    "ability",
    "format",
    "question",
    "answer",
    "options",
    "answer_text",
]


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _tsv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, dialect="excel-tab"))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world") / "w"
    generate_world(out, 300, 200, seed=5, workers=1, progress=False)
    return out


def test_same_seed_same_bytes_whatever_the_workers(tmp_path: Path) -> None:
    # 300 scenes: enough for the worker pool to be used when workers=2.
    generate_world(tmp_path / "a", 240, 60, seed=3, workers=1, progress=False)
    generate_world(tmp_path / "b", 240, 60, seed=3, workers=2, progress=False)
    generate_world(tmp_path / "c", 240, 60, seed=4, workers=1, progress=False)
    a, b, c = (_hashes(tmp_path / x) for x in "abc")
    assert len(a) > 300 and a == b
    assert a.keys() == c.keys()
    assert sum(a[k] != c[k] for k in a) > 0.9 * len(a)


def test_guard_removes_every_raw_collision() -> None:
    cfg = WorldConfig(max_objects=2, sign_prob=0.0)
    train, _ = sample_split(0, "train", 3000, cfg)
    keys = {s.key() for s in train}
    raw, _ = sample_split(0, "test", 1000, cfg)
    collisions = sum(s.key() in keys for s in raw)
    assert collisions > 100  # without the guard, the split would leak
    guarded, resampled = sample_split(0, "test", 1000, cfg, exclude=keys)
    assert not any(s.key() in keys for s in guarded)
    assert resampled == collisions
    # Scenes that did not collide are untouched (each scene has its own stream).
    assert sum(a == b for a, b in zip(raw, guarded, strict=True)) == 1000 - collisions


def test_no_leakage_in_a_written_world(tmp_path: Path) -> None:
    cfg = WorldConfig(max_objects=1, sign_prob=0.0)
    summary = generate_world(tmp_path / "w", 400, 100, seed=1, config=cfg, progress=False)
    assert summary.resampled_test_scenes > 10
    keys = {Scene.from_dict(r).key() for r in _jsonl(tmp_path / "w/train/scenes.jsonl")}
    test = [Scene.from_dict(r) for r in _jsonl(tmp_path / "w/test/scenes.jsonl")]
    assert len(test) == 100 and not any(s.key() in keys for s in test)
    with pytest.raises(ValueError, match="too small"):
        sample_split(0, "test", 10, cfg, exclude={s.key() for s in _every_one_object_scene()})


def _every_one_object_scene() -> list[Scene]:
    from mllmkit.world.scene import SceneObject
    from mllmkit.world.vocab import CELLS, COLORS, SHAPES, SIZES

    return [
        Scene("x", (SceneObject(s, c, z, cell),))
        for s in SHAPES
        for c in COLORS
        for z in SIZES
        for cell in CELLS
    ]


def test_every_record_verifies_and_follows_the_contract(world: Path) -> None:
    for split in ("train", "test"):
        scenes = {
            f"images/{r['id']}.png": Scene.from_dict(r)
            for r in _jsonl(world / split / "scenes.jsonl")
        }
        records = _jsonl(world / split / "questions.jsonl")
        assert len({r["id"] for r in records}) == len(records)
        for r in records:
            assert list(r) == RECORD_FIELDS and r["split"] == split
            assert all((world / split / p).is_file() for p in r["images"])
            verify_record([scenes[p] for p in r["images"]], r)
        abilities = {r["ability"] for r in records}
        assert abilities == {
            "existence",
            "count",
            "color",
            "shape",
            "size",
            "spatial",
            "position",
            "text",
            "multi_image",
        }
        assert {r["format"] for r in records} == {"short", "yorn", "mcq"}


def test_yes_no_and_letters_are_balanced(world: Path) -> None:
    for split in ("train", "test"):
        records = _jsonl(world / split / "questions.jsonl")
        # Yes/no is balanced per question form (template), which also rules out a form
        # that leans to one answer inside a balanced ability.
        yorn = Counter(
            (parse_question(r["question"])[0].name, r["answer"])
            for r in records
            if r["format"] == "yorn"
        )
        letters = Counter((r["ability"], r["answer"]) for r in records if r["format"] == "mcq")
        for template in {t for t, _ in yorn}:
            assert abs(yorn[template, "Yes"] - yorn[template, "No"]) <= 1, (split, template)
        for ability in {a for a, _ in letters}:
            counts = [n for (a, _), n in letters.items() if a == ability]
            assert max(counts) - min(counts) <= 1, (split, ability, counts)
        assert {k for (a, k) in letters if a == "color"} == set("ABCD")


def test_pope_is_balanced_and_settings_differ(world: Path) -> None:
    negatives = {}
    for setting in ("random", "popular", "adversarial"):
        rows = _tsv(world / f"test/pope_{setting}.tsv")
        assert list(rows[0]) == ["index", "image_path", "question", "answer", "category", "hint"]
        answers = Counter(r["answer"] for r in rows)
        assert answers["Yes"] == answers["No"] > 200
        assert {r["category"] for r in rows} == {setting}
        negatives[setting] = Counter(r["question"] for r in rows if r["answer"] == "No")
    # Popular negatives concentrate on few categories; random ones spread out.
    assert len(negatives["popular"]) < len(negatives["random"])
    for setting in ("popular", "adversarial"):
        shared = sum((negatives[setting] & negatives["random"]).values())
        assert shared < 0.6 * sum(negatives[setting].values())
    assert negatives["popular"] != negatives["adversarial"]


def test_tsvs_and_llava_rows_resolve(world: Path) -> None:
    short, yorn, mcq = (_tsv(world / f"test/world_{f}.tsv") for f in ("short", "yorn", "mcq"))
    assert list(short[0]) == ["index", "image_path", "question", "answer", "category", "hint"]
    assert list(mcq[0]) == [
        "index",
        "image_path",
        "question",
        "hint",
        "A",
        "B",
        "C",
        "D",
        "answer",
        "category",
    ]
    assert len(short) == len(yorn) == len(mcq)
    assert [r["index"] for r in short] == [str(i) for i in range(len(short))]
    multi = 0
    for row in short + mcq:
        paths = row["image_path"]
        paths = json.loads(paths) if paths.startswith("[") else [paths]
        multi += len(paths) == 2
        assert all((world / "test" / p).is_file() for p in paths)
    assert multi > 0
    for row in mcq:
        filled = [k for k in "ABCD" if row[k]]
        assert filled in (["A", "B"], ["A", "B", "C", "D"]) and row["answer"] in filled
    assert {r["answer"] for r in yorn} == {"Yes", "No"}
    for name in ("align", "instruct"):
        rows = _jsonl(world / f"train/{name}.jsonl")
        for row in rows:
            images = row["image"] if isinstance(row["image"], list) else [row["image"]]
            text = " ".join(t["value"] for t in row["conversations"])
            assert text.count("<image>") == len(images)
            assert row["conversations"][0]["value"].startswith("<image>\n" * len(images))
            assert [t["from"] for t in row["conversations"]] == ["human", "gpt"] * (
                len(row["conversations"]) // 2
            )
            assert all((world / "train" / p).is_file() for p in images)
    align = _jsonl(world / "train/align.jsonl")
    instruct = _jsonl(world / "train/instruct.jsonl")
    assert len(align) == 300
    single = [r for r in instruct if isinstance(r["image"], str)]
    assert len(single) == 300 and len(instruct) > 300
    assert sum(len(r["conversations"]) // 2 for r in single) / len(single) >= 5.5


def test_captions_and_world_json(world: Path) -> None:
    scenes = [Scene.from_dict(r) for r in _jsonl(world / "test/scenes.jsonl")]
    captions = _jsonl(world / "test/captions.jsonl")
    assert [c["caption"] for c in captions] == [caption(s) for s in scenes]
    assert captions[0] == {
        "id": scenes[0].id,
        "image": f"images/{scenes[0].id}.png",
        "caption": caption(scenes[0]),
    }
    meta = json.loads((world / "world.json").read_text())
    assert meta["format_version"] == 1 and meta["seed"] == 5
    assert meta["counts"]["train/align.jsonl"] == 300
    assert WorldConfig.from_dict(meta["config"]) == WorldConfig()
    with Image.open(world / "test/images/000000.png") as im:
        assert im.size == (64, 64) and im.mode == "RGB"


def test_abilities_restrict_what_is_written(tmp_path: Path) -> None:
    generate_world(tmp_path / "w", 30, 20, seed=0, abilities=["count", "color"], progress=False)
    records = _jsonl(tmp_path / "w/test/questions.jsonl")
    assert {r["ability"] for r in records} == {"count", "color"}
    assert not (tmp_path / "w/test/pope_random.tsv").exists()
    with pytest.raises(ValueError, match="unknown abilities"):
        generate_world(tmp_path / "x", 3, 3, seed=0, abilities=["colour"], progress=False)


def test_replaces_a_world_but_refuses_other_folders(tmp_path: Path) -> None:
    generate_world(tmp_path / "w", 5, 5, seed=0, progress=False)
    (tmp_path / "w/preview.png").write_bytes(b"kept")
    generate_world(tmp_path / "w", 4, 2, seed=0, progress=False)
    assert len(list((tmp_path / "w/train/images").iterdir())) == 4
    assert len(list((tmp_path / "w/test/images").iterdir())) == 2
    assert (tmp_path / "w/preview.png").read_bytes() == b"kept"
    (tmp_path / "other").mkdir()
    (tmp_path / "other/notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"no world\.json"):
        generate_world(tmp_path / "other", 5, 5, seed=0, progress=False)
    assert sorted(p.name for p in (tmp_path / "other").iterdir()) == ["notes.txt"]


def test_preview_png(world: Path, tmp_path: Path) -> None:
    out = make_preview(world, tmp_path / "sheet.png", n=8)
    with Image.open(out) as im:
        width, height = im.size
    assert width >= 4 * 192 and 2 * 192 < height < 2000
    with pytest.raises(FileNotFoundError, match=r"scenes\.jsonl"):
        make_preview(tmp_path, tmp_path / "x.png")


def test_train_multi_image_fraction_adds_training_pairs_only(tmp_path: Path) -> None:
    """More two-image training conversations; the test benchmark and every single-image
    training row stay byte for byte what the default world writes."""
    generate_world(tmp_path / "a", 60, 40, seed=4, workers=1, progress=False)
    generate_world(
        tmp_path / "b", 60, 40, seed=4, workers=1, progress=False,
        config=WorldConfig(train_multi_image_fraction=1.0),
    )
    a, b = tmp_path / "a", tmp_path / "b"
    for name in ("questions.jsonl", "world_short.tsv", "world_mcq.tsv", "pope_random.tsv"):
        assert (a / "test" / name).read_bytes() == (b / "test" / name).read_bytes(), name
    rows_a = _jsonl(a / "train" / "instruct.jsonl")
    rows_b = _jsonl(b / "train" / "instruct.jsonl")
    pairs_a = [r for r in rows_a if isinstance(r["image"], list)]
    pairs_b = [r for r in rows_b if isinstance(r["image"], list)]
    assert [r for r in rows_a if isinstance(r["image"], str)] == [
        r for r in rows_b if isinstance(r["image"], str)
    ]
    assert len(pairs_b) == 60  # every training scene gets a partner
    assert 0 < len(pairs_a) < 30
    # a scene paired at the default share keeps its partner
    partners_b = {r["id"] for r in pairs_b}
    assert {r["id"] for r in pairs_a} <= partners_b
    info = json.loads((b / "world.json").read_text())
    assert info["config"]["train_multi_image_fraction"] == 1.0


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_train_multi_image_fraction_is_a_probability(value: float) -> None:
    with pytest.raises(ValueError, match="train_multi_image_fraction"):
        WorldConfig(train_multi_image_fraction=value)


def test_ability_files_regroup_the_instruct_exchanges(world: Path) -> None:
    # Every exchange of instruct.jsonl sits, alone with its row's images, in the file of the
    # ability its flat record names; nothing more, nothing less.
    records = _jsonl(world / "train/questions.jsonl")
    exchanges = [
        (row["image"], row["conversations"][k]["value"], row["conversations"][k + 1]["value"])
        for row in _jsonl(world / "train/instruct.jsonl")
        for k in range(0, len(row["conversations"]), 2)
    ]
    assert len(exchanges) == len(records)
    expected: dict[str, Counter] = {}
    for (image, question, answer), record in zip(exchanges, records, strict=True):
        images = image if isinstance(image, list) else [image]
        prompt = question.removeprefix("<image>\n" * len(images))
        assert record["answer"] == answer and record["images"] == images
        expected.setdefault(record["ability"], Counter())[(json.dumps(image), prompt, answer)] += 1
    files = {
        p.stem.removeprefix("instruct_"): p for p in (world / "train").glob("instruct_*.jsonl")
    }
    assert set(files) == set(expected)
    for ability, path in files.items():
        got = Counter()
        for row in _jsonl(path):
            human, gpt = row["conversations"]
            images = row["image"] if isinstance(row["image"], list) else [row["image"]]
            prefix = "<image>\n" * len(images)
            assert human["value"].startswith(prefix)
            # image paths resolve from the file's own folder, as the trainer reads them
            assert all((path.parent / image).is_file() for image in images)
            got[(json.dumps(row["image"]), human["value"][len(prefix) :], gpt["value"])] += 1
        assert got == expected[ability], ability
