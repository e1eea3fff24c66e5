r"""Least-squares identification of a linear model from transitions, shrunk toward a prior.

Given transitions ``(x_t, u_t, x_{t+1})`` stacked as ``Z = [x; u]`` (``(n+m) × N``) and
``Y = x_{t+1}`` (``n × N``), ridge regression toward the prior ``Θ₀ = [A₀ B₀]``,

.. math::

    \hat\Theta = \operatorname*{argmin}_\Theta \|Y - \Theta Z\|_F^2
        + \lambda \|\Theta - \Theta_0\|_F^2
      = (Y Z^\top + \lambda \Theta_0)(Z Z^\top + \lambda I)^{-1},

and the process noise covariance is the residuals' sample covariance. With few samples the
estimate stays near the prior (the nominal model); with many, the data decide. This is the
identification step of certainty-equivalent control (Mania, Tu & Recht, "Certainty Equivalence
is Efficient for Linear Quadratic Control", NeurIPS 2019).
"""

from __future__ import annotations

import numpy as np

from mbdl_control.models.linear_gaussian import LinearGaussianModel


def identify_linear_model(
    prior: LinearGaussianModel,
    states: np.ndarray,
    inputs: np.ndarray,
    next_states: np.ndarray,
    prior_weight: float = 1.0,
) -> LinearGaussianModel:
    """``prior`` with ``A``, ``B`` and ``W`` estimated from ``N`` transitions.

    ``states`` and ``next_states`` are ``(N, n)``, ``inputs`` ``(N, m)``; ``prior_weight``
    (λ ≥ 0) counts how many samples' worth of trust the prior gets.
    """
    n, m = prior.n, prior.m
    states, inputs, next_states = (
        np.asarray(a, dtype=np.float64) for a in (states, inputs, next_states)
    )
    count = len(states)
    if states.shape != (count, n) or inputs.shape != (count, m) or next_states.shape != (count, n):
        raise ValueError(
            f"transitions must be (N, {n}) states, (N, {m}) inputs and (N, {n}) next states; "
            f"got {states.shape}, {inputs.shape}, {next_states.shape}"
        )
    if count <= n + m and prior_weight <= 0:
        raise ValueError(f"{count} transitions cannot identify {n + m} regressors without a prior")
    if prior_weight < 0:
        raise ValueError(f"prior_weight must be >= 0, got {prior_weight}")
    Z = np.hstack([states, inputs]).T
    theta_prior = np.hstack([prior.A, prior.B])
    gram = Z @ Z.T + prior_weight * np.eye(n + m)
    theta = np.linalg.solve(gram, (next_states.T @ Z.T + prior_weight * theta_prior).T).T
    residuals = next_states.T - theta @ Z
    W = residuals @ residuals.T / max(count - (n + m), 1)
    return prior.replace(A=theta[:, :n], B=theta[:, n:], W=(W + W.T) / 2)
