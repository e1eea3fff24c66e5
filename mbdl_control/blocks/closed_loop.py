r"""Closed-loop simulation of a linear-Gaussian model in torch, for training by gradient.

The loss of Agrawal et al. (L4DC 2020, §4): the average stage cost of ``batch`` episodes of
``horizon`` steps, simulated with the model and Gaussian noise from a seeded generator,

.. math::

    \ell(\phi) = \frac{1}{T N} \sum_{i=1}^{N} \sum_{t=0}^{T-1}
        x_t^{i\top} Q x_t^i + u_t^{i\top} R u_t^i,\qquad
    u_t^i = \pi_\phi(x_t^i),\quad x_{t+1}^i = A x_t^i + B u_t^i + w_t^i,

differentiable in the policy parameters ``φ`` through every step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from mbdl_control.models import LinearGaussianModel, symmetric_sqrt


@dataclass(frozen=True)
class TorchModel:
    """The matrices of a :class:`LinearGaussianModel` as float64 tensors."""

    A: torch.Tensor
    B: torch.Tensor
    Q: torch.Tensor
    R: torch.Tensor
    noise_factor: torch.Tensor
    initial_factor: torch.Tensor
    initial_mean: torch.Tensor

    @classmethod
    def of(cls, model: LinearGaussianModel) -> TorchModel:
        def tensor(array):
            return torch.tensor(np.array(array), dtype=torch.float64)

        return cls(
            A=tensor(model.A),
            B=tensor(model.B),
            Q=tensor(model.Q),
            R=tensor(model.R),
            noise_factor=tensor(symmetric_sqrt(model.W)),
            initial_factor=tensor(symmetric_sqrt(model.x0_cov)),
            initial_mean=tensor(model.x0_mean),
        )


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
        x = x @ model.A.T + u @ model.B.T + noise(model.noise_factor)
    return total / (batch * horizon)
