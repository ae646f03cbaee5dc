"""The processor of an HF LLaVA folder: tokenizer, chat template, CLIP image settings.

Chat template. Our `Processor` renders prompts from a `ChatTemplate` (prefix/suffix data
whose Jinja twin is saved with the tokenizer). On import the checkpoint's Jinja template is
matched, text for text, against (1) the template recorded by our exporter in
`TEMPLATE_FILE` and (2) the registered templates; a match gives a normal `Processor` (full
training support). Any other Jinja template gives a `JinjaPromptProcessor`, which renders
prompts with the tokenizer's own `apply_chat_template` (inference only: supervised spans
cannot be derived from arbitrary Jinja, so `encode_conversation` raises).

Images. `CLIPImageProcessor` settings (`preprocessor_config.json`, or the `image_processor`
section of a transformers 5.x `processor_config.json`) must describe what our pipeline does:
resize shortest edge to S, centre crop S x S with S the tower's image size, rescale 1/255,
normalise. Anything else raises naming the field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mllmkit.convert.errors import ConversionError
from mllmkit.data.conversation import IMAGE_TOKEN, Turn
from mllmkit.data.errors import DataError
from mllmkit.data.processor import Processor
from mllmkit.data.template import TEMPLATES, ChatTemplate
from mllmkit.data.tokenizer import load_tokenizer

TEMPLATE_FILE = "mllmkit_chat_template.json"
HF_PREPROCESSOR = "preprocessor_config.json"
HF_PROCESSOR = "processor_config.json"
# PIL's integer codes, as stored in `resample` by HF image processors
PIL_RESAMPLE: dict[int, str] = {
    0: "nearest",
    1: "lanczos",
    2: "bilinear",
    3: "bicubic",
    4: "box",
    5: "hamming",
}
RESAMPLE_CODES = {name: code for code, name in PIL_RESAMPLE.items()}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConversionError(f"{path}: invalid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ConversionError(f"{path}: expected a JSON object")
    return data


def read_image_processor_config(hf_dir: Path) -> tuple[dict[str, Any], Path]:
    """The flat CLIP image-processor settings and the file they came from."""
    flat = hf_dir / HF_PREPROCESSOR
    if flat.is_file():
        return _read_json(flat), flat
    nested = hf_dir / HF_PROCESSOR
    if nested.is_file():
        section = _read_json(nested).get("image_processor")
        if isinstance(section, dict):
            return section, nested
    raise ConversionError(
        f"{hf_dir}: no image processor settings ({HF_PREPROCESSOR}, or an 'image_processor' "
        f"section in {HF_PROCESSOR})"
    )


def _side(value: Any, key: str, where: str) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, dict):
        if key in value:
            return int(value[key])
        if "height" in value and value.get("height") == value.get("width"):
            return int(value["height"])
    raise ConversionError(f"{where}: unsupported value {value!r} (need a square size)")


def image_settings(cfg: dict[str, Any], image_size: int, source: Path) -> dict[str, Any]:
    """Check CLIP settings against our pipeline; return Processor keyword arguments."""
    for flag in ("do_resize", "do_center_crop", "do_rescale", "do_normalize"):
        if not cfg.get(flag, True):
            raise ConversionError(f"{source}: field '{flag}': false is unsupported")
    size = _side(cfg.get("size"), "shortest_edge", f"{source}: field 'size'")
    crop = _side(cfg.get("crop_size", size), "shortest_edge", f"{source}: field 'crop_size'")
    if size != image_size or crop != image_size:
        raise ConversionError(
            f"{source}: fields 'size'/'crop_size' ({size}/{crop}) must both equal the vision "
            f"tower's image_size {image_size}"
        )
    factor = float(cfg.get("rescale_factor", 1 / 255))
    if abs(factor - 1 / 255) > 1e-12:
        raise ConversionError(f"{source}: field 'rescale_factor': {factor}; only 1/255 works")
    code = cfg.get("resample", 3)
    if code not in PIL_RESAMPLE:
        raise ConversionError(f"{source}: field 'resample': unknown PIL code {code!r}")
    return {
        "image_size": image_size,
        "image_mean": [float(x) for x in cfg["image_mean"]],
        "image_std": [float(x) for x in cfg["image_std"]],
        "resample": PIL_RESAMPLE[code],
    }


def read_chat_template(hf_dir: Path, tokenizer: Any) -> str | None:
    """The Jinja chat template: tokenizer's, else `chat_template.jinja`/`.json`."""
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, str) and template:
        return template
    jinja = hf_dir / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    legacy = hf_dir / "chat_template.json"
    if legacy.is_file():
        value = _read_json(legacy).get("chat_template")
        return value if isinstance(value, str) else None
    return None


