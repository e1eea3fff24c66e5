"""Evaluate an agent on an env with common random numbers, against the oracle and the bound.

Episode ``i`` is reset with the ``i``-th seed of ``SeedSequence(seed)``, and the envs draw the
same noise whatever the actions, so every agent evaluated with the same ``seed`` meets the same
initial states and disturbances. The difference of two agents' episode costs is then a paired
sample: its standard error is far smaller than that of either mean, which is what lets a few
episodes rank agents whose costs differ by little.

Where the env has a native batched version (its id's ``vector_entry_point``) and the agent acts
on batches (``acts_on_batches``: every :class:`~mbdl_control.core.agent.BaseAgent`, SB3
models), up to :data:`MAX_BATCH` episodes run at once as the rows of one batched env, env ``i``
seeded with episode ``i``'s seed: the same episodes, so the same results (to floating-point
rounding of the batched matrix products), many times faster.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import gymnasium as gym
import numpy as np

from mbdl_control.core import Agent, episode_length, positive_int
from mbdl_control.envs.base import PartiallyKnownEnv

#: the most episodes evaluated at once in one batched env
MAX_BATCH = 1024
#: wrappers ``gym.make`` adds that change nothing the batched env would do differently
_NEUTRAL_WRAPPERS = (
    gym.wrappers.TimeLimit,
    gym.wrappers.OrderEnforcing,
    gym.wrappers.PassiveEnvChecker,
)


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


def batched_env(env: gym.Env, num_envs: int) -> gym.vector.VectorEnv | None:
    """``num_envs`` copies of ``env`` as its id's native batched env, or ``None`` where that
    would not be the same env: no ``vector_entry_point``, or wrappers beyond ``gym.make``'s."""
    spec = env.spec
    if spec is None or getattr(gym.registry.get(spec.id), "vector_entry_point", None) is None:
        return None
    layer = env
    while isinstance(layer, gym.Wrapper):
        if type(layer) not in _NEUTRAL_WRAPPERS:
            return None
        layer = layer.env
    kwargs = {key: value for key, value in spec.kwargs.items() if key != "render_mode"}
    vector = gym.make_vec(
        spec.id,
        num_envs,
        vectorization_mode="vector_entry_point",
        max_episode_steps=episode_length(env),
        **kwargs,
    )
    base = env.unwrapped
    same = all(
        getattr(vector.unwrapped, name) == getattr(base, name)
        for name in ("true_model", "nominal_model")
    )
    return vector if same else None


def _run_batch(agent: Agent, envs: gym.vector.VectorEnv, seeds, metric_keys: tuple[str, ...]):
    """Episode costs and metrics (per-step averages) of one episode per row of ``envs``."""
    observations, _ = envs.reset(seed=list(seeds))
    rows = len(seeds)
    totals, steps = np.zeros(rows), np.zeros(rows)
    metric_totals = {key: np.zeros(rows) for key in metric_keys}
    running, state, start = np.ones(rows, dtype=bool), None, np.ones(rows, dtype=bool)
    while running.any():
        actions, state = agent.predict(
            observations, state=state, episode_start=start, deterministic=True
        )
        observations, _, terminated, truncated, info = envs.step(actions)
        totals[running] += info["cost"][running]
        for key in metric_keys:
            metric_totals[key][running] += info[key][running]
        steps[running] += 1
        start = np.zeros(rows, dtype=bool)
        running &= ~(terminated | truncated)
    return totals / steps, {key: value / steps for key, value in metric_totals.items()}


def _run_episodes(agent: Agent, env: gym.Env, seeds, metric_keys, batched: bool | None):
    """Episode costs ``(n,)`` and per-episode metrics ``{key: (n,)}``, batched if possible."""
    can_batch = bool(getattr(agent, "acts_on_batches", False))
    envs = None
    if batched is not False and can_batch:
        envs = batched_env(env, min(len(seeds), MAX_BATCH))
    if batched and envs is None:
        why = (
            f"{type(agent).__name__} does not act on batches (acts_on_batches is false)"
            if not can_batch
            else "the env has no batched version (vector_entry_point) or has extra wrappers"
        )
        raise ValueError(f"batched=True but {why}; batched=None falls back to episode by episode")
    if envs is None:
        runs = [_run_episode(agent, env, episode_seed, metric_keys) for episode_seed in seeds]
        costs = np.array([cost for cost, _ in runs])
        return costs, {key: np.array([m[key] for _, m in runs]) for key in metric_keys}
    parts = []
    for first in range(0, len(seeds), MAX_BATCH):
        chunk = seeds[first : first + MAX_BATCH]
        if len(chunk) != envs.num_envs:
            envs = batched_env(env, len(chunk))
        parts.append(_run_batch(agent, envs, chunk, metric_keys))
    costs = np.concatenate([cost for cost, _ in parts])
    return costs, {key: np.concatenate([m[key] for _, m in parts]) for key in metric_keys}


