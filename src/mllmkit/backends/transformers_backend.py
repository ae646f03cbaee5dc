"""Any local Hugging Face vision-language folder, run by transformers itself.

`AutoModelForImageTextToText` + `AutoProcessor` (offline, no custom code): prompts are
rendered by the checkpoint's own chat template in HF's multimodal message form, the processor
expands image tokens, and batches are left padded for generation. It is the reference a
converted native model is checked against, and a way to evaluate checkpoints that mllmkit's
native model cannot express.

Decoding: greedy when `temperature == 0`, else sampling with `temperature`/`top_p` from a
generator seeded with the request's `seed` before each batch (so a sampled answer depends on
the batch it ran in, unlike the native backend's per-row generators). Stop strings cut the
decoded text. A failing batch is retried one request at a time, so one bad request yields
`Response(error=...)` and the others still get answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mllmkit.backends.base import (
    BackendError,
    GenerationArgs,
    ImagePart,
    Request,
    Response,
    TextPart,
    generate_grouped,
    truncate_at_stop,
)
from mllmkit.backends.hashing import sha256_file_cached, sha256_text

# Files whose bytes decide the answers (weights are added by pattern: every *.safetensors).
_FINGERPRINT_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "processor_config.json",
    "preprocessor_config.json",
    "chat_template.jinja",
    "chat_template.json",
)


def hf_messages(request: Request) -> list[dict[str, Any]]:
    """Our messages in HF's multimodal form; parts keep their order."""
    messages = []
    for message in request.messages:
        content: list[dict[str, Any]] = []
        for part in message.content:
            if isinstance(part, ImagePart):
                content.append({"type": "image"})
            elif isinstance(part, TextPart):
                content.append({"type": "text", "text": part.text})
        messages.append({"role": message.role, "content": content})
    return messages


class TransformersBackend:
    """A local HF image-text-to-text folder behind the `Model` protocol."""

    def __init__(self, path: str | Path, device: str = "cpu") -> None:
        import torch
        import transformers

        self.path = Path(path)
        if not (self.path / "config.json").is_file():
            raise BackendError(f"{self.path}: not a Hugging Face model folder (no config.json)")
        try:
            self.model = transformers.AutoModelForImageTextToText.from_pretrained(
                str(self.path), local_files_only=True, dtype=torch.float32
            )
            self.processor = transformers.AutoProcessor.from_pretrained(
                str(self.path), local_files_only=True
            )
        except Exception as exc:  # transformers raises many types for unusable folders
            raise BackendError(f"{self.path}: cannot load with transformers ({exc})") from None
        self.model.to(device).eval()
        tokenizer = self.processor.tokenizer
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.device = device
        self.name = f"hf:{self.path}"
        self._fingerprint: str | None = None

    def fingerprint(self) -> str:
        """Hash of config, weights, tokenizer, processor and chat template files."""
        if self._fingerprint is None:
            names = [n for n in _FINGERPRINT_FILES if (self.path / n).is_file()]
            names += sorted(p.name for p in self.path.glob("*.safetensors"))
            parts = [f"{n}={sha256_file_cached(self.path / n)}" for n in names]
            self._fingerprint = "hf-" + sha256_text(*parts)
        return self._fingerprint

    def _run(self, requests: list[Request], gen: GenerationArgs) -> list[Response]:
        import torch

        if gen.constraint is not None:
            message = f"{self.name} does not apply decoding constraints ({gen.constraint!r})"
            return [Response("", error=message) for _ in requests]

        texts = [
            self.processor.apply_chat_template(
                hf_messages(r), add_generation_prompt=True, tokenize=False
            )
            for r in requests
        ]
        images = [img for r in requests for img in r.images()]
        inputs = self.processor(
            text=texts, images=images or None, padding=True, return_tensors="pt"
        ).to(self.device)
        options: dict[str, Any] = {"do_sample": gen.temperature > 0}
        if gen.temperature > 0:
            options |= {"temperature": gen.temperature, "top_p": gen.top_p, "top_k": None}
            torch.manual_seed(gen.seed)
        tokenizer = self.processor.tokenizer
        with torch.inference_mode():
            out = self.model.generate(
                **inputs,
                max_new_tokens=gen.max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                **options,
            )
        new = out[:, inputs["input_ids"].shape[1] :]
        return [
            Response(truncate_at_stop(tokenizer.decode(row, skip_special_tokens=True), gen.stop))
            for row in new.tolist()
        ]

    def generate(self, requests: list[Request]) -> list[Response]:
        """Decode requests in groups of equal generation args, answers in input order."""
        return generate_grouped(requests, self._run)
