"""Helpers shared by the `test_serve_*` files (no tests here).

`EchoBackend` answers with what it received (text, image count and sizes) and records
batch sizes, so tests can check both that each caller got its own answer and that
concurrent requests were batched. `bomb_png` is a valid PNG header claiming a huge
image, with no pixel data behind it.
"""

from __future__ import annotations

import base64
import io
import struct
import threading
import time
import zlib
from pathlib import Path

from PIL import Image

from mllmkit.backends.base import Request, Response


def png_bytes(
    size: tuple[int, int] = (24, 16), color: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def data_url(data: bytes, mediatype: str = "image/png") -> str:
    return f"data:{mediatype};base64," + base64.b64encode(data).decode("ascii")


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG whose header claims width x height RGB pixels; a few dozen bytes in all."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def user_message(text: str, *urls: str) -> dict:
    parts = [{"type": "image_url", "image_url": {"url": u}} for u in urls]
    return {"role": "user", "content": [*parts, {"type": "text", "text": text}]}


class EchoBackend:
    """Answers `echo:<text>|images=<n>|<w>x<h>,...`; records every batch it is given.

    `delay_s` is slept per call (not per request), like a model whose batched step costs
    about the same as a single one. Text `fail` makes that request fail
    (`Response.error`); text `crash` makes the whole call raise.
    """

    name = "echo"

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.batches: list[int] = []
        self.seen: list[Request] = []
        self.lock = threading.Lock()

    def generate(self, requests: list[Request]) -> list[Response]:
        with self.lock:
            self.batches.append(len(requests))
            self.seen.extend(requests)
        if any(r.text() == "crash" for r in requests):
            raise RuntimeError("boom")
        time.sleep(self.delay_s)
        out = []
        for r in requests:
            if r.text() == "fail":
                out.append(Response("", error="cannot answer 'fail'"))
                continue
            sizes = ",".join(f"{im.width}x{im.height}" for im in r.images())
            out.append(Response(f"echo:{r.text()}|images={len(r.images())}|{sizes}"))
        return out

    def fingerprint(self) -> str:
        return "echo-0"


TOKENIZER_TEXTS = [
    "What color is the image? red green blue yellow",
    "Is there a blue diamond in the image? Yes No",
    "A. red B. green C. blue D. yellow Answer with the option's letter.",
] * 4


def build_tiny_checkpoint(
    out: Path, texts: list[str] | None = None, weight_scale: float = 3.0
) -> Path:
    """A tiny random native checkpoint (model + processor + tokenizer) in `out`.

    Every weight matrix is multiplied by `weight_scale`: at the default init a tiny model
    answers every prompt with the same newlines, which would make "served answer equals
    direct answer" checks pass vacuously; scaled up, answers depend on text and image.
    """
    import torch

    from mllmkit.data.image_transform import CLIP_MEAN, CLIP_STD
    from mllmkit.data.processor import Processor
    from mllmkit.data.tokenizer import train_tokenizer
    from mllmkit.models import MLLM, save_model, tiny_config

    tok = train_tokenizer(texts or TOKENIZER_TEXTS, vocab_size=300)
    probe = Processor(tok, "mllmkit", 32, CLIP_MEAN, CLIP_STD, 1)
    cfg = tiny_config(
        vocab_size=len(tok),
        image_token_id=probe.image_token_id,
        pad_token_id=probe.pad_token_id,
        eos_token_id=probe.eos_token_id,
    )
    proc = Processor(tok, "mllmkit", 32, CLIP_MEAN, CLIP_STD, cfg.image_tokens_per_image)
    torch.manual_seed(0)
    model = MLLM(cfg)
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() >= 2:
                param.mul_(weight_scale)
    save_model(model, out)
    proc.save_pretrained(out)
    return out
