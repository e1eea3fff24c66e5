"""Maximum-likelihood sequence detection of an ISI channel: the Viterbi algorithm on its model.

Forney, "The Viterbi algorithm", Proc. IEEE 61(3), 1973; Forney, "Maximum-likelihood
sequence estimation of digital sequences in the presence of intersymbol interference", IEEE
Trans. IT 18(3), 1972. The trellis is :func:`mbdl_control.blocks.trellis.viterbi`, fed the
model's log-likelihoods (:mod:`mbdl_control.blocks.channel_likelihood`) and started from the
state of the last ``L − 1`` pilots when there are that many.

:class:`BlockDetector` is the bookkeeping every detector of this family shares: one episode
is one block of ``mbdl/ISIChannel-v0``, and blocks of any length are taken (the observation
space is read from each observation, :func:`~mbdl_control.blocks.channel_likelihood.
block_space_of`).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from mbdl_control.blocks.channel_likelihood import (
    block_space_of,
    channel_log_likelihoods,
    initial_states,
)
from mbdl_control.blocks.trellis import viterbi
from mbdl_control.core import BaseAgent
from mbdl_control.models import ISIChannelModel, require_channel


class BlockDetector(BaseAgent):
    """A detector of the data symbols of a block from its model of the channel; nothing learned.

    ``predict`` takes the env's ``Dict`` observation, one block (``samples`` 1-D) or a batch
    of blocks (``samples`` 2-D), of any data and pilot lengths (the space is read off the
    observation: :meth:`observation_space_of`). Actions are the detected symbol indices, int64
    ``(D,)`` or ``(batch, D)``.
    """

    family = "model-based"
    action_dtype = np.int64
    knowledge_options = ("true", "nominal")

    def __init__(self, model: ISIChannelModel, knowledge: str = "nominal") -> None:
        super().__init__(knowledge)
        self.model = require_channel(type(self).__name__, model)

    @property
    def config(self) -> dict[str, Any]:
        return {"model": self.model, "knowledge": self.knowledge}

    def observation_space_of(self, observation: Any) -> gym.spaces.Dict:
        """Blocks of any data and pilot length: the space of the one (or batch) given."""
        return block_space_of(observation, self.model.size)

    def initial_states(self, observations: dict[str, np.ndarray]) -> np.ndarray | None:
        """The trellis state before each block's data, from its pilots (``None``: unknown)."""
        return initial_states(observations["pilot_symbols"], self.model.size, self.model.memory)


class Viterbi(BlockDetector):
    """The maximum-likelihood data sequence of each block under the model."""

    def _act(
        self, observations: dict[str, np.ndarray], state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        model = self.model
        ll = channel_log_likelihoods(observations["samples"], model)
        return viterbi(ll, model.size, model.memory, self.initial_states(observations)), None
