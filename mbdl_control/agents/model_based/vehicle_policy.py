"""The published convex policy of the path-tracking vehicle (Agrawal, Barratt, Boyd & Stellato,
L4DC 2020, §6.2) with its starting parameters ``P = I``, ``q = 0``, as a model-based agent: the
problem and its exact solve are :mod:`mbdl_control.blocks.vehicle_policy`."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from mbdl_control.blocks.given_convex_policy import GivenConvexPolicy
from mbdl_control.blocks.vehicle_policy import published_start, vehicle_inputs
from mbdl_control.models.vehicle import VehicleModel, require_vehicle


class VehicleCOCP(GivenConvexPolicy):
    """The vehicle's convex policy with ``P`` ``(4, 4)`` and ``q`` ``(4,)`` given (published
    start: ``I`` and ``0``), on the model's wheelbase, acceleration gain and bounds."""

    @staticmethod
    def required_model(model: Any) -> VehicleModel:
        return require_vehicle("VehicleCOCP", model)

    published_start = staticmethod(published_start)

    def _act(
        self, observations: np.ndarray, state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        P, q, x = (
            torch.from_numpy(np.array(a, dtype=np.float64)) for a in (self.P, self.q, observations)
        )
        return vehicle_inputs(self.model, P, q, x).numpy(), None
