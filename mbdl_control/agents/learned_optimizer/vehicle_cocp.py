"""The vehicle's convex policy with ``P`` and ``q`` learned through the exact box-QP layer.

Agrawal, Barratt, Boyd & Stellato (L4DC 2020, §6.2): the policy of
:class:`~mbdl_control.agents.model_based.vehicle_policy.VehicleCOCP`, its parameters tuned by
SGD with the published recipe (rate 0.1, 100 iterations of one 100-period episode, gradient
norm clipped to 10) on the mean cost of episodes simulated in a model, differentiating each
period's argmin through :func:`~mbdl_control.blocks.qp.box_qp.box_qp` (exact) instead of
cvxpylayers. The model is the nominal one, or, learning from the system, the nominal one with
its acceleration gain, wheelbase and noise levels identified from the env's transitions
(:class:`~mbdl_control.blocks.identify_then_tune.IdentifyThenTune`).
"""

from __future__ import annotations

import numpy as np
import torch

from mbdl_control.blocks.grey_box_identification import identify_vehicle
from mbdl_control.blocks.identify_then_tune import IdentifyThenTune
from mbdl_control.blocks.vehicle_policy import published_start, vehicle_inputs
from mbdl_control.core import vector_space
from mbdl_control.models.vehicle import DRAWS, VehicleModel, require_vehicle


class LearnedVehicleCOCP(IdentifyThenTune):
    """The vehicle's convex policy, ``P`` (from ``I``) and ``q`` (from ``0``) learned in the
    nominal or the identified model."""

    identified_fields = ("acceleration_gain", "wheelbase", "noise_std")

    def __init__(
        self,
        model: VehicleModel,
        iterations: int = 100,
        batch_size: int = 1,
        learning_rate: float = 0.1,
        clip_norm: float | None = 10.0,
        learn_from: str = "model",
        exploration: float = 0.1,
        knowledge: str = "nominal",
    ) -> None:
        model = require_vehicle("LearnedVehicleCOCP", model)
        super().__init__(
            model, *published_start(), iterations, batch_size, learning_rate, clip_norm,
            learn_from, exploration, knowledge,
        )  # fmt: skip
        self.observation_space = vector_space(model.n)

    def policy(self, model: VehicleModel, x: torch.Tensor) -> torch.Tensor:
        return vehicle_inputs(model, self.P, self.q, x)

    def episode_cost(
        self, model: VehicleModel, batch: int, horizon: int, generator: torch.Generator
    ) -> torch.Tensor:
        x = model.initial_states(batch, torch.zeros((), dtype=torch.float64))
        total = torch.zeros((), dtype=torch.float64)
        for _ in range(horizon):
            u = self.policy(model, x)
            total = total + model.stage_cost(x, u).sum()
            z = torch.randn(batch, DRAWS, generator=generator, dtype=torch.float64)
            x = model.transition(x, u, z)
        return total / (batch * horizon)

    def identify(
        self, states: np.ndarray, inputs: np.ndarray, next_states: np.ndarray
    ) -> VehicleModel:
        return identify_vehicle(self.model, states, inputs, next_states)
