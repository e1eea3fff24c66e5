"""The sparse inverse envs batched (Gymnasium ``VectorEnv``): ``gym.make_vec(id, num_envs)``.

Env ``i`` owns the generator a single env seeded alike owns
(``gymnasium.utils.seeding.np_random(seed_i)``) and draws from it exactly what that env draws,
through the same :class:`~mbdl_control.envs.inverse.inverse_dynamics.SparseDynamics`, which
computes each signal's measurements alike whatever the batch (no BLAS, whose sums depend on
it): the signals, observations, rewards and infos equal those of ``make_vec(id, num_envs,
"sync")`` with the same seeds, bit for bit (``tests/test_sparse_envs.py``). The draws are
made one generator at a time (two calls per signal); the scoring is batched.

Gymnasium conventions, as the other batched envs keep them: ``reset(seed=s)`` seeds env ``i``
with ``s + i`` (or takes a list of seeds), ``options={"reset_mask": mask}`` resets some envs
only; episodes truncate after ``max_episode_steps`` and restart on the next step
(``AutoresetMode.NEXT_STEP``: that step returns the reset observation, reward 0 and the reset
info, and ignores the env's action). Actions are checked as the single env checks them
(:func:`~mbdl_control.envs.actions.as_actions`, over the whole batch); a batch
in which a stepping env's squared error overflows is refused whole, naming those envs.
``info`` holds ``cost``, ``error_energy``, ``signal_energy`` and ``signal`` as arrays, each
with its ``_key`` mask (absent where every env restarted). The models, ``oracle()``,
``performance_bound()`` and ``mismatch_report()`` are those of the single env built with the
same arguments, which the single env checks.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from mbdl_control.envs.actions import as_actions
from mbdl_control.envs.batched import GeneratorBatchedEnv
from mbdl_control.envs.inverse.inverse_dynamics import Scores
from mbdl_control.envs.inverse.sparse_inverse import SparseInverseEnv, overflow_error
from mbdl_control.envs.inverse.sparse_recovery import SparseRecoveryEnv
from mbdl_control.envs.inverse.super_resolution import SuperResolutionEnv


class SparseInverseVectorEnv(GeneratorBatchedEnv):
    """``num_envs`` copies of :attr:`single_env_class`, stepped as one batch."""

    single_env_class: ClassVar[type[SparseInverseEnv]]
    single_env: SparseInverseEnv

    def _allocate(self) -> None:
        self.dynamics = self.single_env.dynamics
        model = self.true_model
        self._signal = np.zeros((self.num_envs, model.unknowns))
        self._measurements = np.zeros((self.num_envs, model.measurements))

    @property
    def episode_signal(self) -> np.ndarray:
        """Each env's signal waiting for an answer ``(num_envs, n)``, for analysis; no agent
        sees it."""
        return self._signal.copy()

    def label_count(self, info: dict[str, Any]) -> int:
        """The labelled samples of a batched step: one per env that stepped."""
        return int(np.count_nonzero(info["_signal"])) if "signal" in info else 0

    def _send(self, rows: np.ndarray) -> None:
        """A new signal for each env of ``rows``."""
        if len(rows) == 0:
            return
        drawn = self.dynamics.draw(self._generators_of(rows))
        self._signal[rows] = drawn.signal
        self._measurements[rows] = drawn.measurements

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        mask = self._reset_mask(options)
        rows = self._rows[mask]
        self._seed_rows(rows, seed)
        self._send(rows)
        self._elapsed[rows] = 0
        self._restart[rows] = False
        return self._measurements.copy(), {}

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if not self._started:
            raise RuntimeError("call reset() before step()")
        estimates = as_actions("actions", actions, self.action_space)
        restart = self._restart
        stepped = self._rows[~restart]
        scores = self.dynamics.score(estimates[stepped], self._signal[stepped])
        overflowing = stepped[~np.isfinite(scores.cost)]
        if len(overflowing):
            raise overflow_error(f"actions of envs {overflowing.tolist()}", estimates[overflowing])
        signal = self._signal.copy()
        self._send(stepped)
        self._send(self._rows[restart])
        self._elapsed[stepped] += 1
        self._elapsed[restart] = 0
        truncated = self._elapsed >= self.max_episode_steps
        self._restart = truncated.copy()
        rewards = np.zeros(self.num_envs)
        rewards[stepped] = -scores.cost
        terminated = np.zeros(self.num_envs, dtype=bool)
        info = self._info(stepped, scores, signal)
        return self._measurements.copy(), rewards, terminated, truncated, info

    def _info(self, stepped: np.ndarray, scores: Scores, signal: np.ndarray) -> dict[str, Any]:
        """As Gymnasium's vector envs: a key only where some env has it, zeros elsewhere."""
        if len(stepped) == 0:
            return {}
        mask = np.zeros(self.num_envs, dtype=bool)
        mask[stepped] = True
        signal[~mask] = 0.0
        info: dict[str, Any] = {}
        for key, values in (
            ("cost", scores.cost),
            ("error_energy", scores.error_energy),
            ("signal_energy", scores.signal_energy),
        ):
            info[key] = np.zeros(self.num_envs)
            info[key][stepped] = values
            info[f"_{key}"] = mask.copy()
        info["signal"], info["_signal"] = signal, mask.copy()
        return info


class SparseRecoveryVectorEnv(SparseInverseVectorEnv):
    """``num_envs`` copies of :class:`SparseRecoveryEnv`, stepped as one batch."""

    single_env_class = SparseRecoveryEnv


class SuperResolutionVectorEnv(SparseInverseVectorEnv):
    """``num_envs`` copies of :class:`SuperResolutionEnv`, stepped as one batch."""

    single_env_class = SuperResolutionEnv
