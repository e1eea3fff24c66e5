r"""The LQG control law: a Kalman filter feeding LQR gains (separation), on a batch of episodes.

Athans, "The role and use of the stochastic linear-quadratic-Gaussian problem in control
system design", IEEE TAC 16 (1971); Bertsekas, vol. I, §5.2. At each step, with the predicted
estimate ``x̂_{t|t−1}`` (``x̄_0`` at the start):

.. math::

    \hat x_{t|t} = \hat x_{t|t-1} + L_t (y_t - C \hat x_{t|t-1}),\qquad
    u_t = -K_t \hat x_{t|t},\qquad
    \hat x_{t+1|t} = A \hat x_{t|t} + B u_t,

the update and predict of :mod:`~mbdl_control.blocks.kalman`. ``horizon=None``: steady-state
``L`` and ``K``. ``horizon=T``: the time-varying filter from the prior ``N(x̄_0, Σ_0)`` and the
``T``-step gains, optimal for a ``T``-step episode of the model; steady-state gains past ``T``.
The law's memory is ``(x̂_{t+1|t}, t)`` per episode.

Any other estimator (a :class:`~mbdl_control.blocks.estimation.RecursiveEstimator`: an
extended or particle filter, a learned-noise filter, KalmanNet) may take the Kalman filter's
place: ``x̂_{t|t}`` is then its update, ``u_t = −K_t x̂_{t|t}``, and its advance takes ``u_t``
(the separation structure kept, the estimator swapped); the memory is then
``(estimator memory, t)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mbdl_control.blocks import kalman
from mbdl_control.blocks.estimation import RecursiveEstimator
from mbdl_control.blocks.riccati import (
    kalman_finite_horizon,
    kalman_steady_state,
    lqr_finite_horizon,
    lqr_steady_state,
)
from mbdl_control.core import positive_int, time_index
from mbdl_control.models import LinearGaussianModel, require_linear_gaussian


class OutputFeedback:
    """``u_t = −K_t x̂_{t|t}`` with the Kalman filter of ``model`` (module docstring)."""

    def __init__(
        self,
        model: LinearGaussianModel,
        horizon: int | None = None,
        estimator: RecursiveEstimator | None = None,
    ) -> None:
        require_linear_gaussian("LQG", model)
        if model.C is None:
            raise ValueError("LQG needs a measurement model: the model's C and V are None")
        self.model, self.estimator = model, estimator
        self.horizon = None if horizon is None else positive_int("horizon", horizon)
        control_gain, _ = lqr_steady_state(model)
        self._control_gains = control_gain[None]
        if self.horizon is not None:
            control = lqr_finite_horizon(model, self.horizon).gains
            self._control_gains = np.concatenate([control, self._control_gains])
        if estimator is None:  # the model's own Kalman filter
            filter_gain, _ = kalman_steady_state(model)
            self._filter_gains = filter_gain[None]
            if self.horizon is not None:
                estimate = kalman_finite_horizon(model, self.horizon).gains
                self._filter_gains = np.concatenate([estimate, self._filter_gains])

    def act(
        self, observations: np.ndarray, state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        """Inputs ``(batch, m)`` for measurements ``(batch, p)``, and the next memory."""
        if self.estimator is not None:
            return self._act_with_estimator(observations, state, episode_start)
        model = self.model
        if state is None:
            prior = np.tile(model.x0_mean, (len(observations), 1))
            steps = time_index(None, episode_start)
        else:
            prior, steps = state[0].copy(), time_index(state[1], episode_start)
            prior[episode_start] = model.x0_mean
        index = np.minimum(steps, len(self._control_gains) - 1)
        posterior = kalman.update(prior, observations, model.C, self._filter_gains[index])
        actions = -(self._control_gains[index] @ posterior[..., None])[..., 0]
        predicted = kalman.predict(posterior, model.A, model.B, actions)
        return actions, (predicted, steps + 1)

    def _act_with_estimator(
        self, observations: np.ndarray, state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        memory, steps = (None, None) if state is None else state
        steps = time_index(steps, episode_start)
        estimator = self.estimator
        posterior, memory = estimator.update(estimator.restart(memory, episode_start), observations)
        index = np.minimum(steps, len(self._control_gains) - 1)
        actions = -(self._control_gains[index] @ posterior[..., None])[..., 0]
        return actions, (estimator.advance(memory, actions), steps + 1)
