"""mllmkit.judge — MLLM-as-a-Judge: prompts, verdict parsing, agreement, bias probes.

- `prompts`: the judge prompt of each mode (``score``, ``pair``, ``batch``) and its inverse;
- `modes`: the modes as data (human labels, verdict parsing, mapping back after reordering);
- `data`: reading judge data files (JSONL; see docs/judge.md);
- `parse` / `agreement`: verdict parsing and agreement metrics (golden-tested rules);
- `probes`: position and verbosity bias probes;
- `baselines`: trivial judges (``baseline:longer``, ``baseline:first``);
- `runner.run_judge`: ask any `Model` backend, with the evaluation cache and resume.

This package's import is light on purpose (no torch, no runner): `mllmkit.world` reads
the prompt templates from `judge.prompts` to write judge-tuning data.
"""
