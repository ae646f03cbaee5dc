"""Training-free visual-token reduction behind one hook API (see docs/token-reduction.md).

`parse_reduction("fastv:k=2,r=0.5")` returns a strategy to pass as `reduction=` to
`MLLM.forward` or `mllmkit.infer.generate.generate`.
"""

from mllmkit.infer.reduce.base import LayerContext, Strategy, budget
from mllmkit.infer.reduce.registry import STRATEGIES, parse_reduction, register

__all__ = ["STRATEGIES", "LayerContext", "Strategy", "budget", "parse_reduction", "register"]
