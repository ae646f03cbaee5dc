"""Chat templates: golden renderings, spans, and the Jinja twin via apply_chat_template."""

from __future__ import annotations

import pytest
from transformers import PreTrainedTokenizerFast

from mllmkit.data.conversation import Turn
from mllmkit.data.template import TEMPLATES, ChatTemplate, get_template, register_template
from mllmkit.data.tokenizer import train_tokenizer

TURNS = [
    Turn("system", "Be brief."),
    Turn("user", "<image>\nWhat colour?"),
    Turn("assistant", "Red."),
    Turn("user", "Shape?"),
    Turn("assistant", "A circle."),
]

# hand-written, character for character
GOLDEN_MLLMKIT = (
    "<s>"
    "<|system|>\nBe brief.<|end|>\n"
    "<|user|>\n<image>\nWhat colour?<|end|>\n"
    "<|assistant|>\nRed.<|end|>\n"
    "<|user|>\nShape?<|end|>\n"
    "<|assistant|>\nA circle.<|end|>\n"
)
GOLDEN_PLAIN = "<s>Be brief.\n<image>\nWhat colour?\nRed.<|end|>\nShape?\nA circle.<|end|>\n"

WEIRD = ChatTemplate(
    name="weird",
    bos="",
    system_prefix="{% raw %}",
    user_prefix="U'\"\\n{{ x }}é\t«",
    user_suffix="\\\n",
    assistant_prefix="A:\r\n",
    assistant_suffix="<|end|>☃\n",
)


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    return train_tokenizer(["What colour? Red. Shape? A circle."] * 4, vocab_size=300)


def test_registry_names() -> None:
    assert sorted(TEMPLATES) == ["mllmkit", "plain"]
    assert get_template("mllmkit") is TEMPLATES["mllmkit"]
    with pytest.raises(KeyError, match="unknown chat template 'mllmkit-v2'"):
        get_template("mllmkit-v2")
    with pytest.raises(ValueError, match="already registered"):
        register_template(ChatTemplate("plain", "", "", "", "<|end|>"))


def test_golden_renderings() -> None:
    assert TEMPLATES["mllmkit"].render(TURNS) == GOLDEN_MLLMKIT
    assert TEMPLATES["plain"].render(TURNS) == GOLDEN_PLAIN
    prompt = TEMPLATES["mllmkit"].render(TURNS[:2], add_generation_prompt=True)
    expected = "<s><|system|>\nBe brief.<|end|>\n<|user|>\n<image>\nWhat colour?<|end|>\n"
    assert prompt == expected + "<|assistant|>\n"


def test_spans_point_at_each_turn() -> None:
    for template in TEMPLATES.values():
        text = template.render(TURNS)
        spans = template.spans(TURNS)
        assert [text[a:b] for a, b in spans] == [t.text for t in TURNS]
        supervised = template.supervised_spans(TURNS)
        assert [text[a:b] for a, b in supervised] == ["Red.<|end|>", "A circle.<|end|>"]


def test_golden_span_offsets() -> None:
    # "<s>" (3) + "<|system|>\n" (11) → "Be brief." starts at 14
    assert TEMPLATES["mllmkit"].spans(TURNS)[0] == (14, 23)


@pytest.mark.parametrize("name", ["mllmkit", "plain", "weird"])
@pytest.mark.parametrize("generation", [False, True])
def test_jinja_matches_python(
    tokenizer: PreTrainedTokenizerFast, name: str, generation: bool
) -> None:
    template = WEIRD if name == "weird" else TEMPLATES[name]
    tokenizer.chat_template = template.to_jinja()
    turns = [*TURNS, Turn("user", "Quotes ' \" and \\ and {{ braces }} and é")]
    messages = [{"role": t.role, "content": t.text} for t in turns]
    rendered = tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=generation
    )
    assert rendered == template.render(turns, add_generation_prompt=generation)


def test_jinja_multimodal_content_parts(tokenizer: PreTrainedTokenizerFast) -> None:
    template = TEMPLATES["mllmkit"]
    tokenizer.chat_template = template.to_jinja()
    messages = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What colour?"}]}
    ]
    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert rendered == template.render([Turn("user", "<image>\nWhat colour?")], True)


def test_assistant_suffix_must_start_with_stop() -> None:
    with pytest.raises(ValueError, match="must start with the stop string"):
        ChatTemplate("bad", "", "", "", "\n<|end|>")
    with pytest.raises(ValueError, match="non-empty"):
        ChatTemplate("bad", "", "", "", "\n", stop="")


def test_dict_round_trip() -> None:
    for template in [*TEMPLATES.values(), WEIRD]:
        assert ChatTemplate.from_dict(template.to_dict()) == template
    with pytest.raises(ValueError, match="unknown ChatTemplate field"):
        ChatTemplate.from_dict({**WEIRD.to_dict(), "colour": "red"})
