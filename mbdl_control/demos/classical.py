"""What every domain's demo does: its classical agents, built on the env's nominal model, on
the same seeded episodes as the oracle (common random numbers)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym

from mbdl_control.core import BaseAgent
from mbdl_control.evaluation.evaluate import EvaluationResult, evaluate, oracle_env


@dataclass(frozen=True)
class DemoRow:
    """One agent's line in the demo table."""

    name: str
    agent: BaseAgent
    result: EvaluationResult


def evaluate_classical(
    env_id: str,
    mismatch: float,
    n_episodes: int,
    seed: int,
    classical_agents: Callable[[gym.Env], dict[str, BaseAgent]],
) -> list[DemoRow]:
    """The oracle's row (evaluated where it sees the truth: :func:`oracle_env`), then one row
    per agent of ``classical_agents(env)``."""
    env = gym.make(env_id, mismatch=mismatch)
    oracle = env.unwrapped.oracle()  # the registered horizon: demo envs keep it
    truth = oracle_env(env)
    oracle_result = evaluate(oracle, truth, n_episodes, seed, compare_to_oracle=False)
    rows = [DemoRow(f"oracle ({type(oracle).__name__})", oracle, oracle_result)]
    for name, agent in classical_agents(env).items():
        result = evaluate(agent, env, n_episodes, seed, oracle_result=oracle_result)
        rows.append(DemoRow(name, agent, result))
    return rows
