"""The control demo: the classical agents, built on the nominal model, next to the oracle and
the bound."""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym

from mbdl_control.agents import COCP, LQG, LQR, MPC, SaturatedLQR
from mbdl_control.core import BaseAgent
from mbdl_control.evaluation.evaluate import EvaluationResult, evaluate


@dataclass(frozen=True)
class DemoRow:
    """One agent's line in the demo table."""

    name: str
    agent: BaseAgent
    result: EvaluationResult


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
    env = gym.make(env_id, mismatch=mismatch)
    oracle = env.unwrapped.oracle()  # the registered horizon: demo envs keep it
    oracle_result = evaluate(oracle, env, n_episodes, seed, compare_to_oracle=False)
    rows = [DemoRow(f"oracle ({type(oracle).__name__})", oracle, oracle_result)]
    for name, agent in classical_agents(env).items():
        result = evaluate(agent, env, n_episodes, seed, oracle_result=oracle_result)
        rows.append(DemoRow(name, agent, result))
    return rows
