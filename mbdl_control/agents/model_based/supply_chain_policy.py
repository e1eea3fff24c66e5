"""The published convex policy of the supply chain (Agrawal, Barratt, Boyd & Stellato, L4DC
2020, §6.3) with its starting parameters ``P = I``, ``q = −3·1``, as a model-based agent: the
problem and its solve are :mod:`mbdl_control.blocks.supply_chain_policy`; a solve that fails
(an infeasible state) applies no flow and is counted."""

from __future__ import annotations

from typing import Any

import numpy as np

from mbdl_control.blocks.identify_then_tune import convex_policy_parameters
from mbdl_control.blocks.supply_chain_policy import supply_chain_flows
from mbdl_control.core import BaseAgent, vector_space
from mbdl_control.core.solves import SolveCounts
from mbdl_control.models.supply_chain import (
    NODES,
    SupplyChainModel,
    require_supply_chain,
)


class SupplyChainCOCP(SolveCounts, BaseAgent):
    """The supply chain's convex policy with ``P`` and ``q`` given (published start)."""

    family = "model-based"

    def __init__(
        self,
        model: SupplyChainModel,
        P: np.ndarray | None = None,
        q: np.ndarray | None = None,
        knowledge: str = "nominal",
    ) -> None:
        super().__init__(knowledge)
        self.model = require_supply_chain("SupplyChainCOCP", model)
        self.P, self.q = convex_policy_parameters(P, q, (np.eye(NODES), np.full(NODES, -3.0)))
        self.observation_space = vector_space(NODES + 4)

    @property
    def config(self) -> dict[str, Any]:
        return {"model": self.model, "P": self.P, "q": self.q, "knowledge": self.knowledge}

    def _act(
        self, observations: np.ndarray, state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        flows, solved = supply_chain_flows(self.model, self.P, self.q, observations)
        self.count_solves(solved)
        return flows, None
