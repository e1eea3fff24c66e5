r"""The pure dynamics of the estimation envs, shared by the single and batched envs.

Every call, a reset or a step, consumes the same ``n + p`` standard normal draws ``z`` of its
env's generator, whatever the estimate:

.. math::

    \text{reset:}\; x_0 = \bar x_0 + \Sigma_0^{1/2} z_{1:n},\qquad
    \text{step:}\; c = \|\hat x - x\|^2 / n,\; x^+ = f(x) + W^{1/2} z_{1:n},

and the measurement is ``h(x) + V^{1/2} z_{n+1:n+p}``. The count never depends on the estimate,
so two agents run with the same seed meet the same trajectory (common random numbers), and a
batch of envs draws its normals in blocks
(:class:`~mbdl_control.envs.normal_streams.NormalStreams`) and sees the stream a single env
sees. The functions take one row ``(n,)`` or a batch ``(batch, n)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mbdl_control.models import StateSpaceModel, symmetric_sqrt


@dataclass(frozen=True, eq=False)
class TrackingDynamics:
    """A state-space model with the square roots of its covariances, computed once."""

    model: StateSpaceModel
    initial_factor: np.ndarray
    process_factor: np.ndarray
    measurement_factor: np.ndarray

    @classmethod
    def of(cls, model: StateSpaceModel) -> TrackingDynamics:
        factors = (symmetric_sqrt(m) for m in (model.x0_cov, model.W, model.V))
        return cls(model, *factors)

    @property
    def draws(self) -> int:
        """Standard normals consumed per reset or step: ``n + p``."""
        return self.model.n + self.model.p

    def observe(self, x: np.ndarray, z: np.ndarray) -> np.ndarray:
        """``h(x) + V^½ z_{n+1:n+p}``."""
        return self.model.h(x) + z[..., self.model.n :] @ self.measurement_factor.T

    def reset(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Initial state and its measurement."""
        x = self.model.x0_mean + z[..., : self.model.n] @ self.initial_factor.T
        return x, self.observe(x, z)

    def step(
        self, x: np.ndarray, estimate: np.ndarray, z: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The estimate's squared error per component, the next state and its measurement."""
        error = estimate - x
        cost = (error * error) @ np.full(self.model.n, 1.0 / self.model.n)
        x_next = self.model.f(x) + z[..., : self.model.n] @ self.process_factor.T
        return cost, x_next, self.observe(x_next, z)


def overflowing(cost: np.ndarray, x_next: np.ndarray, measurement: np.ndarray) -> np.ndarray:
    """Rows whose cost, next state or measurement is not finite (an estimate of 1e200; a
    diverging model)."""
    finite = np.all(np.isfinite(x_next), -1) & np.all(np.isfinite(measurement), -1)
    return ~(np.isfinite(cost) & finite)
