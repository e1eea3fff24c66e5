"""Labelled trajectories for the estimators that learn: measurements, inputs and true states.

An episode of ``T`` steps gives ``T + 1`` measurements ``y_0 … y_T`` (``reset``'s and one per
step), the ``T`` inputs applied between them (where the env has inputs) and the ``T + 1`` true
states behind the measurements, read from ``info["state"]`` (the label key of the estimation
and LQG envs: each step carrying it is one labelled sample of the budget).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

#: ``policy(y, memory, episode_start) -> (action, memory)`` on a batch of one
Policy = Callable[[np.ndarray, Any, np.ndarray], tuple[np.ndarray, Any]]


@dataclass(frozen=True)
class Trajectories:
    """``N`` labelled episodes: measurements ``(N, T+1, p)``, applied inputs ``(N, T, m)``
    (``None`` for an env without inputs: its action is an estimate) and true states
    ``(N, T+1, n)``."""

    observations: np.ndarray
    inputs: np.ndarray | None
    states: np.ndarray

    @property
    def episodes(self) -> int:
        return int(self.states.shape[0])

    @property
    def steps(self) -> int:
        """Env steps taken to collect them: ``N T``."""
        return int(self.states.shape[0] * (self.states.shape[1] - 1))

    @property
    def samples(self) -> int:
        """Labelled samples counted against a budget: ``N T`` (``reset``'s initial state
        comes free with an episode, as :class:`~mbdl_control.evaluation.CountingEnv` counts)."""
        return self.steps

    def take(self, rows: slice | np.ndarray) -> Trajectories:
        """The episodes ``rows`` (a split into training and validation)."""
        inputs = None if self.inputs is None else self.inputs[rows]
        return Trajectories(self.observations[rows], inputs, self.states[rows])


def collect_trajectories(
    env: Any, episodes: int, seed: int, policy: Policy | None = None
) -> Trajectories:
    """Run ``episodes`` whole episodes of ``env`` (seeds ``seed·100003 + k``), keeping the
    measurements, the inputs the env applied (``info["applied_action"]``, for envs with inputs)
    and the true states. ``policy`` chooses the actions (the inputs of a control env);
    without one the action is zero (an estimation env, whose action, an estimate, moves
    nothing)."""
    observations, inputs, states = [], [], []
    zero = np.zeros(env.action_space.shape)
    for episode in range(episodes):
        y, info = env.reset(seed=seed * 100_003 + episode)
        ys, us, xs = [y], [], [info["state"]]
        memory, start, done = None, np.ones(1, dtype=bool), False
        while not done:
            action = zero
            if policy is not None:
                batch, memory = policy(y[None], memory, start)
                action = batch[0]
            y, _, terminated, truncated, info = env.step(action)
            ys.append(y)
            if "applied_action" in info:
                us.append(info["applied_action"])
            xs.append(info["state"])
            start, done = np.zeros(1, dtype=bool), terminated or truncated
        observations.append(ys)
        inputs.append(us)
        states.append(xs)
    applied = np.array(inputs) if inputs and inputs[0] else None
    return Trajectories(np.array(observations), applied, np.array(states))


def episodes_within(budget_steps: int, budget_samples: int, length: int) -> int:
    """How many whole labelled episodes of ``length`` steps a budget pays for: each costs
    ``length`` env steps and ``length`` labelled samples."""
    return min(budget_steps, budget_samples) // length
