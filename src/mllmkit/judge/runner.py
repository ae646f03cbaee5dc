"""`run_judge`: ask a judge about every item of a judge data file, measure agreement.

It shares the evaluation runner's guarantees and its cache (`eval.cache`):

- answers are appended to ``cache.jsonl`` and flushed after every batch (fsync'd at most
  once a second and on close); rerunning the same command sends only unanswered asks, so
  a killed run loses nothing finished and ends with the same files as an uninterrupted one;
- keys cover the task (mode, data-file hash, prompt templates, probe filler), the ask
  (item id + probe), the generation settings and the model fingerprint;
- verdicts are read by `judge.parse`; an unreadable verdict is counted and dropped from
  agreement, never guessed; backend errors and unreadable images are counted and
  retried by the next run.

Scores can instead be read from the judge's probabilities (``score_by="expected"``,
`judge.expected`): the five replies ``[[1]]``-``[[5]]`` are scored by `loglikelihood`
and the verdict is their probability-weighted mean; the cache then holds the five
log-likelihoods.

Output folder: ``run.json``, ``cache.jsonl``, ``predictions.jsonl`` (one line per item,
probe verdicts included), ``metrics.json``, ``report.md``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from PIL import Image

from mllmkit.backends.base import (
    GenerationArgs,
    ImagePart,
    Message,
    Model,
    Request,
    Response,
    TextPart,
    supports_constraints,
    supports_loglikelihood,
)
from mllmkit.backends.hashing import sha256_file, sha256_text
from mllmkit.data.images import load_image
from mllmkit.eval.atomic import atomic_write_text
from mllmkit.eval.cache import CacheEntry, ResponseCache, key_prefix, sample_key
from mllmkit.eval.progress import Progress
from mllmkit.judge import baselines as _baselines  # noqa: F401  (registers baseline:NAME)
from mllmkit.judge.asks import Ask, Verdict, plain_ask
from mllmkit.judge.data import JudgeData, JudgeItem, read_judge_file
from mllmkit.judge.expected import decode_logprobs, encode_logprobs, expected_score, score_replies
from mllmkit.judge.modes import get_mode
from mllmkit.judge.pointwise import POINTWISE_MODES, fold, score_asks
from mllmkit.judge.probes import Probe, probes_fingerprint, resolve_probes
from mllmkit.judge.prompts import templates_fingerprint
from mllmkit.judge.report import render_report
from mllmkit.judge.summary import agreement, headline

log = logging.getLogger("mllmkit.judge")

FORMAT_VERSION = 1
DEFAULT_MAX_NEW_TOKENS = 48
"""Enough for the longest verdict asked for (a batch ordering) with some slack."""
MAX_ISSUES = 100
SCORE_BY = ("text", "expected")
"""How a score verdict is read: parsed from the generated text, or the expected score."""


def task_fingerprint(
    mode: str,
    data_path: Path,
    score_by: str = "text",
    pointwise: bool = False,
    answer_first: bool = False,
) -> str:
    """What the answers depend on besides the ask, the decoding and the model."""
    return sha256_text(
        "mllm-judge",
        str(FORMAT_VERSION),
        mode,
        score_by,
        f"pointwise={pointwise}",
        f"answer_first={answer_first}",
        sha256_file(data_path),
        templates_fingerprint(),
        probes_fingerprint(),
    )


def build_asks(
    items: Sequence[JudgeItem], probes: Sequence[Probe], answer_first: bool = False
) -> list[Ask]:
    """Per item, in file order: the item as given, then each probe's version of it."""
    asks: list[Ask] = []
    for item in items:
        asks.append(plain_ask(item))
        for probe in probes:
            extra = probe.ask(item)
            if extra is not None:
                asks.append(extra)
    if answer_first:
        asks = [replace(a, answer_first=True) for a in asks]
    return asks


def _unique(asks: Sequence[Ask]) -> list[Ask]:
    """`asks` without repeated cache ids (pointwise scores shared by several asks)."""
    seen: dict[str, Ask] = {}
    for a in asks:
        seen.setdefault(a.cache_id, a)
    return list(seen.values())


