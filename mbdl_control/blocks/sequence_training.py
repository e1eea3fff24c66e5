r"""Backpropagation through time for the estimators that learn from labelled trajectories,
whatever their family (a Kalman filter's noise covariances, KalmanNet's gain network, a GRU).

**Data.** ``fit`` buys whole labelled episodes of an estimation env (or of LQG's) with its
budget (:func:`labelled_trajectories`, by
:func:`~mbdl_control.blocks.trajectories.collect_trajectories`): measurements ``y_0 … y_T``,
the inputs between them, the true states ``x_0 … x_T``.

**Loss.** The learner's recursive estimator runs over every measurement of a minibatch of
episodes (``unroll``: observations ``(B, T+1, p)`` and inputs ``(B, T, m)`` to estimates
``x̂_{t|t}`` ``(B, T+1, n)``, differentiable in its parameters), and Adam descends the mean
squared error per component over the whole sequence,

.. math::

    \mathcal L = \frac{1}{B (T+1) n} \sum_{i, t} \|\hat x^i_{t|t} - x^i_t\|^2,

through all ``T`` steps (full BPTT; KalmanNet's recipe, Revach et al., IEEE TSP 2022, §IV).

**Loop.** The minibatch loop of :mod:`mbdl_control.blocks.training` (the fit seed's
``torch.Generator`` orders the episodes, the step size is annealed on a cosine, the last
``validation_fraction`` of the episodes is held out and the best weights on it are kept), with
the gradient norm clipped at ``max_gradient_norm`` where a learner asks for it.
:class:`SequenceLearner` is the agent around it; :class:`NetworkEstimator` the one whose
estimator is a torch network trained from fresh seeded weights (KalmanNet, the GRU).
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from mbdl_control.blocks.estimation import FilterAgent
from mbdl_control.blocks.training import Features, Training, TrainingRecipe, train
from mbdl_control.blocks.trajectories import (
    Policy,
    Trajectories,
    collect_trajectories,
    episodes_within,
)
from mbdl_control.core import Budget, FitReport, episode_length, positive_float

#: ``unroll(observations (B, T+1, p), inputs (B, T, m)) -> estimates (B, T+1, n)``
Unroll = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def labelled_trajectories(
    owner: str, env: Any, budget: Budget, seed: int, policy: Policy | None = None
) -> Trajectories:
    """Every whole labelled episode of ``env`` the budget pays for, acting with ``policy``
    (the inputs of a control env; none for an estimation env), or ``ValueError`` naming the
    budget when it pays for none."""
    length = episode_length(env)
    if length is None:
        raise ValueError(f"{owner} learns from whole episodes: the env must have a time limit")
    episodes = episodes_within(budget.steps, budget.samples, length)
    if episodes < 1:
        raise ValueError(
            f"{owner} needs a budget of at least one labelled episode ({length} steps and "
            f"{length} samples), got {budget.steps} steps and {budget.samples} samples"
        )
    return collect_trajectories(env, episodes, seed, policy)


def trajectory_tensors(data: Trajectories, dtype: torch.dtype) -> Features:
    """Observations ``(N, T+1, p)``, inputs ``(N, T, m)`` (``m = 0`` without inputs) and
    true states ``(N, T+1, n)`` as tensors of ``dtype``."""
    observations = torch.as_tensor(data.observations, dtype=dtype)
    states = torch.as_tensor(data.states, dtype=dtype)
    if data.inputs is None:
        inputs = torch.zeros(states.shape[0], states.shape[1] - 1, 0, dtype=dtype)
    else:
        inputs = torch.as_tensor(data.inputs, dtype=dtype)
    return observations, inputs, states


def train_sequences(
    network: nn.Module,
    unroll: Unroll,
    data: Trajectories,
    recipe: TrainingRecipe,
    generator: torch.Generator,
    dtype: torch.dtype = torch.float32,
    max_gradient_norm: float | None = None,
    score_initial: bool = False,
) -> Training:
    """Train the weights of ``network`` that ``unroll`` runs on the episodes of ``data``
    (module docstring); ``score_initial`` lets early stopping keep the initial weights (a
    filter that starts as a working one)."""
    observations, inputs, states = trajectory_tensors(data, dtype)

    def loss(features: Features, targets: torch.Tensor) -> torch.Tensor:
        return ((unroll(*features) - targets) ** 2).mean()

    def score(features: Features, targets: torch.Tensor) -> tuple[float]:
        if len(targets) == 0:  # nothing held out: every check keeps the latest weights
            return (0.0,)
        return (float(loss(features, targets)),)

    return train(
        network,
        (observations, inputs),
        states,
        loss,
        score,
        recipe,
        generator,
        score_initial=score_initial,
        max_gradient_norm=max_gradient_norm,
    )


def fit_report(data: Trajectories, training: Training, start: float) -> FitReport:
    """The report of a fit that learned from ``data`` since ``perf_counter()`` was ``start``
    (the curve: every iteration's minibatch loss)."""
    return FitReport(
        steps=data.steps,
        samples=data.samples,
        wall_time=time.perf_counter() - start,
        curve=tuple(training.curve),
        diverged=training.diverged,
    )


class SequenceLearner(FilterAgent):
    """A filter agent that learns from labelled episodes: ``fit`` buys them
    (:func:`labelled_trajectories`) and hands them to :meth:`learn`, which subclasses write
    (most with :func:`train_sequences`)."""

    diverged: bool = False

    @abstractmethod
    def learn(self, data: Trajectories, seed: int) -> Training:
        """Learn from labelled episodes; ``seed`` seeds the initial weights and the order."""

    def fit(self, env: Any, budget: Budget | None = None, seed: int | None = None) -> FitReport:
        """Learn from the labelled episodes the budget buys (the curve: every iteration's
        minibatch loss)."""
        start = time.perf_counter()
        seed = 0 if seed is None else int(seed)
        data = labelled_trajectories(type(self).__name__, env, budget or Budget(), seed)
        training = self.learn(data, seed)
        self.diverged = training.diverged
        return fit_report(data, training, start)

    def diagnostics(self) -> dict[str, float]:
        return {"training_diverged": float(self.diverged)}


class NetworkEstimator(SequenceLearner):
    """A sequence learner whose estimator runs a torch network (``estimator.network``): each
    fit starts from fresh weights drawn from the fit seed alone (:meth:`_initialize`), takes
    what it needs from the data (:meth:`_prepare`), and trains them through time with the
    recipe ``learning_rate`` (Adam, annealed on a cosine), ``iterations``, ``batch_size``
    (episodes per step), ``validation_fraction`` (of the episodes, held out) and
    ``max_gradient_norm``; its learned parameters are the network's state dict."""

    def __init__(
        self,
        knowledge: str,
        learning_rate: float,
        iterations: int,
        batch_size: int,
        validation_fraction: float,
        max_gradient_norm: float,
    ) -> None:
        super().__init__(knowledge)
        self.recipe = TrainingRecipe(learning_rate, iterations, batch_size, validation_fraction)
        self.max_gradient_norm = positive_float("max_gradient_norm", max_gradient_norm)

    @abstractmethod
    def _initialize(self, seed: int) -> None:
        """Set the estimator, its network's initial weights drawn from ``seed`` alone."""

    def _prepare(self, data: Trajectories) -> None:
        """What the fresh network takes from the training episodes before it trains
        (nothing unless a subclass says)."""

    @property
    def network(self) -> nn.Module:
        return self.estimator.network

    def recipe_config(self) -> dict[str, Any]:
        """The recipe's constructor arguments, for ``config``."""
        return {
            "learning_rate": self.recipe.learning_rate,
            "iterations": self.recipe.iterations,
            "batch_size": self.recipe.batch_size,
            "validation_fraction": self.recipe.validation_fraction,
            "max_gradient_norm": self.max_gradient_norm,
        }

    def learn(self, data: Trajectories, seed: int) -> Training:
        """Fresh weights from ``seed``, prepared on ``data`` and trained through time on it."""
        self._initialize(seed)
        self._prepare(data)
        return train_sequences(
            self.network,
            self.estimator.unroll,
            data,
            self.recipe,
            torch.Generator().manual_seed(seed),
            max_gradient_norm=self.max_gradient_norm,
        )

    def learned_parameters(self) -> dict[str, np.ndarray]:
        """The network's state dict (weights and buffers), by name."""
        return network_weights(self.network)

    def set_learned_parameters(self, parameters: dict[str, np.ndarray]) -> None:
        load_network_weights(self.network, parameters)


def as_tensor(array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """A numpy array as a tensor of ``dtype`` (a copy: the estimator's memory stays its own)."""
    return torch.tensor(np.asarray(array), dtype=dtype)


def network_weights(network: nn.Module) -> dict[str, np.ndarray]:
    """Every tensor of ``network``'s state dict as a numpy array, by name."""
    return {name: value.detach().numpy().copy() for name, value in network.state_dict().items()}


def load_network_weights(network: nn.Module, arrays: dict[str, np.ndarray]) -> None:
    """Load what :func:`network_weights` gave into ``network`` (exactly)."""
    network.load_state_dict({name: torch.as_tensor(np.array(a)) for name, a in arrays.items()})
