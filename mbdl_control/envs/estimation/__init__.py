"""State-estimation envs: track a partially known system from its measurements."""

from mbdl_control.envs.estimation.linear_tracking import LinearTrackingEnv, LinearTrackingVectorEnv
from mbdl_control.envs.estimation.lorenz import LorenzEnv, LorenzVectorEnv

__all__ = ["LinearTrackingEnv", "LinearTrackingVectorEnv", "LorenzEnv", "LorenzVectorEnv"]
