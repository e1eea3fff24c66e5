"""The best known true-model policy of a box-constrained LQR, chosen by a paired evaluation.

No optimal policy is known for the box-constrained stochastic LQR, and no one candidate is
best on every system: on the published system the convex policy tuned on the truth beats the
one from the SDP bound's certificate, and on some random systems MPC on the truth beats both.
The oracle is therefore chosen per system and episode length, by this rule:

1. The candidates, all built on the true model: the convex policy with ``θ = P^½`` from the
   stationary SDP bound; MPC with horizon :data:`MPC_HORIZON`; the convex policy tuned on the
   truth (LearnedCOCP with the published recipe, :data:`TUNING_ITERATIONS` iterations in the
   model, from ``θ = P^½`` of the Riccati solution, seed 0).
2. Each runs the same :data:`SELECTION_EPISODES` episodes of the episode length (common random
   numbers from ``default_rng(SELECTION_SEED)``, a stream no study's evaluation draws: studies
   seed episodes from ``seed + 1000`` upward through Gymnasium's seeding).
3. The lowest mean cost per step wins.

The choice is made once per process for each model and length (:func:`best_known_policy`),
and :func:`selection_costs` reports every candidate's mean and its paired gap to the winner.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mbdl_control.blocks.bounds import model_key, stationary_bound
from mbdl_control.envs.control.linear_dynamics import LinearGaussianDynamics
from mbdl_control.models import LinearGaussianModel, symmetric_sqrt

#: the long horizon of the MPC candidate
MPC_HORIZON = 30
#: the published tuning recipe's iterations (Agrawal et al., L4DC 2020: 100, batch 6)
TUNING_ITERATIONS = 100
#: the selection episodes and the seed of their noise
SELECTION_EPISODES = 300
SELECTION_SEED = 2_718_281

_CHOSEN: dict[tuple, tuple[str, Any, dict[str, np.ndarray]]] = {}


def candidates(model: LinearGaussianModel, horizon: int) -> dict[str, Callable[[], Any]]:
    """The true-model policies the oracle is chosen among, built on demand."""
    from mbdl_control.agents.learned_optimizer.cocp import LearnedCOCP  # lazily: gym.make
    from mbdl_control.agents.model_based.cocp import COCP  # loads no agent
    from mbdl_control.agents.model_based.mpc import MPC

    def tuned() -> Any:
        agent = LearnedCOCP(model, iterations=TUNING_ITERATIONS, horizon=horizon, knowledge="true")
        agent.fit(None, seed=0)
        return agent

    certificate = symmetric_sqrt(stationary_bound(model).P)
    return {
        "COCP with the bound's θ": lambda: COCP(model, theta=certificate, knowledge="true"),
        f"MPC H={MPC_HORIZON}": lambda: MPC(model, horizon=MPC_HORIZON, knowledge="true"),
        "COCP tuned on the truth": tuned,
    }


def episode_costs(
    agent: Any, model: LinearGaussianModel, horizon: int, episodes: int, seed: int
) -> np.ndarray:
    """Cost per step of each of ``episodes`` episodes under ``agent`` (state feedback), on the
    noise of ``default_rng(seed)``: the same for every agent."""
    dynamics = LinearGaussianDynamics.of(model)
    normals = np.random.default_rng(seed).standard_normal((horizon + 1, episodes, dynamics.draws))
    x, _ = dynamics.reset(normals[0])
    total = np.zeros(episodes)
    for t in range(horizon):
        _, cost, _, x, _ = dynamics.step(x, agent.predict(x)[0], normals[t + 1])
        total += cost
    return total / horizon


def best_known_policy(model: LinearGaussianModel, horizon: int) -> tuple[str, Any]:
    """The winner of the rule in the module docstring, and its label (once per process)."""
    key = (model_key(model), int(horizon))
    if key not in _CHOSEN:
        built = {label: build() for label, build in candidates(model, horizon).items()}
        costs = {
            label: episode_costs(agent, model, horizon, SELECTION_EPISODES, SELECTION_SEED)
            for label, agent in built.items()
        }
        label = min(costs, key=lambda name: costs[name].mean())
        _CHOSEN[key] = (label, built[label], costs)
    label, agent, _ = _CHOSEN[key]
    return label, agent


def selection_costs(model: LinearGaussianModel, horizon: int) -> dict[str, tuple[float, float]]:
    """Each candidate's mean cost per step on the selection episodes and its paired standard
    error of the gap to the winner (0 for the winner)."""
    label, _ = best_known_policy(model, horizon)
    costs = _CHOSEN[(model_key(model), int(horizon))][2]
    winner = costs[label]
    return {
        name: (float(values.mean()), float((values - winner).std(ddof=1) / np.sqrt(len(values))))
        for name, values in costs.items()
    }
