r"""The Kalman filter's predict and update, with a pluggable gain, in numpy or torch.

For ``x_{t+1} = A x_t + B u_t + w_t``, ``y_t = C x_t + v_t`` (``w ~ N(0, W)``, ``v ~ N(0, V)``):

.. math::

    \text{update:}\quad \hat x_{t|t} = \hat x_{t|t-1} + K_t\,(y_t - C \hat x_{t|t-1}),

    \Sigma_{t|t} = (I - K_t C)\,\Sigma_{t|t-1}\,(I - K_t C)^\top + K_t V K_t^\top
    \quad\text{(Joseph form: symmetric and PSD for any gain)},

    \text{predict:}\quad \hat x_{t+1|t} = A \hat x_{t|t} + B u_t,\qquad
    \Sigma_{t+1|t} = A \Sigma_{t|t} A^\top + W,

with the gain :func:`kalman_gain` ``K_t = Σ_{t|t−1} Cᵀ (C Σ_{t|t−1} Cᵀ + V)⁻¹`` for the Kalman
filter (Kalman 1960; Anderson & Moore, *Optimal Filtering*, 1979, §3.3), or any other gain: a
steady-state one, one computed with learned ``W`` and ``V``, or one output by a network
(KalmanNet; Revach et al., IEEE TSP 2022). The update and predict of the *estimate* are the
same whatever the gain; that is what the families share. For a nonlinear ``h`` the update is
:func:`correct` with the innovation ``y_t − h(x̂_{t|t−1})`` (the EKF, KalmanNet).

Estimates are rows: ``(n,)`` or a batch ``(batch, n)``; the gain is shared ``(n, p)`` or one
per row ``(batch, n, p)``. The functions use only operations numpy arrays and torch tensors
both have, so one code path serves the filters in numpy and the differentiable ones in torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Array = Any  # np.ndarray or torch.Tensor


def _linalg(array: Array) -> Any:
    """``numpy.linalg`` or ``torch.linalg``, whichever ``array`` belongs to."""
    if isinstance(array, np.ndarray):
        return np.linalg
    import torch  # only when given tensors

    return torch.linalg


def _eye_like(matrix: Array) -> Array:
    if isinstance(matrix, np.ndarray):
        return np.eye(matrix.shape[-1], dtype=matrix.dtype)
    import torch

    return torch.eye(matrix.shape[-1], dtype=matrix.dtype, device=matrix.device)


def _transpose(matrix: Array) -> Array:
    """``matrix`` transposed in its last two axes: one matrix or a batch of them."""
    return matrix.swapaxes(-1, -2)


def kalman_gain(prior_cov: Array, C: Array, V: Array) -> Array:
    """``K = Σ Cᵀ (C Σ Cᵀ + V)⁻¹`` from the predicted covariance ``Σ`` ``(n, n)``; any of
    ``Σ``, ``C``, ``V`` may be one per row (``(batch, ·, ·)``, a per-episode filter or an EKF's
    Jacobians), and the gain then is too."""
    solved = _linalg(prior_cov).solve(C @ prior_cov @ _transpose(C) + V, C @ prior_cov)
    return _transpose(solved)


def update(prior_mean: Array, y: Array, C: Array, gain: Array) -> Array:
    """``x̂_{t|t} = x̂_{t|t−1} + K (y − C x̂_{t|t−1})`` for rows of estimates and measurements."""
    return correct(prior_mean, y - prior_mean @ C.T, gain)


def correct(prior_mean: Array, innovation: Array, gain: Array) -> Array:
    """``x̂_{t|t} = x̂_{t|t−1} + K ν_t`` for rows of innovations ``ν_t``: the update of any
    measurement model, ``ν_t = y_t − h(x̂_{t|t−1})`` for a nonlinear ``h`` (KalmanNet, EKF)."""
    if gain.ndim == 2:
        return prior_mean + innovation @ gain.T
    return prior_mean + (gain @ innovation[..., None])[..., 0]


def update_covariance(prior_cov: Array, C: Array, V: Array, gain: Array) -> Array:
    """``Σ_{t|t}`` in the Joseph form, for the gain ``K`` that was applied."""
    keep = _eye_like(prior_cov) - gain @ C
    return keep @ prior_cov @ _transpose(keep) + gain @ V @ _transpose(gain)


def predict(mean: Array, A: Array, B: Array | None = None, u: Array | None = None) -> Array:
    """``x̂_{t+1|t} = A x̂_{t|t} + B u_t`` (no input term without ``B`` and ``u``)."""
    predicted = mean @ A.T
    return predicted if u is None else predicted + u @ B.T


def predict_covariance(cov: Array, A: Array, W: Array) -> Array:
    """``Σ_{t+1|t} = A Σ_{t|t} Aᵀ + W`` (``A`` one matrix or one per row, an EKF's Jacobians)."""
    return A @ cov @ _transpose(A) + W
