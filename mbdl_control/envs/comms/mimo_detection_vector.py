"""``mbdl/MIMODetection-v0`` batched (a Gymnasium ``VectorEnv``): ``gym.make_vec(id, num_envs)``.

Env ``i`` owns the generator a single env seeded alike owns
(``gymnasium.utils.seeding.np_random(seed_i)``) and draws from it exactly what that env draws,
through the same :class:`~mbdl_control.envs.comms.mimo_dynamics.MIMODynamics`: the
transmissions, observations, rewards and infos equal those of ``make_vec(id, num_envs,
"sync")`` with the same seeds, bit for bit (``tests/test_mimo_detection.py``). The draws are
made one generator at a time (each is a whole transmission: a channel, its estimate and
``T`` channel uses); the scoring is batched.

Gymnasium conventions, as the other batched envs keep them: ``reset(seed=s)`` seeds env ``i``
with ``s + i`` (or takes a list of seeds), ``options={"reset_mask": mask}`` resets some envs
only; episodes truncate after ``max_episode_steps`` and restart on the next step
(``AutoresetMode.NEXT_STEP``: that step returns the reset observation, reward 0 and the reset
info, and ignores the env's action, which is then not checked beyond its dtype and shape).
``info`` holds ``cost``, ``errors``, ``trials``, ``bit_errors``, ``bits`` and ``symbols`` as
arrays, each with its ``_key`` mask (absent where every env restarted). The models,
``oracle()``, ``performance_bound()`` and ``mismatch_report()`` are those of the single env
built with the same arguments, which the single env checks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mbdl_control.envs.batched import GeneratorBatchedEnv
from mbdl_control.envs.comms.decisions import as_decisions, check_batch_decisions
from mbdl_control.envs.comms.mimo_detection import (
    MIMODetectionEnv,
    bit_errors,
    observations,
    user_symbol_errors,
)
from mbdl_control.envs.comms.mimo_dynamics import Transmission


class MIMODetectionVectorEnv(GeneratorBatchedEnv):
    """``num_envs`` copies of :class:`MIMODetectionEnv`, stepped as one batch."""

    single_env_class = MIMODetectionEnv

    def _allocate(self) -> None:
        self.dynamics = self.single_env.dynamics
        system, rows = self.true_model, self.num_envs
        length = self.dynamics.block_length
        shape = (rows, system.receive_dim, system.transmit_dim)
        self._transmission = Transmission(
            np.zeros(shape),
            np.zeros(shape),
            np.ones(rows),
            np.zeros((rows, length, system.transmit_dim), dtype=np.int64),
            np.zeros((rows, length, system.receive_dim)),
        )

    @property
    def episode_channel(self) -> np.ndarray:
        """Each env's true channel ``(num_envs, n_r, n_t)``, for analysis; no agent sees it."""
        return self._transmission.channel.copy()

    def label_count(self, info: dict[str, Any]) -> int:
        """The labelled samples of a batched step: the channel uses of the envs that
        stepped."""
        return int(np.count_nonzero(info["_symbols"])) * self.dynamics.block_length

    def _send(self, rows: np.ndarray) -> None:
        """A new transmission for each env of ``rows``."""
        if len(rows) == 0:
            return
        sent = self.dynamics.transmit(self._generators_of(rows))
        for name in ("channel", "estimate", "noise_var", "symbols", "received"):
            getattr(self._transmission, name)[rows] = getattr(sent, name)

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        mask = self._reset_mask(options)
        rows = self._rows[mask]
        self._seed_rows(rows, seed)
        self._send(rows)
        self._elapsed[rows] = 0
        self._restart[rows] = False
        return observations(self._transmission), {}

    def step(
        self, actions: Any
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if not self._started:
            raise RuntimeError("call reset() before step()")
        requested = as_decisions("actions", actions, self.action_space)
        restart = self._restart
        stepped = self._rows[~restart]
        system = self.true_model
        decisions = check_batch_decisions(requested, stepped, system.level_count)
        symbols = self._transmission.symbols.copy()
        errors = np.zeros(self.num_envs, dtype=np.int64)
        wrong_bits = np.zeros(self.num_envs, dtype=np.int64)
        errors[stepped] = user_symbol_errors(system, symbols[stepped], decisions)
        wrong_bits[stepped] = bit_errors(system, symbols[stepped], decisions)
        self._send(stepped)
        self._send(self._rows[restart])
        self._elapsed[stepped] += 1
        self._elapsed[restart] = 0
        truncated = self._elapsed >= self.max_episode_steps
        self._restart = truncated.copy()
        info = self._info(stepped, errors, wrong_bits, symbols)
        terminated = np.zeros(self.num_envs, dtype=bool)
        rewards = -errors / (self.dynamics.block_length * system.users)
        rewards[restart] = 0.0  # not -0.0: a restart earns nothing
        return observations(self._transmission), rewards, terminated, truncated, info

    def _info(
        self, stepped: np.ndarray, errors: np.ndarray, wrong_bits: np.ndarray, symbols: np.ndarray
    ) -> dict[str, Any]:
        """As Gymnasium's vector envs: a key only where some env has it, zeros elsewhere."""
        if len(stepped) == 0:
            return {}
        mask = np.zeros(self.num_envs, dtype=bool)
        mask[stepped] = True
        system, length = self.true_model, self.dynamics.block_length
        trials = np.where(mask, length * system.users, 0)
        bits = np.where(mask, length * system.transmit_dim * system.bits_per_level, 0)
        symbols[~mask] = 0
        info: dict[str, Any] = {}
        for key, value in (
            ("cost", errors / (length * system.users)),
            ("errors", errors),
            ("trials", trials),
            ("bit_errors", wrong_bits),
            ("bits", bits),
            ("symbols", symbols),
        ):
            info[key], info[f"_{key}"] = value, mask.copy()
        return info
