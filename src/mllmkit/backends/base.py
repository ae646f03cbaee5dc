"""The one `Model` protocol every backend speaks, and its request/response types.

Evaluation, judging and serving only ever see this protocol, so they never need to know
whether answers come from a native checkpoint, an HTTP server, a predictions file or a
stub. Requests are plain data (text + PIL images) so a backend can be swapped without
touching task code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from PIL import Image

# re-exported: every backend cuts its answers with it
from mllmkit.infer.text import truncate_at_stop as truncate_at_stop

Role = Literal["system", "user", "assistant"]
ROLES: tuple[str, ...] = ("system", "user", "assistant")


class BackendError(ValueError):
    """A backend cannot be opened (bad spec, unreadable predictions file, bad checkpoint)."""


@dataclass(frozen=True)
class TextPart:
    """A piece of text inside a message."""

    text: str


@dataclass(frozen=True)
class ImagePart:
    """An image inside a message; its position among the parts is where it is shown."""

    image: Image.Image


Part = TextPart | ImagePart


@dataclass
class Message:
    """One chat turn: a role and an ordered list of text/image parts."""

    role: str
    content: list[Part]

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"message role must be one of {ROLES}, got {self.role!r}")
        for part in self.content:
            if not isinstance(part, TextPart | ImagePart):
                raise TypeError(f"message content must be TextPart/ImagePart, got {part!r}")


@dataclass(frozen=True)
class GenerationArgs:
    """Decoding settings. Frozen and hashable: they are part of every cache key."""

    max_new_tokens: int = 32
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int = 0
    # a name from `mllmkit.infer.constraints.CONSTRAINTS`; backends that cannot apply
    # constraints say so with `supports_constraints`
    constraint: str | None = None

    def __post_init__(self) -> None:
        # Lists (from YAML/JSON) become tuples so the object stays hashable.
        object.__setattr__(self, "stop", tuple(self.stop))
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.constraint is not None:
            from mllmkit.infer.constraints import get_constraint

            get_constraint(self.constraint)  # unknown names fail here, not mid-run

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (stop as a list). `constraint` appears only when set, so the
        cache keys of unconstrained runs are what they were before the field existed."""
        d = asdict(self)
        d["stop"] = list(self.stop)
        if self.constraint is None:
            del d["constraint"]
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationArgs:
        """Inverse of `to_dict`; unknown keys raise so typos in task files are caught."""
        known = {"max_new_tokens", "temperature", "top_p", "stop", "seed", "constraint"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(
                f"unknown generation argument(s) {sorted(unknown)}; known: {sorted(known)}"
            )
        return cls(**data)


@dataclass
class Request:
    """One generation request. `sample_id` lets replay-style backends answer by id."""

    messages: list[Message]
    gen: GenerationArgs = field(default_factory=GenerationArgs)
    sample_id: str | None = None

    # Flat accessors, so code written against the flat contract keeps working.
    @property
    def max_new_tokens(self) -> int:
        return self.gen.max_new_tokens

    @property
    def temperature(self) -> float:
        return self.gen.temperature

    @property
    def top_p(self) -> float:
        return self.gen.top_p

    @property
    def stop(self) -> tuple[str, ...]:
        return self.gen.stop

    @property
    def seed(self) -> int:
        return self.gen.seed

    def images(self) -> list[Image.Image]:
        """Every image of the request in order of appearance."""
        return [p.image for m in self.messages for p in m.content if isinstance(p, ImagePart)]

    def text(self) -> str:
        """All text parts joined by newlines (for text-only consumers and logs)."""
        parts = (p for m in self.messages for p in m.content)
        return "\n".join(p.text for p in parts if isinstance(p, TextPart))


@dataclass
class Response:
    """A backend's answer. A failed request has `text == ""` and a human-readable `error`."""

    text: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@runtime_checkable
class Model(Protocol):
    """What every backend implements.

    `generate` must return exactly one `Response` per request, in order; one request
    failing yields `Response(text="", error=...)` and never an exception that loses the
    rest of the batch. `fingerprint` identifies weights + config (or the predictions file,
    or the server and model name) so cached answers are never reused across models.
    Backends that can score continuations also define
    `loglikelihood(requests, continuations) -> list[list[float]]`.
    """

    name: str

    def generate(self, requests: list[Request]) -> list[Response]: ...

    def fingerprint(self) -> str: ...


def supports_loglikelihood(model: object) -> bool:
    """True when the backend offers the optional `loglikelihood` method."""
    return callable(getattr(model, "loglikelihood", None))


def supports_constraints(model: object) -> bool:
    """True when the backend applies `GenerationArgs.constraint` while decoding."""
    return bool(getattr(model, "supports_constraints", False))


def run_isolated(
    requests: list[Request],
    gen: GenerationArgs,
    run: Callable[[list[Request], GenerationArgs], list[Response]],
) -> list[Response]:
    """Run a batch; if it fails, run each request alone so one bad request fails alone."""
    try:
        return run(requests, gen)
    except Exception as exc:
        if len(requests) == 1:
            return [Response("", error=f"{type(exc).__name__}: {exc}")]
    return [run_isolated([r], gen, run)[0] for r in requests]


def generate_grouped(
    requests: list[Request], run: Callable[[list[Request], GenerationArgs], list[Response]]
) -> list[Response]:
    """Decode requests in groups of equal generation args; answers come back in input order."""
    groups: dict[GenerationArgs, list[int]] = {}
    for i, r in enumerate(requests):
        groups.setdefault(r.gen, []).append(i)
    out: list[Response | None] = [None] * len(requests)
    for gen, idx in groups.items():
        batch = [requests[i] for i in idx]
        for i, resp in zip(idx, run_isolated(batch, gen, run), strict=True):
            out[i] = resp
    return [r if r is not None else Response("", error="internal: no response") for r in out]
