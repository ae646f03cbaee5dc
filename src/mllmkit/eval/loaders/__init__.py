"""Benchmark-file loaders, registered by exact name in `LOADERS`."""

from mllmkit.eval.loaders import jsonl as _jsonl  # noqa: F401  (registers loaders)
from mllmkit.eval.loaders import tsv as _tsv  # noqa: F401
from mllmkit.eval.loaders.base import LOADERS, Item, LoadResult, PathImage

__all__ = ["LOADERS", "Item", "LoadResult", "PathImage"]
