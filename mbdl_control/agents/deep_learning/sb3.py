"""stable-baselines3 algorithms as agents of this library (the deep-learning family)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from mbdl_control.core import Budget, FitReport, SpectrumInfo


class SB3Agent:
    """A stable-baselines3 algorithm in the harness: ``fit`` learns for the budget's steps
    (rounded down to whole rollouts, so the counted budget is never exceeded).

    Given the env's ``action_space`` (a finite ``Box``), the algorithm is taken to act in
    ``[-1, 1]`` (trained behind Gymnasium's ``RescaleAction``) and its actions are mapped
    affinely back to the box."""

    #: SB3's ``predict`` takes a batch of observations (one per env of a vector env)
    acts_on_batches = True

    def __init__(self, model: Any, action_space: gym.spaces.Box | None = None) -> None:
        self.model = model
        self.action_space = action_space

    @property
    def spectrum(self) -> SpectrumInfo:
        count = sum(p.numel() for p in self.model.policy.parameters() if p.requires_grad)
        return SpectrumInfo("deep-learning", "none", int(count))

    def fit(self, env: gym.Env, budget: Budget | None = None, seed: int | None = None) -> FitReport:
        steps = 0 if budget is None else budget.steps
        rollout = int(getattr(self.model, "n_steps", 1)) * self.model.n_envs
        steps -= steps % rollout
        if steps > 0:
            self.model.learn(total_timesteps=steps)
        return FitReport(steps=steps)

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        actions, state = self.model.predict(observation, state, episode_start, deterministic)
        if self.action_space is None:
            return actions, state
        low, high = self.action_space.low, self.action_space.high
        return low + (np.clip(actions, -1.0, 1.0) + 1.0) * (high - low) / 2, state
