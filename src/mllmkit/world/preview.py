"""A contact sheet of a generated split, so a person can look at the data.

Each tile is a scene's image upscaled with nearest-neighbour (pixels stay crisp),
its caption, and a few of its questions with their answers.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from mllmkit.world.caption import caption
from mllmkit.world.render import png_bytes
from mllmkit.world.scene import Scene
from mllmkit.world.writers import atomic_write_bytes

_FONT_SIZE = 11
_LINE = 13
_PAD = 6
_MIN_TILE = 192


def _read_jsonl(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: not found (is this a world folder? run `mllm world generate` first)"
        )
    rows = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if limit is not None and len(rows) >= limit:
                break
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}: row {line_no}: invalid JSON ({e.msg})") from None
    return rows


def _questions_by_image(path: Path, per_scene: int) -> dict[str, list[str]]:
    """A few "Q -> A" lines per single-image scene, free-answer questions first."""
    found: dict[str, list[tuple[int, str]]] = {}
    rank = {"short": 0, "yorn": 1, "mcq": 2}
    for row in _read_jsonl(path):
        images = row.get("images") or []
        if len(images) != 1:
            continue
        line = f"Q: {row.get('question', '?')} -> A: {row.get('answer_text', '?')}"
        found.setdefault(images[0], []).append((rank.get(row.get("format", ""), 3), line))
    return {k: [line for _, line in sorted(v)[:per_scene]] for k, v in found.items()}


def make_preview(
    data: str | Path,
    out: str | Path,
    split: str = "test",
    n: int = 16,
    columns: int = 4,
    questions_per_scene: int = 3,
) -> Path:
    """Write a PNG contact sheet of the first ``n`` scenes of ``split`` to ``out``."""
    if n < 1 or columns < 1:
        raise ValueError("n and columns must be at least 1")
    folder = Path(data) / split
    rows = _read_jsonl(folder / "scenes.jsonl", limit=n)
    if not rows:
        raise ValueError(f"{folder / 'scenes.jsonl'}: no scenes to preview")
    questions = _questions_by_image(folder / "questions.jsonl", questions_per_scene)
    font = ImageFont.load_default(size=_FONT_SIZE)

    tiles: list[tuple[Image.Image, list[str]]] = []
    for line_no, row in enumerate(rows, start=1):
        try:
            scene = Scene.from_dict(row, f"{folder / 'scenes.jsonl'}: row {line_no}")
        except ValueError as e:
            raise ValueError(str(e)) from None
        rel = row.get("image", f"images/{scene.id}.png")
        image_path = folder / rel
        if not image_path.is_file():
            raise FileNotFoundError(f"{image_path}: image of scene {scene.id!r} not found")
        with Image.open(image_path) as im:
            image = im.convert("RGB")
        scale = max(1, _MIN_TILE // max(image.size))
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
        tiles.append((image, [caption(scene), *questions.get(rel, [])]))

    tile_w = max(_MIN_TILE, max(im.width for im, _ in tiles)) + 2 * _PAD
    chars = max(20, int((tile_w - 2 * _PAD) / (_FONT_SIZE * 0.55)))
    wrapped = [[w for t in texts for w in textwrap.wrap(t, chars)] for _, texts in tiles]
    text_h = max(len(lines) for lines in wrapped) * _LINE
    tile_h = max(im.height for im, _ in tiles) + text_h + 3 * _PAD
    cols = min(columns, len(tiles))
    n_rows = -(-len(tiles) // cols)
    sheet = Image.new("RGB", (cols * tile_w, n_rows * tile_h), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for k, ((image, _), lines) in enumerate(zip(tiles, wrapped, strict=True)):
        x, y = (k % cols) * tile_w + _PAD, (k // cols) * tile_h + _PAD
        sheet.paste(image, (x, y))
        ty = y + image.height + _PAD
        for line in lines:
            draw.text((x, ty), line, fill=(0, 0, 0), font=font)
            ty += _LINE
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, png_bytes(sheet))
    return out
