"""Built-in tasks over the world benchmark (`TASKS`, exact names) and task resolution.

The world folder is the one `mllm world generate --out DIR` writes (layout in
`docs/architecture.md`); built-in tasks read its `test/` files. Which folder: `--data DIR`
if given, else the first existing of `DEFAULT_DATA_DIRS`.

`resolve_tasks("world-mcq,my_task.yaml", data_dir)`: each comma-separated entry that is
an existing file is read as a YAML task declaration (one mapping, a list of mappings, or
`{tasks: [...]}`; relative paths inside are relative to the YAML file); any other entry
must be an exact name in `TASKS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from mllmkit.backends.base import GenerationArgs
from mllmkit.eval.task import TaskError, TaskSpec

DEFAULT_DATA_DIRS = ("runs/world", "runs/demo/world")
WORLD_ABILITIES = (
    "existence",
    "count",
    "color",
    "shape",
    "size",
    "spatial",
    "position",
    "text",
    "multi_image",
)
SHORT_GEN = GenerationArgs(max_new_tokens=16)
CAPTION_GEN = GenerationArgs(max_new_tokens=128)

TaskFactory = Callable[[Path], TaskSpec]
TASKS: dict[str, TaskFactory] = {}


def register_task(name: str, factory: TaskFactory) -> None:
    """Register a built-in task factory (called with the data folder) under an exact name."""
    if name in TASKS:
        raise ValueError(f"task {name!r} is already registered")
    TASKS[name] = factory


def _world(name: str, rel: str, **kwargs: Any) -> None:
    def factory(data_dir: Path) -> TaskSpec:
        return TaskSpec(name=name, path=str(data_dir / "test" / rel), **kwargs)

    register_task(name, factory)


_world("world-short", "world_short.tsv", loader="tsv", format="vqa", gen=SHORT_GEN)
# The world asks at most one yes/no question per ability about an image, so MME's acc+
# would equal acc: plain accuracy (per ability) with MME's strict yes/no reading.
_world(
    "world-yorn", "world_yorn.tsv", loader="tsv", format="yorn", yes_no_rule="mme", gen=SHORT_GEN
)
_world("world-mcq", "world_mcq.tsv", loader="tsv", format="mcq", gen=SHORT_GEN)
_world(
    "world-mcq-circular",
    "world_mcq.tsv",
    loader="tsv",
    format="mcq",
    circular=True,
    metrics=["circular", "mcq"],
    gen=SHORT_GEN,
)
for _setting in ("random", "popular", "adversarial"):
    _world(
        f"world-pope-{_setting}",
        f"pope_{_setting}.tsv",
        loader="tsv",
        format="yorn",
        yes_no_rule="pope",
        metrics=["pope"],
        gen=SHORT_GEN,
    )
_world(
    "world-caption", "captions.jsonl", loader="world_captions", format="caption", gen=CAPTION_GEN
)


def default_data_dir() -> Path | None:
    """The first existing folder of `DEFAULT_DATA_DIRS` (relative to the working dir)."""
    for d in DEFAULT_DATA_DIRS:
        if Path(d).is_dir():
            return Path(d)
    return None


def load_task_file(path: str | Path) -> list[TaskSpec]:
    """Read task declarations from a YAML file (see the module docstring)."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TaskError(f"{path}: not valid YAML: {exc}") from None
    if isinstance(data, dict) and "tasks" in data:
        if set(data) != {"tasks"}:
            raise TaskError(f"{path}: with a 'tasks' list, no other top-level key is allowed")
        data = data["tasks"]
    entries = data if isinstance(data, list) else [data]
    if not entries:
        raise TaskError(f"{path}: declares no task")
    specs = []
    for i, entry in enumerate(entries, start=1):
        source = f"{path} (task {i})" if len(entries) > 1 else str(path)
        specs.append(TaskSpec.from_dict(entry, source=source).resolve(path.parent))
    return specs


def resolve_tasks(
    tasks: str | Iterable[str | TaskSpec], data_dir: str | Path | None = None
) -> list[TaskSpec]:
    """Turn names / YAML files / specs into resolved `TaskSpec`s; task names must be unique."""
    entries: list[str | TaskSpec]
    if isinstance(tasks, str):
        entries = [t.strip() for t in tasks.split(",") if t.strip()]
    else:
        entries = list(tasks)
    specs: list[TaskSpec] = []
    for entry in entries:
        if isinstance(entry, TaskSpec):
            specs.append(entry)
        elif Path(entry).is_file():
            specs.extend(load_task_file(entry))
        elif entry in TASKS:
            specs.append(TASKS[entry](_world_dir(data_dir, entry)))
        else:
            raise TaskError(
                f"unknown task {entry!r}: not a task file and not a built-in task "
                f"({', '.join(sorted(TASKS))})"
            )
    if not specs:
        raise TaskError("no task given")
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise TaskError(f"task name(s) {dupes} given more than once")
    return specs


def _world_dir(data_dir: str | Path | None, task: str) -> Path:
    d = Path(data_dir) if data_dir is not None else default_data_dir()
    if d is None:
        raise TaskError(
            f"task {task!r} reads the world benchmark, but no --data folder was given and "
            f"none of {list(DEFAULT_DATA_DIRS)} exists; run `mllm world generate --out runs/world`"
        )
    if not d.is_dir():
        raise TaskError(f"task {task!r}: data folder {d} does not exist")
    return d.resolve()
