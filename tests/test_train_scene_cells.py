"""The `scene_cells` objective: labels read from the world's scenes, clear errors for bad
rows and configs, only the vision tower moves, and a resume inside the stage is exact."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from safetensors.torch import load_file

from mllmkit.data.errors import DataError
from mllmkit.train.config import ConfigError, StageConfig, TrainConfig
from mllmkit.train.scene_cells import COLOR_LABELS, KINDS, SIZE_LABELS, SceneCellsDataset
from mllmkit.train.trainer import train
from mllmkit.world.vocab import CELLS

MODEL = {
    "vision": {"image_size": 24, "patch_size": 8, "hidden_size": 32, "num_layers": 1,
               "num_heads": 2, "intermediate_size": 64, "stem": "conv", "keep_cls": True},
    "lm": {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "num_kv_heads": 2,
           "intermediate_size": 64},
    "connector": "mlp2x_gelu",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mllmkit.world.config import WorldConfig
    from mllmkit.world.generate import generate_world

    root = tmp_path_factory.mktemp("cells") / "world"
    generate_world(root, 24, 4, seed=5, config=WorldConfig(image_size=24), workers=1,
                   progress=False)
    return root


def _config(world: Path, out: Path, cells_steps: int = 4, lr: float = 3e-3) -> TrainConfig:
    data = {
        "seed": 2, "out": str(out), "data_root": str(world), "checkpoint_every": 1,
        "keep_checkpoints": 100, "log_every": 1, "threads": 1,
        "tokenizer": {"vocab_size": 300}, "model": MODEL,
        "stages": [
            {"name": "vision", "objective": "scene_cells", "data": ["train/scenes.jsonl"],
             "trainable": ["vision"], "lr": {"vision": lr}, "steps": cells_steps,
             "batch_size": 4, "micro_batch_size": 2},
            {"name": "align", "data": ["train/align.jsonl"], "trainable": ["connector", "lm"],
             "lr": {"connector": 1e-3, "lm": 1e-3}, "steps": 2, "batch_size": 4,
             "max_length": 160},
        ],
    }
    return TrainConfig.from_dict(yaml.safe_load(yaml.safe_dump(data)))


def test_labels_follow_the_scene(world: Path) -> None:
    ds = SceneCellsDataset([world / "train" / "scenes.jsonl"], processor=None)  # type: ignore[arg-type]
    scene = json.loads((world / "train" / "scenes.jsonl").read_text().splitlines()[0])
    labels = ds.labels[0]
    taken = set()
    for o in scene["objects"]:
        cell = CELLS.index(o["cell"])
        taken.add(cell)
        assert labels[cell, :3].tolist() == [
            KINDS.index(o["shape"]), COLOR_LABELS.index(o["color"]), SIZE_LABELS.index(o["size"])
        ]
        assert labels[cell, 3] == 0
    if scene.get("sign"):
        cell = CELLS.index(scene["sign"]["cell"])
        taken.add(cell)
        assert labels[cell, 0] == KINDS.index("sign")
        assert labels[cell, 3] == ds.texts[scene["sign"]["text"]]
    for cell in set(range(9)) - taken:
        assert labels[cell].tolist() == [0, 0, 0, 0]
    assert ds.loss_units([0, 1]) == 2 * 9 * 4


def test_bad_scene_row_names_file_row_and_field(world: Path, tmp_path: Path) -> None:
    rows = (world / "train" / "scenes.jsonl").read_text().splitlines()[:3]
    bad = json.loads(rows[1])
    bad["objects"][0]["shape"] = "hexagon"
    rows[1] = json.dumps(bad)
    path = tmp_path / "scenes.jsonl"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError) as err:
        SceneCellsDataset([path], processor=None)  # type: ignore[arg-type]
    msg = str(err.value)
    assert f"{path}:2" in msg and "objects[0].shape" in msg and "hexagon" in msg


def test_bad_objective_configs_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown objective 'cells'"):
        StageConfig(name="v", data=["x"], trainable=["vision"], lr={"vision": 1.0}, steps=1,
                    objective="cells")
    with pytest.raises(ConfigError, match="trains the vision tower only"):
        StageConfig(name="v", data=["x"], trainable=["vision", "lm"],
                    lr={"vision": 1.0, "lm": 1.0}, steps=1, objective="scene_cells")


def test_objective_registry_matches_the_config_names() -> None:
    from mllmkit.train.config import OBJECTIVE_NAMES
    from mllmkit.train.objectives import OBJECTIVES

    assert tuple(OBJECTIVES) == OBJECTIVE_NAMES


def test_grid_that_does_not_tile_the_cells_is_refused(world: Path, tmp_path: Path) -> None:
    cfg = _config(world, tmp_path / "run")
    cfg.model = {**MODEL, "vision": {**MODEL["vision"], "image_size": 32}}
    with pytest.raises(ValueError, match=r"patch grid \(4x4\) to split into the world's 3x3"):
        train(cfg, progress=False)


def test_only_the_tower_learns_and_its_loss_falls(world: Path, tmp_path: Path) -> None:
    cfg = _config(world, tmp_path / "run", cells_steps=30, lr=1e-2)
    cfg.stages = cfg.stages[:1]
    train(cfg, progress=False)
    first = load_file(str(tmp_path / "run" / "checkpoints" / "step-00000001" / "model.safetensors"))
    last = load_file(str(tmp_path / "run" / "model" / "model.safetensors"))
    moved = {k.split(".")[0] for k in first if not torch.equal(first[k], last[k])}
    assert moved == {"vision_tower"}
    losses = [json.loads(x)["loss"] for x in (tmp_path / "run" / "metrics.jsonl").open()]
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5


def test_resume_inside_the_cells_stage_is_exact(world: Path, tmp_path: Path) -> None:
    straight = train(_config(world, tmp_path / "a"), progress=False)
    cfg = _config(world, tmp_path / "b")
    train(cfg, progress=False, stop_after=2)  # stops mid-stage: the head is in the checkpoint
    assert (tmp_path / "b" / "checkpoints" / "step-00000002" / "head.safetensors").is_file()
    resumed = train(_config(world, tmp_path / "b"), progress=False)

    def losses(out: Path) -> dict[int, float]:
        rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
        return {r["global_step"]: r["loss"] for r in rows}

    a, b = losses(straight.out), losses(resumed.out)
    assert sorted(a) == sorted(b) == list(range(1, 7))
    for step in a:
        assert a[step] == pytest.approx(b[step], abs=1e-6), step
    wa = load_file(str(straight.model_dir / "model.safetensors"))
    wb = load_file(str(resumed.model_dir / "model.safetensors"))
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], atol=1e-6, rtol=0)


def test_token_cells_tile_the_grid_row_major() -> None:
    from mllmkit.train.scene_cells import token_cells

    assert token_cells(3).tolist() == list(range(9))
    six = token_cells(6).view(6, 6)
    assert six[0, :].tolist() == [0, 0, 1, 1, 2, 2]
    assert six[:, 5].tolist() == [2, 2, 5, 5, 8, 8]


def test_with_a_tagger_the_objective_trains_it_and_the_lm_stages_keep_it(
    world: Path, tmp_path: Path
) -> None:
    cfg = _config(world, tmp_path / "run", cells_steps=6, lr=1e-2)
    cfg.model = {**MODEL, "image_tags": "scene_cells"}
    result = train(cfg, progress=False)
    head = load_file(str(tmp_path / "run" / "checkpoints" / "step-00000002" / "head.safetensors"))
    assert {k.split(".")[0] for k in head} == {"proj"}
    # the throw-away head covers only the sign text: the tagger has the other groups
    assert head["proj.weight"].shape[0] == SceneCellsDataset(
        [world / "train" / "scenes.jsonl"], processor=None  # type: ignore[arg-type]
    ).num_texts
    start = load_file(str(tmp_path / "run" / "checkpoints" / "step-00000001" / "model.safetensors"))
    vision_end = load_file(
        str(tmp_path / "run" / "checkpoints" / "step-00000006" / "model.safetensors")
    )
    end = load_file(str(result.model_dir / "model.safetensors"))
    key = "image_tagger.head.weight"
    assert not torch.equal(start[key], vision_end[key])  # trained by scene_cells
    assert torch.equal(vision_end[key], end[key])  # frozen by align (trains connector, lm)
    config = json.loads((result.model_dir / "config.json").read_text())
    assert [g["name"] for g in config["image_tags"]] == ["kind", "color", "size", "cell"]


def _uniform_loss_per_unit(world: Path, vocabulary: str) -> tuple[float, int]:
    """The `scene_cells` loss per unit of a model tagged with `vocabulary` whose heads are
    zero (uniform predictions), and the number of text classes of the world's signs."""
    from mllmkit.models import MLLM
    from mllmkit.train.build import model_config
    from mllmkit.train.scene_cells import cells_loss_sum, make_cell_head

    tok = _tokenizer(world)
    cfg = model_config({**MODEL, "image_tags": vocabulary}, vocab_size=len(tok),
                       image_token_id=0, pad_token_id=1, eos_token_id=2, tokenizer=tok)
    model = MLLM(cfg, seed=0)
    ds = SceneCellsDataset([world / "train" / "scenes.jsonl"], processor=None)  # type: ignore[arg-type]
    head = make_cell_head(model, ds, seed=0)
    with torch.no_grad():
        head.proj.weight.zero_()
    labels = ds.labels[0].expand(3, -1, -1)
    batch = {"pixel_values": torch.randn(3, 3, 24, 24), "cell_labels": labels}
    total, _ = cells_loss_sum(model, head, batch)
    return total.item() / ds.loss_units([0, 1, 2]), ds.num_texts


