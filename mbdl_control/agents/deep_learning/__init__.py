"""Deep learning: generic networks and model-free RL, no model used.

The networks load lazily (they import torch; ``SB3Agent`` does not)."""

from mbdl_control.agents.deep_learning.sb3 import SB3Agent
from mbdl_control.core.lazy import lazy_exports

_EXPORTS = {
    "ConvolutionalRecovery": ".sparse_networks",
    "DPC": ".dpc",
    "GRUEstimator": ".gru_estimator",
    "MLPDetector": ".mlp_detector",
    "MLPRecovery": ".sparse_networks",
    "SBRNN": ".sbrnn",
}

__getattr__, _lazy_dir = lazy_exports(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return sorted([*_lazy_dir(), *__all__])


__all__ = ["SB3Agent", *sorted(_EXPORTS)]
