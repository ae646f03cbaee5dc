"""Task declarations (TaskSpec, YAML), loaders for every supported layout, prompts, circular."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from mllmkit.backends import GenerationArgs, ImagePart, TextPart
from mllmkit.eval.builtin import TASKS, load_task_file, resolve_tasks
from mllmkit.eval.samples import load_task
from mllmkit.eval.task import MCQ_INSTRUCTION, TaskError, TaskSpec
from test_eval_fixtures import mcq_tsv, write_image, write_jsonl, write_tsv, yorn_tsv


def _spec(path: Path, **kw) -> TaskSpec:
    base = {"name": "t", "loader": "tsv", "path": str(path), "format": "mcq"}
    base.update(kw)
    return TaskSpec(**base)


# --- declarations -------------------------------------------------------------------


def test_defaults_per_format() -> None:
    assert _spec(Path("x")).metrics == ["mcq"]
    assert _spec(Path("x"), circular=True).metrics == ["circular", "mcq"]
    assert _spec(Path("x"), format="yorn").metrics == ["accuracy"]
    assert _spec(Path("x"), format="yorn", yes_no_rule="pope").metrics == ["pope"]
    assert _spec(Path("x"), format="vqa").metrics == ["vqa"]
    cap = _spec(Path("x"), loader="world_captions", format="caption")
    assert cap.metrics == ["cider_d", "bleu4"]
    assert cap.prompt_template == "Describe the image."


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"format": "essay"}, "field 'format'"),
        ({"loader": "csv"}, "field 'loader'"),
        ({"loader": "pope_jsonl", "format": "mcq"}, "reads \\('yorn',\\) tasks"),
        ({"format": "vqa", "circular": True}, "field 'circular'"),
        ({"metrics": ["f1"]}, "unknown metric 'f1'"),
        ({"metrics": ["pope"]}, "scores \\('yorn',\\) tasks"),
        ({"metrics": ["circular"]}, "needs circular"),
        ({"format": "yorn", "metrics": ["pope"]}, "set yes_no_rule"),
        ({"format": "yorn", "yes_no_rule": "loose"}, "field 'yes_no_rule'"),
        ({"prompt": "{question} {answer}"}, "unknown placeholder"),
        ({"prompt": "{question"}, "bad template"),
    ],
)
def test_invalid_declarations_name_task_and_field(kw: dict, message: str) -> None:
    with pytest.raises(TaskError, match=message) as info:
        _spec(Path("x"), **kw)
    assert "task 't'" in str(info.value)


def test_to_dict_from_dict_round_trip() -> None:
    spec = _spec(Path("/d/x.tsv"), gen=GenerationArgs(max_new_tokens=3, stop=("\n",)))
    again = TaskSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    with pytest.raises(TaskError, match="unknown task field"):
        TaskSpec.from_dict({**spec.to_dict(), "extra_field": 1})
    with pytest.raises(TaskError, match="required field"):
        TaskSpec.from_dict({"name": "x"})


def test_fingerprint_changes_with_data_and_declaration(tmp_path: Path) -> None:
    path = mcq_tsv(tmp_path, n=4)
    spec = _spec(path)
    fp = spec.fingerprint()
    assert _spec(path, prompt="{question}\n{options}").fingerprint() != fp
    path.write_text(path.read_text() + "9\timages/0.png\tq?\tA\tr\tg\tb\ty\teven\n")
    assert _spec(path).fingerprint() != fp


# --- prompts ------------------------------------------------------------------------


def test_mcq_prompt_vlmevalkit_layout_and_image_first(tmp_path: Path) -> None:
    data = load_task(_spec(mcq_tsv(tmp_path, n=2)))
    s = data.samples[1]
    assert s.prompt == (
        "What color is the image?\nA. blue\nB. yellow\nC. red\nD. green\n" + MCQ_INSTRUCTION
    )
    [msg] = s.messages()
    assert msg.role == "user"
    assert isinstance(msg.content[0], ImagePart) and isinstance(msg.content[1], TextPart)
    assert msg.content[0].image.size == (8, 8)


def test_hint_goes_before_question(tmp_path: Path) -> None:
    write_image(tmp_path / "a.png", "red")
    path = write_tsv(
        tmp_path / "h.tsv",
        ["index", "image_path", "question", "answer", "A", "B", "hint"],
        [["1", "a.png", "Q?", "A", "x", "y", "look left"]],
    )
    [s] = load_task(_spec(path)).samples
    assert s.prompt.startswith("Hint: look left\nQ?\nA. x\nB. y\n")


def test_custom_prompt_template(tmp_path: Path) -> None:
    spec = _spec(yorn_tsv(tmp_path, n=1), format="yorn", prompt="{question} Answer yes or no.")
    assert load_task(spec).samples[0].prompt == "Is the image red? Answer yes or no."


def test_circular_expansion_rotates_options_and_gold(tmp_path: Path) -> None:
    data = load_task(_spec(mcq_tsv(tmp_path, n=2), circular=True))
    assert [s.id for s in data.samples[:4]] == ["0@c0", "0@c1", "0@c2", "0@c3"]
    # row 0: options red/green/blue/yellow, gold A (red)
    assert [s.answer for s in data.samples[:4]] == ["A", "D", "C", "B"]
    assert data.samples[1].options == {"A": "green", "B": "blue", "C": "yellow", "D": "red"}
    assert data.samples[1].extra == {"question_id": "0", "rotation": 1, "n_rotations": 4}


def test_limit_counts_rows_before_circular_expansion(tmp_path: Path) -> None:
    data = load_task(_spec(mcq_tsv(tmp_path, n=5), circular=True), limit=2)
    assert len(data.samples) == 8


# --- loaders and bad rows -----------------------------------------------------------


def test_tsv_bad_rows_are_collected_with_file_row_and_field(tmp_path: Path) -> None:
    write_image(tmp_path / "a.png", "red")
    header = ["index", "image_path", "question", "answer", "A", "B", "C", "category"]
    rows = [
        ["1", "a.png", "ok?", "B", "x", "y", "z", "c"],
        ["2", "a.png", "", "A", "x", "y", "z", "c"],  # empty question
        ["3", "a.png", "q?", "E", "x", "y", "z", "c"],  # gold letter not an option
        ["4", "a.png", "q?", "A", "x", "", "", "c"],  # a single option
        ["5", "a.png", "q?"],  # short row
    ]
    path = write_tsv(tmp_path / "bad.tsv", header, rows)
    data = load_task(_spec(path))
    assert [s.id for s in data.samples] == ["1"]
    assert len(data.bad_rows) == 4
    joined = "\n".join(data.bad_rows)
    assert f"{path}:3 (id=2): field 'question'" in joined
    assert f"{path}:4 (id=3): field 'answer': answer 'E' is not one of the option letters" in joined
    assert "at least two options" in joined
    assert f"{path}:6" in joined


def test_yes_no_gold_is_normalised_and_checked(tmp_path: Path) -> None:
    write_image(tmp_path / "a.png", "red")
    path = write_tsv(
        tmp_path / "y.tsv",
        ["index", "image_path", "question", "answer"],
        [["1", "a.png", "q?", "yes"], ["2", "a.png", "q?", "NO"], ["3", "a.png", "q?", "maybe"]],
    )
    data = load_task(_spec(path, format="yorn"))
    assert [s.answer for s in data.samples] == ["Yes", "No"]
    assert data.samples[0].extra["image_id"] == "a.png"  # for MME's acc+ grouping
    assert "(id=3): field 'answer': answer must be Yes or No" in data.bad_rows[0]


def test_vqa_tsv_answer_lists(tmp_path: Path) -> None:
    write_image(tmp_path / "a.png", "red")
    path = write_tsv(
        tmp_path / "v.tsv",
        ["index", "image_path", "question", "answer"],
        [["1", "a.png", "q?", "['two', '2', 'two']"], ["2", "a.png", "q?", "red"]],
    )
    data = load_task(_spec(path, format="vqa"))
    assert data.samples[0].answer == ["two", "2", "two"]
    assert data.samples[1].answer == "red"


def test_category_field_and_default_category(tmp_path: Path) -> None:
    write_image(tmp_path / "a.png", "red")
    path = write_tsv(
        tmp_path / "c.tsv",
        ["index", "image_path", "question", "answer", "l2-category"],
        [["1", "a.png", "q?", "Yes", "attr"], ["2", "a.png", "q?", "No", ""]],
    )
    spec = _spec(path, format="yorn", category_field="l2-category")
    assert [s.category for s in load_task(spec).samples] == ["attr", "t"]


def test_pope_jsonl_loader(tmp_path: Path) -> None:
    write_image(tmp_path / "imgs" / "a.png", "red")
    path = write_jsonl(
        tmp_path / "pope.jsonl",
        [
            {"question_id": 1, "image": "imgs/a.png", "text": "Is there a cat?", "label": "yes"},
            {"question_id": 2, "image": "imgs/a.png", "text": "Is there a dog?", "label": "no"},
            {"question_id": 3, "image": "imgs/a.png", "text": "Is there a cow?", "label": "?"},
            "{broken",
            {"image": "imgs/a.png", "text": "no id", "label": "no"},
        ],
    )
    spec = _spec(path, loader="pope_jsonl", format="yorn", yes_no_rule="pope")
    data = load_task(spec)
    assert [(s.id, s.answer, s.prompt) for s in data.samples] == [
        ("1", "Yes", "Is there a cat?"),
        ("2", "No", "Is there a dog?"),
    ]
    assert data.samples[0].messages()[0].content[0].image.size == (8, 8)
    assert len(data.bad_rows) == 3
    assert f"{path}:4: not valid JSON" in data.bad_rows[1]
    assert f"{path}:5: field 'question_id'" in data.bad_rows[2]


def test_pope_jsonl_image_root(tmp_path: Path) -> None:
    write_image(tmp_path / "elsewhere" / "a.png", "blue")
    path = write_jsonl(
        tmp_path / "p.jsonl", [{"question_id": "q", "image": "a.png", "text": "Q?", "label": "no"}]
    )
    spec = _spec(
        path,
        loader="pope_jsonl",
        format="yorn",
        yes_no_rule="pope",
        image_root=str(tmp_path / "elsewhere"),
    )
    [s] = load_task(spec).samples
    assert s.messages()[0].content[0].image.getpixel((0, 0)) == (30, 30, 220)


def _b64_png(color: tuple[int, int, int]) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), color).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def test_mme_tsv_image_id_rule(tmp_path: Path) -> None:
    # VLMEvalKit MME layout: the second question of a pair refers to the first row's index.
    write_image(tmp_path / "p" / "x.png", "red")
    header = ["index", "image", "image_path", "question", "answer", "category"]
    rows = [
        ["10", _b64_png((1, 2, 3)), "", "Is it A?", "Yes", "existence"],
        ["11", "10", "", "Is it B?", "No", "existence"],
        ["12", _b64_png((9, 9, 9)), "", "Is it C?", "Yes", "existence"],
        ["13", "", "p/x.png", "Is it D?", "No", "color"],
    ]
    path = write_tsv(tmp_path / "mme.tsv", header, rows)
    data = load_task(_spec(path, loader="mme_tsv", format="yorn"))
    ids = [s.extra["image_id"] for s in data.samples]
    assert ids[0] == ids[1] != ids[2]
    assert ids[3] == "p/x.png"
    assert [s.category for s in data.samples] == ["existence"] * 3 + ["color"]


def test_mme_tsv_explicit_image_id_column(tmp_path: Path) -> None:
    write_image(tmp_path / "a.png", "red")
    path = write_tsv(
        tmp_path / "m.tsv",
        ["index", "image_path", "question", "answer", "category", "image_id"],
        [["1", "a.png", "q?", "Yes", "OCR", "img-7"], ["2", "a.png", "q?", "No", "OCR", "img-8"]],
    )
    data = load_task(_spec(path, loader="mme_tsv", format="yorn"))
    assert [s.extra["image_id"] for s in data.samples] == ["img-7", "img-8"]


def test_generic_jsonl_mcq_vqa_and_multi_image(tmp_path: Path) -> None:
    write_image(tmp_path / "a.png", "red")
    write_image(tmp_path / "b.png", "blue")
    path = write_jsonl(
        tmp_path / "g.jsonl",
        [
            {"id": "m1", "images": ["a.png", "b.png"], "question": "Which is red?",
             "answer": "A", "options": {"A": "first", "B": "second"}, "category": "multi"},
            {"id": "m2", "image": "a.png", "question": "q", "answer": "A", "options": "nope"},
            {"id": "m3", "image": 5, "question": "q", "answer": "A", "options": {"A": "x"}},
        ],
    )  # fmt: skip
    data = load_task(_spec(path, loader="jsonl"))
    [s] = data.samples
    assert len(s.images) == 2 and s.category == "multi"
    assert [type(p) for p in s.messages()[0].content] == [ImagePart, ImagePart, TextPart]
    assert "field 'options'" in data.bad_rows[0] and "field 'image'" in data.bad_rows[1]

    vqa = write_jsonl(
        tmp_path / "v.jsonl",
        [{"id": 1, "question": "text only?", "answer": ["a", "b"]}, {"id": 2, "question": "q"}],
    )
    data = load_task(_spec(vqa, loader="jsonl", format="vqa"))
    assert data.samples[0].answer == ["a", "b"] and data.samples[0].images == []
    assert "field 'answer': missing" in data.bad_rows[0]


def test_world_captions_loader(tmp_path: Path) -> None:
    write_image(tmp_path / "images" / "s1.png", "red")
    path = write_jsonl(
        tmp_path / "captions.jsonl",
        [{"id": "s1", "image": "images/s1.png", "caption": "A red square."}],
    )
    [s] = load_task(_spec(path, loader="world_captions", format="caption")).samples
    assert s.answer == "A red square." and s.prompt == "Describe the image."


def test_missing_data_file_is_a_task_error(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="does not exist"):
        load_task(_spec(tmp_path / "nope.tsv"))


# --- YAML declarations and resolution -----------------------------------------------


def test_new_benchmark_needs_only_a_yaml_declaration(tmp_path: Path) -> None:
    bench = tmp_path / "bench"
    write_image(bench / "imgs" / "a.png", "red")
    write_jsonl(
        bench / "probes.jsonl",
        [
            {"question_id": i, "image": "imgs/a.png", "text": f"Q{i}?", "label": "yes"}
            for i in range(3)
        ],
    )
    yaml_path = tmp_path / "tasks" / "my_pope.yaml"
    yaml_path.parent.mkdir()
    yaml_path.write_text(
        "name: my-pope\n"
        "loader: pope_jsonl\n"
        "path: ../bench/probes.jsonl\n"
        "format: yorn\n"
        "yes_no_rule: pope\n"
        "gen: {max_new_tokens: 4}\n"
    )
    [spec] = resolve_tasks(str(yaml_path))
    assert spec.path == str((bench / "probes.jsonl").resolve())
    assert spec.metrics == ["pope"] and spec.gen.max_new_tokens == 4
    assert len(load_task(spec).samples) == 3


def test_yaml_list_of_tasks_and_errors(tmp_path: Path) -> None:
    y = tmp_path / "two.yaml"
    y.write_text(
        "tasks:\n"
        "  - {name: a, loader: tsv, path: a.tsv, format: mcq}\n"
        "  - {name: b, loader: tsv, path: b.tsv, format: vqa}\n"
    )
    assert [s.name for s in load_task_file(y)] == ["a", "b"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("tasks:\n  - {name: a, loader: tsv, path: a.tsv, format: mcq, colour: red}\n")
    with pytest.raises(TaskError, match=r"bad\.yaml: unknown task field\(s\) \['colour'\]"):
        load_task_file(bad)
    with pytest.raises(TaskError, match="given more than once"):
        resolve_tasks(f"{y},{y}")


def test_builtin_world_tasks_resolve_against_data_dir(tmp_path: Path) -> None:
    assert set(TASKS) == {
        "world-short",
        "world-yorn",
        "world-mcq",
        "world-mcq-circular",
        "world-pope-random",
        "world-pope-popular",
        "world-pope-adversarial",
        "world-caption",
    }
    specs = resolve_tasks("world-mcq-circular, world-pope-popular,world-caption", tmp_path)
    assert specs[0].path == str(tmp_path.resolve() / "test" / "world_mcq.tsv")
    assert specs[0].circular and specs[0].metrics == ["circular", "mcq"]
    assert specs[1].yes_no_rule == "pope" and specs[1].path.endswith("pope_popular.tsv")
    assert specs[2].loader == "world_captions" and specs[2].path.endswith("captions.jsonl")
    with pytest.raises(TaskError, match="unknown task 'world-mcqq'"):
        resolve_tasks("world-mcqq", tmp_path)
    with pytest.raises(TaskError, match="does not exist"):
        resolve_tasks("world-mcq", tmp_path / "missing")
