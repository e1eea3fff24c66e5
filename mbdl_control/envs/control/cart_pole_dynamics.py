r"""The pure dynamics of ``mbdl/CartPole-v0``, shared by the single and batched envs.

Every call consumes 4 standard normals ``z`` of its env's generator, whatever the action:

.. math::

    \text{reset:}\; x_0 = \bar x_0 + \Sigma_0^{1/2} z, \qquad
    \text{step:}\; F = \operatorname{clip}(F^{\rm req}),\; c = x^\top Q x + F^\top R F,\;
    x^+ = f(x, F) + W^{1/2} z,

with ``f`` the true model's :meth:`~mbdl_control.models.cart_pole.CartPoleModel.step` and the
angle of ``x⁺`` wrapped to ``[-π, π)`` again after the noise. The state is observed. Functions
take one row ``(4,)`` or a batch ``(batch, 4)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mbdl_control.envs.control.control_env import nonfinite_rows
from mbdl_control.models import symmetric_sqrt
from mbdl_control.models.cart_pole import ANGLE, CartPoleModel, wrap_angle


@dataclass(frozen=True, eq=False)
class CartPoleDynamics:
    """A cart-pole model with the square roots of its covariances, computed once."""

    model: CartPoleModel
    initial_factor: np.ndarray
    process_factor: np.ndarray

    @classmethod
    def of(cls, model: CartPoleModel) -> CartPoleDynamics:
        return cls(model, symmetric_sqrt(model.x0_cov), symmetric_sqrt(model.W))

    @property
    def draws(self) -> int:
        """Standard normals consumed per reset or step: 4."""
        return self.model.n

    def reset(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Initial state (angle wrapped) and its observation, the state itself."""
        x = self.model.x0_mean + z @ self.initial_factor.T
        x[..., ANGLE] = wrap_angle(x[..., ANGLE])
        return x, x.copy()

    def step(
        self, x: np.ndarray, requested: np.ndarray, z: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Applied (clipped) force, stage cost, whether the force was clipped (1.0 or 0.0),
        next state, and its observation."""
        bound = self.model.force_max
        u = np.clip(requested, -bound, bound)
        cost = ((x @ self.model.Q) * x).sum(-1) + ((u @ self.model.R) * u).sum(-1)
        clipped = (u != requested).any(-1).astype(np.float64)
        x_next = self.model.step(x, u, wrap=False) + z @ self.process_factor.T
        x_next[..., ANGLE] = wrap_angle(x_next[..., ANGLE])
        return u, cost, clipped, x_next, x_next.copy()

    def overflows(
        self, cost: np.ndarray, x_next: np.ndarray, observation: np.ndarray
    ) -> dict[str, np.ndarray]:
        """What a step made non-finite (:func:`nonfinite_rows`). The force is clipped and the
        angle wrapped, so only velocities grown over many steps could overflow."""
        return nonfinite_rows(cost, x_next)
