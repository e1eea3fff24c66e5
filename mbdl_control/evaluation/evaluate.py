"""Evaluate an agent on an env with common random numbers, against the oracle and the bound.

Episode ``i`` is reset with the ``i``-th seed of ``SeedSequence(seed)``, and the envs draw the
same noise whatever the actions, so every agent evaluated with the same ``seed`` meets the same
initial states and disturbances. The difference of two agents' episode costs is then a paired
sample: its standard error is far smaller than that of either mean, which is what lets a few
episodes rank agents whose costs differ by little.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import gymnasium as gym
import numpy as np

from mbdl_control.agents.base import Agent, positive_int
from mbdl_control.envs.episodes import episode_length


@dataclass(frozen=True)
class EvaluationResult:
    """Costs per step (``info["cost"]`` averaged over an episode's steps), over episodes.

    ``gap_to_oracle`` is the mean paired difference to the oracle's episode costs on the same
    seeds and ``gap_to_oracle_se`` its standard error; ``gap_to_bound`` is ``mean_cost − bound``.
    ``metrics`` holds the env's task metrics (per-step averages) and the agent's diagnostics.
    """

    mean_cost: float
    std_error: float
    episode_costs: np.ndarray
    episode_seeds: tuple[int, ...]
    metrics: dict[str, float] = field(default_factory=dict)
    bound: float | None = None
    gap_to_bound: float | None = None
    oracle_cost: float | None = None
    gap_to_oracle: float | None = None
    gap_to_oracle_se: float | None = None

    @property
    def n_episodes(self) -> int:
        return len(self.episode_costs)


def episode_seeds(seed: int, n_episodes: int) -> tuple[int, ...]:
    """The reset seed of each episode: common to every agent evaluated with ``seed``."""
    state = np.random.SeedSequence(seed).generate_state(n_episodes)
    return tuple(int(value) for value in state)


def standard_error(samples: np.ndarray) -> float:
    """Sample standard deviation over ``√n`` (NaN for fewer than two samples)."""
    if len(samples) < 2:
        return math.nan
    return float(np.std(samples, ddof=1) / math.sqrt(len(samples)))


def _run_episode(agent: Agent, env: gym.Env, seed: int, metric_keys: tuple[str, ...]):
    observation, _ = env.reset(seed=seed)
    state, start = None, np.ones(1, dtype=bool)
    total, steps = 0.0, 0
    metric_totals = dict.fromkeys(metric_keys, 0.0)
    done = False
    while not done:
        action, state = agent.predict(
            observation, state=state, episode_start=start, deterministic=True
        )
        observation, _, terminated, truncated, info = env.step(action)
        total += float(info["cost"])
        for key in metric_keys:
            metric_totals[key] += float(info[key])
        steps += 1
        start = np.zeros(1, dtype=bool)
        done = terminated or truncated
    return total / steps, {key: value / steps for key, value in metric_totals.items()}


def evaluate(
    agent: Agent,
    env: gym.Env | str,
    n_episodes: int = 100,
    seed: int = 0,
    *,
    compare_to_oracle: bool = True,
    oracle_result: EvaluationResult | None = None,
) -> EvaluationResult:
    """Mean cost per step of ``agent`` over ``n_episodes`` seeded episodes of ``env``.

    ``env`` is an env (its time limit ends the episodes) or a registered id. With
    ``compare_to_oracle`` the env's oracle is evaluated on the same seeds (or ``oracle_result``
    of an earlier call with the same ``seed`` and ``n_episodes`` is reused) and the paired gap
    reported.
    """
    n_episodes = positive_int("n_episodes", n_episodes)
    if not callable(getattr(agent, "predict", None)):
        raise TypeError(f"agent must have a predict() method like SB3's, got {type(agent)}")
    if isinstance(env, str):
        env = gym.make(env)
    base = env.unwrapped
    seeds = episode_seeds(seed, n_episodes)
    metric_keys = tuple(getattr(base, "task_metrics", ()))
    costs = np.empty(n_episodes)
    metric_sums = dict.fromkeys(metric_keys, 0.0)
    for index, episode_seed in enumerate(seeds):
        costs[index], episode_metrics = _run_episode(agent, env, episode_seed, metric_keys)
        for key, value in episode_metrics.items():
            metric_sums[key] += value / n_episodes
    diagnostics = getattr(agent, "diagnostics", None)
    metrics = {**metric_sums, **(diagnostics() if callable(diagnostics) else {})}
    mean_cost = float(np.mean(costs))
    horizon = episode_length(env)
    bound = base.performance_bound(horizon) if hasattr(base, "performance_bound") else None
    result = EvaluationResult(
        mean_cost=mean_cost,
        std_error=standard_error(costs),
        episode_costs=costs,
        episode_seeds=seeds,
        metrics=metrics,
        bound=bound,
        gap_to_bound=None if bound is None else mean_cost - bound,
    )
    if not compare_to_oracle or not hasattr(base, "oracle"):
        return result
    if oracle_result is None:
        oracle = base.oracle(horizon)
        oracle_result = evaluate(oracle, env, n_episodes, seed, compare_to_oracle=False)
    if oracle_result.episode_seeds != seeds:
        raise ValueError(
            "oracle_result was evaluated on other episodes; evaluate it with the same "
            f"seed and n_episodes (here seed={seed}, n_episodes={n_episodes})"
        )
    paired = costs - oracle_result.episode_costs
    return replace(
        result,
        oracle_cost=oracle_result.mean_cost,
        gap_to_oracle=float(np.mean(paired)),
        gap_to_oracle_se=standard_error(paired),
    )


__all__ = ["EvaluationResult", "episode_seeds", "evaluate", "standard_error"]
