"""Run a native mllmkit checkpoint folder (`config.json` + `model.safetensors` + processor).

Messages become chat turns the way the model was trained: each image of a turn is an
`<image>` line placed before that turn's text (`<image>\\n{question}`), images are
preprocessed by the checkpoint's own processor, and requests in a batch that share the
same generation arguments are decoded together (left padding, KV cache). If a whole
batch fails, each request is retried alone so one bad request cannot take the others
down with it.

An optional visual-token `reduction` strategy (`mllmkit.infer.reduce`, or its spec string)
is passed to generation; it changes the model's answers, so it enters the backend's name and
fingerprint (a resumed evaluation never mixes reduced and full answers), and the backend
keeps the analytic prefill cost of every request it ran (`reduction_summary`).
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

IMAGE_TOKEN = "<image>"
# Files whose bytes decide what the model answers; all present ones enter the fingerprint.
_FINGERPRINT_FILES = ("config.json", "model.safetensors", "processor_config.json", "tokenizer.json")


def request_to_turns(request: Request) -> list[tuple[str, str]]:
    """(role, text) turns; each image part becomes an `<image>` line before the turn's text."""
    turns: list[tuple[str, str]] = []
    for message in request.messages:
        n_images = sum(isinstance(p, ImagePart) for p in message.content)
        text = "\n".join(p.text for p in message.content if isinstance(p, TextPart))
        turns.append((message.role, (IMAGE_TOKEN + "\n") * n_images + text))
    return turns


