"""Scenes, sampling, rendering and captions of `mllmkit.world`."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from mllmkit.world.caption import caption
from mllmkit.world.config import WorldConfig
from mllmkit.world.render import png_bytes, render_scene
from mllmkit.world.sample import sample_scene, stream_rng
from mllmkit.world.scene import Scene, SceneObject, Sign
from mllmkit.world.vocab import BACKGROUND_RGB, CELLS, COLOR_RGB, SHAPES

CFG = WorldConfig()


def _scene(*objects: SceneObject, sign: Sign | None = None, scene_id: str = "s") -> Scene:
    return Scene(id=scene_id, objects=tuple(objects), sign=sign)


def test_colours_are_far_apart_and_off_the_background() -> None:
    rgbs = [np.array(v, dtype=float) for v in COLOR_RGB.values()]
    for a, b in itertools.combinations(rgbs, 2):
        assert np.linalg.norm(a - b) > 100
    for a in rgbs:
        assert np.linalg.norm(a - np.array(BACKGROUND_RGB)) > 150


def test_config_round_trip_and_errors_name_the_field() -> None:
    cfg = WorldConfig(max_objects=3, sign_words=("CAT", "DOG", "SUN", "MAP"))
    assert WorldConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ValueError, match="max_objects"):
        WorldConfig(max_objects=9)
    with pytest.raises(ValueError, match="sign_prob"):
        WorldConfig(sign_prob=1.5)
    with pytest.raises(ValueError, match="unknown field"):
        WorldConfig.from_dict({"image_sise": 64})
    assert WorldConfig.high_res().image_size == 384


def test_sampling_is_deterministic_and_splits_use_different_streams() -> None:
    a = sample_scene(stream_rng(7, "train", 3, "scene"), CFG, "x")
    b = sample_scene(stream_rng(7, "train", 3, "scene"), CFG, "x")
    assert a == b
    others = [
        sample_scene(stream_rng(7, "test", 3, "scene"), CFG, "x"),
        sample_scene(stream_rng(8, "train", 3, "scene"), CFG, "x"),
        sample_scene(stream_rng(7, "train", 4, "scene"), CFG, "x"),
    ]
    assert all(o != a for o in others)
    with pytest.raises(ValueError, match="split"):
        stream_rng(7, "val", 0, "scene")


def test_sampled_scenes_respect_the_grid_and_counts() -> None:
    n_objects = set()
    signs = 0
    for i in range(500):
        scene = sample_scene(stream_rng(0, "train", i, "scene"), CFG, str(i))
        cells = [o.cell for o in scene.objects] + ([scene.sign.cell] if scene.sign else [])
        assert len(set(cells)) == len(cells)
        assert all(-1 <= j <= 1 for o in scene.objects for j in o.jitter)
        n_objects.add(len(scene.objects))
        signs += scene.sign is not None
        assert Scene.from_dict(json.loads(json.dumps(scene.to_dict()))) == scene
    assert n_objects == set(range(1, CFG.max_objects + 1))
    assert 200 < signs < 300  # sign_prob = 0.5


def test_category_prior_is_non_uniform_but_covers_everything() -> None:
    counts: dict[str, int] = {}
    for i in range(2000):
        for o in sample_scene(stream_rng(1, "train", i, "scene"), CFG).objects:
            counts[o.category] = counts.get(o.category, 0) + 1
    assert len(counts) == 30
    assert max(counts.values()) > 3 * min(counts.values())


def test_key_ignores_id_and_jitter_but_not_content() -> None:
    a = _scene(SceneObject("circle", "red", "large", "top", (0.1, 0.2)), scene_id="a")
    b = _scene(SceneObject("circle", "red", "large", "top", (-0.5, 0.9)), scene_id="b")
    c = _scene(SceneObject("circle", "red", "small", "top"), scene_id="a")
    d = _scene(SceneObject("circle", "red", "large", "top"), sign=Sign("K", "center"))
    assert a.key() == b.key()
    assert len({a.key(), c.key(), d.key()}) == 3


def test_scene_errors_name_the_field() -> None:
    bad = {
        "id": "7",
        "objects": [{"shape": "circle", "color": "pink", "size": "large", "cell": "top"}],
    }
    with pytest.raises(ValueError, match=r"objects\[0\].*'color'.*'pink'"):
        Scene.from_dict(bad, "scenes.jsonl: row 3")
    with pytest.raises(ValueError, match="share a cell"):
        _scene(
            SceneObject("circle", "red", "large", "top"),
            SceneObject("cross", "blue", "small", "top"),
        )


def _mask(image, rgb) -> np.ndarray:
    arr = np.asarray(image).astype(int)
    return np.abs(arr - np.array(rgb)).sum(axis=2) < 60


def test_render_is_byte_identical_and_sized() -> None:
    scene = sample_scene(stream_rng(3, "train", 0, "scene"), CFG, "0")
    first = png_bytes(render_scene(scene, CFG))
    assert first == png_bytes(render_scene(scene, CFG))
    assert render_scene(scene, CFG).size == (64, 64)
    other = sample_scene(stream_rng(3, "train", 1, "scene"), CFG, "1")
    assert png_bytes(render_scene(other, CFG)) != first


def test_objects_land_in_their_cell_with_the_right_colour_and_size() -> None:
    for cell in CELLS:
        big = render_scene(_scene(SceneObject("square", "blue", "large", cell)), CFG)
        small = render_scene(_scene(SceneObject("square", "blue", "small", cell)), CFG)
        ys, xs = np.nonzero(_mask(big, COLOR_RGB["blue"]))
        row, col = divmod(CELLS.index(cell), 3)
        assert (xs // (64 / 3)).min() == col and (xs // (64 / 3)).max() == col
        assert (ys // (64 / 3)).min() == row and (ys // (64 / 3)).max() == row
        ratio = _mask(big, COLOR_RGB["blue"]).sum() / _mask(small, COLOR_RGB["blue"]).sum()
        assert 3.0 < ratio < 5.5  # radius ratio 2 ⇒ area ratio about 4


def test_shapes_have_distinct_silhouettes_at_64px() -> None:
    # Soft difference of the red channel, in whole-pixel equivalents.
    for size, min_diff in (("large", 30.0), ("small", 8.0)):
        red = {
            s: np.asarray(render_scene(_scene(SceneObject(s, "red", size, "center")), CFG))[:, :, 0]
            / 255.0
            for s in SHAPES
        }
        for a, b in itertools.combinations(SHAPES, 2):
            assert np.abs(red[a] - red[b]).sum() >= min_diff, (size, a, b)


def test_sign_text_is_legible_and_fills_the_sign() -> None:
    images = {
        t: np.asarray(
            render_scene(
                _scene(SceneObject("circle", "red", "small", "top"), sign=Sign(t, "center")), CFG
            )
        ).astype(int)
        for t in ("K", "L", "8")
    }
    dark = images["K"].sum(axis=2) < 200
    ys, _ = np.nonzero(dark[21:43, 21:43])
    assert ys.max() - ys.min() >= 9  # the glyph is most of the ~17 px sign tall
    for a, b in itertools.combinations(images, 2):
        assert (np.abs(images[a] - images[b]).sum(axis=2) > 150).sum() >= 8


def test_high_res_keeps_objects_small() -> None:
    cfg = WorldConfig.high_res()
    image = render_scene(_scene(SceneObject("circle", "green", "large", "center")), cfg)
    assert image.size == (384, 384)
    share = _mask(image, COLOR_RGB["green"]).mean()
    assert 0.001 < share < 0.01


def test_caption_golden() -> None:
    scene = _scene(
        SceneObject("square", "blue", "small", "center"),
        SceneObject("circle", "red", "large", "top left"),
        SceneObject("triangle", "orange", "large", "left"),
        sign=Sign("K", "bottom right"),
    )
    assert caption(scene) == (
        "A large red circle at the top left, a large orange triangle on the left, "
        'a small blue square in the center and a sign that reads "K" at the bottom right.'
    )
    single = _scene(SceneObject("cross", "orange", "small", "bottom"))
    assert caption(single) == "A small orange cross at the bottom."


def test_sign_words_stay_inside_the_sign() -> None:
    def draw(text: str) -> np.ndarray:
        scene = _scene(SceneObject("circle", "red", "small", "top"), sign=Sign(text, "center"))
        return np.asarray(render_scene(scene, CFG)).astype(int)

    ys, xs = np.nonzero(np.abs(draw("WORD") - draw("MAP")).sum(axis=2) > 0)
    assert xs.min() > 21 and xs.max() < 43 and ys.min() > 21 and ys.max() < 43
    assert xs.max() - xs.min() >= 10  # the words span most of the sign's width


def test_world_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys, mllmkit.world.generate, mllmkit.world.preview, mllmkit.world.verify; "
        "sys.exit('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
