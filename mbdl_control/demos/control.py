"""The control demo: LQR or LQG, MPC and the convex policy, built on the nominal model, next
to the oracle and the bound."""

from __future__ import annotations

import gymnasium as gym

from mbdl_control.agents import COCP, LQG, LQR, MPC, SaturatedLQR
from mbdl_control.core import BaseAgent
from mbdl_control.demos.classical import DemoRow, evaluate_classical


def classical_agents(env: gym.Env) -> dict[str, BaseAgent]:
    """The model-based agents that fit the env's nominal model, built from it alone."""
    model = env.unwrapped.nominal_model
    if model.C is not None:
        return {"LQG": LQG(model)}
    regulator = (
        {"LQR": LQR(model)} if model.u_max is None else {"saturated LQR": SaturatedLQR(model)}
    )
    return {**regulator, "MPC (H=10)": MPC(model, horizon=10), "COCP (θ = P^½)": COCP(model)}


def run_demo(env_id: str, mismatch: float, n_episodes: int, seed: int) -> list[DemoRow]:
    """Evaluate the oracle and every classical agent on the same seeded episodes."""
    return evaluate_classical(env_id, mismatch, n_episodes, seed, classical_agents)
