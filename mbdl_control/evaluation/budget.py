"""Counting the data a learning agent draws, so that data efficiency is measured, not claimed."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from mbdl_control.agents.base import Budget


class BudgetExceededError(RuntimeError):
    """An agent stepped the env more often than its budget allows."""


class CountingEnv(gym.Wrapper):
    """Counts every ``step`` (and every labelled sample: a step whose ``info`` carries the
    true ``state``) and refuses the step that would exceed ``budget.steps``."""

    def __init__(self, env: gym.Env, budget: Budget) -> None:
        super().__init__(env)
        self.budget = budget
        self.steps_used = 0
        self.samples_used = 0

    def step(self, action: Any):
        if self.steps_used >= self.budget.steps:
            raise BudgetExceededError(
                f"the agent asked for step {self.steps_used + 1} with a budget of "
                f"{self.budget.steps} steps"
            )
        self.steps_used += 1
        result = super().step(action)
        if "state" in result[4]:
            self.samples_used += 1
        return result
