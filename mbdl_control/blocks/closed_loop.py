r"""Closed-loop simulation of a model in torch, for training a policy by gradient.

The loss of Agrawal et al. (L4DC 2020, §4), and of differentiable predictive control (Drgoňa,
Kiš, Tuor, Vrabie & Klaučo, J. Process Control 116, 2022): the average stage cost of ``batch``
episodes of ``horizon`` steps, simulated with the model and Gaussian noise from a seeded
generator,

.. math::

    \ell(\phi) = \frac{1}{T N} \sum_{i=1}^{N} \sum_{t=0}^{T-1}
        x_t^{i\top} Q x_t^i + u_t^{i\top} R u_t^i,\qquad
    u_t^i = \pi_\phi(x_t^i),\quad x_{t+1}^i = f(x_t^i, u_t^i) + w_t^i,

differentiable in the policy parameters ``φ`` through every step. ``f(x, u) = A x + B u`` for a
linear-Gaussian model; for a nonlinear one (the cart-pole) its own ``step``, in torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from mbdl_control.models import LinearGaussianModel, symmetric_sqrt


@dataclass(frozen=True)
class TorchModel:
    """A model's matrices as float64 tensors, and its step when it is not linear."""

    A: torch.Tensor
    B: torch.Tensor
    Q: torch.Tensor
    R: torch.Tensor
    noise_factor: torch.Tensor
    initial_factor: torch.Tensor
    initial_mean: torch.Tensor
    #: a nonlinear model's ``step(x, u)`` (``A`` and ``B`` are then its linearization's)
    dynamics: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None

    @classmethod
    def of(cls, model: Any) -> TorchModel:
        """A :class:`LinearGaussianModel`, or a nonlinear control model (with ``step`` and
        ``linearized``), simulated by its own step."""
        nonlinear = not isinstance(model, LinearGaussianModel)
        linear = model.linearized() if nonlinear else model

        def tensor(array):
            return torch.tensor(np.array(array), dtype=torch.float64)

        return cls(
            A=tensor(linear.A),
            B=tensor(linear.B),
            Q=tensor(linear.Q),
            R=tensor(linear.R),
            noise_factor=tensor(symmetric_sqrt(linear.W)),
            initial_factor=tensor(symmetric_sqrt(linear.x0_cov)),
            initial_mean=tensor(linear.x0_mean),
            dynamics=model.step if nonlinear else None,
        )

    def transition(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """``f(x, u)``, noise-free."""
        if self.dynamics is not None:
            return self.dynamics(x, u)
        return x @ self.A.T + u @ self.B.T


def closed_loop_cost(
    policy: Callable[[torch.Tensor], torch.Tensor],
    model: TorchModel,
    batch: int,
    horizon: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """Average stage cost per step of ``batch`` simulated episodes under ``policy``."""
    n = model.A.shape[0]

    def noise(factor: torch.Tensor) -> torch.Tensor:
        return torch.randn(batch, n, generator=generator, dtype=torch.float64) @ factor.T

    x = model.initial_mean + noise(model.initial_factor)
    total = torch.zeros((), dtype=torch.float64)
    for _ in range(horizon):
        u = policy(x)
        total = total + ((x @ model.Q) * x).sum() + ((u @ model.R) * u).sum()
        x = model.transition(x, u) + noise(model.noise_factor)
    return total / (batch * horizon)
