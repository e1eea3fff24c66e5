"""Counting the data a learning agent draws, so that data efficiency is measured, not claimed."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from mbdl_control.core import Budget
from mbdl_control.envs.base import PartiallyKnownEnv


class BudgetExceededError(RuntimeError):
    """An agent stepped the env more often than its budget allows."""


def label_keys(env: gym.Env) -> tuple[str, ...]:
    """The ``info`` keys that supervise a learner on ``env`` (none for an env outside the
    suite)."""
    base = env.unwrapped
    return tuple(base.label_keys) if isinstance(base, PartiallyKnownEnv) else ()


class CountingEnv(gym.Wrapper):
    """Holds a learner to its budget: counts every step and every labelled sample.

    A step beyond ``budget.steps`` is refused (:class:`BudgetExceededError`). A step whose
    ``info`` carries one of the env's ``label_keys`` hands the learner labelled samples (one,
    or the env's ``label_count``: a block's symbols): while ``budget.samples`` has room for
    them, the labels pass and are counted; past it, they are taken out
    of ``info`` (and out of ``reset``'s, whose labels, an initial state, come free with an
    episode), so a learner may go on stepping unsupervised but never sees a label beyond its
    budget.
    """

    def __init__(self, env: gym.Env, budget: Budget) -> None:
        super().__init__(env)
        self.budget = budget
        self.labels = label_keys(env)
        self.steps_used = 0
        self.samples_used = 0

    def _withheld(self, info: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in info.items() if key not in self.labels}

    def reset(self, **kwargs: Any):
        observation, info = super().reset(**kwargs)
        if self.samples_used >= self.budget.samples:
            info = self._withheld(info)
        return observation, info

    def step(self, action: Any):
        if self.steps_used >= self.budget.steps:
            raise BudgetExceededError(
                f"the agent asked for step {self.steps_used + 1} with a budget of "
                f"{self.budget.steps} steps"
            )
        self.steps_used += 1
        observation, reward, terminated, truncated, info = super().step(action)
        if any(key in info for key in self.labels):
            count = self.env.unwrapped.label_count(info)
            if self.samples_used + count <= self.budget.samples:
                self.samples_used += count
            else:
                info = self._withheld(info)
        return observation, reward, terminated, truncated, info
