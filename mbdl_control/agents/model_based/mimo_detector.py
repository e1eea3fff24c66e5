"""The bookkeeping every model-based MIMO detector shares: one episode of
``mbdl/MIMODetection-v0`` is ``T`` channel uses, each detected on its own.

A detector implements :meth:`MIMODetector.detect` on a batch of channel uses
(:class:`~mbdl_control.blocks.mimo_observations.ChannelUses`: ``y``, ``Ĥ`` and ``σ²`` per
use, in the real-valued representation of :mod:`mbdl_control.models.mimo`), returning level
indices ``(U, n_t)``; the base class reads one observation or a batch, of any block length,
flattens it into uses and folds the decisions back into actions ``(T, n_t)`` or
``(batch, T, n_t)``, int64.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from mbdl_control.blocks.mimo_observations import (
    ChannelUses,
    as_actions,
    channel_uses,
    mimo_space_of,
)
from mbdl_control.core import BaseAgent
from mbdl_control.models import MIMOSystem, require_mimo

#: channel uses per call of a batched detector (bounds the memory of one call)
CHUNK = 4096


class MIMODetector(BaseAgent):
    """A detector of the symbols of each channel use from the observed ``y``, ``Ĥ``, ``σ²``
    and the system's form (constellation, dimensions); nothing learned.

    ``predict`` takes the env's ``Dict`` observation, one episode (``channel`` 2-D) or a
    batch, of any block length (the space is read off the observation:
    :func:`~mbdl_control.blocks.mimo_observations.mimo_space_of`, whose ``ValueError`` names
    a wrong shape). ``TypeError`` unless built on a :class:`~mbdl_control.models.MIMOSystem`.
    """

    family = "model-based"
    action_dtype = np.int64
    knowledge_options = ("true", "nominal")

    def __init__(self, system: MIMOSystem, knowledge: str = "nominal") -> None:
        super().__init__(knowledge)
        self.system = require_mimo(type(self).__name__, system)

    @property
    def config(self) -> dict[str, Any]:
        return {"system": self.system, "knowledge": self.knowledge}

    def observation_space_of(self, observation: Any) -> gym.spaces.Dict:
        """Episodes of any number of channel uses: the space of the one (or batch) given."""
        return mimo_space_of(observation, self.system)

    @abstractmethod
    def detect(self, uses: ChannelUses) -> np.ndarray:
        """Level indices ``(U, n_t)`` of the symbols of each channel use."""

    def _act(
        self, observations: dict[str, np.ndarray], state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        uses = channel_uses(observations)
        return as_actions(self.detect(uses), uses), None


def require_tall(owner: str, system: MIMOSystem) -> MIMOSystem:
    """``system``, or a ``ValueError`` unless it has at least as many receive as transmit
    dimensions (what a QR, ZF or a tree search on ``R`` needs)."""
    if system.receive_dim < system.transmit_dim:
        raise ValueError(
            f"{owner} needs at least as many receive antennas as users (N >= K); got "
            f"K={system.users} users and N={system.antennas} antennas"
        )
    return system


def chunked(
    detect: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
    uses: ChannelUses,
    size: int = CHUNK,
) -> np.ndarray:
    """``detect(received, channel, noise_var)`` on ``size`` uses at a time, concatenated."""
    parts = [
        detect(uses.received[s], uses.channel[s], uses.noise_var[s])
        for s in (slice(start, start + size) for start in range(0, len(uses.received), size))
    ]
    return np.concatenate(parts) if parts else np.zeros((0, uses.channel.shape[-1]), np.int64)
