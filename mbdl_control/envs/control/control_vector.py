"""Native batched versions of the control envs (Gymnasium ``VectorEnv``).

``gym.make_vec(id, num_envs)`` builds one (the ids register it as their
``vector_entry_point``). It steps ``num_envs`` copies with a handful of array operations
instead of a Python loop over envs, through the same ``dynamics`` as the single env
(:mod:`~mbdl_control.envs.control.control_env`), and env ``i`` draws the normals a single env
seeded alike would draw (:class:`NormalStreams`): the trajectories equal those of
``make_vec(id, num_envs, "sync")`` with the same seeds, up to floating-point rounding of the
matrix products (BLAS sums a batch in another order than one row; ``tests/test_vector_envs.py``).

Gymnasium conventions: ``reset(seed=s)`` seeds env ``i`` with ``s + i`` (or takes a list of
seeds), ``options={"reset_mask": mask}`` resets some envs only; episodes truncate after
``max_episode_steps`` and restart on the next step (``AutoresetMode.NEXT_STEP``: that step
returns the reset observation, reward 0 and the reset info, and ignores the env's action).
``info`` holds ``cost``, ``state``, ``applied_action`` and ``saturated`` as arrays, each with
its ``_key`` mask. The models, ``oracle()``, ``performance_bound()`` and
``mismatch_report()`` are those of the single env built with the same arguments, which the
single env checks. Actions are checked as the single env checks them
(:func:`~mbdl_control.envs.actions.as_actions`); a batch in which one env's
step would overflow is refused whole, naming those envs: no state changes (the step's noise
is drawn all the same).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from mbdl_control.envs.actions import as_actions
from mbdl_control.envs.control.control_env import ControlEnv, overflow_message
from mbdl_control.envs.streamed_batch import StreamedBatchEnv


class ControlVectorEnv(StreamedBatchEnv):
    """``num_envs`` copies of :attr:`single_env_class`, stepped as one batch."""

    single_env_class: ClassVar[type[ControlEnv]]

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
