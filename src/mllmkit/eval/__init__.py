"""mllmkit.eval: tasks, answer extraction, metrics, the resumable runner and reports.

Modules, one concept each:

- `task`      `TaskSpec` (an explicit task declaration), `Sample`, default prompts;
- `loaders`   benchmark-file readers by exact name (`tsv`, `mme_tsv`, `pope_jsonl`,
              `jsonl`, `world_captions`);
- `builtin`   the world tasks (`TASKS`) and `resolve_tasks` (names and YAML files);
- `samples`   prompts and circular expansion → the ordered sample list;
- `prediction` per-sample extraction and scoring (the `predictions.jsonl` row);
- `scorers`   task metrics by exact name over `mllmkit.eval.metrics`;
- `cache`, `shard`, `merge`, `runner`, `report`: running, resuming, splitting, writing.

Library entry point: `mllmkit.eval.runner.evaluate(model, tasks, out, batch_size, limit,
shard)`. Nothing is imported here so `import mllmkit.eval.metrics` stays light.
"""
