"""``mbdl/ISIChannel-v0`` batched (a Gymnasium ``VectorEnv``): ``gym.make_vec(id, num_envs)``.

Env ``i`` owns the generator a single env seeded alike owns
(``gymnasium.utils.seeding.np_random(seed_i)``) and draws from it exactly what that env draws,
through the same :class:`~mbdl_control.envs.comms.isi_dynamics.ISIChannelDynamics`: the blocks,
observations, rewards and infos equal those of ``make_vec(id, num_envs, "sync")`` with the
same seeds, bit for bit (``tests/test_isi_channel.py``). The draws are made one generator at
a time; :class:`~mbdl_control.envs.normal_streams.NormalStreams` does not fit (symbols are
integers, Poisson counts are drawn given their rates) and is not needed: each call draws a
block's worth (``≥ L − 1 + block_length`` values), so the loop's overhead is small next to it.
The convolutions, the noise scaling and the scoring are batched.

Gymnasium conventions, as the control envs' batched versions keep them: ``reset(seed=s)``
seeds env ``i`` with ``s + i`` (or takes a list of seeds), ``options={"reset_mask": mask}``
resets some envs only; episodes truncate after ``max_episode_steps`` and restart on the next
step (``AutoresetMode.NEXT_STEP``: that step returns the reset observation, reward 0 and the
reset info, and ignores the env's action, which is then not checked beyond its dtype and
shape). ``info`` holds ``cost``, ``errors``, ``trials`` and ``symbols`` as arrays, each
with its ``_key`` mask (absent where every env restarted). The models, ``oracle()``,
``performance_bound()`` and ``mismatch_report()`` are those of the single env built with the
same arguments, which the single env checks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mbdl_control.envs.batched import GeneratorBatchedEnv
from mbdl_control.envs.comms.decisions import as_decisions, check_batch_decisions
from mbdl_control.envs.comms.isi_channel import ISIChannelEnv
from mbdl_control.envs.comms.isi_dynamics import Block


class ISIChannelVectorEnv(GeneratorBatchedEnv):
    """``num_envs`` copies of :class:`ISIChannelEnv`, stepped as one batch."""

    single_env_class = ISIChannelEnv

    def _allocate(self) -> None:
        self.dynamics = self.single_env.dynamics
        layout = self.dynamics.layout
        self._taps = np.tile(self.true_model.taps, (self.num_envs, 1))
        self._block = Block(
            np.zeros((self.num_envs, layout.sent), dtype=np.int64),
            np.zeros((self.num_envs, layout.received)),
        )

    @property
    def episode_taps(self) -> np.ndarray:
        """Each env's taps this episode, ``(num_envs, L)``, for analysis; no agent sees them."""
        return self._taps.copy()

    def label_count(self, info: dict[str, Any]) -> int:
        """The labelled symbols of a batched step: the data symbols of the envs that stepped."""
        return int(np.size(info["symbols"][info["_symbols"]]))

    def _start_episodes(self, rows: np.ndarray) -> None:
        """New taps and a first block for the envs of ``rows``."""
        if len(rows) == 0:
            return
        generators = self._generators_of(rows)
        self._taps[rows] = self.dynamics.episode_taps(generators)
        self._send(rows, generators)

    def _send(self, rows: np.ndarray, generators: list[np.random.Generator]) -> None:
        block = self.dynamics.transmit(generators, self._taps[rows])
        self._block.symbols[rows] = block.symbols
        self._block.samples[rows] = block.samples

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        mask = self._reset_mask(options)
        rows = self._rows[mask]
        self._seed_rows(rows, seed)
        self._start_episodes(rows)
        self._elapsed[rows] = 0
        self._restart[rows] = False
        return self.dynamics.observations(self._block), {}

    def step(
        self, actions: Any
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if not self._started:
            raise RuntimeError("call reset() before step()")
        requested = as_decisions("actions", actions, self.action_space)
        restart = self._restart
        stepped = self._rows[~restart]
        decisions = check_batch_decisions(requested, stepped, self.true_model.size)
        symbols = self.dynamics.data_symbols(self._block).copy()
        errors = np.zeros(self.num_envs, dtype=np.int64)
        errors[stepped] = np.count_nonzero(decisions != symbols[stepped], axis=1)
        sent = self.dynamics.layout.block_length
        cost = errors / sent
        if len(stepped):
            self._send(stepped, self._generators_of(stepped))
        self._start_episodes(self._rows[restart])
        self._elapsed[stepped] += 1
        self._elapsed[restart] = 0
        truncated = self._elapsed >= self.max_episode_steps
        self._restart = truncated.copy()
        info = self._info(stepped, cost, errors, symbols, sent)
        terminated = np.zeros(self.num_envs, dtype=bool)
        rewards = -cost
        rewards[restart] = 0.0  # not -0.0: a restart earns nothing
        return self.dynamics.observations(self._block), rewards, terminated, truncated, info

    def _info(
        self,
        stepped: np.ndarray,
        cost: np.ndarray,
        errors: np.ndarray,
        symbols: np.ndarray,
        sent: int,
    ) -> dict[str, Any]:
        """As Gymnasium's vector envs: a key only where some env has it, zeros elsewhere."""
        if len(stepped) == 0:
            return {}
        mask = np.zeros(self.num_envs, dtype=bool)
        mask[stepped] = True
        symbols[~mask] = 0
        sent_counts = np.where(mask, sent, 0)
        info: dict[str, Any] = {}
        for key, value in (
            ("cost", cost),
            ("errors", errors),
            ("trials", sent_counts),
            ("symbols", symbols),
        ):
            info[key], info[f"_{key}"] = value, mask.copy()
        return info
