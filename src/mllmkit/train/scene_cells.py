"""Vision pretraining on the world's scene graph: what is in each cell of the 3x3 grid.

LLaVA starts from a CLIP tower that has seen hundreds of millions of image-text pairs. A
tower trained from scratch inside an MLLM gets its only signal through the language model,
and on a CPU budget that signal is too weak: on the world, a 4-layer LM trained 6,000 steps
answered shape questions at the majority baseline, with either vision stem. The world knows
what every cell holds, so a stage with `objective: scene_cells` trains the tower directly:
from *every* output token, one linear head predicts the content (empty, a sign, or one of
the shapes), colour, size and sign text of the cell the token lies in. Per token, not per
cell average: the language model later finds an object by attending to single tokens, so
each token must carry its cell's whole description (trained on cell averages, a tower let
the LM find objects by colour but not by shape). The head lives only for the stage (it is
in the stage's checkpoints, so resume stays exact); the tower's weights carry on, as a CLIP
tower's would. A model with an image tagger (`mllmkit.models.tags`) keeps its head: the
tagger's groups (`TAG_WORDS`: kind, colour, size and the token's own cell) are trained
here through the tagger, and the throw-away head covers only the rest (the sign text).

Data: the world's `scenes.jsonl` (`{"id", "image", "objects": [{"shape", "color", "size",
"cell"}], "sign": {"text", "cell"} | null}`), image paths relative to the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mllmkit.data.errors import DataError
from mllmkit.data.processor import Processor
from mllmkit.models.config import ImageTagGroup
from mllmkit.train.dataset import EncodeReport, PixelCache
from mllmkit.world.vocab import CELLS, COLORS, SHAPES, SIZES, plural

GRID = 3  # the world's cells per side
KINDS = ("empty", "sign", *SHAPES)
COLOR_LABELS = ("none", *COLORS)
SIZE_LABELS = ("none", *SIZES)
GROUPS = 4  # kind, colour, size, sign text
LABEL_GROUPS = ("kind", "color", "size", "text")  # the columns of a scene's [9, 4] labels
# The image tagger's vocabulary: per group, the word of each class ("" = no word), in the
# order of the label indices above. `cell` is the cell a token lies in (from its position,
# not from the scene), so a tag can also say where in the image a token is.
TAG_WORDS: dict[str, tuple[str, ...]] = {
    "kind": ("", "sign", *SHAPES),
    "color": ("", *COLORS),
    "size": ("", *SIZES),
    "cell": CELLS,
}
# Extra groups of the `scene_words` vocabulary. The world's questions name what they count
# in the plural ("How many crosses are there?"), and " crosses" is a token of its own whose
# embedding has nothing in common with " cross": `kinds` tags each object with its plural
# too. The cell phrase tags a corner token with the mean of two words ("top left"), half the
# weight a middle-row token's column word has: `row` and `column` tag each on its own.
EXTRA_TAG_WORDS: dict[str, tuple[str, ...]] = {
    "kinds": ("", "", *(plural(s) for s in SHAPES)),
    "row": ("top", "", "bottom"),
    "column": ("left", "", "right"),
}
KNOWN_TAG_WORDS = {**TAG_WORDS, **EXTRA_TAG_WORDS}
FIELDS = (("cell", CELLS), ("shape", SHAPES), ("color", COLORS), ("size", SIZES))


def _fail(path: Path, line: int, row_id: Any, field: str, detail: str) -> DataError:
    rid = None if row_id is None else str(row_id)
    return DataError(detail, path=path, row=line, row_id=rid, field=field)


def _labels(obj: dict[str, Any], texts: dict[str, int], path: Path, line: int) -> torch.Tensor:
    """[9, 4] class indices: kind, colour, size, sign text (0 = none) per cell."""
    rid = obj.get("id")
    out = torch.zeros(len(CELLS), GROUPS, dtype=torch.long)
    objects = obj.get("objects")
    if not isinstance(objects, list):
        raise _fail(path, line, rid, "objects", "expected a list of objects")
    for k, o in enumerate(objects):
        where = f"objects[{k}]"
        if not isinstance(o, dict):
            raise _fail(path, line, rid, where, "expected an object")
        for key, allowed in FIELDS:
            if o.get(key) not in allowed:
                detail = f"{o.get(key)!r} is not one of {allowed}"
                raise _fail(path, line, rid, f"{where}.{key}", detail)
        cell = CELLS.index(o["cell"])
        if out[cell, 0] != 0:
            raise _fail(path, line, rid, f"{where}.cell", f"cell {o['cell']!r} is already taken")
        out[cell, 0] = KINDS.index(o["shape"])
        out[cell, 1] = COLOR_LABELS.index(o["color"])
        out[cell, 2] = SIZE_LABELS.index(o["size"])
    sign = obj.get("sign")
    if sign is not None:
        if not isinstance(sign, dict) or sign.get("cell") not in CELLS:
            raise _fail(path, line, rid, "sign.cell", f"expected one of {CELLS}")
        text = sign.get("text")
        if not isinstance(text, str) or not text:
            raise _fail(path, line, rid, "sign.text", "expected a non-empty string")
        cell = CELLS.index(sign["cell"])
        if out[cell, 0] != 0:
            raise _fail(path, line, rid, "sign.cell", f"cell {sign['cell']!r} is already taken")
        out[cell, 0] = KINDS.index("sign")
        out[cell, 3] = texts.setdefault(text, len(texts) + 1)
    return out


class SceneCellsDataset:
    """Images and their [9, 4] cell labels from world `scenes.jsonl` files.

    Same interface as `ConversationDataset` (`batch`, `loss_units`, `report`); the sign
    texts seen form the text classes (`texts`, 0 = no sign), in order of appearance.
    """

    def __init__(self, files: list[Path], processor: Processor, max_length: int = 0) -> None:
        del max_length  # no text in this objective
        self.processor = processor
        self.images: list[Path] = []
        self.labels: list[torch.Tensor] = []
        self.texts: dict[str, int] = {}
        self._pixels = PixelCache(processor)
        for path in files:
            self._read(path)
        self.report = EncodeReport(rows=len(self.images))
        if not self.images:
            raise DataError(f"{', '.join(map(str, files))}: no scenes")

    def _read(self, path: Path) -> None:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise DataError(f"cannot read ({exc})", path=path) from exc
        for line, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                raise DataError(f"not valid JSON ({exc.msg})", path=path, row=line) from exc
            if not isinstance(obj, dict):
                raise DataError("expected a JSON object", path=path, row=line)
            image = obj.get("image")
            if not isinstance(image, str) or not image:
                raise _fail(path, line, obj.get("id"), "image", "expected an image path")
            self.labels.append(_labels(obj, self.texts, path, line))
            self.images.append(path.parent / image)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def num_texts(self) -> int:
        """Text classes including 'no sign'."""
        return len(self.texts) + 1

    def batch(self, indices: list[int]) -> dict[str, torch.Tensor]:
        return {
            "pixel_values": torch.stack([self._pixels(self.images[i]) for i in indices]),
            "cell_labels": torch.stack([self.labels[i] for i in indices]),
        }

    def loss_units(self, indices: list[int]) -> int:
        """Every cell has one label per group (0 = none), so 9 x 4 per scene."""
        return len(indices) * len(CELLS) * GROUPS


def tag_groups(
    tokenizer: Any, vocabulary: dict[str, tuple[str, ...]] | None = None
) -> list[ImageTagGroup]:
    """The image tagger's groups for `vocabulary` (default `TAG_WORDS`), with the token ids
    `tokenizer` gives each word as it appears inside a sentence (after a space: "the red
    circle")."""
    groups = []
    for name, words in (TAG_WORDS if vocabulary is None else vocabulary).items():
        ids = [tokenizer.encode(" " + w, add_special_tokens=False) if w else [] for w in words]
        groups.append(ImageTagGroup(name=name, words=list(words), token_ids=ids))
    return groups


def scene_word_tag_groups(tokenizer: Any) -> list[ImageTagGroup]:
    """`TAG_WORDS` plus `EXTRA_TAG_WORDS`: the plural of each kind, and the row and the
    column of each token's cell."""
    return tag_groups(tokenizer, KNOWN_TAG_WORDS)


class CellHead(nn.Module):
    """One linear layer from each token's features to the label groups named in `sizes`."""

    def __init__(self, hidden: int, sizes: dict[str, int]) -> None:
        super().__init__()
        self.names = list(sizes)
        self.sizes = list(sizes.values())
        self.proj = nn.Linear(hidden, sum(self.sizes))

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        """[N, g*g, D] patch features -> per group name, logits [N, g*g, classes]."""
        return dict(zip(self.names, self.proj(features).split(self.sizes, dim=-1), strict=True))


def token_cells(grid: int) -> torch.Tensor:
    """[grid*grid] index of the world cell each patch token (row-major) lies in."""
    k = grid // GRID
    return torch.tensor([(r // k) * GRID + c // k for r in range(grid) for c in range(grid)])


def token_targets(cell_labels: torch.Tensor, grid: int) -> dict[str, torch.Tensor]:
    """Per patch token of a [grid x grid] tower, its class in every group: the scene's
    labels of the cell it lies in ([N, 9, 4] -> kind, colour, size, text) and where that cell
    is (cell, row, column); each [N, grid*grid]."""
    cells = token_cells(grid)
    labels = cell_labels[:, cells]  # [N, g*g, 4]
    targets = {name: labels[..., k] for k, name in enumerate(LABEL_GROUPS)}
    targets["cell"] = cells.expand(labels.shape[0], -1)
    targets["row"] = targets["cell"] // GRID
    targets["column"] = targets["cell"] % GRID
    targets["kinds"] = targets["kind"]
    return targets


def _tagged_groups(model: nn.Module) -> list[str]:
    """The groups `model`'s image tagger predicts, checked against `KNOWN_TAG_WORDS`."""
    tags = model.config.image_tags or []
    for g in tags:
        if tuple(g.words) != KNOWN_TAG_WORDS.get(g.name):
            raise ValueError(
                f"objective 'scene_cells' trains the image tagger's groups as "
                f"{KNOWN_TAG_WORDS}; "
                f"the model's group {g.name!r} has classes {g.words}"
            )
    return [g.name for g in tags]


def make_cell_head(model: nn.Module, dataset: SceneCellsDataset, seed: int) -> CellHead:
    """A seeded head for the label groups `model`'s tagger does not cover; the tower's patch
    grid must tile the 3x3 cells."""
    cfg = model.config.vision
    if cfg.grid_size % GRID:
        raise ValueError(
            f"objective 'scene_cells' needs the vision patch grid ({cfg.grid_size}x"
            f"{cfg.grid_size}) to split into the world's {GRID}x{GRID} cells: choose "
            f"image_size / patch_size divisible by {GRID}"
        )
    sizes = {"kind": len(KINDS), "color": len(COLOR_LABELS), "size": len(SIZE_LABELS)}
    sizes["text"] = dataset.num_texts
    tagged = _tagged_groups(model)
    head = CellHead(cfg.hidden_size, {k: v for k, v in sizes.items() if k not in tagged})
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        head.proj.weight.normal_(0.0, 0.02, generator=gen)
        head.proj.bias.zero_()
    return head


def cells_loss_sum(model: nn.Module, head: nn.Module, batch: dict) -> tuple[torch.Tensor, int]:
    """(sum of cross-entropies over cells and label groups, number of cell labels).

    Each token is scored against its cell's labels; a cell's k x k tokens share its weight
    (their losses are averaged), so the sum is in units of cell labels, as `loss_units`
    (4 per cell). With a tagger's `cell` group there are 5 labels per cell; the sum is then
    scaled by 4/5, so that divided by `loss_units` it is still the mean over all labels."""
    features = model.vision_tower(batch["pixel_values"])
    if model.config.vision.keep_cls:
        features = features[:, 1:]
    grid = model.config.vision.grid_size
    cell_labels = batch["cell_labels"]
    targets = token_targets(cell_labels, grid)
    logits = dict(head(features)) if head is not None else {}
    if model.image_tagger is not None:
        logits.update(model.image_tagger.logits(features))
    per_cell_tokens = (grid // GRID) ** 2
    total = features.new_zeros(())
    for name, group_logits in logits.items():
        total = total + F.cross_entropy(
            group_logits.reshape(-1, group_logits.shape[-1]),
            targets[name].reshape(-1),
            reduction="sum",
        )
    return total * GROUPS / len(logits) / per_cell_tokens, cell_labels.numel()
