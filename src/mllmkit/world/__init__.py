"""mllmkit.world — a procedurally generated visual world (no torch).

Scenes of coloured shapes on a 3×3 grid (plus an optional text sign), rendered with
Pillow, with questions for nine abilities in three answer formats, dense captions,
POPE probes, LLaVA training rows and VLMEvalKit benchmark files. Everything is a pure
function of a seed and a `WorldConfig`.

Main entry points: `generate.generate_world` (the dataset folder), `sample.sample_scene`,
`render.render_scene`, `questions.ABILITIES`, `verify.verify_question`,
`caption.caption`, `preview.make_preview`.

Prompt conventions of the files (so evaluation can match training): a user turn is
``<image>\\n`` once per image, then the question; MCQ turns are `formats.mcq_prompt`
(question, ``A. ...`` lines, then "Answer with the option's letter from the given
choices directly."); free-answer and yes/no questions carry no extra instruction.
"""

from __future__ import annotations

from mllmkit.world.config import FORMATS, WorldConfig
from mllmkit.world.scene import Scene, SceneObject, Sign

__all__ = ["FORMATS", "Scene", "SceneObject", "Sign", "WorldConfig"]
