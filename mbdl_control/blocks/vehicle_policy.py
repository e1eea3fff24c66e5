r"""The vehicle's convex policy at a batch of states: a box QP solved and differentiated exactly.

Agrawal, Barratt, Boyd & Stellato (L4DC 2020, §6.2), as their code writes it: at a state
``x = (s, e, Δψ, v, v_des, κ)`` the policy predicts, linearly in the input ``u = (a, z)``,

.. math::

    y = \hat f(x) + \hat B(x)\,u = \begin{pmatrix} e^+ \\ \Delta\psi^+ \\
        v - \mathbb E\, v_{\rm des}^+ \\ e^+ + h v \sin\Delta\psi^+ \end{pmatrix}
        + \begin{pmatrix} 0 & 0 \\ 0 & hv/L \\ h g & 0 \\ 0 & h^2 v^2/L \end{pmatrix} u,

(``e⁺``, ``Δψ⁺`` the noise-free next errors without steering; the last row a two-step
look-ahead of the lateral error) and solves

.. math::

    u = \operatorname*{argmin}_{|a| \le a_{\max},\ |z + L\kappa| \le \delta_{\max}}\;
        10 a^2 + 10 z^2 + \|P y\|_2^2 + q^\top y,

with ``P`` ``(4, 4)`` and ``q`` ``(4,)`` the tunable parameters (published start ``P = I``,
``q = 0``) and the designer's ``L``, ``g``, ``E v_des⁺`` and bounds. The constraints are a box
in ``u``, so the problem is the exact batched layer
:func:`~mbdl_control.blocks.qp.box_qp.box_qp` (the published code used cvxpylayers): the
untuned agent and the learned one share this function.
"""

from __future__ import annotations

import numpy as np
import torch

from mbdl_control.blocks.qp.box_qp import box_qp
from mbdl_control.models.vehicle import CURVATURE, DESIRED, HEADING, SPEED, VehicleModel


def published_start() -> tuple[np.ndarray, np.ndarray]:
    """The published ``(P, q)``: ``I`` and ``0``."""
    return np.eye(4), np.zeros(4)


def vehicle_prediction(model: VehicleModel, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(f̂, B̂)``: ``(batch, 4)`` and ``(batch, 4, 2)`` at states ``x`` ``(batch, 6)``."""
    h = model.dt
    e, heading, speed, curvature = x[:, 1], x[:, HEADING], x[:, SPEED], x[:, CURVATURE]
    e_next = e + h * speed * torch.sin(heading)
    heading_next = heading + h * speed * (
        curvature - curvature * torch.cos(heading) / (1 - e * curvature)
    )
    expected_desired = (
        model.speed_keep * x[:, DESIRED] + (1 - model.speed_keep) * model.mean_desired_speed
    )
    f = torch.stack(
        (
            e_next,
            heading_next,
            speed - expected_desired,
            e_next + h * speed * torch.sin(heading_next),
        ),
        -1,
    )
    zero = torch.zeros_like(speed)
    B = torch.stack(
        (
            torch.stack((zero, zero), -1),
            torch.stack((zero, h * speed / model.wheelbase), -1),
            torch.stack((zero + h * model.acceleration_gain, zero), -1),
            torch.stack((zero, h * h * speed**2 / model.wheelbase), -1),
        ),
        -2,
    )
    return f, B


def vehicle_inputs(
    model: VehicleModel, P: torch.Tensor, q: torch.Tensor, x: torch.Tensor
) -> torch.Tensor:
    """The inputs ``(batch, 2)`` at states ``x`` ``(batch, 6)``, differentiable in ``P``, ``q``
    (and ``x``)."""
    f, B = vehicle_prediction(model, x)
    weighted = P @ B  # (batch, 4, 2)
    input_weights = torch.diag(torch.tensor(model.weights[3:].tolist(), dtype=x.dtype))
    hessian = 2 * (input_weights + weighted.transpose(-1, -2) @ weighted)
    linear = 2 * (weighted.transpose(-1, -2) @ (f @ P.T).unsqueeze(-1)).squeeze(-1) + (q @ B)
    lower, upper = model.input_bounds(x)
    return box_qp(hessian, linear, lower, upper)
