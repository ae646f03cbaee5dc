"""A task = a data file + how to read it + how to prompt + how to extract and score answers.

Everything is declared explicitly in a `TaskSpec` (in Python or YAML); nothing is ever
inferred from a task's or a file's name. A benchmark in one of the supported layouts
(`LOADER_FORMATS`) therefore needs only a declaration such as::

    name: my-pope
    loader: pope_jsonl
    path: pope_coco.jsonl          # relative to the YAML file
    format: yorn
    yes_no_rule: pope
    metrics: [pope]
    gen: {max_new_tokens: 8}

Default prompts (`DEFAULT_PROMPTS`), one per format — placeholders `{question}`,
`{options}` (the `A. text` lines), `{hint}`:

- mcq: ``{hint}{question}\\n{options}\\nAnswer with the option's letter from the given
  choices directly.`` (VLMEvalKit's layout; `{hint}` is ``Hint: ...\\n`` or empty);
- yorn / vqa: ``{question}`` — the question exactly as written, because the world's
  training data asks questions that way and any suffix would be out of distribution;
- caption: ``Describe the image.`` — the instruction the world's caption data uses.

Images always come before the text in the user message (`<image>\\n{prompt}` for native
models), as in the world's training data and LLaVA's convention.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from PIL import Image

from mllmkit.backends.base import GenerationArgs, ImagePart, Message, TextPart
from mllmkit.backends.hashing import sha256_file_cached, sha256_text

FORMATS = ("mcq", "yorn", "vqa", "caption")
YES_NO_RULES = ("pope", "mme")
# Which answer formats each loader can feed (the loader decides the row layout).
LOADER_FORMATS: dict[str, tuple[str, ...]] = {
    "tsv": ("mcq", "yorn", "vqa"),
    "pope_jsonl": ("yorn",),
    "mme_tsv": ("yorn",),
    "jsonl": ("mcq", "yorn", "vqa", "caption"),
    "world_captions": ("caption",),
}
MCQ_INSTRUCTION = "Answer with the option's letter from the given choices directly."
DEFAULT_PROMPTS: dict[str, str] = {
    "mcq": "{hint}{question}\n{options}\n" + MCQ_INSTRUCTION,
    "yorn": "{question}",
    "vqa": "{question}",
    "caption": "Describe the image.",
}
DEFAULT_METRICS: dict[str, tuple[str, ...]] = {
    "mcq": ("mcq",),
    "yorn": ("accuracy",),  # with yes_no_rule "pope" the default is ("pope",)
    "vqa": ("vqa",),
    "caption": ("cider_d", "bleu4"),
}
_PLACEHOLDERS = frozenset({"question", "options", "hint"})


class TaskError(ValueError):
    """A task declaration is invalid; the message names the task (and file) and the field."""


@dataclass
class TaskSpec:
    """The full, explicit declaration of one evaluation task (see the module docstring).

    `path` is absolute after `resolve()`; `category_field` names the column/key holding a
    row's category (`category` by default; the task name is used when a row has none).
    `subtask_groups` maps categories to MME groups for the `mme` metric (MME's own by
    default). `image_root` overrides the directory image paths are relative to.
    """

    name: str
    loader: str
    path: str
    format: str
    circular: bool = False
    metrics: list[str] = field(default_factory=list)
    gen: GenerationArgs = field(default_factory=GenerationArgs)
    prompt: str | None = None
    yes_no_rule: str = "mme"  # "mme": unknown answers are wrong; "pope": POPE's original rule
    category_field: str = "category"
    image_root: str | None = None
    subtask_groups: dict[str, str] | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.gen, dict):
            self.gen = GenerationArgs.from_dict(self.gen)
        if not self.metrics:
            if self.format == "yorn" and self.yes_no_rule == "pope":
                self.metrics = ["pope"]
            else:
                self.metrics = list(DEFAULT_METRICS.get(self.format, ()))
            if self.circular:
                self.metrics.insert(0, "circular")
        self.metrics = list(self.metrics)
        self.validate()

    def _fail(self, field_name: str, detail: str) -> TaskError:
        return TaskError(f"task {self.name!r}: field '{field_name}': {detail}")

    def validate(self) -> None:
        """Check every field against the others; raise `TaskError` naming the field."""
        from mllmkit.eval.scorers import SCORERS

        if not self.name or not isinstance(self.name, str):
            raise TaskError(f"task name must be a non-empty string, got {self.name!r}")
        if self.format not in FORMATS:
            raise self._fail("format", f"{self.format!r} is not one of {FORMATS}")
        if self.loader not in LOADER_FORMATS:
            raise self._fail("loader", f"{self.loader!r} is not one of {tuple(LOADER_FORMATS)}")
        if self.format not in LOADER_FORMATS[self.loader]:
            raise self._fail(
                "format",
                f"loader {self.loader!r} reads {LOADER_FORMATS[self.loader]} tasks, "
                f"not {self.format!r}",
            )
        if self.circular and self.format != "mcq":
            raise self._fail("circular", "circular evaluation needs format 'mcq'")
        if self.yes_no_rule not in YES_NO_RULES:
            raise self._fail("yes_no_rule", f"{self.yes_no_rule!r} is not one of {YES_NO_RULES}")
        for metric in self.metrics:
            if metric not in SCORERS:
                raise self._fail("metrics", f"unknown metric {metric!r}; known: {sorted(SCORERS)}")
            allowed = SCORERS[metric].formats
            if self.format not in allowed:
                raise self._fail("metrics", f"{metric!r} scores {allowed} tasks, not {self.format}")
            if SCORERS[metric].needs_circular and not self.circular:
                raise self._fail("metrics", f"{metric!r} needs circular: true")
            rule = SCORERS[metric].yes_no_rule
            if rule is not None and rule != self.yes_no_rule:
                raise self._fail(
                    "metrics", f"{metric!r} reads answers with the {rule!r} rule: set yes_no_rule"
                )
        template = self.prompt_template
        try:
            names = {n for _, n, _, _ in _formatter().parse(template) if n is not None}
        except ValueError as exc:
            raise self._fail("prompt", f"bad template {template!r}: {exc}") from None
        unknown = names - _PLACEHOLDERS
        if unknown:
            raise self._fail(
                "prompt", f"unknown placeholder(s) {sorted(unknown)}; use {sorted(_PLACEHOLDERS)}"
            )

    @property
    def prompt_template(self) -> str:
        return self.prompt if self.prompt is not None else DEFAULT_PROMPTS[self.format]

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["gen"] = self.gen.to_dict()
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> TaskSpec:
        """Build from a plain dict; unknown or missing keys raise naming `source`."""
        if not isinstance(data, dict):
            raise TaskError(f"{source}: a task must be a mapping, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise TaskError(
                f"{source}: unknown task field(s) {sorted(unknown)}; known: {sorted(names)}"
            )
        required = [n for n in ("name", "loader", "path", "format") if n not in data]
        if required:
            raise TaskError(f"{source}: task lacks required field(s) {required}")
        try:
            return cls(**data)
        except TaskError as exc:
            raise TaskError(f"{source}: {exc}") from None
        except (TypeError, ValueError) as exc:
            raise TaskError(f"{source}: task {data.get('name')!r}: {exc}") from None

    def resolve(self, base_dir: str | Path) -> TaskSpec:
        """A copy whose `path`/`image_root` are absolute (relative ones joined to `base_dir`)."""
        base = Path(base_dir)

        def absolute(p: str) -> str:
            q = Path(p).expanduser()
            return str(q if q.is_absolute() else (base / q).resolve())

        root = None if self.image_root is None else absolute(self.image_root)
        return dataclasses.replace(self, path=absolute(self.path), image_root=root)

    def fingerprint(self) -> str:
        """Spec + data-file contents: a changed file or declaration never reuses old answers."""
        data_hash = sha256_file_cached(self.path) if Path(self.path).is_file() else "missing"
        return sha256_text(json.dumps(self.to_dict(), sort_keys=True), data_hash)


def _formatter() -> Any:
    import string

    return string.Formatter()


class ImageSource(Protocol):
    """Anything that can produce the image later (a path, base64 bytes...)."""

    def load(self) -> Image.Image: ...


@dataclass
class Sample:
    """One prompt to send and what to compare the answer with.

    Images are kept as lazy `ImageSource`s and decoded only when the sample is sent
    (`messages()`), so a 100k-question benchmark does not hold 100k images in memory and
    a missing image fails only its own sample. `answer` is a string, or a list of
    reference strings (VQA human answers, captions). `extra` carries format-specific
    fields (`question_id`, `rotation`, `n_rotations` for circular; `image_id` for MME).
    """

    id: str
    question: str
    prompt: str
    images: list[ImageSource]
    answer: str | list[str]
    options: dict[str, str]
    category: str
    extra: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def messages(self) -> list[Message]:
        """One user message: the images first, then the prompt text."""
        parts: list[ImagePart | TextPart] = [ImagePart(src.load()) for src in self.images]
        parts.append(TextPart(self.prompt))
        return [Message(role="user", content=parts)]


def format_options(options: dict[str, str]) -> str:
    """`A. text` lines, in the options' own order."""
    return "\n".join(f"{letter}. {text}" for letter, text in options.items())


def render_prompt(spec: TaskSpec, question: str, options: dict[str, str], hint: str | None) -> str:
    """Fill the task's template (see `DEFAULT_PROMPTS`)."""
    return spec.prompt_template.format(
        question=question,
        options=format_options(options),
        hint=f"Hint: {hint}\n" if hint else "",
    )
