"""The batched envs whose physics draw standard normals per env: allocation and reset.

A batch of the linear-control envs or of the tracking envs keeps the single env's dynamics
object (``draws`` normals per reset or step, ``reset(z) -> (states, observations)``), one
:class:`~mbdl_control.envs.normal_streams.NormalStreams` (env ``i`` draws what a single env
seeded alike would), the states and the last observations; a reset, whole or masked, restarts
the chosen envs from their streams' next draws. Each family writes its own ``step``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mbdl_control.envs.batched import BatchedEnv
from mbdl_control.envs.normal_streams import NormalStreams


class StreamedBatchEnv(BatchedEnv):
    """A :class:`BatchedEnv` stepping its single env's ``dynamics`` on per-env streams."""

    def _allocate(self) -> None:
        self.dynamics = self.single_env.dynamics
        self._streams = NormalStreams(self.num_envs, self.dynamics.draws)
        self._state = np.zeros((self.num_envs, self.true_model.n))
        self._observations = np.zeros(self.observation_space.shape)

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        mask = self._reset_mask(options)
        rows = self._rows[mask]
        if seed is not None or not self._started:
            self._streams.seed(rows, self._seeds(seed, len(rows)))
        self._started = True
        # the other envs keep their states and last observations
        self._state[rows], self._observations[rows] = self.dynamics.reset(self._streams.draw(rows))
        self._elapsed[rows] = 0
        self._restart[rows] = False
        return self._observations.copy(), {"state": self._state.copy(), "_state": mask}
