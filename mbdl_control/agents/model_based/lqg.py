"""Linear-quadratic-Gaussian control on the given model: the LQG law of
:mod:`mbdl_control.blocks.lqg` (a Kalman filter feeding LQR gains), nothing learned."""

from __future__ import annotations

from typing import Any

import numpy as np

from mbdl_control.blocks.lqg import OutputFeedback
from mbdl_control.core import BaseAgent, vector_space
from mbdl_control.models import LinearGaussianModel


class LQG(BaseAgent):
    """Output feedback ``u_t = −K_t x̂_{t|t}`` with a Kalman filter on the given model.

    ``horizon=None``: steady-state gains; ``horizon=T``: the time-varying filter and gains of a
    ``T``-step episode (the exact optimum on the true model), steady state past ``T``.
    """

    family = "model-based"

    def __init__(
        self,
        model: LinearGaussianModel,
        horizon: int | None = None,
        knowledge: str = "nominal",
    ) -> None:
        super().__init__(knowledge)
        self.model = model
        self.law = OutputFeedback(model, horizon)
        self.horizon = self.law.horizon
        self.observation_space = vector_space(model.p)

    @property
    def config(self) -> dict[str, Any]:
        return {"model": self.model, "horizon": self.horizon, "knowledge": self.knowledge}

    def _act(
        self, observations: np.ndarray, state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        return self.law.act(observations, state, episode_start)
