r"""A Kalman filter whose noise covariances are learned by backpropagation through time.

Shlezinger, Eldar & Boyd, "Model-Based Deep Learning" (2022), Example 13; the idea goes back to
Abbeel, Coates, Montemerlo, Ng & Thrun, "Discriminative Training of Kalman Filters", RSS 2005.
The filter keeps its linear model's ``F`` (``A``), ``G`` (``B``), ``H`` (``C``) and prior
``N(x̄_0, Σ_0)``; the process and measurement noise covariances are parametrized by Cholesky
factors with positive diagonals,

.. math::

    W = L_W L_W^\top,\quad V = L_V L_V^\top,\qquad
    (L)_{ii} = e^{d_i},\ (L)_{i>j} \text{ free},

so both stay positive definite whatever the step. They minimize the state-estimation MSE of
the time-varying filter (the predict and update of :mod:`mbdl_control.blocks.kalman`, in
torch, with the Kalman gain of the learned covariances)

.. math::

    \hat x_{t|t} = \hat x_{t|t-1} + K_t (y_t - H \hat x_{t|t-1}),\quad
    K_t = \Sigma_{t|t-1} H^\top (H \Sigma_{t|t-1} H^\top + V)^{-1},

    \mathcal L(W, V) = \frac{1}{N (T+1) n} \sum_{i, t} \|\hat x^i_{t|t} - x^i_t\|^2

over labelled trajectories (true states from the env's ``info["state"]``), by full-batch Adam
through all ``T`` steps (:mod:`mbdl_control.blocks.sequence_training`; the step size
annealed on a cosine, no episode held out), from the model's own covariances.

:class:`LearnedNoiseKalman` is the estimator agent (its estimate is the action; the filter of
:class:`~mbdl_control.blocks.kalman_filters.KalmanEstimator` with the learned covariances);
:class:`LearnedNoiseLQG` puts the learned filter inside LQG, acting with the LQG law of the
model with the learned covariances: with ``horizon=None`` its filter is that model's
steady-state one, where ``LQG(model, estimator={"class": "LearnedNoiseKalman"})`` runs the
learned filter itself (time-varying from the prior); the two agree once the filter settles.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from mbdl_control.blocks import kalman
from mbdl_control.blocks.kalman_filters import KalmanEstimator
from mbdl_control.blocks.lqg import OutputFeedback
from mbdl_control.blocks.sequence_training import (
    SequenceLearner,
    fit_report,
    labelled_trajectories,
    train_sequences,
    trajectory_tensors,
)
from mbdl_control.blocks.training import Training, TrainingRecipe
from mbdl_control.blocks.trajectories import Trajectories
from mbdl_control.core import (
    BaseAgent,
    Budget,
    FitReport,
    positive_float,
    positive_int,
    vector_space,
)
from mbdl_control.models import (
    LinearGaussianModel,
    StateSpaceModel,
    require_state_space,
)


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.tensor(np.array(array), dtype=torch.float64)


def _factor_parameters(covariance: np.ndarray) -> nn.Parameter:
    """Unconstrained parameters of the Cholesky factor: log-diagonal, free below it."""
    factor = np.linalg.cholesky(covariance)
    return nn.Parameter(_tensor(np.tril(factor, -1) + np.diag(np.log(np.diag(factor)))))


def _covariance(raw: torch.Tensor) -> torch.Tensor:
    factor = torch.tril(raw, -1) + torch.diag(torch.exp(torch.diagonal(raw)))
    return factor @ factor.T


class NoiseCovariances(nn.Module):
    """``W`` and ``V`` through their Cholesky parameters (module docstring)."""

    def __init__(self, W: np.ndarray, V: np.ndarray) -> None:
        super().__init__()
        self.raw_W, self.raw_V = _factor_parameters(W), _factor_parameters(V)

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        return _covariance(self.raw_W), _covariance(self.raw_V)


def _linear(model: StateSpaceModel | LinearGaussianModel, owner: str) -> StateSpaceModel:
    """``model`` as a linear state-space model, or ``ValueError``."""
    model = require_state_space(owner, model)
    if not model.is_linear:
        raise ValueError(
            f"{owner} filters with a Kalman filter: it needs a linear model (f and h "
            f"LinearMaps), got {type(model.transition).__name__} and "
            f"{type(model.observation).__name__}"
        )
    return model


def filter_sequences(
    model: StateSpaceModel,
    W: torch.Tensor,
    V: torch.Tensor,
    observations: torch.Tensor,
    inputs: torch.Tensor,
) -> torch.Tensor:
    """Filtered estimates ``x̂_{t|t}`` ``(N, T+1, n)`` of the time-varying filter of the
    linear ``model`` with covariances ``W``, ``V`` on episodes ``(N, T+1, p)`` with inputs
    ``(N, T, m)`` (differentiable in ``W`` and ``V``; the episodes start together, so they
    share one covariance)."""
    F, H = _tensor(model.transition.matrix), _tensor(model.observation.matrix)
    G = None if model.G is None else _tensor(model.G)
    mean = _tensor(model.x0_mean).expand(observations.shape[0], model.n)
    covariance = _tensor(model.x0_cov)
    estimates = []
    for t in range(observations.shape[1]):
        gain = kalman.kalman_gain(covariance, H, V)
        mean = kalman.update(mean, observations[:, t], H, gain)
        covariance = kalman.update_covariance(covariance, H, V, gain)
        estimates.append(mean)
        if t < inputs.shape[1]:
            mean = kalman.predict(mean, F, G, inputs[:, t] if G is not None else None)
            covariance = kalman.predict_covariance(covariance, F, W)
    return torch.stack(estimates, dim=1)


def kalman_estimates(
    model: StateSpaceModel | LinearGaussianModel,
    W: torch.Tensor,
    V: torch.Tensor,
    data: Trajectories,
) -> torch.Tensor:
    """:func:`filter_sequences` on the episodes of ``data``."""
    observations, inputs, _ = trajectory_tensors(data, torch.float64)
    return filter_sequences(_linear(model, "the filter"), W, V, observations, inputs)


def estimation_mse(model: StateSpaceModel | LinearGaussianModel, data: Trajectories) -> float:
    """MSE of the time-varying filter with ``model``'s own ``W`` and ``V``."""
    with torch.no_grad():
        estimates = kalman_estimates(model, _tensor(model.W), _tensor(model.V), data)
    return float(((estimates - _tensor(data.states)) ** 2).mean())


