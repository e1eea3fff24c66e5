"""Independent standard-normal streams for a batch of envs, drawn in blocks.

Env ``i`` of a batch owns the generator a single env seeded alike would own
(``gymnasium.utils.seeding.np_random(seed_i)``) and every call takes the next ``width``
normals of it, so a batched env reproduces single envs exactly. numpy has no vectorized draw
from many generators, and one ``standard_normal`` call per env and step would cost ~1 µs each
(1 ms per step at 1024 envs); so each env draws ``block`` calls' worth at once into a buffer
and a step gathers one row per env. This relies on numpy's ``Generator.standard_normal`` giving
the same values whether drawn one call at a time or in one block (it keeps no cached normal),
which ``tests/test_vector_envs.py`` checks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from gymnasium.utils import seeding


class NormalStreams:
    """``num_envs`` generators, each read ``width`` normals per call, buffered ``block`` calls."""

    def __init__(self, num_envs: int, width: int, block: int = 256) -> None:
        self.num_envs, self.width, self.block = num_envs, width, block
        self.generators: list[np.random.Generator | None] = [None] * num_envs
        self._buffer = np.empty((num_envs, block, width))
        self._position = np.full(num_envs, block)
        #: the read position of every stream while they all move together, else ``None``
        self._common_position: int | None = block

    def seed(self, rows: np.ndarray, seeds: Sequence[int | None]) -> None:
        """Restart the streams of ``rows``: ``seeds[k]`` seeds row ``rows[k]`` (``None``: fresh
        entropy), as ``Env.reset(seed=...)`` seeds ``np_random``."""
        for row, seed in zip(rows, seeds, strict=True):
            self.generators[row] = seeding.np_random(seed)[0]
        self._position[rows] = self.block
        if len(rows) == self.num_envs:
            self._common_position = self.block

    def draw(self, rows: np.ndarray) -> np.ndarray:
        """The next ``width`` normals of each stream in ``rows``: shape ``(len(rows), width)``."""
        if len(rows) == self.num_envs and self._common_position is not None:
            return self._draw_all()
        self._common_position = None
        self._refill(rows[self._position[rows] == self.block])
        self._position[rows] += 1
        return self._buffer[rows, self._position[rows] - 1]

    def _draw_all(self) -> np.ndarray:
        """The hot path of a batch stepping together: one read position for every stream."""
        if self._common_position == self.block:
            self._refill(np.arange(self.num_envs))
            self._common_position = 0
        draws = self._buffer[:, self._common_position].copy()
        self._common_position += 1
        self._position[:] = self._common_position
        return draws

    def _refill(self, rows: np.ndarray) -> None:
        for row in rows:
            generator = self.generators[row]
            if generator is None:  # never seeded: fresh entropy, as an unseeded Env.reset does
                generator = self.generators[row] = seeding.np_random(None)[0]
            generator.standard_normal((self.block, self.width), out=self._buffer[row])
            self._position[row] = 0
