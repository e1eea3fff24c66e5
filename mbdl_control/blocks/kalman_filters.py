r"""The Kalman filter and the extended Kalman filter as recursive estimators, on a batch of
episodes, and the exact error of the Kalman filter.

For the state-space model of :mod:`mbdl_control.models.state_space`
(``x_{t+1} = f(x_t) + G u_t + w_t``, ``y_t = h(x_t) + v_t``), both keep per episode a
Gaussian belief ``N(x̂, Σ)`` (memory ``{"mean": (batch, n), "cov": (batch, n, n)}``: the
prediction ``x̂_{t|t−1}, Σ_{t|t−1}`` before an update, the posterior after it), start from the
prior ``N(x̄_0, Σ_0)`` and run the predict and update of :mod:`mbdl_control.blocks.kalman`:

.. math::

    K_t = \Sigma_{t|t-1} H_t^\top (H_t \Sigma_{t|t-1} H_t^\top + V)^{-1},\quad
    \hat x_{t|t} = \hat x_{t|t-1} + K_t\,(y_t - h(\hat x_{t|t-1})),

    \Sigma_{t|t} = (I - K_t H_t)\Sigma_{t|t-1}(I - K_t H_t)^\top + K_t V K_t^\top,

    \hat x_{t+1|t} = f(\hat x_{t|t}) + G u_t,\quad
    \Sigma_{t+1|t} = F_t \Sigma_{t|t} F_t^\top + W.

:class:`KalmanEstimator` (Kalman, "A New Approach to Linear Filtering and Prediction
Problems", J. Basic Eng. 82, 1960) is this for ``f(x) = F x``, ``h(x) = H x``: the MMSE
estimator of a linear-Gaussian model, time-varying from the prior, one covariance per episode
so that episodes restarting at different times are each exact. :class:`ExtendedKalmanEstimator`
(Jazwinski, *Stochastic Processes and Filtering Theory*, 1970, §8.3; Anderson & Moore,
*Optimal Filtering*, 1979, §8.2) linearizes: ``F_t = ∂f/∂x(x̂_{t|t})``,
``H_t = ∂h/∂x(x̂_{t|t−1})`` by torch autograd, batched over rows in float64
(:func:`jacobians`; a :class:`~mbdl_control.models.LinearMap` is its own Jacobian, so the EKF
of a linear model is the Kalman filter).

**Numerics.** Everything is float64 numpy; the innovation covariance is solved, never
inverted; the Joseph form keeps ``Σ_{t|t}`` PSD for any gain, and both covariances are
symmetrized after every step. Nothing is clipped: an EKF that diverges (a linearization far
from the state) returns large estimates rather than hiding the failure.

The noise covariances are the model's unless ``W``/``V`` are given: one matrix, or one per
row of the batch (``(batch, n, n)``), which scores many candidate covariances in one batched
run (:class:`~mbdl_control.agents.TunedNoiseKalman`).
"""

from __future__ import annotations

import numpy as np

from mbdl_control.blocks import kalman
from mbdl_control.blocks.estimation import Memory, RecursiveEstimator
from mbdl_control.core import positive_int
from mbdl_control.models import LinearMap, StateSpaceModel
from mbdl_control.models.state_space import Map


def symmetrized(matrices: np.ndarray) -> np.ndarray:
    """``(M + Mᵀ)/2`` in the last two axes: rounding never makes a covariance asymmetric."""
    return (matrices + matrices.swapaxes(-1, -2)) / 2


def jacobians(mapping: Map, rows: np.ndarray) -> np.ndarray:
    """``∂mapping/∂x`` at each row of ``rows`` ``(batch, n)``: ``(batch, outputs, n)`` by
    reverse-mode autograd (``torch.func.vmap(jacrev)``, float64), or the matrix ``(outputs,
    n)`` itself for a :class:`~mbdl_control.models.LinearMap`."""
    if isinstance(mapping, LinearMap):
        return mapping.matrix
    import torch  # only for a nonlinear map

    x = torch.from_numpy(np.ascontiguousarray(rows, dtype=np.float64))
    return torch.func.vmap(torch.func.jacrev(mapping))(x).numpy()


class GaussianEstimator(RecursiveEstimator):
    """A filter whose memory is a Gaussian belief per episode (module docstring), with the
    model's noise covariances or the given ``W``, ``V``."""

    def __init__(
        self, model: StateSpaceModel, W: np.ndarray | None = None, V: np.ndarray | None = None
    ) -> None:
        self.model = model
        self.n, self.p, self.m = model.n, model.p, model.m
        self.W = model.W if W is None else np.asarray(W, dtype=np.float64)
        self.V = model.V if V is None else np.asarray(V, dtype=np.float64)

    def start(self, batch: int) -> Memory:
        return {
            "mean": np.tile(self.model.x0_mean, (batch, 1)),
            "cov": np.tile(self.model.x0_cov, (batch, 1, 1)),
        }


