r"""A nominal model plus a small network fitted to what it gets wrong: hybrid dynamics.

.. math::

    \hat f(x, u) = f_{\rm nominal}(x, u) + \sigma \odot g_\phi\big((x - \mu_x)/\sigma_x,
        (u - \mu_u)/\sigma_u\big),

with ``g_φ`` an MLP (``tanh``, its last layer started at zero, so that an untrained model *is*
the nominal one) and ``σ`` the scale of the residuals it was fitted to, learned by regression
on the system's transitions ``r_t = x_{t+1} − f_nominal(x_t, u_t)`` (the angle difference
wrapped). The physics carries what it knows; the network only the gap — the grey-box
modelling of, e.g., Bauersfeld, Kaufmann, Loquercio & Scaramuzza, "NeuroBEM" (RSS 2021),
and the learned-residual MPC of Torrente, Kaufmann, Föhn & Scaramuzza, "Data-Driven MPC for
Quadrotors" (IEEE RA-L 6(2), 2021). The hybrid takes numpy arrays and torch tensors alike and
is differentiable, so :mod:`mbdl_control.blocks.nonlinear_mpc` linearizes it as it does the
physics.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from mbdl_control.models import LinearGaussianModel
from mbdl_control.models.cart_pole import ANGLE, with_wrapped_angle, wrap_angle


def residual_network(n: int, m: int, hidden: int) -> torch.nn.Sequential:
    """``(x, u) ↦ r``: two ``tanh`` layers of ``hidden`` units; the output layer starts at
    zero."""
    network = torch.nn.Sequential(
        torch.nn.Linear(n + m, hidden),
        torch.nn.Tanh(),
        torch.nn.Linear(hidden, hidden),
        torch.nn.Tanh(),
        torch.nn.Linear(hidden, n),
    ).double()
    torch.nn.init.zeros_(network[-1].weight)
    torch.nn.init.zeros_(network[-1].bias)
    return network


def residuals(model: Any, states: np.ndarray, inputs: np.ndarray, next_states: np.ndarray):
    """``x_{t+1} − f(x_t, u_t)`` with the angle's difference wrapped to ``[-π, π)``."""
    gap = next_states - model.step(states, inputs, wrap=False)
    gap[:, ANGLE] = wrap_angle(gap[:, ANGLE])
    return gap


class ResidualModel:
    """The nominal model with a residual network: the nonlinear-model protocol of
    :class:`~mbdl_control.blocks.nonlinear_mpc.NonlinearMPCPolicy`."""

    def __init__(self, nominal: Any, network: torch.nn.Module, scaling: np.ndarray) -> None:
        self.nominal, self.network = nominal, network
        self.n, self.m = nominal.n, nominal.m
        self.Q, self.R, self.u_max = nominal.Q, nominal.R, nominal.u_max
        self.set_scaling(scaling)

    def set_scaling(self, scaling: np.ndarray) -> None:
        """Rows: the input mean and std (``n + m`` each), the residual scale (``n``, padded to
        ``n + m``)."""
        self.scaling = np.array(scaling, dtype=np.float64)
        self._torch_scaling = torch.from_numpy(self.scaling)

    def correction(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        mean, std, scale = self._torch_scaling
        features = (torch.cat((x, u), -1) - mean) / std
        return self.network(features) * scale[: self.n]

    def step(self, x: Any, u: Any, wrap: bool = True) -> Any:
        """``f_nominal(x, u) + correction``, in numpy or torch as given."""
        if isinstance(x, torch.Tensor):
            stepped = self.nominal.step(x, u, wrap=False) + self.correction(x, u)
        else:
            with torch.no_grad():
                correction = self.correction(torch.from_numpy(x), torch.from_numpy(u)).numpy()
            stepped = self.nominal.step(x, u, wrap=False) + correction
        return with_wrapped_angle(stepped) if wrap else stepped

    def jacobians(self, x: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``∂f̂/∂x``, ``∂f̂/∂u`` at each row, by torch autograd through the network."""
        from mbdl_control.blocks.nonlinear_mpc import autograd_jacobians

        return autograd_jacobians(self, x, u)

    def linearized(self) -> LinearGaussianModel:
        """The nominal model's linearization with the network's Jacobians at the equilibrium
        added (autograd)."""
        linear = self.nominal.linearized()
        x = torch.zeros(self.n, dtype=torch.float64, requires_grad=True)
        u = torch.zeros(self.m, dtype=torch.float64, requires_grad=True)
        d_state, d_input = torch.autograd.functional.jacobian(self.correction, (x, u))
        return linear.replace(A=linear.A + d_state.numpy(), B=linear.B + d_input.numpy())


def fit_residual(
    model: ResidualModel,
    states: np.ndarray,
    inputs: np.ndarray,
    next_states: np.ndarray,
    epochs: int,
    learning_rate: float,
    generator: torch.Generator,
    batch_size: int = 256,
) -> list[float]:
    """Fit the network to the nominal model's residuals by Adam on the scaled squared error;
    sets the input and residual scaling from the data first. Returns the loss per epoch."""
    targets = residuals(model.nominal, states, inputs, next_states)
    features = np.hstack((states, inputs))
    scale = np.maximum(targets.std(0), 1e-9)
    padded = np.pad(scale, (0, features.shape[1] - len(scale)))
    model.set_scaling(np.stack((features.mean(0), np.maximum(features.std(0), 1e-9), padded)))
    x, u = torch.from_numpy(states), torch.from_numpy(inputs)
    y = torch.from_numpy(targets / scale)
    optimizer = torch.optim.Adam(model.network.parameters(), lr=learning_rate)
    mean, std, _ = torch.from_numpy(model.scaling)
    curve = []
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        for start in range(0, len(x), batch_size):
            rows = order[start : start + batch_size]
            predicted = model.network((torch.cat((x[rows], u[rows]), -1) - mean) / std)
            loss = torch.mean((predicted - y[rows]) ** 2)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(rows)
        curve.append(total / len(x))
    return curve
