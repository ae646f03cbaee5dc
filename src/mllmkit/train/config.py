"""Training configuration: dataclasses loaded from YAML.

Stages are data, not code paths: a stage names its data files, which components train,
their learning rates and the schedule. `align` and `instruct` are just two entries of a
list; nothing in the trainer branches on a stage's name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mllmkit.data.conversation import IMAGE_PLACEMENTS
from mllmkit.data.token_splits import split_pattern
from mllmkit.models.attention_init import ATTENTION_INITS
from mllmkit.train.optim import MUON_KINDS, OPTIMIZERS

COMPONENTS = ("vision", "connector", "lm")
OBJECTIVE_NAMES = ("lm", "scene_cells")  # registered in `objectives.OBJECTIVES`
SCHEDULE_NAMES = ("cosine", "wsd")  # registered in `schedule.SCHEDULES`
# the `processor` section of a fresh run (`build.build_processor`)
PROCESSOR_KEYS = ("template", "image_mean", "image_std", "image_placement")


class ConfigError(ValueError):
    """A training config is invalid; the message names the file and the field."""


def _check_keys(cls: type, data: dict[str, Any], where: str) -> None:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {unknown}; expected some of {sorted(known)}")


@dataclass
class StageConfig:
    """One training stage.

    `batch_size` is the global batch per optimizer step (all processes, all micro-batches);
    `micro_batch_size` is what one process runs forward at once (gradient accumulation
    covers the rest). `objective` is what the stage learns from (`objectives.py`): `lm`
    (conversations) or `scene_cells` (the world's scene labels, vision tower only).
    `split_turns` trains on every exchange of a conversation as its own sample;
    `group_by_length` batches samples of similar length together (`sampler.py`), which
    cuts padding without changing which samples an epoch sees. `cache_vision_features`
    runs a frozen vision tower once per image file and reuses its output
    (`feature_cache.py`): faster when images repeat, at the cost of memory per image.
    """

    name: str
    data: list[str]
    trainable: list[str]
    lr: dict[str, float]
    steps: int
    batch_size: int = 32
    micro_batch_size: int | None = None
    warmup_ratio: float = 0.03
    min_lr_ratio: float = 0.0
    # `cosine` or `wsd` (`schedule.SCHEDULES`); `decay_ratio` is WSD's share of decay steps
    schedule: str = "cosine"
    decay_ratio: float = 0.2
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    # `adamw`, or `muon`: Muon for hidden matrices, AdamW for the rest (`optim.py`)
    optimizer: str = "adamw"
    # Muon only: the kinds of matrix it takes (`optim.MUON_KINDS`); unset, every one
    muon_on: list[str] | None = None
    max_grad_norm: float = 1.0
    max_length: int = 512
    objective: str = "lm"
    # `lm` only: every (user, assistant) exchange of a row becomes a sample of its own
    split_turns: bool = False
    # `lm` only: batch samples of similar length together (less padding per step)
    group_by_length: bool = False
    # `lm` only, vision frozen: keep the tower's output per image file instead of rerunning it
    cache_vision_features: bool = False

    def __post_init__(self) -> None:
        where = f"stage '{self.name}'"
        if self.objective not in OBJECTIVE_NAMES:
            raise ConfigError(
                f"{where}: unknown objective {self.objective!r}; use one of {OBJECTIVE_NAMES}"
            )
        if self.objective == "scene_cells" and list(self.trainable) != ["vision"]:
            raise ConfigError(
                f"{where}: objective 'scene_cells' trains the vision tower only; "
                f"set trainable: [vision] (got {self.trainable})"
            )
        if self.schedule not in SCHEDULE_NAMES:
            raise ConfigError(
                f"{where}: unknown schedule {self.schedule!r}; use one of {SCHEDULE_NAMES}"
            )
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(
                f"{where}: unknown optimizer {self.optimizer!r}; use one of {OPTIMIZERS}"
            )
        if self.muon_on is not None:
            if self.optimizer != "muon":
                raise ConfigError(f"{where}: 'muon_on' applies to optimizer 'muon' only")
            bad = [k for k in self.muon_on if k not in MUON_KINDS]
            if bad or not self.muon_on:
                raise ConfigError(
                    f"{where}: 'muon_on' lists {self.muon_on}; name one or more of {MUON_KINDS}"
                )
        if not 0.0 < self.decay_ratio <= 1.0:
            raise ConfigError(f"{where}: 'decay_ratio' must be in (0, 1] (got {self.decay_ratio})")
        if self.split_turns and self.objective != "lm":
            raise ConfigError(f"{where}: 'split_turns' applies to objective 'lm' only")
        if self.group_by_length and self.objective != "lm":
            raise ConfigError(f"{where}: 'group_by_length' applies to objective 'lm' only")
        if self.cache_vision_features and (self.objective != "lm" or "vision" in self.trainable):
            raise ConfigError(
                f"{where}: 'cache_vision_features' needs objective 'lm' with a frozen vision "
                f"tower (trainable: {self.trainable})"
            )
        bad = [c for c in self.trainable if c not in COMPONENTS]
        if bad:
            raise ConfigError(
                f"{where}: unknown component(s) {bad} in 'trainable'; use {COMPONENTS}"
            )
        missing = [c for c in self.trainable if c not in self.lr]
        if missing:
            raise ConfigError(f"{where}: 'lr' has no learning rate for trainable {missing}")
        if self.steps <= 0:
            raise ConfigError(f"{where}: 'steps' must be > 0")
        if self.micro_batch_size is None:
            self.micro_batch_size = self.batch_size
        if self.batch_size % self.micro_batch_size:
            raise ConfigError(f"{where}: batch_size must be a multiple of micro_batch_size")
        if not self.data:
            raise ConfigError(f"{where}: 'data' lists no file")
        self.betas = tuple(self.betas)  # type: ignore[assignment]


@dataclass
class TokenizerConfig:
    """Either a local tokenizer folder (`path`) or train one on the stages' data."""

    path: str | None = None
    vocab_size: int = 768
    # words with a forced token boundary, `stem|suffix` (see `train_tokenizer`)
    splits: list[str] = field(default_factory=list)


@dataclass
class TrainConfig:
    """A whole training run."""

    model: dict[str, Any]
    stages: list[StageConfig]
    out: str = "runs/train"
    data_root: str = "."
    init_from: str | None = None
    # Std of the normal init of a fresh model's matrices. 0.02 (GPT-2's) suits wide models;
    # a narrow model trained from scratch learns to use its image tokens much sooner with a
    # larger one (measured on the world: see configs/demo.yaml).
    init_std: float = 0.02
    # How the language model's query projections start (models/attention_init.py):
    # `normal` (independent draws) or `mimetic` (each query head part copy of its key head,
    # so attention starts as content matching).
    lm_attention_init: str = "normal"
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    processor: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    checkpoint_every: int = 100
    keep_checkpoints: int = 2
    log_every: int = 10
    threads: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "config") -> TrainConfig:
        _check_keys(cls, data, where)
        data = dict(data)
        if "stages" not in data or not data["stages"]:
            raise ConfigError(f"{where}: 'stages' must list at least one stage")
        stages = []
        for i, s in enumerate(data.pop("stages")):
            _check_keys(StageConfig, s, f"{where}: stages[{i}]")
            try:
                stages.append(StageConfig(**s))
            except TypeError as exc:
                raise ConfigError(f"{where}: stages[{i}]: {exc}") from exc
        names = [s.name for s in stages]
        if len(set(names)) != len(names):
            raise ConfigError(f"{where}: stage names must be unique, got {names}")
        proc = data.get("processor") or {}
        if proc and data.get("init_from"):
            raise ConfigError(
                f"{where}: 'processor' has no effect with 'init_from' (the processor comes "
                "from that folder); remove one of them"
            )
        unknown = sorted(set(proc) - set(PROCESSOR_KEYS))
        if unknown:
            raise ConfigError(f"{where}: processor: unknown key(s) {unknown}; use {PROCESSOR_KEYS}")
        if proc.get("image_placement", "as_written") not in IMAGE_PLACEMENTS:
            raise ConfigError(
                f"{where}: processor: image_placement {proc['image_placement']!r} is not one "
                f"of {IMAGE_PLACEMENTS}"
            )
        tok = data.pop("tokenizer", {}) or {}
        _check_keys(TokenizerConfig, tok, f"{where}: tokenizer")
        splits = tok.get("splits", [])
        if not isinstance(splits, list):
            raise ConfigError(f"{where}: tokenizer: 'splits' must be a list, got {splits!r}")
        try:
            split_pattern(splits)
        except ValueError as exc:
            raise ConfigError(f"{where}: tokenizer: {exc}") from exc
        if "model" not in data and "init_from" not in data:
            raise ConfigError(f"{where}: give 'model' (a fresh model) or 'init_from' (a folder)")
        data.setdefault("model", {})
        init_std = data.get("init_std", 0.02)
        if not isinstance(init_std, (int, float)) or not init_std > 0:
            raise ConfigError(f"{where}: 'init_std' must be a positive number, got {init_std!r}")
        attention_init = data.get("lm_attention_init", "normal")
        if attention_init not in ATTENTION_INITS:
            raise ConfigError(
                f"{where}: 'lm_attention_init' {attention_init!r} is not one of {ATTENTION_INITS}"
            )
        if attention_init != "normal" and data.get("init_from"):
            raise ConfigError(
                f"{where}: 'lm_attention_init' only shapes a fresh model; with 'init_from' "
                "the weights come from that folder (remove one of them)"
            )
        return cls(stages=stages, tokenizer=TokenizerConfig(**tok), **data)

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> TrainConfig:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
        data.setdefault("data_root", str(path.parent))
        for key, value in overrides.items():
            if value is not None:
                data[key] = value
        return cls.from_dict(data, where=str(path))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def resolve(self, rel: str) -> Path:
        """Resolve a data path relative to `data_root`."""
        p = Path(rel)
        return p if p.is_absolute() else Path(self.data_root) / p

    def data_files(self) -> list[Path]:
        """Every file the stages read, resolved, in stage order (a file read by two stages
        appears twice): what must exist before the run starts."""
        return [self.resolve(rel) for stage in self.stages for rel in stage.data]
