"""Learned optimizers: the model-based rule kept, its objective parameters tuned from data."""

from mbdl_control.agents.learned_optimizer.cocp import LearnedCOCP
from mbdl_control.agents.learned_optimizer.kalman import LearnedNoiseKalman, LearnedNoiseLQG

__all__ = ["LearnedCOCP", "LearnedNoiseKalman", "LearnedNoiseLQG"]
