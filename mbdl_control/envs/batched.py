"""The bookkeeping every native batched env shares: one single env's contract, many rows.

A batched env (a Gymnasium ``VectorEnv`` registered as its id's ``vector_entry_point``) steps
``num_envs`` copies of :attr:`BatchedEnv.single_env_class` as arrays. This base builds the
single env from the same arguments (which it checks), the batched spaces, and hands on the
contract of :class:`~mbdl_control.envs.base.PartiallyKnownEnv` (models, oracle, bound,
metrics, labels, display) so that ``evaluate`` and the harness see one env; it reads the
Gymnasium conventions of ``reset``: ``seed=s`` seeds env ``i`` with ``s + i`` (or a list of
seeds), ``options={"reset_mask": mask}`` resets some envs only. Subclasses allocate the
rows' states (``_allocate``) and step them; episodes restart on the step after truncation
(``AutoresetMode.NEXT_STEP``).
"""

from __future__ import annotations

import functools
from abc import abstractmethod
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from mbdl_control.envs.arguments import COUNT, Choice, Integer, checked_arguments
from mbdl_control.envs.base import PartiallyKnownEnv


class BatchedEnv(gym.vector.VectorEnv):
    """``num_envs`` copies of :attr:`single_env_class` (module docstring)."""

    metadata: ClassVar[dict[str, Any]] = {"autoreset_mode": AutoresetMode.NEXT_STEP}
    single_env_class: ClassVar[type[PartiallyKnownEnv]]

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
        self.single_observation_space = self.single_env.observation_space
        self.single_action_space = self.single_env.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._rows = np.arange(num_envs)
        self._elapsed = np.zeros(num_envs, dtype=np.int64)
        self._restart = np.zeros(num_envs, dtype=bool)
        self._started = False
        self._allocate()

    @abstractmethod
    def _allocate(self) -> None:
        """Allocate the rows' state (the subclass's part of ``__init__``)."""

    @property
    def true_model(self) -> Any:
        return self.single_env.true_model

    @property
    def nominal_model(self) -> Any:
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
        """One seed per env to reset: ``s + i`` for an int ``s``, a list as given."""
        if seed is None or isinstance(seed, int | np.integer):
            return [None if seed is None else int(seed) + i for i in range(count)]
        seeds = list(seed)
        if len(seeds) != count:
            raise ValueError(f"seed must be an int, None or {count} seeds, got {len(seeds)}")
        return seeds

    def _reset_mask(self, options: dict[str, Any] | None) -> np.ndarray:
        """The envs to reset: ``options["reset_mask"]``, or all of them."""
        if not options or "reset_mask" not in options:
            return np.ones(self.num_envs, dtype=bool)
        mask = np.asarray(options["reset_mask"], dtype=bool)
        if mask.shape != (self.num_envs,):
            raise ValueError(
                f"reset_mask must be a bool array of shape ({self.num_envs},), got {mask!r}"
            )
        return mask


class GeneratorBatchedEnv(BatchedEnv):
    """A batched env whose env ``i`` owns a numpy generator, the one a single env seeded
    alike owns (``gymnasium.utils.seeding.np_random(seed_i)``), and draws from it exactly what
    that env draws (the communication envs: integers and Poisson counts, which
    :class:`~mbdl_control.envs.normal_streams.NormalStreams` does not give)."""

    @functools.cached_property
    def _generators(self) -> list[np.random.Generator | None]:
        """Each env's generator, ``None`` until it is first seeded or drawn from."""
        return [None] * self.num_envs

    def _seed_rows(self, rows: np.ndarray, seed: int | list[int | None] | None) -> None:
        """New generators for ``rows`` from ``seed`` (:meth:`_seeds`), on a seeded or the
        first ``reset``; later unseeded resets go on drawing from the generators they have."""
        if seed is not None or not self._started:
            for row, row_seed in zip(rows, self._seeds(seed, len(rows)), strict=True):
                self._generators[row] = seeding.np_random(row_seed)[0]
        self._started = True

    def _generators_of(self, rows: np.ndarray) -> list[np.random.Generator]:
        """The generators of ``rows``; one never seeded gets fresh entropy, as an unseeded
        ``Env.reset`` does."""
        for row in rows:
            if self._generators[row] is None:
                self._generators[row] = seeding.np_random(None)[0]
        return [self._generators[row] for row in rows]
