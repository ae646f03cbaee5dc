"""Draw a `Scene` with Pillow, deterministically.

Shapes are drawn at ``supersample``× the final size and reduced with an exact box
filter (`Image.reduce`), which gives smooth edges with no dependence on anything but
the scene and the config: same scene ⇒ byte-identical PNG. Text uses the font bundled
with Pillow (`ImageFont.load_default(size=...)`) so it looks the same everywhere.
"""

from __future__ import annotations

import io
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from mllmkit.world.config import WorldConfig
from mllmkit.world.scene import Scene, SceneObject, Sign
from mllmkit.world.vocab import BACKGROUND_RGB, CELLS, COLOR_RGB, SIGN_RGB, SIGN_TEXT_RGB

#: Object radius as a fraction of the cell side (large is twice small).
RADIUS: dict[str, float] = {"small": 0.2, "large": 0.4}
#: Half the side of the sign, as a fraction of the cell side.
SIGN_HALF: float = 0.4
#: Free border kept between an object and its cell's edge (fraction of the cell side).
MARGIN: float = 0.05

Point = tuple[float, float]


def _center(cell: str, jitter: tuple[float, float], half: float, cell_px: float) -> Point:
    """Centre of an item of half-extent ``half`` (cell fractions), jittered inside its cell."""
    index = CELLS.index(cell)
    row, col = divmod(index, 3)
    free = max(0.0, 0.5 - half - MARGIN)
    return ((col + 0.5 + jitter[0] * free) * cell_px, (row + 0.5 + jitter[1] * free) * cell_px)


def shape_polygon(shape: str, cx: float, cy: float, r: float) -> list[Point]:
    """Outline of a non-circle shape of radius ``r`` centred at (cx, cy)."""
    if shape == "square":
        h = 0.82 * r
        return [(cx - h, cy - h), (cx + h, cy - h), (cx + h, cy + h), (cx - h, cy + h)]
    if shape == "diamond":
        return [(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)]
    if shape == "triangle":
        # Pointing up, as wide as it is tall, shifted so its bounding box is centred.
        top, base = -r, 0.85 * r
        dy = -(top + base) / 2
        return [(cx, cy + top + dy), (cx + r, cy + base + dy), (cx - r, cy + base + dy)]
    if shape == "cross":
        w = 0.32 * r
        return [
            (cx - w, cy - r),
            (cx + w, cy - r),
            (cx + w, cy - w),
            (cx + r, cy - w),
            (cx + r, cy + w),
            (cx + w, cy + w),
            (cx + w, cy + r),
            (cx - w, cy + r),
            (cx - w, cy + w),
            (cx - r, cy + w),
            (cx - r, cy - w),
            (cx - w, cy - w),
        ]
    raise ValueError(f"no outline for shape {shape!r}")


@lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _fitted_font(text: str, box: float) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The largest bundled-font size whose glyphs fill most of a ``box``-pixel square."""
    size = max(4, int(box))
    for _ in range(3):
        left, top, right, bottom = _font(size).getbbox(text)
        width, height = max(1, right - left), max(1, bottom - top)
        scale = min(0.78 * box / width, 0.66 * box / height)
        new = max(4, int(size * scale))
        if new == size:
            break
        size = new
    return _font(size)


def _draw_object(draw: ImageDraw.ImageDraw, obj: SceneObject, cell_px: float, scale: float) -> None:
    r_frac = RADIUS[obj.size] * scale
    cx, cy = _center(obj.cell, obj.jitter, r_frac, cell_px)
    r = r_frac * cell_px
    fill = COLOR_RGB[obj.color]
    if obj.shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    else:
        draw.polygon(shape_polygon(obj.shape, cx, cy, r), fill=fill)


def _draw_sign(draw: ImageDraw.ImageDraw, sign: Sign, cell_px: float, scale: float) -> None:
    h_frac = SIGN_HALF * scale
    cx, cy = _center(sign.cell, sign.jitter, h_frac, cell_px)
    h = h_frac * cell_px
    draw.rectangle([cx - h, cy - h, cx + h, cy + h], fill=SIGN_RGB)
    font = _fitted_font(sign.text, 2 * h)
    left, top, right, bottom = font.getbbox(sign.text)
    origin = (cx - (left + right) / 2, cy - (top + bottom) / 2)
    draw.text(origin, sign.text, fill=SIGN_TEXT_RGB, font=font)


def render_scene(scene: Scene, cfg: WorldConfig) -> Image.Image:
    """The scene as an RGB image of ``cfg.image_size`` pixels square."""
    big = cfg.image_size * cfg.supersample
    image = Image.new("RGB", (big, big), BACKGROUND_RGB)
    draw = ImageDraw.Draw(image)
    cell_px = big / 3
    for obj in scene.objects:
        _draw_object(draw, obj, cell_px, cfg.object_scale)
    if scene.sign is not None:
        _draw_sign(draw, scene.sign, cell_px, cfg.object_scale)
    if cfg.supersample > 1:
        image = image.reduce(cfg.supersample)
    return image


def png_bytes(image: Image.Image) -> bytes:
    """Encode as PNG with fixed settings (no metadata, fixed compression)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()
