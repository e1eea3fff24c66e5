"""Model-based agents that act by an optimization policy of their model (MPC, COCP).

The policy (:class:`~mbdl_control.blocks.optimization_policy.OptimizationPolicy`) holds the
math and the safe fallback; the agent adds the bookkeeping: knowledge, observation space,
diagnostics, config.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mbdl_control.blocks.optimization_policy import OptimizationPolicy
from mbdl_control.core import BaseAgent, vector_space


class PolicyAgent(BaseAgent):
    """Acts with ``policy`` on the state; nothing learned."""

    family = "model-based"

    def __init__(self, policy: OptimizationPolicy, knowledge: str) -> None:
        super().__init__(knowledge)
        self.policy = policy
        self.model = policy.model
        self.observation_space = vector_space(self.model.n)

    def diagnostics(self) -> dict[str, float]:
        """Solves, failed solves (each answered by the saturated LQR action) and their rate."""
        return self.policy.diagnostics()

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        """:meth:`BaseAgent.predict`; one float64 state of the model's shape goes straight to
        the policy's :meth:`~mbdl_control.blocks.optimization_policy.OptimizationPolicy.act_one`
        (the agent keeps no memory, so ``state`` and ``episode_start`` change nothing)."""
        if (
            type(observation) is np.ndarray
            and observation.dtype == np.float64
            and observation.shape == self.observation_space.shape
        ):
            return self.policy.act_one(observation), None
        return super().predict(observation, state, episode_start, deterministic)

    def _act(
        self, observations: np.ndarray, state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        return self.policy.act(observations), None
