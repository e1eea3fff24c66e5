"""Symbol-wise MAP detection of an ISI channel: the BCJR algorithm on its model.

Bahl, Cocke, Jelinek and Raviv, "Optimal decoding of linear codes for minimizing symbol
error rate", IEEE Trans. IT 20(2), 1974. The posteriors ``P(s_i = a | y)`` of every data
symbol come from :func:`mbdl_control.blocks.trellis.bcjr` on the model's log-likelihoods
(started as the Viterbi detector is, :class:`~mbdl_control.agents.model_based.viterbi.
BlockDetector`); the decision is their arg max, which minimizes the symbol error rate, where
Viterbi's sequence minimizes the probability of any error in the block.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mbdl_control.agents.model_based.viterbi import BlockDetector
from mbdl_control.blocks.channel_likelihood import channel_log_likelihoods
from mbdl_control.blocks.trellis import bcjr


class BCJR(BlockDetector):
    """The most probable value of each data symbol of each block under the model."""

    def posteriors(self, observations: dict[str, np.ndarray]) -> np.ndarray:
        """``(batch, D, M)``: ``log P(s_i = a | block)`` for a batch of block observations."""
        model = self.model
        ll = channel_log_likelihoods(observations["samples"], model)
        return bcjr(ll, model.size, model.memory, self.initial_states(observations))

    def _act(
        self, observations: dict[str, np.ndarray], state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        return self.posteriors(observations).argmax(axis=-1), None
