"""The published convex policy of the path-tracking vehicle (Agrawal, Barratt, Boyd & Stellato,
L4DC 2020, §6.2) with its starting parameters ``P = I``, ``q = 0``, as a model-based agent: the
problem and its exact solve are :mod:`mbdl_control.blocks.vehicle_policy`."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from mbdl_control.blocks.identify_then_tune import convex_policy_parameters
from mbdl_control.blocks.vehicle_policy import vehicle_inputs
from mbdl_control.core import BaseAgent, vector_space
from mbdl_control.models.vehicle import VehicleModel, require_vehicle


class VehicleCOCP(BaseAgent):
    """The vehicle's convex policy with ``P`` ``(4, 4)`` and ``q`` ``(4,)`` given (published
    start: ``I`` and ``0``), on the model's wheelbase, acceleration gain and bounds."""

    family = "model-based"

    def __init__(
        self,
        model: VehicleModel,
        P: np.ndarray | None = None,
        q: np.ndarray | None = None,
        knowledge: str = "nominal",
    ) -> None:
        super().__init__(knowledge)
        self.model = require_vehicle("VehicleCOCP", model)
        self.P, self.q = convex_policy_parameters(P, q, (np.eye(4), np.zeros(4)))
        self.observation_space = vector_space(model.n)

    @property
    def config(self) -> dict[str, Any]:
        return {"model": self.model, "P": self.P, "q": self.q, "knowledge": self.knowledge}

    def _act(
        self, observations: np.ndarray, state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        P, q, x = (
            torch.from_numpy(np.array(a, dtype=np.float64)) for a in (self.P, self.q, observations)
        )
        return vehicle_inputs(self.model, P, q, x).numpy(), None
