"""Learned optimizers: the model-based rule kept, its objective parameters tuned from data."""

from mbdl_control.agents.learned_optimizer.box_qp import box_qp
from mbdl_control.agents.learned_optimizer.cocp import LearnedCOCP
from mbdl_control.agents.learned_optimizer.kalman import LearnedNoiseKalman, LearnedNoiseLQG
from mbdl_control.agents.learned_optimizer.polytope_qp import polytope_qp

__all__ = ["LearnedCOCP", "LearnedNoiseKalman", "LearnedNoiseLQG", "box_qp", "polytope_qp"]
