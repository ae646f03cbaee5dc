"""Answer from a predictions file made elsewhere, so other tools' outputs can be re-scored.

Accepted layouts (chosen by the file suffix, never by its name):

- JSONL (`.jsonl`): one object per line with an id under `id` (else `index`) and the
  model's text under `prediction` (else `answer`, else `text`).
- TSV (`.tsv`): a VLMEvalKit-style result sheet with `index` and `prediction` columns.
  (VLMEvalKit's `.xlsx` results: save them as TSV first; no spreadsheet reader is bundled.)

Ids are compared as strings and are a benchmark's own row ids, so use one predictions
file per task (a file answering two tasks whose ids overlap would answer both). A request
whose `sample_id` is absent from the file gets `Response(error="no prediction for id ...")`
instead of failing the batch.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from mllmkit.backends.base import BackendError, Request, Response
from mllmkit.backends.hashing import sha256_file_cached

_ID_KEYS = ("id", "index")
_TEXT_KEYS = ("prediction", "answer", "text")


def _first_key(row: dict, keys: tuple[str, ...]) -> str | None:
    for k in keys:
        if k in row and row[k] is not None:
            return k
    return None


def _read_jsonl(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BackendError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise BackendError(f"{path}:{lineno}: expected a JSON object")
            id_key = _first_key(row, _ID_KEYS)
            text_key = _first_key(row, _TEXT_KEYS)
            if id_key is None:
                raise BackendError(f"{path}:{lineno}: field 'id' (or 'index') is missing")
            if text_key is None:
                raise BackendError(
                    f"{path}:{lineno}: field 'prediction' (or 'answer'/'text') is missing"
                )
            _put(out, str(row[id_key]), str(row[text_key]), path, lineno)
    return out


def _read_tsv(path: Path) -> dict[str, str]:
    try:
        csv.field_size_limit(sys.maxsize)
    except OverflowError:  # 32-bit C long
        csv.field_size_limit(2**31 - 1)
    out: dict[str, str] = {}
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t")
        missing = {"index", "prediction"} - set(reader.fieldnames or [])
        if missing:
            raise BackendError(
                f"{path}: column(s) {sorted(missing)} missing (need index, prediction)"
            )
        for lineno, row in enumerate(reader, start=2):
            _put(out, str(row["index"]), row["prediction"] or "", path, lineno)
    return out


def _put(out: dict[str, str], key: str, text: str, path: Path, lineno: int) -> None:
    if key in out:
        raise BackendError(f"{path}:{lineno}: duplicate prediction for id {key!r}")
    out[key] = text


class ReplayBackend:
    """Serves predictions from a file keyed by sample id."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise BackendError(f"replay: predictions file {self.path} does not exist")
        suffix = self.path.suffix.lower()
        if suffix == ".jsonl":
            self.predictions = _read_jsonl(self.path)
        elif suffix == ".tsv":
            self.predictions = _read_tsv(self.path)
        else:
            raise BackendError(
                f"replay: {self.path} must be .jsonl or .tsv (save VLMEvalKit .xlsx results as TSV)"
            )
        self.name = f"replay:{self.path}"

    def generate(self, requests: list[Request]) -> list[Response]:
        out = []
        for r in requests:
            if r.sample_id is None:
                out.append(Response("", error="replay backend needs request.sample_id"))
            elif r.sample_id in self.predictions:
                out.append(Response(self.predictions[r.sample_id]))
            else:
                msg = f"no prediction for id {r.sample_id!r} in {self.path}"
                out.append(Response("", error=msg))
        return out

    def fingerprint(self) -> str:
        return "replay-" + sha256_file_cached(self.path)
