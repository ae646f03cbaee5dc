"""Question generators, formats and the independent verifier of `mllmkit.world`."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from mllmkit.world.config import WorldConfig
from mllmkit.world.formats import (
    MCQ_INSTRUCTION,
    FormattedQuestion,
    mcq_prompt,
    n_options,
    to_mcq,
    to_short,
    to_yorn,
)
from mllmkit.world.questions import ABILITIES, TEMPLATES, resolve_abilities
from mllmkit.world.questions.base import QA, Ability, build_registry
from mllmkit.world.refer import FULL, NO_COLOR, NO_SHAPE, refer
from mllmkit.world.sample import sample_scene, stream_rng
from mllmkit.world.scene import Scene, SceneObject, Sign
from mllmkit.world.select import Balancer, pick
from mllmkit.world.verify import VerificationError, answer_question, verify_question

CFG = WorldConfig()

# A hand-built scene for golden answers:
#   top left: large red circle   | top: small red circle    | top right: -
#   left: -                      | center: large blue square | right: sign "K"
#   bottom left: small green tri | bottom: -                 | bottom right: large blue cross
SCENE = Scene(
    id="golden",
    objects=(
        SceneObject("circle", "red", "large", "top left"),
        SceneObject("circle", "red", "small", "top"),
        SceneObject("square", "blue", "large", "center"),
        SceneObject("triangle", "green", "small", "bottom left"),
        SceneObject("cross", "blue", "large", "bottom right"),
    ),
    sign=Sign("K", "right"),
)
OTHER = Scene(
    id="other",
    objects=(
        SceneObject("circle", "red", "small", "center"),
        SceneObject("triangle", "green", "large", "top"),
    ),
)


def _all(scenes: tuple[Scene, ...], ability: str) -> dict[str, str]:
    return {
        qa.question: qa.answer
        for qa in ABILITIES[ability].generate(scenes, np.random.default_rng(0), CFG)
    }


def test_registry_has_the_exact_abilities_and_rejects_duplicates() -> None:
    assert list(ABILITIES) == [
        "existence",
        "count",
        "color",
        "shape",
        "size",
        "spatial",
        "position",
        "text",
        "multi_image",
    ]
    with pytest.raises(ValueError, match="registered twice"):
        build_registry([ABILITIES["color"], ABILITIES["color"]])
    with pytest.raises(ValueError, match="unknown abilities"):
        resolve_abilities(["colour"])
    assert resolve_abilities(["text", "color"]) == ("color", "text")
    fake = Ability("other", ABILITIES["color"].templates, ABILITIES["color"].generate)
    with pytest.raises(ValueError, match="belongs to"):
        build_registry([fake])


def test_referring_expressions_are_the_shortest_unique() -> None:
    objs = SCENE.objects
    assert refer(objs, 0, FULL) == "large red circle"
    assert refer(objs, 2, FULL) == "square"
    assert refer(objs, 4, FULL) == "cross"
    assert refer(objs, 0, NO_COLOR) == "large circle"
    assert refer(objs, 0, NO_SHAPE) == "large red object"
    assert refer(objs, 2, NO_SHAPE) is None  # square and cross are both large and blue
    assert refer(objs, 3, NO_SHAPE) == "green object"
    twins = (
        SceneObject("circle", "red", "large", "top"),
        SceneObject("circle", "red", "large", "bottom"),
    )
    assert refer(twins, 0, FULL) is None


def test_golden_answers_on_a_hand_built_scene() -> None:
    one = (SCENE,)
    assert _all(one, "existence")["Is there a blue cross in the image?"] == "Yes"
    assert _all(one, "existence")["Is there a blue circle in the image?"] == "No"
    assert _all(one, "existence")["Is there an orange object in the image?"] == "No"
    count = _all(one, "count")
    assert count["How many circles are there?"] == "2"
    assert count["How many blue objects are there?"] == "2"
    assert count["How many diamonds are there?"] == "0"
    assert "How many shapes are there?" not in count  # 5 > 4: outside the answer space
    assert _all(one, "color") == {
        "What color is the large circle?": "red",
        "What color is the small circle?": "red",
        "What color is the square?": "blue",
        "What color is the triangle?": "green",
        "What color is the cross?": "blue",
    }
    shape = _all(one, "shape")
    assert shape["What shape is the green object?"] == "triangle"
    assert shape["What shape is the small red object?"] == "circle"
    assert "What shape is the blue object?" not in shape  # two blue objects
    size = _all(one, "size")
    assert size["Is the square larger or smaller than the triangle?"] == "larger"
    assert "Is the square larger or smaller than the cross?" not in size  # same size
    assert size["What size is the cross?"] == "large"
    spatial = _all(one, "spatial")
    assert spatial["Is the large red circle to the left or to the right of the square?"] == "left"
    assert spatial["Is the cross above or below the small red circle?"] == "below"
    assert "Is the large red circle above or below the small red circle?" not in spatial
    position = _all(one, "position")
    assert position["Where is the triangle?"] == "bottom left"
    assert position["Where is the square?"] == "center"
    assert _all(one, "text") == {"What is written on the sign?": "K"}
    assert _all((OTHER,), "text") == {}
    multi = _all((SCENE, OTHER), "multi_image")
    assert multi["Which image has more circles, the first or the second?"] == "first"
    assert multi["Which image has more blue objects, the first or the second?"] == "first"
    assert "Which image has more triangles, the first or the second?" not in multi  # 1 vs 1
    assert multi["Do both images contain a red circle?"] == "Yes"
    assert multi["Do both images contain a blue cross?"] == "No"
    assert multi["Which image contains a blue square, the first or the second?"] == "first"


def test_formats_render_yorn_and_mcq() -> None:
    rng = np.random.default_rng(0)
    qa = next(
        q
        for q in ABILITIES["color"].generate((SCENE,), rng, CFG)
        if q.question == "What color is the triangle?"
    )
    yes = to_yorn(qa, True, rng)
    assert (yes.question, yes.answer) == ("Is the triangle green?", "Yes")
    no = to_yorn(qa, False, rng)
    assert no.answer == "No" and no.question != yes.question
    for index in range(4):
        mcq = to_mcq(qa, index, rng)
        assert mcq.answer == "ABCD"[index] and mcq.options[mcq.answer] == "green"
        assert len(set(mcq.options.values())) == 4
    position = next(iter(ABILITIES["position"].generate((SCENE,), rng, CFG)))
    assert to_yorn(position, True, rng).question == "Is the large red circle at the top left?"
    exists = next(iter(ABILITIES["existence"].generate((SCENE,), rng, CFG)))
    assert to_yorn(exists, False, rng).question == exists.question  # native yes/no
    binary = next(iter(ABILITIES["size"].generate((SCENE,), rng, CFG)))
    assert n_options(binary) == 2
    assert mcq_prompt("Q?", {"A": "x", "B": "y"}) == f"Q?\nA. x\nB. y\n{MCQ_INSTRUCTION}"
    assert MCQ_INSTRUCTION == "Answer with the option's letter from the given choices directly."


def _verify_all_formats(scenes: tuple[Scene, ...], qa: QA, rng: np.random.Generator) -> None:
    verify_question(scenes, qa)
    verify_question(scenes, to_short(qa))
    verify_question(scenes, to_yorn(qa, True, rng))
    verify_question(scenes, to_yorn(qa, False, rng))
    verify_question(scenes, to_mcq(qa, int(rng.integers(n_options(qa))), rng))


def test_every_generated_question_verifies_on_3000_scenes() -> None:
    """A random question per ability per scene, in every format, on 3,000 scenes;
    plus every question of the first 100 scenes."""
    rng = np.random.default_rng(123)
    scenes = [sample_scene(stream_rng(11, "train", i, "scene"), CFG, str(i)) for i in range(3000)]
    seen_templates: Counter[str] = Counter()
    for i, scene in enumerate(scenes):
        for ability in ABILITIES.values():
            pair = (scene,) if ability.n_images == 1 else (scene, scenes[i - 1])
            pool = list(ability.generate(pair, rng, CFG))
            chosen = pool if i < 100 else [pick(pool, rng)] if pool else []
            for qa in chosen:
                _verify_all_formats(pair, qa, rng)
                seen_templates[qa.template.name] += 1
    assert set(seen_templates) == set(TEMPLATES)
    assert min(seen_templates.values()) > 100


def test_verifier_catches_ambiguous_and_wrong_questions() -> None:
    qa = next(q for q in ABILITIES["color"].generate((SCENE,), np.random.default_rng(0), CFG))
    cases = [
        # "the circle": two circles in the scene
        FormattedQuestion("color", "short", "What color is the circle?", "red", None, "red"),
        # refers to nothing
        FormattedQuestion("color", "short", "What color is the diamond?", "red", None, "red"),
        # wrong answer
        FormattedQuestion("color", "short", "What color is the square?", "red", None, "red"),
        # same column: neither left nor right
        FormattedQuestion(
            "spatial",
            "short",
            "Is the large red circle to the left or to the right of the triangle?",
            "left",
            None,
            "left",
        ),
        # same size
        FormattedQuestion(
            "size",
            "short",
            "Is the square larger or smaller than the cross?",
            "larger",
            None,
            "larger",
        ),
        # no template matches
        FormattedQuestion("color", "short", "What colour is the square?", "blue", None, "blue"),
        # recorded under the wrong ability
        FormattedQuestion("shape", "short", "What color is the square?", "blue", None, "blue"),
        # wrong yes/no
        FormattedQuestion("color", "yorn", "Is the square red?", "Yes", None, "Yes"),
        # bad article
        FormattedQuestion(
            "existence", "short", "Is there a orange circle in the image?", "No", None, "No"
        ),
        # MCQ letter pointing at a wrong option
        FormattedQuestion(
            "color",
            "mcq",
            "What color is the square?",
            "A",
            {"A": "red", "B": "blue", "C": "green", "D": "yellow"},
            "red",
        ),
        # MCQ with the right answer twice
        FormattedQuestion(
            "color",
            "mcq",
            "What color is the square?",
            "B",
            {"A": "blue", "B": "blue", "C": "green", "D": "yellow"},
            "blue",
        ),
        # "at the top" is partly true of an object at the top left
        FormattedQuestion(
            "position", "yorn", "Is the large red circle at the top?", "No", None, "No"
        ),
        FormattedQuestion(
            "position",
            "mcq",
            "Where is the large red circle?",
            "A",
            {"A": "top left", "B": "left", "C": "center", "D": "bottom"},
            "top left",
        ),
        # count outside the answer space (5 shapes)
        FormattedQuestion("count", "short", "How many shapes are there?", "5", None, "5"),
    ]
    for fq in cases:
        with pytest.raises(VerificationError):
            verify_question(SCENE, fq)
    with pytest.raises(VerificationError, match="image"):
        verify_question(
            (SCENE,),
            next(
                iter(
                    ABILITIES["multi_image"].generate((SCENE, OTHER), np.random.default_rng(0), CFG)
                )
            ),
        )
    with pytest.raises(VerificationError, match="no sign"):
        answer_question(OTHER, "What is written on the sign?")
    bad_qa = QA(qa.ability, qa.question, "purple", qa.candidates, qa.template, qa.slots)
    with pytest.raises(VerificationError, match="recorded answer"):
        verify_question(SCENE, bad_qa)
    verify_question(SCENE, qa)  # and the real one passes


def test_balancer_makes_yes_no_and_letters_exact() -> None:
    rng = np.random.default_rng(5)
    balancer = Balancer()
    answers: Counter[tuple[str, str]] = Counter()
    letters: Counter[tuple[str, str]] = Counter()
    for i in range(400):
        scene = sample_scene(stream_rng(2, "test", i, "scene"), CFG)
        for name in ("existence", "color", "size"):
            pool = list(ABILITIES[name].generate((scene,), rng, CFG))
            if not pool:
                continue
            qa = pick(pool, rng, balancer.want_yes)
            answers[qa.template.name, balancer.yorn(qa, rng).answer] += 1
            letters[name, balancer.multiple_choice(qa, rng).answer] += 1
    templates = {t for t, _ in answers}
    # Every existence form is asked, each balanced on its own (not only the ability).
    assert {"existence.category", "existence.shape", "existence.color"} <= templates
    for template in templates:
        assert abs(answers[template, "Yes"] - answers[template, "No"]) <= 1, template
    for name in ("existence", "color", "size"):
        counts = [v for (a, _), v in letters.items() if a == name]
        assert max(counts) - min(counts) <= 1
    assert {k for (a, k) in letters if a == "color"} == set("ABCD")
    assert {k for (a, k) in letters if a == "size"} == set("AB")


def test_pick_samples_templates_evenly() -> None:
    """A scene's pool holds ~30 category questions but only 5 shape ones; picks must not
    follow the pool's mix (the shape-only form was ~83% "Yes" when they did)."""
    rng = np.random.default_rng(1)
    forms: Counter[str] = Counter()
    for i in range(600):
        scene = sample_scene(stream_rng(3, "train", i, "scene"), CFG)
        pool = list(ABILITIES["existence"].generate((scene,), rng, CFG))
        forms[pick(pool, rng).template.name] += 1
    assert set(forms) == {"existence.category", "existence.shape", "existence.color"}
    assert min(forms.values()) > 0.25 * sum(forms.values())


def test_pick_stratifies_answers() -> None:
    rng = np.random.default_rng(0)
    answers = Counter()
    for i in range(600):
        scene = sample_scene(stream_rng(4, "train", i, "scene"), CFG)
        pool = list(ABILITIES["count"].generate((scene,), rng, CFG))
        answers[pick(pool, rng).answer] += 1
    # Raw pools are dominated by "0"; stratified picks are not.
    assert answers["0"] < 0.4 * sum(answers.values())
    assert set(answers) == {"0", "1", "2", "3", "4"}


def test_sign_words_are_an_answer_space() -> None:
    cfg = WorldConfig(sign_words=("CAT", "DOG", "SUN", "MAP", "BOX"), sign_prob=1.0)
    rng = np.random.default_rng(0)
    texts = set()
    for i in range(40):
        scene = sample_scene(stream_rng(0, "train", i, "scene"), cfg)
        (qa,) = ABILITIES["text"].generate((scene,), rng, cfg)
        assert qa.candidates == cfg.sign_texts and qa.answer == scene.sign.text
        _verify_all_formats((scene,), qa, rng)
        texts.add(qa.answer)
    assert texts == set(cfg.sign_words)