def test_loss_per_unit_is_the_mean_over_all_groups_with_a_tagger(world: Path) -> None:
    """Zero heads give uniform predictions: the loss per unit is then the mean of
    log(classes) over the five groups (kind, colour, size, text, cell)."""
    loss, texts = _uniform_loss_per_unit(world, "scene_cells")
    sizes = [len(KINDS), len(COLOR_LABELS), len(SIZE_LABELS), texts, len(CELLS)]
    want = sum(math.log(n) for n in sizes) / len(sizes)
    assert loss == pytest.approx(want, rel=1e-5)


def test_tag_groups_name_the_words_and_a_foreign_tagger_is_refused(world: Path) -> None:
    from mllmkit.models import MLLM
    from mllmkit.models.config import ImageTagGroup
    from mllmkit.train.build import model_config
    from mllmkit.train.scene_cells import TAG_WORDS, make_cell_head

    tok = _tokenizer(world)
    cfg = model_config({**MODEL, "image_tags": "scene_cells"}, vocab_size=len(tok),
                       image_token_id=0, pad_token_id=1, eos_token_id=2, tokenizer=tok)
    assert cfg.image_tags is not None
    for group in cfg.image_tags:
        assert tuple(group.words) == TAG_WORDS[group.name]
        for word, ids in zip(group.words, group.token_ids, strict=True):
            assert tok.decode(ids) == (" " + word if word else "")
    with pytest.raises(ValueError, match="unknown tag vocabulary 'cells'"):
        model_config({**MODEL, "image_tags": "cells"}, vocab_size=len(tok), image_token_id=0,
                     pad_token_id=1, eos_token_id=2, tokenizer=tok)
    with pytest.raises(ValueError, match="needs the tokenizer"):
        model_config({**MODEL, "image_tags": "scene_cells"}, vocab_size=len(tok),
                     image_token_id=0, pad_token_id=1, eos_token_id=2)
    cfg.image_tags = [ImageTagGroup(name="color", words=["", "red"], token_ids=[[], [5]])]
    ds = SceneCellsDataset([world / "train" / "scenes.jsonl"], processor=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="the model's group 'color' has classes"):
        make_cell_head(MLLM(cfg, seed=0), ds, seed=0)


