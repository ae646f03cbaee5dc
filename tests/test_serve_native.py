"""A tiny random native checkpoint served over HTTP: answers equal the backend's own, and
`mllm eval` / `mllm judge` through the OpenAI-compatible backend reproduce a direct run."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from mllmkit.backends import GenerationArgs, ImagePart, Message, Request, TextPart
from mllmkit.backends.instant import InstantBackend
from mllmkit.backends.openai_http import image_to_data_url
from mllmkit.cli import app as cli_app
from mllmkit.serve import BackgroundServer, ServeConfig, create_app
from test_serve_fixtures import build_tiny_checkpoint, user_message

torch = pytest.importorskip("torch")
openai = pytest.importorskip("openai")
world_generate = pytest.importorskip("mllmkit.world.generate")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))


@pytest.fixture(scope="module")
def served(checkpoint: Path) -> Iterator[tuple[BackgroundServer, object]]:
    from mllmkit.backends.native import NativeBackend

    backend = NativeBackend(checkpoint)
    config = ServeConfig(model_name="tiny", max_batch_size=8, max_wait_ms=20)
    with BackgroundServer(create_app(backend, config)) as srv:
        yield srv, backend


QUESTIONS = [
    ("What color is the image?", (200, 20, 20)),
    ("Is there a blue diamond in the image?", (20, 20, 200)),
    ("A. red B. green C. blue D. yellow Answer with the option's letter.", (20, 200, 20)),
    ("What color is the image? red green", (220, 220, 20)),
]


def _direct(backend: object, question: str, color: tuple[int, int, int]) -> str:
    image = Image.new("RGB", (40, 36), color)
    request = Request(
        [Message("user", [ImagePart(image), TextPart(question)])],
        gen=GenerationArgs(max_new_tokens=6, temperature=0.0, seed=0),
    )
    response = backend.generate([request])[0]  # type: ignore[attr-defined]
    assert response.error is None
    return response.text


def _over_http(url: str, question: str, color: tuple[int, int, int], stream: bool = False) -> str:
    api = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
    message = user_message(question, image_to_data_url(Image.new("RGB", (40, 36), color)))
    out = api.chat.completions.create(
        model="tiny", messages=[message], max_tokens=6, temperature=0, seed=0, stream=stream
    )
    if stream:
        return "".join(c.choices[0].delta.content or "" for c in out)
    return out.choices[0].message.content or ""


def test_served_answers_equal_the_backend(served: tuple[BackgroundServer, object]) -> None:
    srv, backend = served
    expected = [_direct(backend, q, c) for q, c in QUESTIONS]
    assert len(set(expected)) == len(expected)  # answers depend on the input
    assert _over_http(srv.url, *QUESTIONS[0]) == expected[0]
    assert _over_http(srv.url, *QUESTIONS[1], stream=True) == expected[1]
    # concurrent callers are batched together and still each get their own answer
    got: dict[int, str] = {}

    def ask(i: int) -> None:
        got[i] = _over_http(srv.url, *QUESTIONS[i % len(QUESTIONS)])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    before = len_batches(srv)
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    srv_batches = len_batches(srv) - before
    assert got == {i: expected[i % len(QUESTIONS)] for i in range(8)}
    assert srv_batches < 8


def test_served_with_reduction_equals_the_reduced_backend(checkpoint: Path) -> None:
    """`mllm serve --reduce` serves a backend that prunes visual tokens at every request."""
    from mllmkit.backends.native import NativeBackend

    reduced = NativeBackend(checkpoint, reduction="fastv:k=1,r=0.75")
    expected = [_direct(reduced, q, c) for q, c in QUESTIONS[:2]]
    config = ServeConfig(model_name="tiny", max_batch_size=4, max_wait_ms=5)
    with BackgroundServer(create_app(reduced, config)) as srv:
        assert [_over_http(srv.url, q, c) for q, c in QUESTIONS[:2]] == expected


def len_batches(srv: BackgroundServer) -> int:
    import httpx

    return httpx.get(srv.url + "/health").json()["batches"]


def test_mllm_eval_through_the_server_matches_direct_eval(
    served: tuple[BackgroundServer, object], checkpoint: Path, tmp_path: Path
) -> None:
    srv, _ = served
    world = tmp_path / "world"
    world_generate.generate_world(world, n_train=8, n_test=3, seed=0, progress=False, workers=1)
    runner = CliRunner()
    common = ["--tasks", "world-mcq,world-yorn", "--data", str(world), "--limit", "6"]
    common += ["--max-new-tokens", "4", "--batch-size", "4"]
    results = {}
    for name, model in (("http", srv.url + "/v1"), ("direct", str(checkpoint))):
        out = tmp_path / name
        result = runner.invoke(
            cli_app, ["eval", "--model", model, "--out", str(out), *common], env={"COLUMNS": "200"}
        )
        assert result.exit_code == 0, result.output
        rows = [json.loads(line) for line in (out / "predictions.jsonl").open()]
        results[name] = (rows, json.loads((out / "metrics.json").read_text()))
    http_rows, http_metrics = results["http"]
    direct_rows, direct_metrics = results["direct"]
    assert len(http_rows) == 12
    assert all(r["error"] is None and r["status"] != "error" for r in http_rows)

    def keyed(rows: list[dict]) -> dict:
        return {(r["task"], r["id"]): (r["raw"], r["status"]) for r in rows}

    assert len({r["raw"] for r in http_rows}) > 1  # answers depend on the input
    assert keyed(http_rows) == keyed(direct_rows)
    for task in ("world-mcq", "world-yorn"):
        assert http_metrics["tasks"][task]["metrics"] == direct_metrics["tasks"][task]["metrics"]


def _judge_data(root: Path) -> Path:
    (root / "img").mkdir()
    rows = []
    for i, color in enumerate([(200, 20, 20), (20, 200, 20), (20, 20, 200)]):
        Image.new("RGB", (40, 40), color).save(root / "img" / f"{i}.png")
        rows.append(
            {
                "id": f"p{i}",
                "mode": "pair",
                "images": [f"img/{i}.png"],
                "question": "What color is the image?",
                "answers": ["red", "green"],
                "human": "ABA"[i],
                "source": "color",
            }
        )
    path = root / "judge.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _mllm_judge(judge: str, data: Path, out: Path) -> tuple[list[dict], dict]:
    pytest.importorskip("mllmkit.judge.runner")
    args = ["judge", "--judge", judge, "--mode", "pair", "--data", str(data), "--out", str(out)]
    result = CliRunner().invoke(cli_app, [*args, "--max-new-tokens", "6"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "predictions.jsonl").open()]
    return rows, json.loads((out / "metrics.json").read_text())


def test_mllm_judge_through_the_server(
    served: tuple[BackgroundServer, object], checkpoint: Path, tmp_path: Path
) -> None:
    srv, _ = served
    data = _judge_data(tmp_path)
    http_rows, _ = _mllm_judge(srv.url + "/v1", data, tmp_path / "http")
    direct_rows, _ = _mllm_judge(str(checkpoint), data, tmp_path / "direct")
    assert [r["raw"] for r in http_rows] == [r["raw"] for r in direct_rows]
    assert all(r["status"] != "error" for r in http_rows)
    # a served judge whose verdicts parse: it always says A, humans said A, B, A
    verdict = '{"Judgement": "[[A]]"}'
    with BackgroundServer(create_app(InstantBackend(verdict), ServeConfig())) as judge_srv:
        rows, metrics = _mllm_judge(judge_srv.url + "/v1", data, tmp_path / "instant")
    assert [r["raw"] for r in rows] == [verdict] * 3
    assert metrics["counts"]["parsed"] == 3
    assert metrics["agreement"]["accuracy"] == pytest.approx(2 / 3)
