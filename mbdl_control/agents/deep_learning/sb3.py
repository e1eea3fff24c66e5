"""stable-baselines3 algorithms as agents of this library (the deep-learning family)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from mbdl_control.core import Budget, FitReport, SpectrumInfo


class SB3Agent:
    """A stable-baselines3 algorithm in the harness: ``fit`` learns for the budget's steps
    (rounded down to whole rollouts, so the counted budget is never exceeded).

    Given the env's ``action_space`` (a finite ``Box``), the algorithm is taken to act in
    ``[-1, 1]`` (trained behind Gymnasium's ``RescaleAction``) and its actions are mapped
    affinely back to the box. ``save`` and :meth:`load` go through SB3's own zip files; the box
    travels in them as the model's ``env_action_space``."""

    #: SB3's ``predict`` takes a batch of observations (one per env of a vector env)
    acts_on_batches = True

    def __init__(self, model: Any, action_space: gym.spaces.Box | None = None) -> None:
        self.model = model
        if action_space is not None:
            model.env_action_space = action_space  # saved with the model by SB3
        self.action_space = getattr(model, "env_action_space", None)

    def save(self, path: str | Path) -> None:
        """SB3's ``save``: a zip of the algorithm, its weights and the env's action box."""
        self.model.save(path)

    @classmethod
    def load(cls, path: str | Path, algorithm: str) -> SB3Agent:
        """An agent from SB3's zip at ``path``, saved by the SB3 ``algorithm`` named (``"PPO"``,
        ``"SAC"``, ``"TD3"``, ...); SB3 unpickles parts of it, so load only trusted files."""
        import stable_baselines3

        loader = getattr(stable_baselines3, algorithm, None)
        if not isinstance(loader, type):
            raise ValueError(
                f"algorithm must name a stable-baselines3 algorithm, got {algorithm!r}"
            )
        return cls(loader.load(path, device="cpu"))

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
