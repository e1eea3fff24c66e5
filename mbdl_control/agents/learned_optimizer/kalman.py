r"""A Kalman filter whose noise covariances are learned by backpropagation through time.

Shlezinger, Eldar & Boyd, "Model-Based Deep Learning" (2022), Example 13; the idea goes back to
Abbeel, Coates, Montemerlo, Ng & Thrun, "Discriminative Training of Kalman Filters", RSS 2005.
The filter keeps its model's ``A``, ``B``, ``C`` and prior ``N(x̄_0, Σ_0)``; the process and
measurement noise covariances are parametrized by Cholesky factors with positive diagonals,

.. math::

    W = L_W L_W^\top,\quad V = L_V L_V^\top,\qquad
    (L)_{ii} = e^{d_i},\ (L)_{i>j} \text{ free},

so both stay positive definite whatever the step. They minimize the state-estimation MSE of
the time-varying filter (the predict and update of :mod:`mbdl_control.blocks.kalman`, in
torch, with the Kalman gain of the learned covariances)

.. math::

    \hat x_{t|t} = \hat x_{t|t-1} + K_t (y_t - C \hat x_{t|t-1}),\quad
    K_t = \Sigma_{t|t-1} C^\top (C \Sigma_{t|t-1} C^\top + V)^{-1},

    \mathcal L(W, V) = \frac{1}{N (T+1) n} \sum_{i, t} \|\hat x^i_{t|t} - x^i_t\|^2

over labelled trajectories (true states from the env's ``info["state"]``), by Adam through all
``T`` steps. :class:`LearnedNoiseLQG` puts the learned filter inside LQG.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from mbdl_control.blocks import kalman
from mbdl_control.blocks.lqg import OutputFeedback
from mbdl_control.core import (
    BaseAgent,
    Budget,
    FitReport,
    episode_length,
    positive_int,
    vector_space,
)
from mbdl_control.models import LinearGaussianModel, require_linear_gaussian


@dataclass(frozen=True)
class Trajectories:
    """``N`` labelled episodes: observations ``(N, T+1, p)``, inputs ``(N, T, m)``, true
    states ``(N, T+1, n)`` (``y_t`` and ``x_t`` for ``t = 0 … T``)."""

    observations: np.ndarray
    inputs: np.ndarray
    states: np.ndarray

    @property
    def steps(self) -> int:
        return int(self.inputs.shape[0] * self.inputs.shape[1])


def collect_trajectories(env: Any, law: OutputFeedback, episodes: int, seed: int) -> Trajectories:
    """Run the control ``law`` for ``episodes`` whole episodes, keeping observations, applied
    inputs and the true states the env reports in ``info["state"]``."""
    observations, inputs, states = [], [], []
    for episode in range(episodes):
        y, info = env.reset(seed=seed * 100_003 + episode)
        ys, us, xs = [y], [], [info["state"]]
        memory, start, done = None, np.ones(1, dtype=bool), False
        while not done:
            u, memory = law.act(y[None], memory, start)
            y, _, terminated, truncated, info = env.step(u[0])
            ys.append(y)
            us.append(info.get("applied_action", u[0]))
            xs.append(info["state"])
            start, done = np.zeros(1, dtype=bool), terminated or truncated
        observations.append(ys)
        inputs.append(us)
        states.append(xs)
    return Trajectories(np.array(observations), np.array(inputs), np.array(states))


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.tensor(np.array(array), dtype=torch.float64)


def _factor_parameters(covariance: np.ndarray) -> torch.Tensor:
    """Unconstrained parameters of the Cholesky factor: log-diagonal, free below it."""
    factor = np.linalg.cholesky(covariance)
    raw = np.tril(factor, -1) + np.diag(np.log(np.diag(factor)))
    return torch.tensor(raw, dtype=torch.float64, requires_grad=True)


def _covariance(raw: torch.Tensor) -> torch.Tensor:
    factor = torch.tril(raw, -1) + torch.diag(torch.exp(torch.diagonal(raw)))
    return factor @ factor.T


def kalman_estimates(
    model: LinearGaussianModel, W: torch.Tensor, V: torch.Tensor, data: Trajectories
) -> torch.Tensor:
    """Filtered estimates ``x̂_{t|t}`` ``(N, T+1, n)`` of the time-varying filter with
    covariances ``W``, ``V`` (differentiable in both)."""
    A, B, C = _tensor(model.A), _tensor(model.B), _tensor(model.C)
    y, u = _tensor(data.observations), _tensor(data.inputs)
    mean = _tensor(model.x0_mean).expand(y.shape[0], A.shape[0])
    covariance = _tensor(model.x0_cov)
    estimates = []
    for t in range(y.shape[1]):
        gain = kalman.kalman_gain(covariance, C, V)
        mean = kalman.update(mean, y[:, t], C, gain)
        covariance = kalman.update_covariance(covariance, C, V, gain)
        estimates.append(mean)
        if t < u.shape[1]:
            mean = kalman.predict(mean, A, B, u[:, t])
            covariance = kalman.predict_covariance(covariance, A, W)
    return torch.stack(estimates, dim=1)


def estimation_mse(model: LinearGaussianModel, data: Trajectories) -> float:
    """MSE of the time-varying filter with ``model``'s own ``W`` and ``V``."""
    with torch.no_grad():
        estimates = kalman_estimates(model, _tensor(model.W), _tensor(model.V), data)
    return float(((estimates - _tensor(data.states)) ** 2).mean())


