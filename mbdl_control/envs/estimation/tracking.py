"""The shared machinery of the estimation envs, single and batched (the docstrings of the tasks
live in the envs).

A subclass supplies the true and nominal :class:`~mbdl_control.models.StateSpaceModel`,
``oracle()`` and ``_compute_bound()`` (the contract is
:class:`~mbdl_control.envs.base.PartiallyKnownEnv`). The agent observes ``y_t`` and acts with
its estimate ``x̂_t``; the stage cost is the squared error per state component
``‖x̂_t − x_t‖²/n`` (KalmanNet's MSE, shown in dB), and the true state behind each measurement
is the label ``info["state"]``. The dynamics are
:class:`~mbdl_control.envs.estimation.tracking_dynamics.TrackingDynamics`, shared with the
batched env :class:`TrackingVectorEnv`: env ``i`` of a batch draws the normals a single env
seeded alike draws (:class:`~mbdl_control.envs.normal_streams.NormalStreams`), so the
trajectories equal those of ``make_vec(id, num_envs, "sync")`` with the same seeds, up to the
rounding of matrix products batched (the Lorenz flow, row-wise, is bit for bit the same).

An estimate must be an array of real numbers of the state's shape, all finite, whose squared
error stays finite: anything else raises a ``ValueError`` and leaves the state as it was (an
estimate refused for its squared error has drawn the step's noise all the same; one refused for
its type, shape or a non-finite entry has not). Batched conventions are Gymnasium's and those
of the other batched envs of the suite (:mod:`mbdl_control.envs.batched`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from mbdl_control.envs.actions import as_actions
from mbdl_control.envs.base import PartiallyKnownEnv
from mbdl_control.envs.estimation.tracking_dynamics import TrackingDynamics, overflowing
from mbdl_control.envs.streamed_batch import StreamedBatchEnv
from mbdl_control.models import LinearMap, StateSpaceModel


def refused(name: str) -> ValueError:
    """Why a step was refused."""
    return ValueError(
        f"{name} would make the squared error, the state or the measurement non-finite "
        "(overflow): estimates must keep them finite; the step was not taken"
    )


class TrackingEnv(PartiallyKnownEnv):
    """Base class: a :class:`StateSpaceModel` tracked for ``horizon`` steps."""

    label_keys = ("state",)
    cost_display = "dB"
    default_horizon = 100

    def _track(self, true_model: StateSpaceModel, nominal_model: StateSpaceModel) -> None:
        """Set the models, the spaces and the dynamics (a subclass's ``__init__`` calls it
        after ``super().__init__(mismatch, render_mode)``)."""
        self.true_model, self.nominal_model = true_model, nominal_model
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (true_model.p,), np.float64)
        self.action_space = gym.spaces.Box(-np.inf, np.inf, (true_model.n,), np.float64)
        self.dynamics = TrackingDynamics.of(true_model)
        self._state: np.ndarray | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._state, observation = self.dynamics.reset(self._draw())
        self._record(x=self._state, y=observation)
        return observation, {"state": self._state.copy()}

    def _draw(self) -> np.ndarray:
        return self.np_random.standard_normal(self.dynamics.draws)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        estimate = as_actions("action", action, self.action_space)
        with np.errstate(over="ignore", invalid="ignore"):
            cost, state, observation = self.dynamics.step(self._state, estimate, self._draw())
        if overflowing(cost, state, observation):
            raise refused(f"action {estimate}")
        self._record(x=state, y=observation, estimate=estimate, cost=float(cost))
        self._state = state
        return observation, -float(cost), False, False, {"cost": float(cost), "state": state.copy()}


class TrackingVectorEnv(StreamedBatchEnv):
    """``num_envs`` copies of :attr:`single_env_class`, stepped as one batch."""

    single_env_class: ClassVar[type[TrackingEnv]]
    single_env: TrackingEnv

    def label_count(self, info: dict[str, Any]) -> int:
        """The labelled samples of a batched step: one per env that stepped."""
        return int(np.count_nonzero(info["_cost"])) if "cost" in info else 0

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if not self._started:
            raise RuntimeError("call reset() before step()")
        estimates = as_actions("actions", actions, self.action_space)
        z = self._streams.draw(self._rows)
        with np.errstate(over="ignore", invalid="ignore"):
            cost, state, observations = self.dynamics.step(self._state, estimates, z)
        restart, stepped = self._restart, ~self._restart
        bad = overflowing(cost, state, observations) & stepped
        if bad.any():
            raise refused(f"actions of envs {np.flatnonzero(bad).tolist()}")
        if restart.any():
            state[restart], observations[restart] = self.dynamics.reset(z[restart])
            cost[restart] = 0.0
        self._state, self._observations = state, observations
        self._elapsed = np.where(restart, 0, self._elapsed + 1)
        truncated = self._elapsed >= self.max_episode_steps
        self._restart = truncated.copy()
        info: dict[str, Any] = {"state": state.copy(), "_state": np.ones(self.num_envs, dtype=bool)}
        if stepped.any():
            info["cost"], info["_cost"] = cost, stepped
        terminated = np.zeros(self.num_envs, dtype=bool)
        return observations.copy(), -cost, terminated, truncated, info


def map_errors(true: StateSpaceModel, nominal: StateSpaceModel) -> dict[str, float]:
    """``‖M̂ − M‖_F / ‖M‖_F`` of the linear maps of two models (``rel_error_F``, ``rel_error_H``)."""
    errors = {}
    for name, field in (("F", "transition"), ("H", "observation")):
        mine, theirs = getattr(true, field), getattr(nominal, field)
        if isinstance(mine, LinearMap) and isinstance(theirs, LinearMap):
            gap = np.linalg.norm(theirs.matrix - mine.matrix)
            errors[f"rel_error_{name}"] = float(gap / np.linalg.norm(mine.matrix))
    return errors
