"""`TransformersBackend` on a tiny saved HF LLaVA folder: batched greedy answers equal the
native backend's on the same folder (converted in memory), stop strings cut, one bad request
fails alone, and the fingerprint follows the weights."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("transformers")

from convert_fixtures import images, make_hf_llava
from mllmkit.backends import GenerationArgs, ImagePart, Message, Request, TextPart
from mllmkit.backends.registry import open_backend
from mllmkit.backends.transformers_backend import TransformersBackend


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_hf_llava(tmp_path_factory.mktemp("hf") / "llava", "qwen2", -2, "default", False)


def _requests(gen: GenerationArgs) -> list[Request]:
    a, b, c = images(3, seed=7)
    return [
        Request([Message("user", [ImagePart(a), TextPart("what colour is the circle?")])], gen),
        Request(
            [Message("user", [ImagePart(b), ImagePart(c), TextPart("how many squares?")])], gen
        ),
        Request([Message("user", [TextPart("describe the picture:")])], gen),
    ]


def test_greedy_batch_matches_native_backend(hf_dir: Path) -> None:
    hf = open_backend(f"hf:{hf_dir}")
    assert isinstance(hf, TransformersBackend)
    native = open_backend(str(hf_dir))  # a plain HF LLaVA folder runs natively, converted
    gen = GenerationArgs(max_new_tokens=6)
    theirs, mine = hf.generate(_requests(gen)), native.generate(_requests(gen))
    assert all(r.ok for r in theirs), [r.error for r in theirs]
    assert any(r.text for r in theirs)
    assert [r.text for r in theirs] == [r.text for r in mine]


def test_stop_strings_sampling_and_isolated_failure(hf_dir: Path) -> None:
    backend = TransformersBackend(hf_dir)
    full = backend.generate(_requests(GenerationArgs(max_new_tokens=6)))[0].text
    assert len(full) >= 2
    stop = full[1:3]
    cut = backend.generate(_requests(GenerationArgs(max_new_tokens=6, stop=(stop,))))[0].text
    assert cut == full[: full.find(stop)]

    sampled = GenerationArgs(max_new_tokens=6, temperature=1.0, seed=3)
    first = [r.text for r in backend.generate(_requests(sampled))]
    assert first == [r.text for r in backend.generate(_requests(sampled))]

    reqs = _requests(GenerationArgs(max_new_tokens=4))
    bad = Request([Message("user", [ImagePart(Image.new("RGB", (0, 0))), TextPart("x")])])
    out = backend.generate([reqs[0], bad, reqs[2]])
    assert out[0].ok and out[2].ok
    assert not out[1].ok and out[1].error


def test_fingerprint_follows_the_weights(hf_dir: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(hf_dir, tmp_path / "copy"))
    a, b = TransformersBackend(hf_dir), TransformersBackend(copy)
    assert a.fingerprint() == b.fingerprint()  # contents, not paths
    cfg = json.loads((copy / "generation_config.json").read_text())
    cfg["max_length"] = 7
    (copy / "generation_config.json").write_text(json.dumps(cfg))
    assert TransformersBackend(copy).fingerprint() != a.fingerprint()