def _messages(ask: Ask, images: dict[Path, Image.Image]) -> list[Message]:
    parts: list[ImagePart | TextPart] = []
    for path in ask.item.images:
        if path not in images:
            images[path] = load_image(path)
        parts.append(ImagePart(images[path]))
    parts.append(TextPart(ask.prompt()))
    return [Message(role="user", content=parts)]


Asker = Callable[[list[Request]], list[Response]]


def _score_likelihoods(model: Model) -> Asker:
    """Each request answered by the five score replies' log-likelihoods (as cache text)."""
    replies = score_replies()

    def ask(requests: list[Request]) -> list[Response]:
        rows = model.loglikelihood(requests, [replies] * len(requests))  # type: ignore[attr-defined]
        return [Response(encode_logprobs(r)) for r in rows]

    return ask


def _send(
    ask_model: Asker,
    name: str,
    task: str,
    asks: list[Ask],
    keys: list[str],
    gen: GenerationArgs,
):
    """One batch; every ask yields exactly one cache entry, whatever happens."""
    entries: list[CacheEntry] = []
    requests: list[Request] = []
    sent: list[tuple[Ask, str]] = []
    images: dict[Path, Image.Image] = {}
    for ask, key in zip(asks, keys, strict=True):
        try:
            messages = _messages(ask, images)
        except Exception as exc:  # unreadable image: this ask only
            msg = f"line {ask.item.line} (id={ask.item.id}): {exc}"
            entries.append(CacheEntry(key, task, ask.cache_id, "bad_row", error=msg))
            continue
        requests.append(Request(messages=messages, gen=gen, sample_id=ask.cache_id))
        sent.append((ask, key))
    if requests:
        try:
            responses = ask_model(requests)
            if len(responses) != len(requests):
                raise RuntimeError(f"returned {len(responses)} responses for {len(requests)}")
        except Exception as exc:  # a backend breaking its contract fails this batch only
            err = f"judge {name} failed: {type(exc).__name__}: {exc}"
            responses = [Response("", error=err) for _ in requests]
        for (ask, key), resp in zip(sent, responses, strict=True):
            if resp.error is not None:
                entries.append(CacheEntry(key, task, ask.cache_id, "error", error=resp.error))
            else:
                text = resp.text if isinstance(resp.text, str) else str(resp.text)
                entries.append(CacheEntry(key, task, ask.cache_id, "ok", text=text))
    return entries


def read_verdict(ask: Ask, entry: CacheEntry | None, score_by: str = "text") -> Verdict:
    """The verdict an ask's cache entry holds (parsed and mapped back to file order)."""
    if entry is None:
        return Verdict("missing", error="no answer yet (the run was interrupted)")
    if entry.status == "bad_row":
        return Verdict("bad_row", error=entry.error)
    if not entry.finished:
        return Verdict("error", error=entry.error or "unknown error")
    if score_by == "expected":
        logprobs = decode_logprobs(entry.text)
        if logprobs is None:
            return Verdict("unparsed", raw=entry.text)
        try:
            score = expected_score(logprobs)
        except ValueError:  # every reply at probability 0: no verdict to read
            return Verdict("unparsed", raw=entry.text)
        return Verdict("ok", score, score, raw=entry.text)
    mode = get_mode(ask.prompt_mode)
    shown = mode.parse(entry.text, len(ask.answers))
    if shown is None:
        return Verdict("unparsed", raw=entry.text)
    return Verdict("ok", shown, mode.to_original(shown, ask.perm), raw=entry.text)


def _verdict_json(v: Verdict) -> dict[str, Any]:
    d: dict[str, Any] = {"judge": v.original, "status": v.status, "raw": v.raw}
    if v.error is not None:
        d["error"] = v.error
    return d


def _prediction(item: JudgeItem, main: Verdict, probes: dict[str, Verdict]) -> dict[str, Any]:
    d: dict[str, Any] = {"id": item.id, "source": item.source, "human": item.human}
    d.update(_verdict_json(main))
    if item.kinds is not None:
        d["kinds"] = list(item.kinds)
    if probes:
        d["probes"] = {name: _verdict_json(v) for name, v in probes.items()}
    return d


