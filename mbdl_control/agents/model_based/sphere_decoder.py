"""Exact maximum-likelihood MIMO detection: the sphere decoder on the observed channel.

Each channel use's ``argmin_{x ∈ 𝒜^{n_t}} ‖y − Ĥx‖²`` over the real-valued representation,
by the batched Schnorr–Euchner sphere decoder of :mod:`mbdl_control.blocks.sphere_decoder`
(the math, ordering and references are there). With the true channel in the observation
this is the ML detector, the oracle of ``mbdl/MIMODetection-v0`` (``knowledge="true"``);
with an estimate it is the mismatched ML detector.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mbdl_control.agents.model_based.mimo_detector import CHUNK, MIMODetector, require_tall
from mbdl_control.blocks.mimo_observations import ChannelUses
from mbdl_control.blocks.sphere_decoder import check_node_limit, sphere_decode
from mbdl_control.models import MIMOSystem


class SphereDecoder(MIMODetector):
    """The ML decision of each channel use, by an exact sphere search.

    ``node_limit`` (``None``: exact) bounds the nodes one search may examine; a search that
    reaches it returns its best point so far and is counted in ``diagnostics()``
    (``node_limit_hits``), so a non-ML decision is never silent. ``diagnostics()`` also
    reports the mean number of nodes examined per channel use (the search's complexity).
    """

    def __init__(
        self, system: MIMOSystem, node_limit: int | None = None, knowledge: str = "nominal"
    ) -> None:
        super().__init__(system, knowledge)
        require_tall(type(self).__name__, self.system)
        self.node_limit = check_node_limit(node_limit, self.system.transmit_dim)
        self.vectors = self.nodes = self.node_limit_hits = 0

    @property
    def config(self) -> dict[str, Any]:
        return {**super().config, "node_limit": self.node_limit}

    def detect(self, uses: ChannelUses) -> np.ndarray:
        """The searches of whole episodes at a time, each episode's QR computed once."""
        length = uses.block_length
        if not len(uses.received):
            return np.zeros((0, self.system.transmit_dim), np.int64)
        channels = uses.channel[::length]  # use u = b·T + t goes through channel b
        step = max(1, CHUNK // length)
        parts = [
            self._search(
                uses.received[start * length : (start + step) * length],
                channels[start : start + step],
                length,
            )
            for start in range(0, len(channels), step)
        ]
        return np.concatenate(parts)

    def _search(self, received: np.ndarray, channels: np.ndarray, length: int) -> np.ndarray:
        found = sphere_decode(received, channels, self.system.levels, self.node_limit, length)
        self.vectors += len(received)
        self.nodes += int(found.nodes.sum())
        self.node_limit_hits += int(np.count_nonzero(~found.complete))
        return found.indices

    def diagnostics(self) -> dict[str, float]:
        """Channel uses searched, mean nodes examined per use, and searches stopped by
        ``node_limit`` (their decisions are the best found, not proven ML)."""
        return {
            "vectors": self.vectors,
            "nodes_per_vector": self.nodes / max(self.vectors, 1),
            "node_limit_hits": self.node_limit_hits,
        }
