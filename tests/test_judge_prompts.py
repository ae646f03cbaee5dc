"""Judge prompt templates and the mode registry: rendering, reading back, verdict mapping."""

from __future__ import annotations

import pytest

from mllmkit.judge.modes import MODES, get_mode
from mllmkit.judge.parse import parse_pair, parse_ranking, parse_score
from mllmkit.judge.prompts import read_prompt, render_prompt, verdict_json


def test_score_prompt_golden_text() -> None:
    text = render_prompt("score", "What color is the cross?", ["green"])
    assert text == (
        "Score the answer about the image from 1 to 5: 5 correct, 4 correct but wordy, "
        "3 partly correct, 2 wrong, 1 wrong with invented details.\n"
        "Question: What color is the cross?\n"
        'Answer: "green"\n'
        'Reply in JSON: {"Judgement": "[[?]]"} where ? is 1 to 5.'
    )


def test_pair_and_batch_prompts_letter_the_answers() -> None:
    pair = render_prompt("pair", "Q?", ["first answer", "second answer"])
    assert '\n[A] "first answer"\n[B] "second answer"\n' in pair
    assert "A, B, or C for a tie" in pair
    batch = render_prompt("batch", "Q?", ["x", "y", "z", "w"])
    assert '\n[A] "x"\n[B] "y"\n[C] "z"\n[D] "w"\n' in batch
    assert batch.endswith(
        '{"Judgement": "[[?]], [[?]], [[?]], [[?]]"} with one letter per ?, best first.'
    )


@pytest.mark.parametrize(
    ("mode", "answers"),
    [
        ("score", ["a\nmulti-line   answer"]),
        ("pair", ["Yes, at the top", "No"]),
        ("batch", ["one", 'two [B] "tricky"\\', "three"]),
    ],
)
def test_read_prompt_inverts_render(mode: str, answers: list[str]) -> None:
    question = "Line one of the question?\nA. red\nB. blue"
    parts = read_prompt(render_prompt(mode, question, answers))
    assert parts is not None
    assert parts.mode == mode
    assert parts.question == question
    # answers come back on one line each (whitespace runs collapsed), in order
    assert list(parts.answers) == [" ".join(a.split()) for a in answers]


def test_read_prompt_rejects_other_text() -> None:
    assert read_prompt("What color is the cross?") is None
    text = render_prompt("pair", "Q?", ["a", "b"])
    assert read_prompt(text.replace('[B] "b"', '[C] "b"')) is None
    assert read_prompt(text.replace('[B] "b"', "[B] b")) is None  # answers are JSON strings
    assert read_prompt(text.replace("Question: ", "Q: ")) is None


def test_render_checks_mode_and_answer_count() -> None:
    with pytest.raises(ValueError, match="unknown judge mode"):
        render_prompt("rank", "Q?", ["a"])
    with pytest.raises(ValueError, match=r"takes 2\.\.2 answers"):
        render_prompt("pair", "Q?", ["a"])
    with pytest.raises(ValueError, match=r"takes 1\.\.1 answers"):
        render_prompt("score", "Q?", ["a", "b"])


def test_verdicts_written_are_read_back_by_the_parsers() -> None:
    assert parse_score(verdict_json(MODES["score"].judgement(4))) == 4
    assert parse_pair(verdict_json(MODES["pair"].judgement("C"))) == "C"
    text = verdict_json(MODES["batch"].judgement(["B", "A", "C"]))
    assert text == '{"Judgement": "[[B]], [[A]], [[C]]"}'
    assert parse_ranking(text, 3) == ["B", "A", "C"]


def test_verdicts_map_back_to_file_order() -> None:
    swapped = (1, 0)  # shown A is the file's B and vice versa
    assert MODES["pair"].to_original("A", swapped) == "B"
    assert MODES["pair"].to_original("B", swapped) == "A"
    assert MODES["pair"].to_original("C", swapped) == "C"
    reversed3 = (2, 1, 0)
    # shown order C, B, A best first == file answers A, B, C best first
    assert MODES["batch"].to_original(["C", "B", "A"], reversed3) == ["A", "B", "C"]
    assert MODES["batch"].to_original(["B", "C", "A"], (1, 2, 0)) == ["C", "A", "B"]
    assert MODES["score"].to_original(4, (0,)) == 4


@pytest.mark.parametrize(
    ("mode", "value", "n"),
    [
        ("score", 0, 1),
        ("score", 6, 1),
        ("score", True, 1),
        ("score", "4", 1),
        ("pair", "D", 2),
        ("pair", "a", 2),
        ("batch", ["A", "B"], 3),
        ("batch", ["A", "A", "B"], 3),
        ("batch", "ABC", 3),
    ],
)
def test_bad_human_labels_raise(mode: str, value: object, n: int) -> None:
    with pytest.raises(ValueError):
        MODES[mode].check_human(value, n)


def test_good_human_labels_pass() -> None:
    assert MODES["score"].check_human(3.5, 1) == 3.5
    assert MODES["pair"].check_human("C", 2) == "C"
    assert MODES["batch"].check_human(["C", "A", "B"], 3) == ["C", "A", "B"]


def test_unknown_mode_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"\['score', 'pair', 'batch'\]"):
        get_mode("Score")


def test_answer_first_score_template() -> None:
    text = render_prompt("score", "What color is the cross?", ["green"], answer_first=True)
    assert text.endswith(
        'Reply in JSON: {"Answer": "...", "Judgement": "[[?]]"} with your own short answer '
        "to the question first, then ? from 1 to 5."
    )
    parts = read_prompt(text)
    assert parts is not None and parts.answer_first and parts.answers == ("green",)
    plain = read_prompt(render_prompt("score", "Q?", ["green"]))
    assert plain is not None and not plain.answer_first
    with pytest.raises(ValueError, match="answer_first applies to the score template"):
        render_prompt("pair", "Q?", ["a", "b"], answer_first=True)
    reply = verdict_json("[[2]]", "top  left")
    assert reply == '{"Answer": "top left", "Judgement": "[[2]]"}'
    # the judge's own answer never counts as a second verdict
    assert parse_score(reply) == 2
    assert parse_score(verdict_json("[[5]]", "3")) == 5


def test_proposal_and_own_answer_share_tokens() -> None:
    """Quoted, a proposed answer is the same token run as the judge's own answer in an
    answer-first verdict; bare, its first word would carry the space before it."""
    from mllmkit.data.tokenizer import train_tokenizer

    texts = ['Answer: "top left"', '{"Answer": "top left"}', "Answer: top left"] * 50
    tok = train_tokenizer(texts, vocab_size=300)
    prompt = render_prompt("score", "Where is it?", ["top left"], answer_first=True)
    line = next(x for x in prompt.split("\n") if x.startswith("Answer: "))
    shown = tok.encode(line, add_special_tokens=False)
    own = tok.encode(verdict_json("[[5]]", "top left"), add_special_tokens=False)
    value = tok.encode('"top left"', add_special_tokens=False)[1:-1]
    assert value, "the answer's own tokens"

    def contains(seq: list[int], sub: list[int]) -> bool:
        return any(seq[i : i + len(sub)] == sub for i in range(len(seq) - len(sub) + 1))

    assert contains(shown, value) and contains(own, value)
    bare = tok.encode("Answer: top left", add_special_tokens=False)
    assert not contains(bare, value)
