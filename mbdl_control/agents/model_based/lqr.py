"""Linear-quadratic regulators: ``u = −K x`` from the Riccati equation of the given model.

Kalman, "Contributions to the theory of optimal control" (1960); Bertsekas, *Dynamic
Programming and Optimal Control*, vol. I, §4.1. With ``horizon=None`` the gain is the
steady-state one (scipy ``solve_discrete_are``); with ``horizon=T`` it is the time-varying
gain ``K_t`` of the ``T``-step problem with no terminal cost, the exact optimum of a ``T``-step
episode of the true model, and the episode's step counter is the agent's ``state``. Past ``T``
steps the steady-state gain is used.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mbdl_control.blocks.riccati import lqr_finite_horizon, lqr_steady_state
from mbdl_control.core import BaseAgent, positive_int, time_index, vector_space
from mbdl_control.models import LinearGaussianModel, require_linear_gaussian, saturate


class LQR(BaseAgent):
    """Linear state feedback ``u_t = −K_t x_t`` optimal for the model it is given."""

    family = "model-based"

    def __init__(
        self,
        model: LinearGaussianModel,
        horizon: int | None = None,
        knowledge: str = "nominal",
    ) -> None:
        super().__init__(knowledge)
        self.model = model = require_linear_gaussian(type(self).__name__, model)
        self.observation_space = vector_space(model.n)
        self.horizon = None if horizon is None else positive_int("horizon", horizon)
        self.gain, self.P = lqr_steady_state(model)
        self._gains = None
        if self.horizon is not None:
            schedule = lqr_finite_horizon(model, self.horizon).gains
            self._gains = np.concatenate([schedule, self.gain[None]])

    @property
    def config(self) -> dict[str, Any]:
        return {"model": self.model, "horizon": self.horizon, "knowledge": self.knowledge}

    def _act(
        self, observations: np.ndarray, state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        if self._gains is None:
            return -observations @ self.gain.T, None
        steps = time_index(state, episode_start)
        gains = self._gains[np.minimum(steps, self.horizon)]
        return -np.einsum("bij,bj->bi", gains, observations), steps + 1


class SaturatedLQR(LQR):
    """LQR clipped to the input bounds of its model: ``u = clip(−K x, −u_max, u_max)``.

    The simplest answer to input constraints, and the usual baseline for them: optimal while
    the bounds are inactive, with no foresight when they are active.
    """

    def _act(
        self, observations: np.ndarray, state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        actions, state = super()._act(observations, state, episode_start)
        return saturate(self.model, actions), state
