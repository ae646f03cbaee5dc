"""The closed vocabulary of the synthetic world.

Every word a question, answer or caption can use is listed here, so generators,
the verifier and the renderer agree on exact names. Values are chosen to stay
visually distinct at 64 px: six saturated, far-apart hues on a fixed dark
background, and five silhouettes that differ in outline, not only in detail.
"""

from __future__ import annotations

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "cross")
COLORS: tuple[str, ...] = ("red", "green", "blue", "yellow", "purple", "orange")
SIZES: tuple[str, ...] = ("small", "large")

#: Saturated RGB values, far apart in hue and bright enough against the background.
COLOR_RGB: dict[str, tuple[int, int, int]] = {
    "red": (220, 20, 40),
    "green": (30, 200, 60),
    "blue": (50, 110, 255),
    "yellow": (255, 235, 30),
    "purple": (180, 60, 230),
    "orange": (255, 125, 0),
}
BACKGROUND_RGB: tuple[int, int, int] = (34, 34, 40)
SIGN_RGB: tuple[int, int, int] = (250, 250, 250)
SIGN_TEXT_RGB: tuple[int, int, int] = (0, 0, 0)

#: The 3×3 grid, row-major; a cell's index is ``3 * row + col``.
CELLS: tuple[str, ...] = (
    "top left",
    "top",
    "top right",
    "left",
    "center",
    "right",
    "bottom left",
    "bottom",
    "bottom right",
)
#: How a caption (and the yes/no position question) names a cell.
CELL_PHRASES: dict[str, str] = {
    "top left": "at the top left",
    "top": "at the top",
    "top right": "at the top right",
    "left": "on the left",
    "center": "in the center",
    "right": "on the right",
    "bottom left": "at the bottom left",
    "bottom": "at the bottom",
    "bottom right": "at the bottom right",
}

#: Default sign characters: uppercase letters and digits minus the look-alikes
#: (I/1, O/0/Q) that a 64 px rendering cannot tell apart.
SIGN_ALPHABET: str = "ABCDEFGHJKLMNPRSTUVWXYZ23456789"

#: A mild, non-uniform prior over colours and shapes (weights, not probabilities),
#: so that "popular" POPE negatives are a real, learnable bias.
COLOR_PRIOR: dict[str, float] = {
    "red": 1.5,
    "blue": 1.3,
    "green": 1.1,
    "yellow": 0.9,
    "orange": 0.7,
    "purple": 0.5,
}
SHAPE_PRIOR: dict[str, float] = {
    "circle": 1.4,
    "square": 1.2,
    "triangle": 1.0,
    "cross": 0.8,
    "diamond": 0.6,
}

#: Themes give scenes co-occurrence structure: a scene draws one theme and some of its
#: objects come from the theme's categories. Each category belongs to at most one theme,
#: so "adversarial" POPE negatives (frequent companions) differ from "popular" ones.
THEMES: dict[str, tuple[tuple[str, str], ...]] = {
    "fire": (("red", "triangle"), ("orange", "triangle"), ("yellow", "diamond")),
    "garden": (("green", "circle"), ("yellow", "circle"), ("purple", "cross")),
    "ocean": (("blue", "square"), ("blue", "diamond"), ("green", "square")),
    "candy": (("purple", "circle"), ("red", "square"), ("orange", "cross")),
    "night": (("yellow", "cross"), ("purple", "diamond"), ("blue", "triangle")),
}

#: Every colour+shape category, in a fixed order used for tie-breaking.
CATEGORIES: tuple[tuple[str, str], ...] = tuple((c, s) for c in COLORS for s in SHAPES)


def category_name(color: str, shape: str) -> str:
    """The category as a phrase, e.g. ``"red circle"``."""
    return f"{color} {shape}"


def plural(noun: str) -> str:
    """English plural of a shape noun (``cross`` → ``crosses``)."""
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    return noun + "s"


def article(phrase: str) -> str:
    """``a`` or ``an`` for a phrase made of vocabulary words (all regular)."""
    return "an" if phrase[:1].lower() in "aeiou" else "a"


def _check() -> None:
    """Guard the invariants other modules rely on (runs at import, costs nothing)."""
    if set(COLOR_RGB) != set(COLORS) or set(COLOR_PRIOR) != set(COLORS):
        raise RuntimeError("vocab: colour tables disagree")
    if set(SHAPE_PRIOR) != set(SHAPES) or set(CELL_PHRASES) != set(CELLS):
        raise RuntimeError("vocab: shape or cell tables disagree")
    seen: set[tuple[str, str]] = set()
    for name, cats in THEMES.items():
        for cat in cats:
            if cat not in CATEGORIES or cat in seen:
                raise RuntimeError(f"vocab: theme {name!r} has a bad or repeated category {cat}")
            seen.add(cat)


_check()
