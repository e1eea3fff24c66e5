"""Model predictive control of the supply chain on a market model, as a model-based agent: the
plan, its forecasts and its solve are :mod:`mbdl_control.blocks.supply_chain_mpc`; a solve
that fails (an infeasible state) applies no flow and is counted.

Given the episode's length (``episode_steps``), the plan never runs past the episode's end
(a shrinking horizon, ``min(H, T − t)`` periods at period ``t``): goods bought for periods that
will not come are not bought. The agent counts the periods of each episode (its ``state``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mbdl_control.blocks.supply_chain_mpc import SupplyChainMPCPolicy
from mbdl_control.core import BaseAgent, positive_int, time_index, vector_space
from mbdl_control.core.solves import SolveCounts
from mbdl_control.models.supply_chain import (
    FLOWS,
    NODES,
    SupplyChainModel,
    require_supply_chain,
)


class SupplyChainMPC(SolveCounts, BaseAgent):
    """Receding-horizon flows planned on the model's expected prices and demands."""

    family = "model-based"

    def __init__(
        self,
        model: SupplyChainModel,
        horizon: int = 5,
        episode_steps: int | None = None,
        knowledge: str = "nominal",
    ) -> None:
        super().__init__(knowledge)
        self.model = require_supply_chain("SupplyChainMPC", model)
        self.horizon = positive_int("horizon", horizon)
        self.episode_steps = (
            None if episode_steps is None else positive_int("episode_steps", episode_steps)
        )
        self._policies = {
            length: SupplyChainMPCPolicy(self.model, length)
            for length in range(1, self.horizon + 1)
        }
        self.observation_space = vector_space(NODES + 4)

    @property
    def config(self) -> dict[str, Any]:
        names = ("model", "horizon", "episode_steps", "knowledge")
        return {name: getattr(self, name) for name in names}

    def _act(
        self, observations: np.ndarray, state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        steps = time_index(state, episode_start)
        if self.episode_steps is None:
            lengths = np.full_like(steps, self.horizon)
        else:
            lengths = np.clip(self.episode_steps - steps, 1, self.horizon)
        flows = np.zeros((len(observations), FLOWS))
        solved = np.zeros(len(observations), dtype=bool)
        for length in np.unique(lengths):
            rows = lengths == length
            flows[rows], solved[rows] = self._policies[int(length)].flows(observations[rows])
        self.count_solves(solved)
        return flows, steps + 1
