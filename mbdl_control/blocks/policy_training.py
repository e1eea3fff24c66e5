"""Training a torch policy on the closed-loop cost of simulated episodes, kept only if better;
and the agent built on it (:class:`TrainedInModel`).

The loop of the policies learned *in a model* by backpropagation through the simulation
(:func:`~mbdl_control.blocks.closed_loop.closed_loop_cost`): the differentiable predictive
control MLP and the deep-unfolded MPC. Iteration ``k`` draws its episodes from a torch
generator seeded with ``seed·100003 + k + 1`` and takes one Adam step; a loss that is not
finite ends the training. The final parameters are kept only if they cost less than the
starting ones on a validation batch (the same episodes for both, from the stream seeded
``seed·100003``, which no iteration draws); otherwise the start is restored and the training
reported as diverged.
"""

from __future__ import annotations

import math
import time
from abc import abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from mbdl_control.blocks.closed_loop import TorchModel, closed_loop_cost
from mbdl_control.core import BaseAgent, Budget, FitReport, episode_length, positive_int


def train_on_loss(
    episode_loss: Callable[[int, torch.Generator], torch.Tensor],
    parameters: Sequence[torch.nn.Parameter],
    iterations: int,
    batch: int,
    learning_rate: float,
    seed: int,
    validation_batch: int = 64,
    optimizer: type[torch.optim.Optimizer] = torch.optim.Adam,
    clip_norm: float | None = None,
) -> tuple[list[float], bool]:
    """Minimize ``episode_loss(batch, generator)`` (the mean cost of ``batch`` simulated
    episodes drawn from ``generator``) over ``parameters`` by ``optimizer`` (module
    docstring), each gradient's norm clipped to ``clip_norm`` when given: the loss per
    iteration and whether the training diverged (the starting parameters then restored)."""
    start = [parameter.detach().clone() for parameter in parameters]
    steps = optimizer(parameters, lr=learning_rate)
    curve: list[float] = []
    diverged = False
    for iteration in range(iterations):
        generator = torch.Generator().manual_seed(seed * 100_003 + iteration + 1)
        loss = episode_loss(batch, generator)
        if not math.isfinite(float(loss.detach())):
            diverged = True
            break
        steps.zero_grad()
        loss.backward()
        if clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(parameters, clip_norm)
        steps.step()
        curve.append(float(loss.detach()))
    final = [parameter.detach().clone() for parameter in parameters]
    costs = []
    for values in (start, final):
        with torch.no_grad():
            for parameter, value in zip(parameters, values, strict=True):
                parameter.copy_(value)
            generator = torch.Generator().manual_seed(seed * 100_003)
            costs.append(float(episode_loss(validation_batch, generator)))
    if diverged or not costs[1] <= costs[0]:
        with torch.no_grad():
            for parameter, value in zip(parameters, start, strict=True):
                parameter.copy_(value)
        return curve, True
    return curve, False


def simulated_fit_report(
    curve: list[float], batch: int, horizon: int, started: float, diverged: bool
) -> FitReport:
    """What a training in the model reports: the episodes simulated, no env step."""
    return FitReport(
        simulated_steps=len(curve) * batch * horizon,
        wall_time=time.perf_counter() - started,
        curve=tuple(curve),
        diverged=diverged,
    )


def train_in_model(
    policy: Callable[[torch.Tensor], torch.Tensor],
    parameters: Sequence[torch.nn.Parameter],
    simulator: TorchModel,
    iterations: int,
    batch: int,
    horizon: int,
    learning_rate: float,
    seed: int,
) -> tuple[list[float], bool]:
    """:func:`train_on_loss` (Adam) on the closed-loop cost of ``policy`` in ``simulator``."""

    def episode_loss(size: int, generator: torch.Generator) -> torch.Tensor:
        return closed_loop_cost(policy, simulator, size, horizon, generator)

    return train_on_loss(episode_loss, parameters, iterations, batch, learning_rate, seed)


class TrainedInModel(BaseAgent):
    """An agent whose torch ``policy`` is trained by :func:`train_in_model` in its model's
    simulation (``simulator``), using no env step: ``fit`` trains the parameters that
    :meth:`trained_parameters` names for ``iterations`` batches of ``batch_size`` episodes of
    the env's length (or ``episode_horizon``), and ``predict`` evaluates ``policy`` without
    gradients. Subclasses define ``policy`` and ``trained_parameters``."""

    diverged: bool = False

    def __init__(
        self,
        model: Any,
        iterations: int,
        batch_size: int,
        episode_horizon: int | None,
        learning_rate: float,
        knowledge: str,
    ) -> None:
        super().__init__(knowledge)
        self.model = model
        self.iterations = positive_int("iterations", iterations)
        self.batch_size = positive_int("batch_size", batch_size)
        self.episode_horizon = (
            None if episode_horizon is None else positive_int("episode_horizon", episode_horizon)
        )
        if not (math.isfinite(learning_rate) and learning_rate > 0):
            raise ValueError(f"learning_rate must be a positive float, got {learning_rate!r}")
        self.learning_rate = learning_rate
        self.simulator = TorchModel.of(model)

    @abstractmethod
    def policy(self, x: torch.Tensor) -> torch.Tensor:
        """The inputs ``(batch, m)`` at states ``x`` ``(batch, n)``, differentiably."""

    @abstractmethod
    def trained_parameters(self, seed: int) -> list[torch.nn.Parameter]:
        """The parameters to train, after any re-initialization the seed decides."""

    def diagnostics(self) -> dict[str, float]:
        return {"diverged": float(self.diverged)}

    def fit(self, env: Any, budget: Budget | None = None, seed: int | None = None) -> FitReport:
        started = time.perf_counter()
        seed = 0 if seed is None else seed
        horizon = self.episode_horizon or episode_length(env) or 100
        curve, self.diverged = train_in_model(
            self.policy,
            self.trained_parameters(seed),
            self.simulator,
            self.iterations,
            self.batch_size,
            horizon,
            self.learning_rate,
            seed,
        )
        return simulated_fit_report(curve, self.batch_size, horizon, started, self.diverged)

    def _act(
        self, observations: np.ndarray, state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        with torch.no_grad():
            return self.policy(torch.from_numpy(np.asarray(observations, float))).numpy(), None
