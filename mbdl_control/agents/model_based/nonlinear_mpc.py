"""Nonlinear model predictive control by sequential convex programming, as a model-based agent.

At each state, :class:`~mbdl_control.blocks.nonlinear_mpc.NonlinearMPCPolicy` improves the
previous step's plan (shifted by one stage) by ``iterations`` SCP steps on the given nonlinear
model — rollout, linearization along the plan, a condensed QP solved by DAQP — and applies
its first input. The plans of the episodes in a batch are the agent's ``state`` (as a
recurrent policy's memory in stable-baselines3); an episode start begins from an empty plan.
A failed QP applies the saturated LQR action of the model's linearization and is counted in
``diagnostics()``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mbdl_control.blocks.nonlinear_mpc import NonlinearControlModel, NonlinearMPCPolicy
from mbdl_control.core import BaseAgent, vector_space


class NonlinearMPC(BaseAgent):
    """Receding-horizon control of a nonlinear model (the cart-pole's), warm-started SCP."""

    family = "model-based"

    def __init__(
        self,
        model: NonlinearControlModel,
        horizon: int = 20,
        iterations: int = 1,
        trust_region: float | None = None,
        solver_options: dict[str, Any] | None = None,
        knowledge: str = "nominal",
    ) -> None:
        super().__init__(knowledge)
        if not callable(getattr(model, "jacobians", None)):
            raise TypeError(
                f"NonlinearMPC is built on a nonlinear control model (with step and "
                f"jacobians, such as mbdl/CartPole-v0's), got {type(model).__name__}"
            )
        self.model = model
        self.policy = NonlinearMPCPolicy(model, horizon, iterations, trust_region, solver_options)
        self.observation_space = vector_space(model.n)

    @property
    def config(self) -> dict[str, Any]:
        policy = self.policy
        return {
            "model": self.model,
            "horizon": policy.horizon,
            "iterations": policy.iterations,
            "trust_region": policy.trust_region,
            "solver_options": policy.solver_options,
            "knowledge": self.knowledge,
        }

    def diagnostics(self) -> dict[str, float]:
        """Solves, failed QPs (each answered by the saturated LQR action) and their rate."""
        return self.policy.diagnostics()

    def _act(
        self, observations: np.ndarray, state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        return self.policy.act(observations, state, episode_start)
