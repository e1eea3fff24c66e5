"""Model-based agents: a principled optimizer on a (nominal or true) model, nothing learned."""

from mbdl_control.agents.model_based.cocp import COCP
from mbdl_control.agents.model_based.lqg import LQG
from mbdl_control.agents.model_based.lqr import LQR, SaturatedLQR
from mbdl_control.agents.model_based.mpc import MPC

__all__ = ["COCP", "LQG", "LQR", "MPC", "SaturatedLQR"]
