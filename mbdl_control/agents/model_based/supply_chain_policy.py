"""The published convex policy of the supply chain (Agrawal, Barratt, Boyd & Stellato, L4DC
2020, §6.3) with its starting parameters ``P = I``, ``q = −3·1``, as a model-based agent: the
problem and its solve are :mod:`mbdl_control.blocks.supply_chain_policy`; a solve that fails
(an infeasible state) applies no flow and is counted."""

from __future__ import annotations

from typing import Any

import numpy as np

from mbdl_control.blocks.supply_chain_policy import supply_chain_flows
from mbdl_control.core import BaseAgent, vector_space
from mbdl_control.models.supply_chain import (
    NODES,
    SupplyChainModel,
    require_supply_chain,
)


class SupplyChainCOCP(BaseAgent):
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
        self.P = np.eye(NODES) if P is None else np.array(P, dtype=np.float64)
        self.q = np.full(NODES, -3.0) if q is None else np.array(q, dtype=np.float64)
        if self.P.shape != (NODES, NODES) or self.q.shape != (NODES,):
            raise ValueError(f"P must be (4, 4) and q (4,), got {self.P.shape}, {self.q.shape}")
        self.solves = self.failed_solves = 0
        self.observation_space = vector_space(NODES + 4)

    @property
    def config(self) -> dict[str, Any]:
        return {"model": self.model, "P": self.P, "q": self.q, "knowledge": self.knowledge}

    def diagnostics(self) -> dict[str, float]:
        rate = self.failed_solves / self.solves if self.solves else 0.0
        return {"solves": self.solves, "failed_solves": self.failed_solves, "failure_rate": rate}

    def _act(
        self, observations: np.ndarray, state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        flows, solved = supply_chain_flows(self.model, self.P, self.q, observations)
        self.solves += len(solved)
        self.failed_solves += int((~solved).sum())
        return flows, None