def decibels(mse: float) -> float:
    """``10 log10(mse)``."""
    return 10.0 * math.log10(mse)


def _lower(matrix: np.ndarray) -> np.ndarray:
    return matrix[np.tril_indices(len(matrix))]


def _symmetric(name: str, lower: Any, size: int) -> np.ndarray:
    """The positive definite ``size × size`` matrix whose lower triangle (row by row) is
    ``lower``, or ``ValueError`` naming ``name``."""
    lower = np.asarray(lower, dtype=np.float64)
    entries = size * (size + 1) // 2
    if lower.shape != (entries,) or not np.isfinite(lower).all():
        raise ValueError(
            f"{name} must be the {entries} finite entries of a {size} by {size} lower triangle, "
            f"got shape {lower.shape}"
        )
    matrix = np.zeros((size, size))
    matrix[np.tril_indices(size)] = lower
    matrix = matrix + np.tril(matrix, -1).T
    _require_definite(name, matrix)
    return matrix


def _require_definite(name: str, matrix: np.ndarray) -> None:
    """``ValueError`` unless ``matrix`` is positive definite (the filter learns its factor)."""
    if np.linalg.eigvalsh(matrix)[0] <= 0:
        raise ValueError(
            f"{name} must be positive definite (its Cholesky factor is learned), got "
            f"eigenvalues {np.linalg.eigvalsh(matrix)}"
        )


