"""The published convex policy of the supply chain (Agrawal, Barratt, Boyd & Stellato, L4DC
2020, §6.3) with its starting parameters ``P = I``, ``q = −3·1``, as a model-based agent: the
problem and its solve are :mod:`mbdl_control.blocks.supply_chain_policy`; a solve that fails
(an infeasible state) applies no flow and is counted."""

from __future__ import annotations

from typing import Any

import numpy as np

from mbdl_control.blocks.given_convex_policy import GivenConvexPolicy
from mbdl_control.blocks.supply_chain_policy import published_start, supply_chain_flows
from mbdl_control.core.solves import SolveCounts
from mbdl_control.models.supply_chain import (
    SupplyChainModel,
    require_supply_chain,
)


class SupplyChainCOCP(SolveCounts, GivenConvexPolicy):
    """The supply chain's convex policy with ``P`` and ``q`` given (published start: ``I`` and
    ``−3·1``)."""

    @staticmethod
    def required_model(model: Any) -> SupplyChainModel:
        return require_supply_chain("SupplyChainCOCP", model)

    published_start = staticmethod(published_start)

    def _act(
        self, observations: np.ndarray, state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        flows, solved = supply_chain_flows(self.model, self.P, self.q, observations)
        self.count_solves(solved)
        return flows, None
