"""Seeded scene sampling.

Scene *i* of split *s* draws from ``numpy.random.default_rng([seed, split, i, stream,
sub])``, where ``sub`` counts resampling attempts or sub-streams. Every split and
purpose has its own stream, so splits never share random numbers, any scene can be
regenerated alone, and work can be split across processes without changing a byte.
The entropy list always has the same length because numpy's ``SeedSequence`` pads
short lists with zeros (``[1, 2]`` seeds the same generator as ``[1, 2, 0]``).
"""

from __future__ import annotations

import numpy as np

from mllmkit.world.config import WorldConfig
from mllmkit.world.scene import Scene, SceneObject, Sign
from mllmkit.world.vocab import (
    CATEGORIES,
    CELLS,
    COLOR_PRIOR,
    SHAPE_PRIOR,
    SIZES,
    THEMES,
)

SPLITS: dict[str, int] = {"train": 0, "test": 1}

#: Independent random streams per scene.
STREAMS: dict[str, int] = {"scene": 0, "questions": 1, "pairing": 2, "pope": 3, "prompts": 4}

_THEME_NAMES = tuple(THEMES)
_PRIOR = np.array([COLOR_PRIOR[c] * SHAPE_PRIOR[s] for c, s in CATEGORIES], dtype=np.float64)
_PRIOR /= _PRIOR.sum()
_JITTER_DECIMALS = 3


def stream_rng(seed: int, split: str, index: int, stream: str, sub: int = 0) -> np.random.Generator:
    """The generator for one purpose (``stream``) of one scene of one split."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {list(SPLITS)}")
    if seed < 0 or index < 0 or sub < 0:
        raise ValueError("seed, index and sub must be non-negative integers")
    return np.random.default_rng([seed, SPLITS[split], index, STREAMS[stream], sub])


def scene_id(index: int) -> str:
    """File-name-safe id of scene ``index`` within its split."""
    return f"{index:06d}"


def _jitter(rng: np.random.Generator) -> tuple[float, float]:
    jx, jy = rng.uniform(-1.0, 1.0, size=2)
    return (round(float(jx), _JITTER_DECIMALS), round(float(jy), _JITTER_DECIMALS))


def sample_scene(rng: np.random.Generator, cfg: WorldConfig, scene_id: str = "") -> Scene:
    """Draw one scene.

    The number of objects is uniform in ``min_objects..max_objects``; each object's
    colour+shape comes, with probability ``theme_prob``, from the scene's theme and
    otherwise from a mild global prior; sizes are uniform; cells are distinct.
    """
    n = int(rng.integers(cfg.min_objects, cfg.max_objects + 1))
    has_sign = bool(rng.random() < cfg.sign_prob)
    cells = rng.permutation(len(CELLS))[: n + int(has_sign)]
    theme = THEMES[_THEME_NAMES[int(rng.integers(len(_THEME_NAMES)))]]
    objects = []
    for k in range(n):
        if rng.random() < cfg.theme_prob:
            color, shape = theme[int(rng.integers(len(theme)))]
        else:
            color, shape = CATEGORIES[int(rng.choice(len(CATEGORIES), p=_PRIOR))]
        size = SIZES[int(rng.integers(len(SIZES)))]
        objects.append(SceneObject(shape, color, size, CELLS[int(cells[k])], _jitter(rng)))
    sign = None
    if has_sign:
        texts = cfg.sign_texts
        sign = Sign(texts[int(rng.integers(len(texts)))], CELLS[int(cells[n])], _jitter(rng))
    return Scene(id=scene_id, objects=tuple(objects), sign=sign)
