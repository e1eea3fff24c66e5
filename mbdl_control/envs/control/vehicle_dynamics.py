r"""The pure dynamics of ``mbdl/VehiclePathTracking-v0``, shared by the single and batched envs.

Every call consumes 7 standard normals ``z`` of its env's generator, whatever the action:
a reset ignores them (the start is deterministic); a step saturates the requested input to the
vehicle's bounds, charges the stage cost on the current state (the published timing) and draws
the next state with :meth:`~mbdl_control.models.vehicle.VehicleModel.transition`:

.. math::

    u = \operatorname{sat}_{x}(u^{\rm req}),\qquad c = \ell(x, u),\qquad x^+ = f(x, u, z).

The state is observed. Functions take one row or a batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mbdl_control.envs.control.control_env import nonfinite_rows
from mbdl_control.models.vehicle import DRAWS, VehicleModel


@dataclass(frozen=True, eq=False)
class VehicleDynamics:
    """The true vehicle."""

    model: VehicleModel

    @property
    def draws(self) -> int:
        return DRAWS

    def reset(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.broadcast_to(self.model.x0, (*z.shape[:-1], self.model.n)).copy()
        return x, x.copy()

    def step(
        self, x: np.ndarray, requested: np.ndarray, z: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Applied (saturated) input, stage cost, whether it was saturated (1.0 or 0.0), next
        state, and its observation."""
        u = self.model.saturate(x, requested)
        saturated = (u != requested).any(-1).astype(np.float64)
        cost = self.model.stage_cost(x, u)
        x_next = self.model.transition(x, u, z)
        return u, cost, saturated, x_next, x_next.copy()

    def overflows(
        self, cost: np.ndarray, x_next: np.ndarray, observation: np.ndarray
    ) -> dict[str, np.ndarray]:
        """What a step made non-finite (:func:`nonfinite_rows`): a lateral error reaching the
        path's radius of curvature (``eκ = 1``) would."""
        return nonfinite_rows(cost, x_next)
