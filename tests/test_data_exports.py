"""`mllmkit.data` re-exports: every public name resolves, and readers stay torch-free."""

from __future__ import annotations

import subprocess
import sys

import mllmkit.data as data


def test_every_public_name_resolves() -> None:
    assert sorted(data.__all__) == sorted(data._EXPORTS)
    for name in data.__all__:
        assert getattr(data, name) is not None, name


def test_readers_do_not_import_torch() -> None:
    code = (
        "import sys, mllmkit.data.llava, mllmkit.data.tsv; "
        "from mllmkit.data import read_conversations, read_benchmark_tsv, load_image; "
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
