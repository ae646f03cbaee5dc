"""Dense, deterministic captions: every item in reading order, with where it is.

Example: ``A large red circle at the top left, a small blue square in the center and a
sign that reads "K" at the bottom right.`` Reading order is row-major over the grid
cells, so the same scene always gives the same caption.
"""

from __future__ import annotations

from mllmkit.world.scene import Scene
from mllmkit.world.vocab import CELL_PHRASES, CELLS, article


def _phrases(scene: Scene) -> list[tuple[int, str]]:
    items = []
    for o in scene.objects:
        desc = f"{o.size} {o.color} {o.shape}"
        items.append((CELLS.index(o.cell), f"{article(desc)} {desc} {CELL_PHRASES[o.cell]}"))
    if scene.sign is not None:
        s = scene.sign
        items.append((CELLS.index(s.cell), f'a sign that reads "{s.text}" {CELL_PHRASES[s.cell]}'))
    return sorted(items)


def caption(scene: Scene) -> str:
    """One sentence naming every object (size, colour, shape, place) and the sign."""
    parts = [text for _, text in _phrases(scene)]
    if len(parts) == 1:
        sentence = parts[0]
    else:
        sentence = ", ".join(parts[:-1]) + " and " + parts[-1]
    return sentence[0].upper() + sentence[1:] + "."