class NativeBackend:
    """A local mllmkit checkpoint behind the `Model` protocol."""

    supports_constraints = True  # `GenerationArgs.constraint` is applied while decoding

    def __init__(self, path: str | Path, device: str = "cpu", reduction: Any = None) -> None:
        import mllmkit

        self.path = Path(path)
        if not (self.path / "config.json").is_file():
            raise BackendError(
                f"{self.path} is not an mllmkit checkpoint folder (no config.json); "
                "expected config.json + model.safetensors + processor files"
            )
        self.model = mllmkit.load_model(str(self.path), device=device)
        self.model.eval()
        self.processor = mllmkit.load_processor(str(self.path))
        self.device = device
        self.name = f"native:{self.path}"
        self._fingerprint: str | None = None
        self.reduction = None
        self.reduction_costs: list[Any] = []
        if reduction is not None:
            from mllmkit.infer.reduce import parse_reduction

            self.reduction = parse_reduction(reduction) if isinstance(reduction, str) else reduction
            try:
                self.reduction.check(self.model.config)
            except ValueError as exc:
                raise BackendError(f"{self.path}: {exc}") from None
            self.name += f" reduce={self.reduction.spec()}"

    def fingerprint(self) -> str:
        """Hash of config + weights (+ processor/tokenizer files), computed once."""
        if self._fingerprint is None:
            parts = []
            for fname in _FINGERPRINT_FILES:
                f = self.path / fname
                if f.is_file():
                    parts.append(f"{fname}={sha256_file_cached(f)}")
            if self.reduction is not None:
                parts.append(f"reduce={self.reduction.spec()}")
            self._fingerprint = "native-" + sha256_text(*parts)
        return self._fingerprint

    def reduction_summary(self) -> dict[str, Any] | None:
        """Mean analytic prefill cost of the requests run so far with the reduction (None
        without one): FLOPs (reduced, full, %), KV-cache MB, request count."""
        if self.reduction is None:
            return None
        costs = self.reduction_costs
        n = len(costs)
        if n == 0:
            return {"strategy": self.reduction.spec(), "requests": 0}
        flops = sum(c.flops.total for c in costs) / n
        full = sum(c.full_flops.total for c in costs) / n
        return {
            "strategy": self.reduction.spec(),
            "requests": n,
            "mean_prefill_flops": flops,
            "mean_full_prefill_flops": full,
            "flops_pct": round(100.0 * flops / full, 2),
            "mean_kv_mb": round(sum(c.kv_bytes for c in costs) / n / 2**20, 4),
            "mean_full_kv_mb": round(sum(c.full_kv_bytes for c in costs) / n / 2**20, 4),
        }

    def _encode(self, request: Request) -> tuple[list[int], list[Any]]:
        from mllmkit.data.conversation import Turn

        turns = [Turn(role=role, text=text) for role, text in request_to_turns(request)]
        images = request.images()
        return self.processor.encode_prompt(turns, n_images=len(images)), images

    def _constraint(self, gen: GenerationArgs) -> Any:
        if gen.constraint is None:
            return None
        from mllmkit.infer.constraints import TokenConstraint, get_constraint

        return TokenConstraint(get_constraint(gen.constraint), self.processor.tokenizer)

    def _run(self, requests: list[Request], gen: GenerationArgs) -> list[Response]:
        import torch

        from mllmkit.data.collate import collate_prompts
        from mllmkit.infer.generate import generate

        prompts, images, counts = [], [], []
        for r in requests:
            ids, imgs = self._encode(r)
            prompts.append(ids)
            images.extend(imgs)
            counts.append(len(imgs))
        batch = collate_prompts(prompts, self.processor.pad_token_id)
        pixel_values = self.processor.preprocess_images(images) if images else None
        with torch.inference_mode():
            outputs = generate(
                self.model,
                batch["input_ids"].to(self.device),
                batch["attention_mask"].to(self.device),
                None if pixel_values is None else pixel_values.to(self.device),
                max_new_tokens=gen.max_new_tokens,
                temperature=gen.temperature,
                top_p=gen.top_p,
                eos_token_ids=(self.processor.eos_token_id,),
                # one generator per row: a sampled answer is the same alone or in any batch
                seed=[gen.seed] * len(requests),
                reduction=self.reduction,
                constraint=self._constraint(gen),
            )
        if self.reduction is not None:
            from mllmkit.infer.flops import reduction_cost

            cfg = self.model.config
            self.reduction_costs.extend(
                reduction_cost(cfg, self.reduction, len(p), n)
                for p, n in zip(prompts, counts, strict=True)
            )
        tok = self.processor.tokenizer
        return [
            Response(truncate_at_stop(tok.decode(ids, skip_special_tokens=True), gen.stop))
            for ids in outputs
        ]

    def loglikelihood(
        self, requests: list[Request], continuations: list[list[str]]
    ) -> list[list[float]]:
        """Log-probability (natural log, summed over tokens) of each continuation after its
        request's prompt (the assistant prefix), e.g. to score options without generating.

        The continuation is tokenised on its own and appended to the prompt's ids, as
        lm-evaluation-harness splits context and continuation; an empty continuation
        scores 0.0. All continuations of one request run as one left-padded batch.
        """
        import torch

        from mllmkit.data.collate import collate_prompts

        if len(requests) != len(continuations):
            raise ValueError(
                f"{len(requests)} requests but {len(continuations)} continuation lists"
            )
        tok = self.processor.tokenizer
        out: list[list[float]] = []
        for request, conts in zip(requests, continuations, strict=True):
            if not conts:
                out.append([])
                continue
            prompt, images = self._encode(request)
            cont_ids = [
                [int(i) for i in tok(c, add_special_tokens=False)["input_ids"]] for c in conts
            ]
            batch = collate_prompts([prompt + ids for ids in cont_ids], self.processor.pad_token_id)
            pixel_values = None
            if images:
                one = self.processor.preprocess_images(images)
                pixel_values = one.repeat(len(conts), 1, 1, 1).to(self.device)
            input_ids = batch["input_ids"].to(self.device)
            with torch.inference_mode():
                logits = self.model(
                    input_ids, pixel_values, batch["attention_mask"].to(self.device)
                ).logits
            logp = torch.log_softmax(logits.float(), dim=-1)
            length = input_ids.shape[1]
            scores = []
            for row, ids in enumerate(cont_ids):
                n = len(ids)
                if n == 0:
                    scores.append(0.0)
                    continue
                targets = input_ids[row, length - n :]
                picked = logp[row, length - n - 1 : length - 1].gather(1, targets[:, None])
                scores.append(float(picked.sum()))
            out.append(scores)
        return out

    def generate(self, requests: list[Request]) -> list[Response]:
        """Decode requests in groups of equal generation args, answers in input order."""
        return generate_grouped(requests, self._run)