def match_template(hf_dir: Path, jinja: str) -> ChatTemplate | None:
    """The `ChatTemplate` whose Jinja twin is exactly `jinja`, if any (see module doc)."""
    recorded = hf_dir / TEMPLATE_FILE
    candidates: list[ChatTemplate] = []
    if recorded.is_file():
        try:
            candidates.append(ChatTemplate.from_dict(_read_json(recorded)))
        except (TypeError, ValueError) as exc:
            raise ConversionError(f"{recorded}: {exc}") from None
    candidates += list(TEMPLATES.values())
    for template in candidates:
        if template.to_jinja() == jinja:
            return template
    return None


def _parts(text: str) -> list[dict[str, str]]:
    """Turn text with `<image>\\n` markers → HF multimodal content parts, in order."""
    parts: list[dict[str, str]] = []
    pieces = text.split(IMAGE_TOKEN)
    for i, piece in enumerate(pieces):
        if i > 0:
            parts.append({"type": "image"})
            piece = piece.removeprefix("\n")
        if piece:
            parts.append({"type": "text", "text": piece})
    return parts


class JinjaPromptProcessor(Processor):
    """A `Processor` whose prompts are rendered by the tokenizer's own Jinja template.

    Inference only. Messages are given to the template in Hugging Face's multimodal form
    (`{"type": "image"}` / `{"type": "text"}` parts), the form LLaVA templates expect.
    """

    def __init__(self, tokenizer: Any, jinja: str, **kwargs: Any) -> None:
        stop = tokenizer.eos_token
        if not stop:
            raise ConversionError("the tokenizer has no eos_token; generation could not stop")
        shell = ChatTemplate(
            name="hf-jinja",
            user_prefix="",
            user_suffix="",
            assistant_prefix="",
            assistant_suffix=stop,
            stop=stop,
        )
        super().__init__(tokenizer, shell, **kwargs)
        self.jinja = jinja

    def _render_generation_prompt(self, turns: list[Turn]) -> str:
        """The checkpoint's own Jinja template renders the prompt."""
        messages = [{"role": t.role, "content": _parts(t.text)} for t in turns]
        return self.tokenizer.apply_chat_template(
            messages, chat_template=self.jinja, tokenize=False, add_generation_prompt=True
        )

    def encode_conversation(self, conv: Any, max_length: int | None = None) -> Any:
        raise DataError(
            "this processor renders prompts with the checkpoint's own Jinja chat template and "
            "cannot derive supervised spans from it; training needs a ChatTemplate",
            field="template",
        )

    def save_pretrained(self, directory: str | Path) -> None:
        raise ConversionError(
            "a processor using the checkpoint's own Jinja chat template cannot be saved in "
            "mllmkit format; keep the Hugging Face folder and load it directly"
        )


def build_processor(hf_dir: Path, image_size: int, image_tokens_per_image: int) -> Processor:
    """Our processor for an HF LLaVA folder (see the module docstring)."""
    tokenizer = load_tokenizer(hf_dir)
    if IMAGE_TOKEN not in tokenizer.get_vocab():
        raise ConversionError(f"{hf_dir}: the tokenizer has no {IMAGE_TOKEN!r} token")
    cfg, source = read_image_processor_config(hf_dir)
    kwargs = image_settings(cfg, image_size, source)
    kwargs["image_tokens_per_image"] = image_tokens_per_image
    jinja = read_chat_template(hf_dir, tokenizer)
    if jinja is None:
        raise ConversionError(
            f"{hf_dir}: no chat template (tokenizer 'chat_template', chat_template.jinja or "
            "chat_template.json); prompts could not be rendered as the model expects"
        )
    template = match_template(hf_dir, jinja)
    if template is not None:
        return Processor(tokenizer, template, **kwargs)
    return JinjaPromptProcessor(tokenizer, jinja, **kwargs)
