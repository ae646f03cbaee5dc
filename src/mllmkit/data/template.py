"""Chat templates: turns → text, the character spans to supervise, and a Jinja twin.

A template is plain data (prefix/suffix strings per role), so three things stay in step
by construction: the Python rendering used for training, the spans that define which
characters the loss covers, and the Jinja template saved with the tokenizer so Hugging
Face's `apply_chat_template` renders byte-identical text.

The supervised span of an assistant turn is its content plus the `stop` string (the
template's end-of-turn marker, which the model must learn to emit); `assistant_suffix`
must therefore start with `stop`. Whatever follows `stop` in the suffix (e.g. a newline)
is not supervised.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from mllmkit.data.conversation import IMAGE_TOKEN, Turn


@dataclass(frozen=True)
class ChatTemplate:
    """Role prefixes/suffixes around each turn's text, plus a string written once first."""

    name: str
    user_prefix: str
    user_suffix: str
    assistant_prefix: str
    assistant_suffix: str
    system_prefix: str = ""
    system_suffix: str = ""
    bos: str = ""
    stop: str = "<|end|>"

    def __post_init__(self) -> None:
        if not self.stop:
            raise ValueError(f"template {self.name!r}: `stop` must be a non-empty string")
        if not self.assistant_suffix.startswith(self.stop):
            raise ValueError(
                f"template {self.name!r}: assistant_suffix {self.assistant_suffix!r} must start "
                f"with the stop string {self.stop!r} (the model learns to emit it)"
            )

    def _affixes(self, role: str) -> tuple[str, str]:
        if role == "user":
            return self.user_prefix, self.user_suffix
        if role == "assistant":
            return self.assistant_prefix, self.assistant_suffix
        if role == "system":
            return self.system_prefix, self.system_suffix
        raise ValueError(f"template {self.name!r}: unknown role {role!r}")

    def _layout(self, turns: list[Turn]) -> tuple[list[str], list[tuple[int, int]]]:
        pieces, spans, pos = [self.bos], [], len(self.bos)
        for turn in turns:
            prefix, suffix = self._affixes(turn.role)
            start = pos + len(prefix)
            spans.append((start, start + len(turn.text)))
            pieces += [prefix, turn.text, suffix]
            pos = start + len(turn.text) + len(suffix)
        return pieces, spans

    def render(self, turns: list[Turn], add_generation_prompt: bool = False) -> str:
        """The text of `turns`; with `add_generation_prompt`, end with the assistant prefix."""
        pieces, _ = self._layout(turns)
        if add_generation_prompt:
            pieces.append(self.assistant_prefix)
        return "".join(pieces)

    def spans(self, turns: list[Turn]) -> list[tuple[int, int]]:
        """Character span `[start, end)` of each turn's content in `render(turns)`."""
        return self._layout(turns)[1]

    def supervised_spans(self, turns: list[Turn]) -> list[tuple[int, int]]:
        """Spans the loss covers: each assistant turn's content plus its `stop` string."""
        return [
            (start, end + len(self.stop))
            for turn, (start, end) in zip(turns, self.spans(turns), strict=True)
            if turn.role == "assistant"
        ]

    def to_jinja(self) -> str:
        """A Jinja chat template rendering the same text as `render`.

        Message content may be a string (rendered verbatim) or a list of parts in Hugging
        Face's multimodal form: `{"type": "text", "text": ...}` renders its text and
        `{"type": "image"}` renders `<image>\\n` (LLaVA's marker convention).
        """
        lit = _jinja_literal
        lines = [
            f"{{{{- {lit(self.bos)} -}}}}",
            "{%- for message in messages -%}",
            "  {%- set ns = namespace(text='') -%}",
            "  {%- if message['content'] is string -%}",
            "    {%- set ns.text = message['content'] -%}",
            "  {%- else -%}",
            "    {%- for part in message['content'] -%}",
            "      {%- if part['type'] == 'text' -%}",
            "        {%- set ns.text = ns.text + part['text'] -%}",
            "      {%- elif part['type'] == 'image' -%}",
            f"        {{%- set ns.text = ns.text + {lit(IMAGE_TOKEN + chr(10))} -%}}",
            "      {%- else -%}",
            "        {{- raise_exception('unsupported content part type: ' + part['type']) -}}",
            "      {%- endif -%}",
            "    {%- endfor -%}",
            "  {%- endif -%}",
        ]
        for keyword, role in (("if", "system"), ("elif", "user"), ("elif", "assistant")):
            prefix, suffix = self._affixes(role)
            lines += [
                f"  {{%- {keyword} message['role'] == {lit(role)} -%}}",
                f"    {{{{- {lit(prefix)} + ns.text + {lit(suffix)} -}}}}",
            ]
        lines += [
            "  {%- else -%}",
            "    {{- raise_exception('unsupported role: ' + message['role']) -}}",
            "  {%- endif -%}",
            "{%- endfor -%}",
            "{%- if add_generation_prompt -%}",
            f"  {{{{- {lit(self.assistant_prefix)} -}}}}",
            "{%- endif -%}",
        ]
        # every tag strips the whitespace around it, so the layout above renders nothing
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChatTemplate:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown ChatTemplate field(s) {unknown}; known: {sorted(known)}")
        return cls(**data)


def _jinja_literal(text: str) -> str:
    """Quote `text` as a Jinja string literal that evaluates back to exactly `text`.

    Jinja decodes string literals with Python's `unicode_escape` rules, so encoding with
    the same codec (plus escaping the quote) round-trips every character.
    """
    return "'" + text.encode("unicode_escape").decode("ascii").replace("'", "\\'") + "'"


TEMPLATES: dict[str, ChatTemplate] = {}
"""Registered templates by exact name."""


def register_template(template: ChatTemplate) -> ChatTemplate:
    """Add a template to `TEMPLATES`; a name can be registered only once."""
    if template.name in TEMPLATES:
        raise ValueError(f"a chat template named {template.name!r} is already registered")
    TEMPLATES[template.name] = template
    return template


def get_template(name: str) -> ChatTemplate:
    """Look up a registered template by its exact name."""
    if name not in TEMPLATES:
        raise KeyError(f"unknown chat template {name!r}; registered: {sorted(TEMPLATES)}")
    return TEMPLATES[name]


register_template(
    ChatTemplate(
        name="mllmkit",
        bos="<s>",
        system_prefix="<|system|>\n",
        system_suffix="<|end|>\n",
        user_prefix="<|user|>\n",
        user_suffix="<|end|>\n",
        assistant_prefix="<|assistant|>\n",
        assistant_suffix="<|end|>\n",
        stop="<|end|>",
    )
)
# No role markers: the user text (typically `<image>\n` + an instruction) is followed
# directly by the answer, as in LLaVA's "plain" template for connector alignment.
register_template(
    ChatTemplate(
        name="plain",
        bos="<s>",
        system_suffix="\n",
        user_prefix="",
        user_suffix="\n",
        assistant_prefix="",
        assistant_suffix="<|end|>\n",
        stop="<|end|>",
    )
)
