"""Native batched versions of the linear-Gaussian control envs (Gymnasium ``VectorEnv``).

``gym.make_vec(id, num_envs)`` builds one (the ids register it as their
``vector_entry_point``). It steps ``num_envs`` copies with a handful of array operations
instead of a Python loop over envs, through the same :class:`LinearGaussianDynamics` as the
single env, and env ``i`` draws the normals a single env seeded alike would draw
(:class:`NormalStreams`): the trajectories equal those of ``make_vec(id, num_envs, "sync")``
with the same seeds, up to floating-point rounding of the matrix products (BLAS sums a batch
in another order than one row; ``tests/test_vector_envs.py``).

Gymnasium conventions: ``reset(seed=s)`` seeds env ``i`` with ``s + i`` (or takes a list of
seeds), ``options={"reset_mask": mask}`` resets some envs only; episodes truncate after
``max_episode_steps`` and restart on the next step (``AutoresetMode.NEXT_STEP``: that step
returns the reset observation, reward 0 and the reset info, and ignores the env's action).
``info`` holds ``cost``, ``state``, ``applied_action`` and ``saturated`` as arrays, each with
its ``_key`` mask. The models, ``oracle()``, ``performance_bound()`` and
``mismatch_report()`` are those of the single env built with the same arguments, which the
single env checks. Actions are checked as the single env checks them
(:func:`~mbdl_control.envs.control.linear_control.as_actions`); a batch in which one env's
step would overflow is refused whole, naming those envs: no state changes (the step's noise
is drawn all the same).
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from mbdl_control.envs.arguments import COUNT, Choice, Integer, checked_arguments
from mbdl_control.envs.control.linear_control import (
    LinearControlEnv,
    as_actions,
    overflow_message,
)
from mbdl_control.envs.normal_streams import NormalStreams
from mbdl_control.models import LinearGaussianModel


class LinearControlVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` copies of :attr:`single_env_class`, stepped as one batch."""

    metadata: ClassVar[dict[str, Any]] = {"autoreset_mode": AutoresetMode.NEXT_STEP}
    single_env_class: ClassVar[type[LinearControlEnv]]

    @checked_arguments(
        num_envs=COUNT,
        max_episode_steps=Integer(1, none_means="the env's default horizon"),
        render_mode=Choice((None,), "the batched env does not render"),
    )
    def __init__(
        self,
        num_envs: int = 1,
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
        **env_kwargs: Any,
    ) -> None:
        self.num_envs = num_envs
        self.single_env = self.single_env_class(**env_kwargs)
        self.max_episode_steps = (
            self.single_env.default_horizon if max_episode_steps is None else max_episode_steps
        )
        self.render_mode = render_mode
        self.dynamics = self.single_env.dynamics
        self.single_observation_space = self.single_env.observation_space
        self.single_action_space = self.single_env.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._rows = np.arange(self.num_envs)
        self._streams = NormalStreams(self.num_envs, self.dynamics.draws)
        self._state = np.zeros((self.num_envs, self.true_model.n))
        self._observations = np.zeros(self.observation_space.shape)
        self._elapsed = np.zeros(self.num_envs, dtype=np.int64)
        self._restart = np.zeros(self.num_envs, dtype=bool)
        self._started = False

    @property
    def true_model(self) -> LinearGaussianModel:
        return self.single_env.true_model

    @property
    def nominal_model(self) -> LinearGaussianModel:
        return self.single_env.nominal_model

    @property
    def task_metrics(self) -> tuple[str, ...]:
        return self.single_env.task_metrics

    @property
    def label_keys(self) -> tuple[str, ...]:
        return self.single_env.label_keys

    @property
    def cost_display(self) -> str:
        return self.single_env.cost_display

    def structure(self) -> Any:
        return self.single_env.structure()

    def oracle(self, horizon: int | None = None) -> Any:
        return self.single_env.oracle(self.max_episode_steps if horizon is None else horizon)

    def performance_bound(self, horizon: int | None = None) -> float | None:
        horizon = self.max_episode_steps if horizon is None else horizon
        return self.single_env.performance_bound(horizon)

    def mismatch_report(self) -> dict[str, float]:
        return self.single_env.mismatch_report()

    def _seeds(self, seed: int | list[int | None] | None, count: int) -> list[int | None]:
        if seed is None or isinstance(seed, int | np.integer):
            return [None if seed is None else int(seed) + i for i in range(count)]
        seeds = list(seed)
        if len(seeds) != count:
            raise ValueError(f"seed must be an int, None or {count} seeds, got {len(seeds)}")
        return seeds

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        mask = np.ones(self.num_envs, dtype=bool)
        if options and "reset_mask" in options:
            mask = np.asarray(options["reset_mask"], dtype=bool)
            if mask.shape != (self.num_envs,):
                raise ValueError(
                    f"reset_mask must be a bool array of shape ({self.num_envs},), got {mask!r}"
                )
        rows = self._rows[mask]
        if seed is not None or not self._started:
            self._streams.seed(rows, self._seeds(seed, len(rows)))
        self._started = True
        self._state[rows], observations = self.dynamics.reset(self._streams.draw(rows))
        self._elapsed[rows] = 0
        self._restart[rows] = False
        self._observations[rows] = observations  # the other envs keep their last observation
        return self._observations.copy(), {"state": self._state.copy(), "_state": mask}

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if not self._started:
            raise RuntimeError("call reset() before step()")
        requested = as_actions("actions", actions, self.action_space)  # a copy: rows are zeroed
        z = self._streams.draw(self._rows)
        u, cost, saturated, state, observations = self.dynamics.step(self._state, requested, z)
        restart = self._restart
        self._refuse_overflows(requested, cost, state, observations, ~restart)
        self._state = state
        self._elapsed += 1
        if restart.any():
            self._state[restart], observations[restart] = self.dynamics.reset(z[restart])
            self._elapsed[restart] = 0
            for value in (u, cost, saturated):
                value[restart] = 0.0
        stepped = ~restart
        truncated = self._elapsed >= self.max_episode_steps
        self._restart = truncated.copy()
        info = {"state": self._state.copy(), "_state": np.ones(self.num_envs, dtype=bool)}
        if stepped.any():  # as Gymnasium's vector envs: a key only where some env has it
            for key, value in (("cost", cost), ("applied_action", u), ("saturated", saturated)):
                info[key], info[f"_{key}"] = value, stepped
        terminated = np.zeros(self.num_envs, dtype=bool)
        self._observations = observations
        return observations, -cost, terminated, truncated, info

    def _refuse_overflows(
        self,
        requested: np.ndarray,
        cost: np.ndarray,
        state: np.ndarray,
        observations: np.ndarray,
        stepped: np.ndarray,
    ) -> None:
        """Raise unless the step keeps every stepped env finite; an env restarting this step
        ignores its action, so its overflow does not count."""
        overflows = self.dynamics.overflows(cost, state, observations)
        rows = {name: mask & stepped for name, mask in overflows.items() if (mask & stepped).any()}
        if rows:
            envs = np.flatnonzero(np.logical_or.reduce(list(rows.values())))
            raise ValueError(
                overflow_message(f"actions of envs {envs.tolist()}", requested[envs], rows)
            )