def decibels(mse: float) -> float:
    """``10 log10(mse)``."""
    return 10.0 * math.log10(mse)


class LearnedNoiseKalman:
    """The filter of the module docstring: ``fit`` learns ``W`` and ``V`` from trajectories."""

    def __init__(
        self, model: LinearGaussianModel, iterations: int = 300, learning_rate: float = 0.05
    ) -> None:
        require_linear_gaussian("LearnedNoiseKalman", model)
        if model.C is None:
            raise ValueError(
                "a Kalman filter needs a measurement model: the model's C and V are None"
            )
        self.model = model
        self.iterations = positive_int("iterations", iterations)
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {learning_rate}")
        self.learning_rate = learning_rate
        self.W, self.V = model.W, model.V

    @property
    def learned_model(self) -> LinearGaussianModel:
        """The model with the learned covariances."""
        return self.model.replace(W=self.W, V=self.V)

    def fit(self, data: Trajectories) -> list[float]:
        """Adam on the estimation MSE, from the model's covariances; returns the loss curve."""
        raw_W, raw_V = _factor_parameters(self.W), _factor_parameters(self.V)
        optimizer = torch.optim.Adam([raw_W, raw_V], lr=self.learning_rate)
        states = _tensor(data.states)
        curve = []
        for _ in range(self.iterations):
            optimizer.zero_grad()
            loss = (
                (
                    kalman_estimates(self.model, _covariance(raw_W), _covariance(raw_V), data)
                    - states
                )
                ** 2
            ).mean()
            loss.backward()
            optimizer.step()
            curve.append(float(loss.detach()))
        with torch.no_grad():
            self.W, self.V = _covariance(raw_W).numpy().copy(), _covariance(raw_V).numpy().copy()
        return curve


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
        self.filter = LearnedNoiseKalman(model, iterations, learning_rate)
        self._controller = OutputFeedback(model, horizon)
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
        return {
            "W": self.filter.W[np.tril_indices(self.model.n)],
            "V": self.filter.V[np.tril_indices(self.model.p)],
        }

    def set_learned_parameters(self, parameters: dict[str, np.ndarray]) -> None:
        def full(lower: np.ndarray, size: int) -> np.ndarray:
            matrix = np.zeros((size, size))
            matrix[np.tril_indices(size)] = lower
            return matrix + np.tril(matrix, -1).T

        self.filter.W, self.filter.V = (
            full(parameters["W"], self.model.n),
            full(parameters["V"], self.model.p),
        )
        self._controller = OutputFeedback(self.filter.learned_model, self.horizon)

    def fit(self, env: Any, budget: Budget | None = None, seed: int | None = None) -> FitReport:
        start = time.perf_counter()
        length = episode_length(env) or 100
        budget = budget or Budget()
        episodes = min(budget.steps, budget.samples) // length
        if episodes < 1:
            raise ValueError(
                f"LearnedNoiseLQG needs a budget of at least one labelled episode ({length} "
                f"steps and {length} samples), got {budget.steps} steps and {budget.samples} "
                "samples"
            )
        data = collect_trajectories(
            env, OutputFeedback(self.model), episodes, 0 if seed is None else seed
        )
        curve = self.filter.fit(data)
        self._controller = OutputFeedback(self.filter.learned_model, self.horizon)
        return FitReport(
            steps=data.steps,
            samples=data.steps,
            wall_time=time.perf_counter() - start,
            curve=tuple(curve),
        )

    def _act(self, observations: np.ndarray, state: Any, episode_start: np.ndarray):
        return self._controller.act(observations, state, episode_start)
