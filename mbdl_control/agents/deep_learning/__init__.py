"""Deep learning: generic networks and model-free RL, no model used.

``SBRNN`` and ``MLPDetector`` load lazily (they import torch; ``SB3Agent`` does not)."""

from mbdl_control.agents.deep_learning.sb3 import SB3Agent
from mbdl_control.core.lazy import lazy_exports

__getattr__, _lazy_dir = lazy_exports(__name__, {"MLPDetector": ".mlp_detector", "SBRNN": ".sbrnn"})


def __dir__() -> list[str]:
    return sorted([*_lazy_dir(), *__all__])


__all__ = ["SBRNN", "MLPDetector", "SB3Agent"]
