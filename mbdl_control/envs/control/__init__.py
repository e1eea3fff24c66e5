"""Stochastic control envs with linear-Gaussian dynamics."""

from mbdl_control.envs.control.box_lqr import BoxLQREnv
from mbdl_control.envs.control.linear_control import LinearControlEnv
from mbdl_control.envs.control.linear_quadratic import LinearQuadraticEnv
from mbdl_control.envs.control.lqg import LQGEnv

__all__ = ["BoxLQREnv", "LQGEnv", "LinearControlEnv", "LinearQuadraticEnv"]
