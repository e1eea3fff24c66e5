"""Stochastic control envs, single and batched."""

from mbdl_control.envs.control.box_lqr import BoxLQREnv, BoxLQRVectorEnv
from mbdl_control.envs.control.cart_pole import CartPoleEnv, CartPoleVectorEnv
from mbdl_control.envs.control.control_env import ControlEnv
from mbdl_control.envs.control.control_vector import ControlVectorEnv
from mbdl_control.envs.control.linear_control import LinearControlEnv
from mbdl_control.envs.control.linear_quadratic import LinearQuadraticEnv, LinearQuadraticVectorEnv
from mbdl_control.envs.control.lqg import LQGEnv, LQGVectorEnv
from mbdl_control.envs.control.supply_chain import SupplyChainEnv, SupplyChainVectorEnv
from mbdl_control.envs.control.vehicle import VehiclePathTrackingEnv, VehiclePathTrackingVectorEnv

__all__ = [
    "BoxLQREnv",
    "BoxLQRVectorEnv",
    "CartPoleEnv",
    "CartPoleVectorEnv",
    "ControlEnv",
    "ControlVectorEnv",
    "LQGEnv",
    "LQGVectorEnv",
    "LinearControlEnv",
    "LinearQuadraticEnv",
    "LinearQuadraticVectorEnv",
    "SupplyChainEnv",
    "SupplyChainVectorEnv",
    "VehiclePathTrackingEnv",
    "VehiclePathTrackingVectorEnv",
]