def _issues(data: JudgeData, asks: list[Ask], verdicts: list[Verdict]) -> list[str]:
    issues = list(data.bad_rows)
    for ask, v in zip(asks, verdicts, strict=True):
        where = f"id={ask.item.id}" + (f" probe={ask.probe}" if ask.probe else "")
        if v.status in ("error", "missing", "bad_row"):
            issues.append(f"{v.status}: {where}: {v.error}")
        elif v.status == "unparsed":
            issues.append(f"unparsed: {where}: raw {v.raw[:200]!r}")
    return issues


def summarise(
    data: JudgeData, asks: list[Ask], verdicts: list[Verdict], probes: Sequence[Probe]
) -> dict[str, Any]:
    """Counts, agreement, probe results and issues; plus the per-item predictions."""
    mode = data.mode
    main = {a.item.id: v for a, v in zip(asks, verdicts, strict=True) if a.probe is None}
    by_probe: dict[str, dict[str, Verdict]] = {}
    for a, v in zip(asks, verdicts, strict=True):
        if a.probe is not None:
            by_probe.setdefault(a.probe, {})[a.item.id] = v
    rows = [(item, main[item.id]) for item in data.items]
    result = agreement(mode, rows)
    statuses = [v.status for _, v in rows]
    counts = {
        "items": len(rows),
        "parsed": statuses.count("ok"),
        "unparsed": statuses.count("unparsed"),
        "errors": statuses.count("error") + statuses.count("missing"),
        "bad_rows": len(data.bad_rows) + statuses.count("bad_row"),
        "other_mode_rows": data.other_mode_rows,
    }
    probe_results: dict[str, Any] = {}
    for probe in probes:
        if mode not in probe.modes:
            probe_results[probe.name] = {
                "skipped": f"does not apply to {mode!r} (applies to {list(probe.modes)})"
            }
            continue
        got = by_probe.get(probe.name, {})
        probe_rows = [(item, main[item.id], got[item.id]) for item in data.items if item.id in got]
        probe_results[probe.name] = probe.summarise(mode, probe_rows)
    predictions = [
        _prediction(
            item,
            main[item.id],
            {name: vs[item.id] for name, vs in by_probe.items() if item.id in vs},
        )
        for item in data.items
    ]
    issues = _issues(data, asks, verdicts)
    metrics = {
        "mode": mode,
        "headline": headline(mode, result),
        "counts": counts,
        "agreement": result,
        "probes": probe_results,
        "issues": issues[:MAX_ISSUES]
        + ([f"... and {len(issues) - MAX_ISSUES} more"] if len(issues) > MAX_ISSUES else []),
    }
    return {"metrics": metrics, "predictions": predictions}


def open_judge(model: Model | str, **options: Any) -> Model:
    """A backend from a spec (`open_backend`, plus ``baseline:NAME``), or `model` itself."""
    from mllmkit.backends.registry import open_backend

    return open_backend(model, **options) if isinstance(model, str) else model


