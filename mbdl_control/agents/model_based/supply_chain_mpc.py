"""Model predictive control of the supply chain on a market model, as a model-based agent: the
plan, its forecasts and its solve are :mod:`mbdl_control.blocks.supply_chain_mpc`; a solve
that fails (an infeasible state) applies no flow and is counted."""

from __future__ import annotations

from typing import Any

import numpy as np

from mbdl_control.blocks.supply_chain_mpc import SupplyChainMPCPolicy
from mbdl_control.core import BaseAgent, positive_int, vector_space
from mbdl_control.core.solves import SolveCounts
from mbdl_control.models.supply_chain import NODES, SupplyChainModel, require_supply_chain


class SupplyChainMPC(SolveCounts, BaseAgent):
    """Receding-horizon flows planned on the model's expected prices and demands."""

    family = "model-based"

    def __init__(
        self, model: SupplyChainModel, horizon: int = 5, knowledge: str = "nominal"
    ) -> None:
        super().__init__(knowledge)
        self.model = require_supply_chain("SupplyChainMPC", model)
        self.horizon = positive_int("horizon", horizon)
        self._policy = SupplyChainMPCPolicy(self.model, self.horizon)
        self.observation_space = vector_space(NODES + 4)

    @property
    def config(self) -> dict[str, Any]:
        return {"model": self.model, "horizon": self.horizon, "knowledge": self.knowledge}

    def _act(
        self, observations: np.ndarray, state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        flows, solved = self._policy.flows(observations)
        self.count_solves(solved)
        return flows, None
