r"""Riccati solutions of the linear-quadratic(-Gaussian) problem on a :class:`LinearGaussianModel`.

Steady state (infinite horizon), with scipy's ``solve_discrete_are``:

.. math::

    P = Q + A^\top P A - A^\top P B (R + B^\top P B)^{-1} B^\top P A,\qquad
    u = -K x,\quad K = (R + B^\top P B)^{-1} B^\top P A.

Finite horizon ``T`` with stage costs at ``t = 0 … T−1`` and no terminal cost (``P_T = 0``),
the backward recursion above gives time-varying gains ``K_t`` and the exact expected cost of the
optimal policy,

.. math::

    J^\star_{\text{LQ}} = \bar x_0^\top P_0 \bar x_0 + \operatorname{tr}(P_0 \Sigma_0)
        + \sum_{t=0}^{T-1} \operatorname{tr}(P_{t+1} W).

With noisy measurements ``y = Cx + v``, separation holds: the Kalman filter's estimate
``x̂_{t|t}`` fed to the same gains is optimal, and the cost grows by the estimation error that
the gains see (Bertsekas, *Dynamic Programming and Optimal Control*, vol. I, §5.2):

.. math::

    J^\star_{\text{LQG}} = J^\star_{\text{LQ}} + \sum_{t=0}^{T-1}
        \operatorname{tr}\big(K_t^\top (R + B^\top P_{t+1} B) K_t\, \Sigma_{t|t}\big).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from mbdl_control.blocks import kalman
from mbdl_control.models.linear_gaussian import LinearGaussianModel


def _gain(model: LinearGaussianModel, P: np.ndarray) -> np.ndarray:
    B = model.B
    return np.linalg.solve(model.R + B.T @ P @ B, B.T @ P @ model.A)


def lqr_steady_state(model: LinearGaussianModel) -> tuple[np.ndarray, np.ndarray]:
    """Infinite-horizon LQR: ``(K, P)`` with ``u = -K x`` (scipy ``solve_discrete_are``)."""
    try:
        P = scipy.linalg.solve_discrete_are(model.A, model.B, model.Q, model.R)
    except (np.linalg.LinAlgError, ValueError) as error:
        raise ValueError(
            f"the Riccati equation has no stabilizing solution for this model ({error}); "
            "(A, B) must be stabilizable and (A, Q^½) detectable"
        ) from error
    return _gain(model, P), P


@dataclass(frozen=True)
class FiniteHorizonLQR:
    """Time-varying LQR over ``horizon`` steps: ``gains[t]`` ``(m, n)``, ``P[t]`` for t = 0…T."""

    gains: np.ndarray
    P: np.ndarray


def lqr_finite_horizon(model: LinearGaussianModel, horizon: int) -> FiniteHorizonLQR:
    """Backward Riccati recursion from ``P_T = 0``."""
    if horizon < 1:
        raise ValueError(f"horizon must be a positive number of steps, got {horizon}")
    P = np.zeros((horizon + 1, model.n, model.n))
    gains = np.zeros((horizon, model.m, model.n))
    A, B = model.A, model.B
    for t in range(horizon - 1, -1, -1):
        gains[t] = _gain(model, P[t + 1])
        closed = A - B @ gains[t]
        P[t] = model.Q + gains[t].T @ model.R @ gains[t] + closed.T @ P[t + 1] @ closed
        P[t] = (P[t] + P[t].T) / 2
    return FiniteHorizonLQR(gains=gains, P=P)


def _require_measurements(model: LinearGaussianModel) -> None:
    if model.C is None:
        raise ValueError("this needs a measurement model: the model's C and V are None")


def kalman_steady_state(model: LinearGaussianModel) -> tuple[np.ndarray, np.ndarray]:
    """Steady-state Kalman filter: ``(L, Σ)`` with Σ the prior (predicted) covariance and
    ``x̂_{t|t} = x̂_{t|t-1} + L (y_t − C x̂_{t|t-1})`` (the dual Riccati equation, by scipy)."""
    _require_measurements(model)
    C = model.C
    try:
        Sigma = scipy.linalg.solve_discrete_are(model.A.T, C.T, model.W, model.V)
    except (np.linalg.LinAlgError, ValueError) as error:
        raise ValueError(
            f"the filter Riccati equation has no stabilizing solution ({error}); "
            "(A, C) must be detectable and (A, W^½) stabilizable"
        ) from error
    return kalman.kalman_gain(Sigma, C, model.V), Sigma


@dataclass(frozen=True)
class FiniteHorizonKalman:
    """Time-varying Kalman filter from the prior ``N(x̄_0, Σ_0)``: ``gains[t]`` ``(n, p)`` and
    the filtered covariances ``posterior[t] = Σ_{t|t}``."""

    gains: np.ndarray
    posterior: np.ndarray


def kalman_finite_horizon(model: LinearGaussianModel, horizon: int) -> FiniteHorizonKalman:
    """The forward recursion of :mod:`.kalman` from the prior ``Σ_{0|-1} = Σ_0``."""
    _require_measurements(model)
    C, V, n = model.C, model.V, model.n
    gains = np.zeros((horizon, n, model.p))
    posterior = np.zeros((horizon, n, n))
    prior = model.x0_cov
    for t in range(horizon):
        gains[t] = kalman.kalman_gain(prior, C, V)
        posterior[t] = kalman.update_covariance(prior, C, V, gains[t])
        prior = kalman.predict_covariance(posterior[t], model.A, model.W)
    return FiniteHorizonKalman(gains=gains, posterior=posterior)


def lq_optimal_cost(model: LinearGaussianModel, horizon: int) -> float:
    """Exact expected cost per step of the optimal full-state policy (``J*_LQ / T``)."""
    lqr = lqr_finite_horizon(model, horizon)
    x0 = model.x0_mean
    total = x0 @ lqr.P[0] @ x0 + np.trace(lqr.P[0] @ model.x0_cov)
    total += sum(np.trace(lqr.P[t + 1] @ model.W) for t in range(horizon))
    return float(total / horizon)


def lqg_optimal_cost(model: LinearGaussianModel, horizon: int) -> float:
    """Exact expected cost per step of the optimal output-feedback policy (``J*_LQG / T``)."""
    lqr = lqr_finite_horizon(model, horizon)
    kalman = kalman_finite_horizon(model, horizon)
    extra = 0.0
    for t in range(horizon):
        weight = model.R + model.B.T @ lqr.P[t + 1] @ model.B
        extra += np.trace(lqr.gains[t].T @ weight @ lqr.gains[t] @ kalman.posterior[t])
    return lq_optimal_cost(model, horizon) + float(extra / horizon)
