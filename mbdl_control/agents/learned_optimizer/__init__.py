"""Learned optimizers: the model-based rule kept, its objective parameters tuned from data."""

from mbdl_control.agents.learned_optimizer.cocp import LearnedCOCP
from mbdl_control.agents.learned_optimizer.kalman import LearnedNoiseKalman, LearnedNoiseLQG
from mbdl_control.agents.learned_optimizer.sparse import LearnedADMM, LearnedISTA
from mbdl_control.agents.learned_optimizer.tuned_kalman import TunedNoiseKalman

__all__ = [
    "LearnedADMM",
    "LearnedCOCP",
    "LearnedISTA",
    "LearnedNoiseKalman",
    "LearnedNoiseLQG",
    "TunedNoiseKalman",
]