def _tokenizer(world: Path) -> Any:
    from mllmkit.data.tokenizer import train_tokenizer

    texts = [json.loads(x)["conversations"][1]["value"]
             for x in (world / "train" / "align.jsonl").read_text().splitlines()]
    return train_tokenizer(texts * 5, vocab_size=300)


def test_row_and_column_targets_follow_each_tokens_cell() -> None:
    """A 6x6 tower has 2x2 tokens per world cell; token (r, c) lies in cell (r//2, c//2)."""
    from mllmkit.train.scene_cells import token_targets

    labels = torch.arange(9 * 4).reshape(1, 9, 4)
    t = token_targets(labels, grid=6)
    for r in range(6):
        for c in range(6):
            i = 6 * r + c
            assert t["row"][0, i] == r // 2 and t["column"][0, i] == c // 2
            assert t["cell"][0, i] == 3 * (r // 2) + c // 2
            assert t["kind"][0, i] == labels[0, 3 * (r // 2) + c // 2, 0] == t["kinds"][0, i]


def test_the_scene_words_vocabulary_adds_groups_the_objective_trains(world: Path) -> None:
    from mllmkit.train.build import model_config
    from mllmkit.train.scene_cells import EXTRA_TAG_WORDS, KNOWN_TAG_WORDS

    tok = _tokenizer(world)
    cfg = model_config({**MODEL, "image_tags": "scene_words"}, vocab_size=len(tok),
                       image_token_id=0, pad_token_id=1, eos_token_id=2, tokenizer=tok)
    assert cfg.image_tags is not None
    names = ["kind", "color", "size", "cell", "kinds", "row", "column"]
    assert [g.name for g in cfg.image_tags] == names
    for group in cfg.image_tags:
        assert tuple(group.words) == KNOWN_TAG_WORDS[group.name]
        for word, ids in zip(group.words, group.token_ids, strict=True):
            assert tok.decode(ids) == (" " + word if word else "")
    loss, texts = _uniform_loss_per_unit(world, "scene_words")
    sizes = [len(KINDS), len(COLOR_LABELS), len(SIZE_LABELS), texts, len(CELLS),
             *(len(w) for w in EXTRA_TAG_WORDS.values())]
    want = sum(math.log(n) for n in sizes) / len(sizes)
    assert loss == pytest.approx(want, rel=1e-5)
