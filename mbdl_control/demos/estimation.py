"""The estimation demo: the model-based filters on the nominal model, next to the oracle and
the bound. Linear tracking: the Kalman filter (exact on a linear model) and the EKF (which
reduces to it there); Lorenz: the extended and unscented Kalman filters and the particle
filter on the designer's coarse model (the oracle: the UKF on the true flow)."""

from __future__ import annotations

import gymnasium as gym

from mbdl_control.agents import (
    ExtendedKalmanFilter,
    KalmanFilter,
    ParticleFilter,
    UnscentedKalmanFilter,
)
from mbdl_control.core import BaseAgent
from mbdl_control.demos.classical import DemoRow, evaluate_classical


def classical_agents(env: gym.Env) -> dict[str, BaseAgent]:
    """The filters of the env's nominal model, built from it alone."""
    model = env.unwrapped.nominal_model
    if model.is_linear:
        return {"Kalman filter": KalmanFilter(model), "EKF": ExtendedKalmanFilter(model)}
    return {
        "EKF": ExtendedKalmanFilter(model),
        "UKF": UnscentedKalmanFilter(model),
        "particle filter": ParticleFilter(model),
    }


def run_demo(env_id: str, mismatch: float, n_episodes: int, seed: int) -> list[DemoRow]:
    """Evaluate the oracle and every classical filter on the same seeded episodes."""
    return evaluate_classical(env_id, mismatch, n_episodes, seed, classical_agents)