class KalmanEstimator(GaussianEstimator):
    """The exact time-varying Kalman filter of a linear model (module docstring);
    ``ValueError`` for a nonlinear one."""

    def __init__(
        self, model: StateSpaceModel, W: np.ndarray | None = None, V: np.ndarray | None = None
    ) -> None:
        f, h = model.transition, model.observation
        if not (isinstance(f, LinearMap) and isinstance(h, LinearMap)):
            raise ValueError(
                "the Kalman filter needs a linear model (f and h LinearMaps), got "
                f"{type(f).__name__} and {type(h).__name__}: "
                "use the extended, unscented or particle filter"
            )
        super().__init__(model, W, V)
        self.F, self.H = f.matrix, h.matrix

    def update(self, memory: Memory, y: np.ndarray) -> tuple[np.ndarray, Memory]:
        mean, cov = memory["mean"], memory["cov"]
        gain = kalman.kalman_gain(cov, self.H, self.V)
        mean = kalman.update(mean, y, self.H, gain)
        cov = symmetrized(kalman.update_covariance(cov, self.H, self.V, gain))
        return mean, {"mean": mean, "cov": cov}

    def advance(self, memory: Memory, u: np.ndarray | None = None) -> Memory:
        mean = kalman.predict(memory["mean"], self.F, self.model.G, self.inputs(u))
        cov = symmetrized(kalman.predict_covariance(memory["cov"], self.F, self.W))
        return {"mean": mean, "cov": cov}


class ExtendedKalmanEstimator(GaussianEstimator):
    """The extended Kalman filter (module docstring): Jacobians by autograd at the current
    estimate."""

    def update(self, memory: Memory, y: np.ndarray) -> tuple[np.ndarray, Memory]:
        mean, cov = memory["mean"], memory["cov"]
        H = jacobians(self.model.observation, mean)
        gain = kalman.kalman_gain(cov, H, self.V)
        mean = kalman.correct(mean, y - self.model.h(mean), gain)
        cov = symmetrized(kalman.update_covariance(cov, H, self.V, gain))
        return mean, {"mean": mean, "cov": cov}

    def advance(self, memory: Memory, u: np.ndarray | None = None) -> Memory:
        mean, cov = memory["mean"], memory["cov"]
        F = jacobians(self.model.transition, mean)
        return {
            "mean": self.model.f(mean, self.inputs(u)),
            "cov": symmetrized(kalman.predict_covariance(cov, F, self.W)),
        }


def filter_trajectories(
    estimator: RecursiveEstimator, observations: np.ndarray, inputs: np.ndarray | None = None
) -> np.ndarray:
    """Estimates ``x̂_{t|t}`` ``(N, T+1, n)`` of ``N`` episodes of measurements
    ``(N, T+1, p)`` (``y_0 … y_T``), with the inputs ``(N, T, m)`` applied between them."""
    memory = estimator.start(observations.shape[0])
    estimates = []
    for t in range(observations.shape[1]):
        estimate, memory = estimator.update(memory, observations[:, t])
        estimates.append(estimate)
        if t + 1 < observations.shape[1]:
            memory = estimator.advance(memory, None if inputs is None else inputs[:, t])
    return np.stack(estimates, axis=1)


def kalman_mse(model: StateSpaceModel, horizon: int) -> float:
    r"""The expected squared error per step and state component of the Kalman filter of the
    linear ``model`` on ``model``'s own data over a ``horizon``-step episode,

    .. math::

        \frac{1}{T n} \sum_{t=0}^{T-1} \operatorname{tr} \Sigma_{t|t},

    from the prior ``Σ_{0|−1} = Σ_0`` (the covariances do not depend on the data, so this
    is exact: the MMSE, the bound of a linear estimation env). ``ValueError`` for a nonlinear
    model or a ``horizon`` that is not a positive integer."""
    horizon = positive_int("horizon", horizon)
    filter_ = KalmanEstimator(model)
    cov, total = model.x0_cov, 0.0
    for _ in range(horizon):
        gain = kalman.kalman_gain(cov, filter_.H, model.V)
        cov = symmetrized(kalman.update_covariance(cov, filter_.H, model.V, gain))
        total += float(np.trace(cov))
        cov = symmetrized(kalman.predict_covariance(cov, filter_.F, model.W))
    return total / (horizon * model.n)