class LearnedNoiseKalman(SequenceLearner):
    """The Kalman filter of ``model`` (a linear state-space model, or a linear-Gaussian model
    with measurements) with ``W`` and ``V`` learned from labelled episodes by backpropagation
    through time (module docstring): ``iterations`` full-batch Adam steps from
    ``learning_rate``."""

    family = "learned-optimizer"

    def __init__(
        self,
        model: StateSpaceModel | LinearGaussianModel,
        iterations: int = 300,
        learning_rate: float = 0.05,
        knowledge: str = "nominal",
    ) -> None:
        super().__init__(knowledge)
        self.model = model
        self.state_space = _linear(model, "LearnedNoiseKalman")
        self.iterations = positive_int("iterations", iterations)
        self.learning_rate = positive_float("learning_rate", learning_rate)
        _require_definite("the model's W", self.state_space.W)
        self._set_covariances(self.state_space.W, self.state_space.V)

    def _set_covariances(self, W: np.ndarray, V: np.ndarray) -> None:
        self.W, self.V = W, V
        self._set_estimator(KalmanEstimator(self.state_space, W, V))

    @property
    def learned_model(self) -> StateSpaceModel | LinearGaussianModel:
        """The model with the learned covariances."""
        return self.model.replace(W=self.W, V=self.V)

    @property
    def config(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "iterations": self.iterations,
            "learning_rate": self.learning_rate,
            "knowledge": self.knowledge,
        }

    def learned_parameters(self) -> dict[str, np.ndarray]:
        """The lower triangles of ``W`` and ``V`` (the free entries of their factors)."""
        return {"W": _lower(self.W), "V": _lower(self.V)}

    def set_learned_parameters(self, parameters: dict[str, np.ndarray]) -> None:
        if set(parameters) != {"W", "V"}:
            raise ValueError(
                f"LearnedNoiseKalman's parameters are W and V, got {sorted(parameters)}"
            )
        self._set_covariances(
            _symmetric("W", parameters["W"], self.state_space.n),
            _symmetric("V", parameters["V"], self.state_space.p),
        )

    def learn(self, data: Trajectories, seed: int) -> Training:
        """Adam on the estimation MSE of all of ``data``, from the model's covariances."""
        covariances = NoiseCovariances(self.state_space.W, self.state_space.V)
        recipe = TrainingRecipe(self.learning_rate, self.iterations, data.episodes, 0.0)
        training = train_sequences(
            covariances,
            lambda y, u: filter_sequences(self.state_space, *covariances(), y, u),
            data,
            recipe,
            torch.Generator().manual_seed(seed),
            dtype=torch.float64,
        )
        with torch.no_grad():
            W, V = (matrix.numpy().copy() for matrix in covariances())
        self._set_covariances(W, V)
        return training


class LearnedNoiseLQG(BaseAgent):
    """LQG whose Kalman filter has noise covariances learned from labelled episodes.

    ``fit`` spends the budget on whole episodes under the LQG law of the agent's model (each
    step gives one labelled sample: the true state in ``info``; the budget's ``samples`` must
    cover them), learns ``W`` and ``V`` with :class:`LearnedNoiseKalman`, and then acts with
    the LQG law (:class:`~mbdl_control.blocks.lqg.OutputFeedback`) of the model with the
    learned covariances (``horizon`` as in ``LQG``).
    """

    family = "learned-optimizer"

    def __init__(
        self,
        model: LinearGaussianModel,
        horizon: int | None = None,
        iterations: int = 300,
        learning_rate: float = 0.05,
        knowledge: str = "nominal",
    ) -> None:
        super().__init__(knowledge)
        self.model, self.horizon = model, horizon
        self._controller = OutputFeedback(model, horizon)
        self.filter = LearnedNoiseKalman(model, iterations, learning_rate)
        self.observation_space = vector_space(model.p)

    @property
    def config(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "horizon": self.horizon,
            "iterations": self.filter.iterations,
            "learning_rate": self.filter.learning_rate,
            "knowledge": self.knowledge,
        }

    def learned_parameters(self) -> dict[str, np.ndarray]:
        """The lower triangles of ``W`` and ``V`` (the free entries of their factors)."""
        return self.filter.learned_parameters()

    def set_learned_parameters(self, parameters: dict[str, np.ndarray]) -> None:
        self.filter.set_learned_parameters(parameters)
        self._controller = OutputFeedback(self.filter.learned_model, self.horizon)

    def fit(self, env: Any, budget: Budget | None = None, seed: int | None = None) -> FitReport:
        start = time.perf_counter()
        seed = 0 if seed is None else int(seed)
        data = labelled_trajectories(
            "LearnedNoiseLQG", env, budget or Budget(), seed, OutputFeedback(self.model).act
        )
        training = self.filter.learn(data, seed)
        self._controller = OutputFeedback(self.filter.learned_model, self.horizon)
        return fit_report(data, training, start)

    def _act(self, observations: np.ndarray, state: Any, episode_start: np.ndarray):
        return self._controller.act(observations, state, episode_start)