def run_judge(
    model: Model | str,
    data_path: str | Path,
    mode: str,
    out: str | Path,
    batch_size: int = 8,
    limit: int | None = None,
    probes: str | Sequence[str] | None = None,
    *,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    progress: bool | None = None,
    fsync: bool = True,
    constrain: bool = True,
    score_by: str = "text",
    pointwise: bool = False,
    answer_first: bool = False,
) -> dict[str, Any]:
    """Judge the `mode` items of `data_path` with `model`; write results to `out`.

    `model` is a `Model` or a backend spec (a checkpoint folder, ``http(s)://...``,
    ``replay:FILE``, ``baseline:longer``). `limit` keeps the first N items of the mode;
    `probes` names bias probes (``"position,verbosity"``). With `constrain` (default) the
    mode's decoding constraint is applied when the backend can (`supports_constraints`):
    a batch ranking then cannot name a letter twice. The constraint in force is recorded in
    `run.json` / `metrics.json` under ``gen`` and is part of the cache key.
    `score_by="expected"` (score mode, backends with `loglikelihood`) reads each score as
    the probability-weighted mean of the five replies instead of generating one.
    `pointwise` (pair and batch) asks one score per answer and derives the verdict from
    the scores (`judge.pointwise`); `answer_first` asks scores with the judge's own answer
    written first (``{"Answer": ..., "Judgement": ...}``). Returns `metrics.json`'s dict.
    """
    get_mode(mode)
    if score_by not in SCORE_BY:
        raise ValueError(f"score_by must be one of {list(SCORE_BY)}, got {score_by!r}")
    if score_by == "expected" and mode != "score":
        raise ValueError(f"expected scores apply to mode 'score' only, not {mode!r}")
    if pointwise and mode not in POINTWISE_MODES:
        raise ValueError(
            f"pointwise judging applies to modes {list(POINTWISE_MODES)}, not {mode!r}"
        )
    if answer_first and not (mode == "score" or pointwise):
        raise ValueError("answer_first applies to scores: mode 'score' or a pointwise judge")
    if answer_first and score_by == "expected":
        raise ValueError(
            "expected scores read fixed replies; they cannot follow the judge's own answer "
            "(answer_first): use score_by='text'"
        )
    # the template the judge is asked with: a pointwise judge is asked for scores
    spec = get_mode("score" if pointwise else mode)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    chosen = resolve_probes(probes)
    data_path = Path(data_path)
    data = read_judge_file(data_path, mode, limit)
    for msg in data.bad_rows[:5]:
        log.warning("skipped bad row: %s", msg)
    backend = open_judge(model)
    if score_by == "expected" and not supports_loglikelihood(backend):
        raise ValueError(
            f"judge {backend.name} cannot give expected scores: it has no loglikelihood "
            "(native checkpoints have one; use score_by='text' for this judge)"
        )
    model_fp = backend.fingerprint()
    constraint = spec.constraint if constrain and supports_constraints(backend) else None
    # expected scores are likelihoods of fixed replies: no decoding setting changes them,
    # so none may split the cache (a rerun with another --max-new-tokens reuses every entry)
    generates = score_by == "text"
    gen = (
        GenerationArgs(max_new_tokens=max_new_tokens, constraint=constraint)
        if generates
        else GenerationArgs()
    )
    task = f"judge-{mode}"
    prefix = key_prefix(
        task_fingerprint(mode, data_path, score_by, pointwise, answer_first), gen, model_fp
    )
    asks = build_asks(data.items, [p for p in chosen if mode in p.modes], answer_first)
    groups = [score_asks(a, answer_first) for a in asks] if pointwise else [[a] for a in asks]
    sent = _unique([s for group in groups for s in group])
    keys = [sample_key(prefix, a.cache_id) for a in sent]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    info = {
        "format_version": FORMAT_VERSION,
        "mode": mode,
        "model": backend.name,
        "model_fingerprint": model_fp,
        "data": str(data_path),
        "limit": limit,
        "probes": [p.name for p in chosen],
        "gen": gen.to_dict() if generates else None,
        "score_by": score_by,
        "pointwise": pointwise,
        "answer_first": answer_first,
    }
    with ResponseCache(out / "cache.jsonl", fsync=fsync) as cache:  # takes the folder's lock
        atomic_write_text(out / "run.json", json.dumps(info, indent=2) + "\n")
        pending = [(a, k) for a, k in zip(sent, keys, strict=True) if not cache.is_finished(k)]
        if len(pending) < len(sent):
            log.info(
                "resuming: %d ask(s) already answered, %d to go",
                len(sent) - len(pending),
                len(pending),
            )
        asker = backend.generate if generates else _score_likelihoods(backend)
        with Progress(len(pending), description=task, enabled=progress) as bar:
            for start in range(0, len(pending), batch_size):
                chunk = pending[start : start + batch_size]
                batch_asks = [a for a, _ in chunk]
                keys_now = [k for _, k in chunk]
                cache.append(_send(asker, backend.name, task, batch_asks, keys_now, gen))
                bar.advance(len(chunk))
        by_id = {
            a.cache_id: read_verdict(a, cache.get(k), score_by)
            for a, k in zip(sent, keys, strict=True)
        }
    verdicts = [
        fold(a, [by_id[s.cache_id] for s in group]) if pointwise else by_id[a.cache_id]
        for a, group in zip(asks, groups, strict=True)
    ]
    result = summarise(data, asks, verdicts, chosen)
    metrics = {**info, **result["metrics"]}
    lines = "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in result["predictions"])
    atomic_write_text(out / "predictions.jsonl", lines)
    atomic_write_text(
        out / "metrics.json", json.dumps(metrics, indent=2, ensure_ascii=False) + "\n"
    )
    atomic_write_text(out / "report.md", render_report(metrics))
    return metrics