def oracle_env(env: gym.Env) -> gym.Env:
    """The env the oracle of ``env`` is evaluated on: ``env`` itself, or, where the mismatch
    reaches the observations (``mismatch_observed``) and is not 0, its twin made with
    ``mismatch = 0``: the same draws, observed as they are (the oracle decides on what it
    observes, and must see the truth). A ``ValueError`` where that twin cannot be made (an
    env built without ``gym.make``: no ``spec``)."""
    base = env.unwrapped
    if not getattr(base, "mismatch_observed", False) or base.mismatch == 0:
        return env
    if env.spec is None:
        raise ValueError(
            f"{type(base).__name__} shows its mismatch in the observations, so its oracle is "
            "evaluated on the env made with mismatch 0; make the env with gym.make(id, ...) "
            "so that evaluate can make that twin, or pass oracle_result"
        )
    kwargs = {key: value for key, value in env.spec.kwargs.items() if key != "render_mode"}
    return gym.make(
        env.spec.id, **{**kwargs, "mismatch": 0.0}, max_episode_steps=episode_length(env)
    )


def evaluate(
    agent: Agent,
    env: gym.Env | str,
    n_episodes: int = 100,
    seed: int = 0,
    *,
    compare_to_oracle: bool = True,
    oracle_result: EvaluationResult | None = None,
    batched: bool | None = None,
) -> EvaluationResult:
    """Mean cost per step of ``agent`` over ``n_episodes`` seeded episodes of ``env``.

    ``env`` is an env (its time limit ends the episodes) or a registered id. With
    ``compare_to_oracle`` the env's oracle is evaluated on the same seeds (or ``oracle_result``
    of an earlier call with the same ``seed`` and ``n_episodes`` is reused) and the paired gap
    reported; where the env shows its mismatch in the observations, on the env at mismatch 0
    (:func:`oracle_env`). ``batched``: ``None`` runs a batch where possible (module
    docstring), ``True`` insists (``ValueError`` where it cannot), ``False`` runs episode by
    episode.
    """
    n_episodes = positive_int("n_episodes", n_episodes)
    if not callable(getattr(agent, "predict", None)):
        raise TypeError(f"agent must have a predict() method like SB3's, got {type(agent)}")
    if isinstance(env, str):
        env = gym.make(env)
    if not isinstance(env, gym.Env):  # a Gymnasium VectorEnv, an SB3 VecEnv, ...
        raise TypeError(
            "evaluate takes one env (or an id) and runs its own batch of episodes where it "
            f"can; got {type(env).__name__}, not a gymnasium.Env: pass gym.make(id, ...)"
        )
    base = env.unwrapped
    suite = isinstance(base, PartiallyKnownEnv)  # the contract: oracle, bound, metrics
    seeds = episode_seeds(seed, n_episodes)
    metric_keys = tuple(base.task_metrics) if suite else ()
    costs, episode_metrics = _run_episodes(agent, env, seeds, metric_keys, batched)
    metric_sums = {key: float(np.mean(values)) for key, values in episode_metrics.items()}
    diagnostics = getattr(agent, "diagnostics", None)
    metrics = {**metric_sums, **(diagnostics() if callable(diagnostics) else {})}
    mean_cost = float(np.mean(costs))
    horizon = episode_length(env)
    bound = base.performance_bound(horizon) if suite else None
    result = EvaluationResult(
        mean_cost=mean_cost,
        std_error=standard_error(costs),
        episode_costs=costs,
        episode_seeds=seeds,
        metrics=metrics,
        bound=bound,
        gap_to_bound=None if bound is None else mean_cost - bound,
    )
    if not compare_to_oracle or not suite:
        return result
    if oracle_result is None:
        oracle = base.oracle(horizon)
        oracle_result = evaluate(
            oracle, oracle_env(env), n_episodes, seed, compare_to_oracle=False, batched=batched
        )
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


__all__ = [
    "MAX_BATCH",
    "EvaluationResult",
    "batched_env",
    "episode_seeds",
    "evaluate",
    "oracle_env",
    "standard_error",
]
