"""Image placement (markers before/after a turn's text) and splitting rows into exchanges."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import PreTrainedTokenizerFast

from mllmkit.data.conversation import (
    IMAGE_TOKEN,
    Conversation,
    Turn,
    place_images,
    split_exchanges,
)
from mllmkit.data.encoded import IGNORE_INDEX
from mllmkit.data.errors import DataError
from mllmkit.data.image_transform import CLIP_MEAN, CLIP_STD
from mllmkit.data.processor import PROCESSOR_CONFIG, Processor
from mllmkit.data.template import TEMPLATES
from mllmkit.data.tokenizer import train_tokenizer
from mllmkit.train.config import ConfigError, TrainConfig

K = 3  # image tokens per image


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    texts = [f"What colour is the {s}? It is {c}." for s in ("circle", "square") for c in "ab"]
    return train_tokenizer(texts * 5, vocab_size=300)


def _processor(tok: PreTrainedTokenizerFast, placement: str) -> Processor:
    return Processor(
        tok, TEMPLATES["mllmkit"], 16, CLIP_MEAN, CLIP_STD, K, image_placement=placement
    )


def _conv() -> Conversation:
    turns = [
        Turn("system", "Be brief."),
        Turn("user", "<image>\n<image>\nWhat colour is the circle?"),
        Turn("assistant", "red"),
        Turn("user", "What colour is the square?"),
        Turn("assistant", "blue"),
    ]
    return Conversation("r7", [Path("a.png"), Path("b.png")], turns, "train.jsonl:12")


def test_place_images_moves_markers_of_user_turns_only() -> None:
    turns = [Turn("user", "<image>\nQ?"), Turn("assistant", "A <image> literal?")]
    assert place_images(turns, "as_written") == turns
    after = place_images(turns, "after_text")
    assert after[0].text == "Q?\n<image>" and after[1] == turns[1]
    moved = place_images([Turn("user", "Q?\n<image>\n<image>")], "before_text")
    assert moved[0].text == "<image>\n<image>\nQ?"
    with pytest.raises(ValueError, match="image placement"):
        place_images(turns, "middle")


def test_split_exchanges_gives_each_question_the_images() -> None:
    parts = split_exchanges(_conv())
    assert [p.id for p in parts] == ["r7#0", "r7#1"]
    for part, (question, answer) in zip(
        parts,
        [("What colour is the circle?", "red"), ("What colour is the square?", "blue")],
        strict=True,
    ):
        assert part.images == [Path("a.png"), Path("b.png")] and part.n_image_tokens == 2
        assert part.turns[0] == Turn("system", "Be brief.")
        assert part.turns[1].text == "<image>\n<image>\n" + question
        assert part.turns[2] == Turn("assistant", answer)
        assert part.source == "train.jsonl:12"


def test_split_exchanges_names_the_row_of_a_malformed_conversation() -> None:
    bad = Conversation("r9", [], [Turn("user", "Q?"), Turn("user", "Q2?")], "data/x.jsonl:4")
    with pytest.raises(DataError) as info:
        split_exchanges(bad)
    assert info.value.path == "data/x.jsonl" and info.value.row == 4
    assert info.value.row_id == "r9" and info.value.field == "conversations"


def test_after_text_puts_image_tokens_after_the_question(tokenizer) -> None:  # type: ignore[no-untyped-def]
    first = split_exchanges(_conv())[0]
    image_id = _processor(tokenizer, "as_written").image_token_id
    for placement in ("as_written", "after_text"):
        proc = _processor(tokenizer, placement)
        enc = proc.encode_conversation(first)
        prompt = proc.encode_prompt(first.turns[:2], n_images=2)
        # the prompt is the training sample up to the answer
        assert enc.input_ids[: len(prompt)] == prompt
        where = [i for i, t in enumerate(prompt) if t == image_id]
        assert len(where) == 2 * K
        before = tokenizer.decode(prompt[: where[0]])
        after = tokenizer.decode(prompt[where[-1] + 1 :])
        asked_first = placement == "after_text"
        assert ("circle" in before) == asked_first and ("circle" in after) != asked_first
        # only the answer (and its end token) is supervised, wherever the images are
        supervised = [
            t for t, lab in zip(enc.input_ids, enc.labels, strict=True) if lab != IGNORE_INDEX
        ]
        assert tokenizer.decode(supervised).replace(" ", "").startswith("red")


def test_placement_is_saved_and_a_bad_one_is_refused(tokenizer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _processor(tokenizer, "after_text").save_pretrained(tmp_path)
    assert Processor.from_pretrained(tmp_path).image_placement == "after_text"
    cfg = json.loads((tmp_path / PROCESSOR_CONFIG).read_text())
    cfg["image_placement"] = "sideways"
    (tmp_path / PROCESSOR_CONFIG).write_text(json.dumps(cfg))
    with pytest.raises(DataError) as info:
        Processor.from_pretrained(tmp_path)
    assert info.value.field == "image_placement" and PROCESSOR_CONFIG in str(info.value)
    with pytest.raises(ValueError, match="image_placement"):
        _processor(tokenizer, "sideways")


def _cfg(**extra: object) -> dict:
    stage = {"name": "s", "data": ["x.jsonl"], "trainable": ["lm"], "lr": {"lm": 1e-3}, "steps": 1}
    stage.update(extra.pop("stage", {}))  # type: ignore[arg-type]
    return {"model": {}, "stages": [stage], **extra}


def test_train_config_checks_processor_and_split_turns() -> None:
    cfg = TrainConfig.from_dict(
        _cfg(processor={"image_placement": "after_text"}, stage={"split_turns": True})
    )
    assert cfg.stages[0].split_turns and cfg.processor["image_placement"] == "after_text"
    with pytest.raises(ConfigError, match="image_placement"):
        TrainConfig.from_dict(_cfg(processor={"image_placement": "up"}))
    with pytest.raises(ConfigError, match="init_from"):
        TrainConfig.from_dict(
            {**_cfg(processor={"image_placement": "after_text"}), "init_from": "runs/x"}
        )
    with pytest.raises(ConfigError, match="unknown key"):
        TrainConfig.from_dict(_cfg(processor={"placement": "after_text"}))
    with pytest.raises(ConfigError, match="split_turns"):
        TrainConfig.from_dict(
            _cfg(
                stage={
                    "objective": "scene_cells",
                    "trainable": ["vision"],
                    "lr": {"vision": 1e-3},
                    "split_turns": True,
                }
            )
        )


def test_marker_constant() -> None:
    assert IMAGE_TOKEN == "<image>"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mllmkit.world.config import WorldConfig
    from mllmkit.world.generate import generate_world

    root = tmp_path_factory.mktemp("placement") / "world"
    generate_world(
        root, 12, 2, seed=3, config=WorldConfig(image_size=24), workers=1, progress=False
    )
    return root


def test_split_turns_trains_on_single_exchanges_with_images_last(
    world: Path, tmp_path: Path
) -> None:
    from mllmkit.data.llava import read_conversations
    from mllmkit.train.dataset import ConversationDataset
    from mllmkit.train.trainer import train

    stage = {
        "name": "instruct",
        "data": ["train/instruct.jsonl"],
        "trainable": ["connector", "lm"],
        "lr": {"connector": 1e-3, "lm": 1e-3},
        "steps": 2,
        "batch_size": 4,
        "split_turns": True,
        "max_length": 200,
    }
    model = {
        "vision": {
            "image_size": 24,
            "patch_size": 8,
            "hidden_size": 16,
            "num_layers": 1,
            "num_heads": 2,
            "intermediate_size": 32,
        },
        "lm": {
            "hidden_size": 16,
            "num_layers": 1,
            "num_heads": 2,
            "num_kv_heads": 2,
            "intermediate_size": 32,
        },
    }
    cfg = TrainConfig.from_dict(
        {
            "seed": 0,
            "out": str(tmp_path / "run"),
            "data_root": str(world),
            "threads": 1,
            "tokenizer": {"vocab_size": 300},
            "processor": {"image_placement": "after_text"},
            "model": model,
            "stages": [stage],
            "checkpoint_every": 100,
        }
    )
    result = train(cfg, progress=False)
    proc = Processor.from_pretrained(result.model_dir)
    assert proc.image_placement == "after_text"

    rows = list(read_conversations(world / "train" / "instruct.jsonl"))
    exchanges = sum(sum(t.role == "assistant" for t in r.turns) for r in rows)
    ds = ConversationDataset([world / "train" / "instruct.jsonl"], proc, 200, split_turns=True)
    assert len(ds) == ds.report.rows == exchanges
    image_id = proc.image_token_id
    for row in ds.rows:
        ids, labels = row.encoded.input_ids, row.encoded.labels
        first_image = ids.index(image_id)
        # the question's text comes before the images, the one supervised answer after
        assert "?" in proc.tokenizer.decode(ids[:first_image])
        supervised = [i for i, lab in enumerate(labels) if lab != IGNORE_INDEX]
        assert supervised and min(supervised) > max(i for i, t in enumerate(ids) if t == image_id)
        assert supervised == list(range(supervised[0], supervised[-1] + 1))
