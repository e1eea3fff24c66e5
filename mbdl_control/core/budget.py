"""What a learning agent may draw (``Budget``) and what it reports it drew (``FitReport``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Budget:
    """How much data a learning agent may use: environment ``steps``, and labelled ``samples``
    (steps whose ``info`` hands the learner the env's supervision labels, its ``label_keys``:
    true states, transmitted symbols). The harness enforces both (``CountingEnv``)."""

    steps: int = 0
    samples: int = 0

    def __post_init__(self) -> None:
        for name in ("steps", "samples"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
                raise ValueError(f"Budget.{name} must be an integer >= 0, got {value!r}")


@dataclass(frozen=True)
class FitReport:
    """What ``fit`` used and learned: env steps and labelled samples drawn, steps simulated in
    a model (not data), wall time, the training curve (loss per iteration), and whether the
    training diverged (then the agent keeps its last sound parameters)."""

    steps: int = 0
    samples: int = 0
    simulated_steps: int = 0
    wall_time: float = 0.0
    curve: tuple[float, ...] = field(default_factory=tuple)
    diverged: bool = False
