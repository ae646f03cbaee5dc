"""Backend protocol types, the spec registry, and the instant and replay backends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from mllmkit.backends import (
    SCHEMES,
    BackendError,
    GenerationArgs,
    ImagePart,
    Message,
    Model,
    Request,
    Response,
    TextPart,
    open_backend,
    supports_loglikelihood,
)
from mllmkit.backends.base import truncate_at_stop
from mllmkit.backends.instant import InstantBackend
from mllmkit.backends.openai_http import OpenAIHTTPBackend
from mllmkit.backends.registry import register_scheme
from mllmkit.backends.replay import ReplayBackend


def _req(text: str, sample_id: str | None = None, image: bool = False) -> Request:
    parts: list = [ImagePart(Image.new("RGB", (4, 4)))] if image else []
    parts.append(TextPart(text))
    return Request([Message("user", parts)], sample_id=sample_id)


def test_generation_args_frozen_hashable_and_round_trip() -> None:
    g = GenerationArgs(max_new_tokens=5, stop=["\n"], seed=3)  # list becomes a tuple
    assert g.stop == ("\n",)
    assert hash(g) == hash(GenerationArgs(max_new_tokens=5, stop=("\n",), seed=3))
    assert GenerationArgs.from_dict(g.to_dict()) == g
    assert g.to_dict() == {
        "max_new_tokens": 5,
        "temperature": 0.0,
        "top_p": 1.0,
        "stop": ["\n"],
        "seed": 3,
    }
    with pytest.raises(AttributeError):
        g.seed = 4  # type: ignore[misc]


def test_generation_args_reject_bad_values_and_unknown_keys() -> None:
    with pytest.raises(ValueError, match="max_new_tokens"):
        GenerationArgs(max_new_tokens=0)
    with pytest.raises(ValueError, match="top_p"):
        GenerationArgs(top_p=0.0)
    with pytest.raises(ValueError, match="max_tokens"):
        GenerationArgs.from_dict({"max_tokens": 3})


def test_request_accessors_and_message_validation() -> None:
    r = Request(
        [Message("user", [ImagePart(Image.new("RGB", (2, 2))), TextPart("a"), TextPart("b")])],
        gen=GenerationArgs(max_new_tokens=7, stop=("x",)),
        sample_id="s1",
    )
    assert r.max_new_tokens == 7 and r.stop == ("x",) and r.temperature == 0.0
    assert r.text() == "a\nb"
    assert len(r.images()) == 1
    with pytest.raises(ValueError, match="role"):
        Message("robot", [TextPart("x")])
    with pytest.raises(TypeError):
        Message("user", ["plain string"])  # type: ignore[list-item]


def test_truncate_at_stop_takes_earliest() -> None:
    assert truncate_at_stop("abc. def\nghi", (".", "\n")) == "abc"
    assert truncate_at_stop("abc", ()) == "abc"
    assert truncate_at_stop("abc", ("",)) == "abc"


def test_instant_backend_first_option_or_yes_or_fixed() -> None:
    b = InstantBackend()
    mcq = _req("Which?\nA. red\nB. blue\nAnswer with the option's letter.")
    assert [r.text for r in b.generate([mcq, _req("Is it red?")])] == ["A", "Yes"]
    assert InstantBackend("No").generate([mcq])[0].text == "No"
    assert isinstance(b, Model)
    assert b.fingerprint() != InstantBackend("No").fingerprint()
    assert not supports_loglikelihood(b)


def test_open_backend_parses_documented_specs(tmp_path: Path) -> None:
    assert isinstance(open_backend("instant:"), InstantBackend)
    assert open_backend("instant:Maybe").generate([_req("q")])[0].text == "Maybe"
    preds = tmp_path / "p.jsonl"
    preds.write_text('{"id": "1", "prediction": "B"}\n')
    assert isinstance(open_backend(f"replay:{preds}"), ReplayBackend)
    http = open_backend("http://127.0.0.1:9/v1", model="m", concurrency=2)
    assert isinstance(http, OpenAIHTTPBackend)
    assert http.url == "http://127.0.0.1:9/v1/chat/completions"
    http.close()


def test_open_backend_errors_name_the_accepted_forms(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="replay:FILE, http"):
        open_backend(str(tmp_path / "no-such-model"))
    with pytest.raises(BackendError, match="replay:FILE, http"):
        open_backend("ftp://host/model")  # unknown scheme is not guessed
    with pytest.raises(BackendError, match="needs a file"):
        open_backend("replay:")
    with pytest.raises(BackendError, match="not an mllmkit checkpoint"):
        open_backend(str(tmp_path))  # an existing folder without config.json
    with pytest.raises(BackendError, match="takes no options"):
        open_backend("instant:", model="x")


def test_scheme_registry_rejects_duplicates() -> None:
    assert {"replay", "instant", "http", "https"} <= set(SCHEMES)
    with pytest.raises(ValueError, match="already registered"):
        register_scheme("instant", lambda rest: InstantBackend())


def test_replay_jsonl_by_id_or_index_and_unknown_id(tmp_path: Path) -> None:
    path = tmp_path / "preds.jsonl"
    rows = [
        {"id": "q1", "prediction": "A"},
        {"index": 2, "answer": "Yes"},  # int index, "answer" key
        {"id": "q3", "text": "a cat"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")
    b = ReplayBackend(path)
    out = b.generate([_req("x", "q1"), _req("x", "2"), _req("x", "q3"), _req("x", "zz"), _req("x")])
    assert [r.text for r in out[:3]] == ["A", "Yes", "a cat"]
    assert out[3] == Response("", error=f"no prediction for id 'zz' in {path}")
    assert out[4].error is not None and "sample_id" in out[4].error
    fp = b.fingerprint()
    path.write_text(json.dumps({"id": "q1", "prediction": "B"}) + "\n")
    assert ReplayBackend(path).fingerprint() != fp  # content-addressed


def test_replay_tsv_vlmevalkit_layout(tmp_path: Path) -> None:
    path = tmp_path / "result.tsv"
    path.write_text("index\tquestion\tprediction\n1\tq?\tB\n2\tq?\t\n", encoding="utf-8")
    out = ReplayBackend(path).generate([_req("x", "1"), _req("x", "2")])
    assert [r.text for r in out] == ["B", ""]
    assert all(r.error is None for r in out)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.jsonl", '{"id": "1", "prediction": "A"}\nnot json\n', r"a\.jsonl:2: not valid JSON"),
        ("b.jsonl", '{"prediction": "A"}\n', r"b\.jsonl:1: field 'id'"),
        ("c.jsonl", '{"id": "1"}\n', r"c\.jsonl:1: field 'prediction'"),
        ("d.jsonl", '{"id": 1, "prediction": "A"}\n{"id": "1", "prediction": "B"}\n', "duplicate"),
        ("e.tsv", "index\tanswer\n1\tA\n", r"column\(s\) \['prediction'\] missing"),
        ("f.xlsx", "binary", "must be .jsonl or .tsv"),
    ],
)
def test_replay_bad_files_name_file_and_line(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(BackendError, match=message):
        ReplayBackend(path)


def test_replay_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="does not exist"):
        open_backend(f"replay:{tmp_path / 'none.jsonl'}")
