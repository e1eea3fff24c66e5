r"""Linear-quadratic-Gaussian control: a Kalman filter feeding an LQR gain (separation).

Athans, "The role and use of the stochastic linear-quadratic-Gaussian problem in control
system design", IEEE TAC 16 (1971); Bertsekas, vol. I, §5.2. At each step, with the predicted
estimate ``x̂_{t|t−1}`` (``x̄_0`` at the start):

.. math::

    \hat x_{t|t} = \hat x_{t|t-1} + L_t (y_t - C \hat x_{t|t-1}),\qquad
    u_t = -K_t \hat x_{t|t},\qquad
    \hat x_{t+1|t} = A \hat x_{t|t} + B u_t.

``horizon=None``: steady-state ``L`` and ``K``. ``horizon=T``: the time-varying filter from the
prior ``N(x̄_0, Σ_0)`` and the ``T``-step gains, optimal for a ``T``-step episode of the model;
steady-state gains past ``T``. The agent's ``state`` is ``(x̂_{t+1|t}, t)`` per episode.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mbdl_control.agents.base import (
    BaseAgent,
    check_observation_size,
    positive_int,
    time_index,
)
from mbdl_control.models import LinearGaussianModel
from mbdl_control.models.riccati import (
    kalman_finite_horizon,
    kalman_steady_state,
    lqr_finite_horizon,
    lqr_steady_state,
)


class LQG(BaseAgent):
    """Output feedback ``u_t = −K_t x̂_{t|t}`` with a Kalman filter on the given model."""

    family = "model-based"

    def __init__(
        self,
        model: LinearGaussianModel,
        horizon: int | None = None,
        knowledge: str = "nominal",
    ) -> None:
        super().__init__(knowledge)
        if model.C is None:
            raise ValueError("LQG needs a measurement model: the model's C and V are None")
        self.model = model
        self.horizon = None if horizon is None else positive_int("horizon", horizon)
        control_gain, _ = lqr_steady_state(model)
        filter_gain, _ = kalman_steady_state(model)
        self._control_gains = control_gain[None]
        self._filter_gains = filter_gain[None]
        if self.horizon is not None:
            control = lqr_finite_horizon(model, self.horizon).gains
            estimate = kalman_finite_horizon(model, self.horizon).gains
            self._control_gains = np.concatenate([control, self._control_gains])
            self._filter_gains = np.concatenate([estimate, self._filter_gains])

    @property
    def config(self) -> dict[str, Any]:
        return {"model": self.model, "horizon": self.horizon, "knowledge": self.knowledge}

    def _act(
        self, observations: np.ndarray, state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        model = self.model
        check_observation_size(self, observations, model.p)
        batch = len(observations)
        if state is None:
            prior = np.tile(model.x0_mean, (batch, 1))
            steps = time_index(None, episode_start)
        else:
            prior, steps = state[0].copy(), time_index(state[1], episode_start)
            prior[episode_start] = model.x0_mean
        index = np.minimum(steps, len(self._control_gains) - 1)
        innovation = observations - prior @ model.C.T
        posterior = prior + np.einsum("bij,bj->bi", self._filter_gains[index], innovation)
        actions = -np.einsum("bij,bj->bi", self._control_gains[index], posterior)
        predicted = posterior @ model.A.T + actions @ model.B.T
        return actions, (predicted, steps + 1)
