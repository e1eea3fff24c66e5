"""Model-based agents: a principled optimizer on a (nominal or true) model, nothing learned."""

from mbdl_control.agents.model_based.bcjr import BCJR
from mbdl_control.agents.model_based.cocp import COCP
from mbdl_control.agents.model_based.lmmse import LinearMMSE
from mbdl_control.agents.model_based.lqg import LQG
from mbdl_control.agents.model_based.lqr import LQR, SaturatedLQR
from mbdl_control.agents.model_based.mpc import MPC
from mbdl_control.agents.model_based.viterbi import Viterbi

__all__ = ["BCJR", "COCP", "LQG", "LQR", "MPC", "LinearMMSE", "SaturatedLQR", "Viterbi"]
