"""stable-baselines3 algorithms as agents of this library (the deep-learning family)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from mbdl_control.core import Budget, FitReport, SpectrumInfo


class SB3Agent:
    """A stable-baselines3 algorithm in the harness: ``fit`` learns for the budget's steps
    (rounded down to whole rollouts, so the counted budget is never exceeded)."""

    #: SB3's ``predict`` takes a batch of observations (one per env of a vector env)
    acts_on_batches = True

    def __init__(self, model: Any) -> None:
        self.model = model

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
        return self.model.predict(observation, state, episode_start, deterministic)
