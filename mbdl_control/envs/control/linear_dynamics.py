r"""The pure dynamics of the linear-Gaussian control envs, shared by the single and batched envs.

Every call, a reset or a step, consumes the same ``n + p`` standard normal draws ``z`` of its
env's generator (``p = 0`` without measurements), whatever the action:

.. math::

    \text{reset:}\; x_0 = \bar x_0 + \Sigma_0^{1/2} z_{1:n}, \qquad
    \text{step:}\; u = \operatorname{clip}(u^{\rm req}),\; c = x^\top Q x + u^\top R u,\;
    x^+ = A x + B u + W^{1/2} z_{1:n},

and the observation is the state, or ``C x + V^{1/2} z_{n+1:n+p}``. Because the count never
depends on the action or on the time step, two agents run with the same seed meet the same
disturbances (common random numbers), and a batch of envs can draw its normals in blocks
(:class:`mbdl_control.envs.normal_streams.NormalStreams`) and still see exactly the stream a
single env sees. The functions take one row ``(n,)`` or a batch ``(batch, n)``.

:meth:`LinearGaussianDynamics.overflows` says which rows of a step overflowed (a cost, a
next state or an observation that is not finite), so that an env refuses such a step
instead of committing it and returning ``-inf`` rewards from then on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from mbdl_control.models import (
    LinearGaussianModel,
    linear_step,
    quadratic_cost,
    symmetric_sqrt,
)


@dataclass(frozen=True, eq=False)
class LinearGaussianDynamics:
    """A model with the square roots of its covariances, computed once."""

    model: LinearGaussianModel
    initial_factor: np.ndarray
    process_factor: np.ndarray
    measurement_factor: np.ndarray | None
    #: ``Σ |Q_ij|``, so that ``xᵀQx ≤ Σ |Q_ij| · ‖x‖²``: the fast test of :meth:`overflows`
    state_weight: float
    _bounds: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = field(
        default_factory=dict, repr=False
    )

    @classmethod
    def of(cls, model: LinearGaussianModel) -> LinearGaussianDynamics:
        measurement = None if model.V is None else symmetric_sqrt(model.V)
        factors = symmetric_sqrt(model.x0_cov), symmetric_sqrt(model.W), measurement
        return cls(model, *factors, float(np.abs(model.Q).sum()))

    @property
    def draws(self) -> int:
        """Standard normals consumed per reset or step: ``n + p``."""
        return self.model.n + self.model.p

    def observe(self, x: np.ndarray, z: np.ndarray) -> np.ndarray:
        """The state, or ``C x + V^½ z_{n+1:n+p}``."""
        if self.measurement_factor is None:
            return x.copy()
        return x @ self.model.C.T + z[..., self.model.n :] @ self.measurement_factor.T

    def reset(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Initial state and its observation."""
        x = self.model.x0_mean + z[..., : self.model.n] @ self.initial_factor.T
        return x, self.observe(x, z)

    def saturate(self, u: np.ndarray) -> np.ndarray:
        """:func:`~mbdl_control.models.saturate` with the bounds tiled to ``u``'s shape once
        per shape: numpy clips a batch against a broadcast short row several times slower."""
        if self.model.u_max is None:
            return u
        if u.shape not in self._bounds:
            upper = np.broadcast_to(self.model.u_max, u.shape).copy()
            self._bounds[u.shape] = (-upper, upper)
        lower, upper = self._bounds[u.shape]
        return np.minimum(np.maximum(u, lower), upper)

    def step(
        self, x: np.ndarray, requested: np.ndarray, z: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Applied (clipped) input, stage cost, whether the input was clipped (1.0 or 0.0),
        next state, and its observation."""
        u = self.saturate(requested)
        cost = quadratic_cost(self.model, x, u)
        clipped = np.minimum((u != requested) @ np.ones(self.model.m), 1.0)  # a fast row-wise any
        x_next = linear_step(self.model, x, u, z[..., : self.model.n] @ self.process_factor.T)
        return u, cost, clipped, x_next, self.observe(x_next, z)

    def overflows(
        self, cost: np.ndarray, x_next: np.ndarray, observation: np.ndarray
    ) -> dict[str, np.ndarray]:
        """What a step made non-finite, as a row mask per quantity (``{}`` when nothing):
        ``"cost"``, ``"next state"`` (its cost ``xᵀQx``: a state whose cost overflows would
        make every later step overflow, whatever the input) and ``"observation"``.

        The common case costs one scalar: the sum of every cost and of the bounds
        ``Σ|Q_ij|·‖x‖²`` (and ``‖y‖²``) is finite only if each term is. Only when it is not
        (or a finite sum overflowed) are the rows examined one by one."""
        costs = cost.sum() if cost.ndim else cost  # a numpy scalar's sum() takes 1 µs
        total = costs + self.state_weight * np.vdot(x_next, x_next)
        if self.measurement_factor is not None:
            total = total + np.vdot(observation, observation)
        if math.isfinite(total):
            return {}
        with np.errstate(over="ignore", invalid="ignore"):  # the overflows are the point here
            next_cost = ((x_next @ self.model.Q) * x_next) @ np.ones(self.model.n)
        masks = {
            "cost": ~np.isfinite(cost),
            "next state": ~np.isfinite(next_cost),
            "observation": ~np.all(np.isfinite(observation), axis=-1),
        }
        return {name: mask for name, mask in masks.items() if mask.any()}
