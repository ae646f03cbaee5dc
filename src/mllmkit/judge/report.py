"""`report.md` for a judge run: headline, counts, agreement details, probes, issues."""

from __future__ import annotations

from typing import Any

HEADLINE_NAMES = {
    "score": "Pearson r (mean over sources)",
    "pair": "accuracy (ties counted)",
    "batch": "normalised Levenshtein distance (lower is better)",
}


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(v: Any) -> str:
        return _fmt(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]


def _score_details(agreement: dict[str, Any]) -> list[str]:
    rows = [
        [src, r, agreement["n_per_source"].get(src, 0)]
        for src, r in agreement["per_source"].items()
    ]
    lines = ["### Pearson per source", "", *_table(["source", "pearson", "n"], rows), ""]
    for key, title in (("by_human_score", "human score"), ("by_kind", "kind")):
        groups = agreement.get(key)
        if groups:
            body = [[k, g["mean_judge"], g["n"]] for k, g in groups.items()]
            lines += [f"### Mean judge score by {title}", ""]
            lines += [*_table([title, "mean judge score", "n"], body), ""]
    return lines


def _pair_details(agreement: dict[str, Any]) -> list[str]:
    keys = ("accuracy", "accuracy_no_ties", "macro_f1", "n", "n_no_ties", "n_unparsed")
    lines = [*_table(list(keys), [[agreement[k] for k in keys]]), ""]
    confusion = agreement["confusion"]
    rows = [[f"human {h}", *(confusion[h][j] for j in confusion[h])] for h in confusion]
    lines += ["### Confusion (rows: human, columns: judge)", ""]
    lines += [*_table(["", *(f"judge {j}" for j in confusion)], rows), ""]
    groups = agreement.get("by_kinds")
    if groups:
        body = [[k.replace("|", " vs "), g["accuracy"], g["n"]] for k, g in groups.items()]
        lines += ["### Accuracy by the kinds of the two answers", ""]
        lines += [*_table(["kinds", "accuracy", "n"], body), ""]
    return lines


def _batch_details(agreement: dict[str, Any]) -> list[str]:
    keys = ("levenshtein_norm", "levenshtein_raw", "exact", "n", "n_unparsed")
    return [*_table(list(keys), [[agreement.get(k) for k in keys]]), ""]


def render_report(metrics: dict[str, Any]) -> str:
    """Markdown for a `metrics.json` dict written by `run_judge`."""
    mode = metrics["mode"]
    lines = [
        f"# Judge report ({mode})",
        "",
        f"Judge: `{metrics['model']}`  ",
        f"Data: `{metrics['data']}`",
        "",
        f"**{HEADLINE_NAMES[mode]}: {_fmt(metrics['headline'])}**",
        "",
    ]
    counts = metrics["counts"]
    lines += [*_table(list(counts), [list(counts.values())]), ""]
    lines += ["## Agreement", ""]
    agreement = metrics["agreement"]
    details = {"score": _score_details, "pair": _pair_details, "batch": _batch_details}
    lines += details[mode](agreement)
    for name, result in metrics.get("probes", {}).items():
        lines += [f"## Probe: {name}", ""]
        if "skipped" in result:
            lines += [f"Skipped: {result['skipped']}", ""]
            continue
        lines += [*_table(list(result), [list(result.values())]), ""]
    issues = metrics.get("issues", [])
    if issues:
        lines += ["## Issues", "", *(f"- {msg}" for msg in issues[:20])]
        if len(issues) > 20:
            lines.append(f"- ... {len(issues) - 20} more in metrics.json")
        lines.append("")
    return "\n".join(lines)
