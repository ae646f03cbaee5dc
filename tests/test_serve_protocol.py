"""Request parsing and image policy of the server, without HTTP: every refusal names its
field, and images are checked before they are decoded."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from mllmkit.backends.base import ImagePart, TextPart
from mllmkit.serve.config import ServeConfig
from mllmkit.serve.errors import APIError
from mllmkit.serve.images import load_image_url
from mllmkit.serve.protocol import parse_chat, parse_json_body, to_request
from mllmkit.serve.responses import split_for_stream, stream_events
from test_serve_fixtures import bomb_png, data_url, png_bytes, user_message

CFG = ServeConfig()


def _body(**extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [user_message("hi")], **extra}


def _refused(payload: Any, config: ServeConfig = CFG) -> APIError:
    with pytest.raises(APIError) as info:
        parse_chat(payload, config)
    return info.value


def test_string_and_part_content_and_defaults() -> None:
    call = parse_chat(
        {
            "messages": [
                {"role": "developer", "content": "be brief"},
                user_message("What is this?", data_url(png_bytes())),
            ]
        },
        CFG,
    )
    assert [role for role, _ in call.messages] == ["system", "user"]
    assert call.messages[0][1] == ["be brief"]
    assert call.n_images == 1 and not call.stream and call.model is None
    assert call.gen.max_new_tokens == CFG.default_max_tokens
    assert call.gen.temperature == 1.0 and call.gen.top_p == 1.0 and call.gen.seed == 0
    request = to_request(call, CFG)
    parts = request.messages[1].content
    assert isinstance(parts[0], ImagePart) and parts[0].image.size == (24, 16)
    assert parts[1] == TextPart("What is this?")


def test_generation_fields() -> None:
    call = parse_chat(
        _body(max_tokens=7, temperature=0, top_p=0.5, stop="\n", seed=3, n=1, stream=True), CFG
    )
    assert (call.gen.max_new_tokens, call.gen.temperature, call.gen.top_p) == (7, 0.0, 0.5)
    assert call.gen.stop == ("\n",) and call.gen.seed == 3 and call.stream
    # max_completion_tokens wins over the deprecated max_tokens
    call = parse_chat(_body(max_tokens=7, max_completion_tokens=9, stop=["a", "b"]), CFG)
    assert call.gen.max_new_tokens == 9 and call.gen.stop == ("a", "b")


def test_default_max_tokens_is_capped_by_the_limit() -> None:
    call = parse_chat(_body(), ServeConfig(max_tokens_limit=5, default_max_tokens=256))
    assert call.gen.max_new_tokens == 5


@pytest.mark.parametrize(
    ("extra", "param", "code"),
    [
        ({"n": 2}, "n", "unsupported_n"),
        ({"max_tokens": 5000}, "max_tokens", "max_tokens_exceeded"),
        ({"max_completion_tokens": 0}, "max_completion_tokens", None),
        ({"max_tokens": True}, "max_tokens", None),
        ({"temperature": 3}, "temperature", None),
        ({"temperature": "hot"}, "temperature", None),
        ({"top_p": 0}, "top_p", None),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop", None),
        ({"stop": [""]}, "stop", None),
        ({"seed": -1}, "seed", None),
        ({"tools": [{"type": "function"}]}, "tools", None),
        ({"logprobs": True}, "logprobs", None),
        ({"response_format": {"type": "json_object"}}, "response_format", None),
        ({"stream": "yes"}, "stream", None),
        ({"model": 3}, "model", None),
        ({"messages": []}, "messages", None),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role", None),
        ({"messages": [{"role": "user"}]}, "messages[0].content", None),
        (
            {"messages": [{"role": "user", "content": [{"type": "audio"}]}]},
            "messages[0].content[0].type",
            None,
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
            "messages[0].content[0].image_url.url",
            None,
        ),
        (
            {"messages": [{"role": "assistant", "content": [{"type": "image_url"}]}]},
            "messages[0].content[0]",
            None,
        ),
    ],
)
def test_bad_fields_are_refused_with_their_name(
    extra: dict[str, Any], param: str, code: str | None
) -> None:
    error = _refused(_body(**extra))
    assert error.status == 400 and error.param == param
    assert error.body()["error"]["type"] == "invalid_request_error"
    if code is not None:
        assert error.code == code


def test_limits_on_messages_and_images() -> None:
    config = ServeConfig(max_messages=2, max_images=2)
    error = _refused({"messages": [user_message("a")] * 3}, config)
    assert error.code == "too_many_messages"
    url = data_url(png_bytes())
    error = _refused({"messages": [user_message("a", url, url), user_message("b", url)]}, config)
    assert error.code == "too_many_images" and "3 images" in error.message
    parse_chat({"messages": [user_message("a", url, url)]}, config)  # at the limit: fine


def test_json_body_errors() -> None:
    assert parse_json_body(b'{"a": 1}') == {"a": 1}
    for bad in (b"{bad", b'{"a": NaN}', b'{"a": Infinity}', b"\xff\xfe", b"[" * 100_000):
        with pytest.raises(APIError) as info:
            parse_json_body(bad)
        assert info.value.status == 400 and info.value.code == "invalid_json", bad[:10]
    assert _refused([1, 2]).code == "invalid_json"


def _image_error(url: str, config: ServeConfig = CFG) -> APIError:
    with pytest.raises(APIError) as info:
        load_image_url(url, config, "messages[0].content[0].image_url.url")
    assert info.value.status == 400
    assert info.value.param == "messages[0].content[0].image_url.url"
    return info.value


def test_data_urls() -> None:
    image = load_image_url(data_url(png_bytes((5, 7))), CFG, "p")
    assert image.size == (5, 7) and image.mode == "RGB"
    wrapped = data_url(png_bytes())
    wrapped = wrapped[:40] + "\n" + wrapped[40:]  # line-wrapped base64 is accepted
    assert load_image_url(wrapped, CFG, "p").size == (24, 16)
    assert _image_error("data:image/png;base64,@@@not base64@@@").code == "invalid_base64"
    assert _image_error(data_url(b"GIF89a-but-not-really")).code == "invalid_image"
    assert _image_error(data_url(b"hello world", "image/png")).code == "invalid_image"
    assert _image_error(data_url(png_bytes(), "text/plain")).code == "invalid_image_url"
    assert _image_error("data:image/png,rawbytes").code == "invalid_image_url"
    assert _image_error("data:image/png;base64").code == "invalid_image_url"
    assert _image_error("ftp://example.com/x.png").code == "unsupported_image_url"


def test_decompression_bomb_is_refused_from_its_header() -> None:
    start = time.perf_counter()
    error = _image_error(data_url(bomb_png()))  # 100k x 100k: Pillow's own guard
    assert error.code == "invalid_image" and "refused" in error.message
    # below Pillow's guard but above ours: our pixel limit refuses it before decoding
    error = _image_error(data_url(bomb_png(5000, 5000)), ServeConfig(max_pixels=1_000_000))
    assert "25000000 pixels" in error.message and "before decoding" in error.message
    assert time.perf_counter() - start < 2.0


def test_remote_and_local_urls_are_refused_by_default() -> None:
    assert _image_error("https://example.com/cat.png").code == "remote_images_disabled"
    assert _image_error("http://127.0.0.1:1/cat.png").code == "remote_images_disabled"
    assert _image_error("/etc/passwd").code == "local_images_disabled"
    assert _image_error("file:///etc/passwd").code == "local_images_disabled"


def test_local_images_only_inside_the_allowed_folder(tmp_path: Path) -> None:
    root = tmp_path / "images"
    root.mkdir()
    (root / "a.png").write_bytes(png_bytes((3, 4)))
    (tmp_path / "secret.png").write_bytes(png_bytes())
    config = ServeConfig(allow_local_images=str(root))
    assert load_image_url("a.png", config, "p").size == (3, 4)
    assert load_image_url(str(root / "a.png"), config, "p").size == (3, 4)
    assert load_image_url((root / "a.png").as_uri(), config, "p").size == (3, 4)
    assert _image_error("../secret.png", config).code == "image_path_forbidden"
    assert _image_error(str(tmp_path / "secret.png"), config).code == "image_path_forbidden"
    (root / "link.png").symlink_to(tmp_path / "secret.png")
    assert _image_error("link.png", config).code == "image_path_forbidden"
    missing = _image_error("missing.png", config)
    assert missing.code == "invalid_image" and str(root) not in missing.message


def test_stream_pieces_join_back_exactly() -> None:
    for text in ("", "Yes", "a red  circle\nand two\tsquares ", "  lead"):
        pieces = split_for_stream(text)
        assert "".join(pieces) == text
        assert all(pieces)
    assert split_for_stream("a red circle") == ["a ", "red ", "circle"]
    events = list(stream_events("id", "m", "a b", "fp"))
    assert events[-1] == "data: [DONE]\n\n" and len(events) == 5
    assert '"finish_reason": "stop"' in events[-2]
