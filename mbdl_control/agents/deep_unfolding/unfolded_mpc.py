r"""Deep-unfolded MPC: projected-gradient iterations on the MPC problem, unrolled into layers.

The linear MPC of the model's linearization (:mod:`mbdl_control.blocks.mpc`) is the condensed
QP ``min_z ½ zᵀH z + (F x)ᵀz`` s.t. ``|z| ≤ u_max`` in the stacked inputs, ``H = 2(ΓᵀQ̄Γ +
R̄)``, ``F = 2ΓᵀQ̄Φ``. Projected gradient descent solves it by

.. math::

    z_{k+1} = \Pi_{[-u_{\max}, u_{\max}]}\big(z_k - \alpha_k (H_\theta z_k + F_\theta x)\big),
    \qquad z_0 = 0,

and ``K`` of its iterations, unrolled, are a network (Gregor & LeCun's unfolding, ICML 2010;
for MPC: Kouzoupis, Frison, Zanelli & Diehl's early-terminated first-order MPC, and the
learned-iteration MPC of Bhardwaj et al., "Differentiable Gaussian process motion planning",
and the survey of Shlezinger, Eldar & Boyd, "Model-based deep learning: On the intersection of
deep learning and optimization", IEEE Access 10, 2022). Its parameters, learned end to end on
the closed-loop cost of episodes simulated in the agent's model (nonlinear for the cart-pole:
:mod:`mbdl_control.blocks.policy_training`), are the per-layer step sizes ``α_k = e^{a_k}/L``
(``L = λ_max(H)`` of the untrained problem, ``a_k = 0`` at the start: the textbook step) and
the cost weights ``Q̄_θ = diag(e^{s_q}) Q diag(e^{s_q})`` per stage and ``R_θ = diag(e^{s_r}) R
diag(e^{s_r})`` (``s = 0`` at the start); the terminal weight stays the Riccati ``P``. Untrained,
it is ``K`` steps of the solver on the nominal MPC; trained, a fixed-cost controller tuned to
the closed loop it runs in. The first input of ``z_K`` is applied.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from mbdl_control.blocks.mpc import prediction_matrices
from mbdl_control.blocks.policy_training import TrainedInModel
from mbdl_control.blocks.riccati import lqr_steady_state
from mbdl_control.core import positive_int, vector_space
from mbdl_control.models import require_linear_gaussian


class UnfoldedMPC(TrainedInModel):
    """``layers`` projected-gradient steps on the MPC QP, step sizes and weights learned."""

    family = "deep-unfolding"

    def __init__(
        self,
        model: Any,
        horizon: int = 10,
        layers: int = 10,
        iterations: int = 100,
        batch_size: int = 32,
        episode_horizon: int | None = None,
        learning_rate: float = 0.02,
        knowledge: str = "nominal",
    ) -> None:
        linear = require_linear_gaussian("UnfoldedMPC", model)
        super().__init__(model, iterations, batch_size, episode_horizon, learning_rate, knowledge)
        self.horizon = positive_int("horizon", horizon)
        self.layers = positive_int("layers", layers)
        Phi, Gamma = prediction_matrices(linear, self.horizon)
        _, P = lqr_steady_state(linear)
        self._Phi, self._Gamma = torch.from_numpy(Phi), torch.from_numpy(Gamma)
        self._Q, self._R, self._P = (torch.from_numpy(np.array(w)) for w in (linear.Q, linear.R, P))
        self._bound = None
        if linear.u_max is not None:
            self._bound = torch.from_numpy(np.tile(linear.u_max, self.horizon))
        self.state_scales = torch.nn.Parameter(torch.zeros(linear.n, dtype=torch.float64))
        self.input_scales = torch.nn.Parameter(torch.zeros(linear.m, dtype=torch.float64))
        self.step_scales = torch.nn.Parameter(torch.zeros(self.layers, dtype=torch.float64))
        with torch.no_grad():
            self._lipschitz = float(torch.linalg.eigvalsh(self.problem()[0])[-1])
        self.m = linear.m
        self.observation_space = vector_space(linear.n)

    @property
    def config(self) -> dict[str, Any]:
        names = "model horizon layers iterations batch_size episode_horizon learning_rate knowledge"
        return {name: getattr(self, name) for name in names.split()}

    def trained_parameters(self, seed: int) -> list[torch.nn.Parameter]:
        """The weights' and step sizes' logarithms, from where they are (zero: the solver on
        the nominal MPC)."""
        return [self.state_scales, self.input_scales, self.step_scales]

    def problem(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(H_θ, F_θ)`` of the condensed QP with the learned weights."""
        scale_q, scale_r = torch.exp(self.state_scales), torch.exp(self.input_scales)
        Q = scale_q[:, None] * self._Q * scale_q[None, :]
        R = scale_r[:, None] * self._R * scale_r[None, :]
        Q_bar = torch.block_diag(*[Q] * (self.horizon - 1), self._P)
        R_bar = torch.block_diag(*[R] * self.horizon)
        weighted = self._Gamma.T @ Q_bar
        return 2 * (weighted @ self._Gamma + R_bar), 2 * weighted @ self._Phi

    def policy(self, x: torch.Tensor) -> torch.Tensor:
        """The first input of ``z_K`` at states ``x`` ``(batch, n)``."""
        H, F = self.problem()
        linear_terms = x @ F.T
        z = torch.zeros_like(linear_terms)
        steps = torch.exp(self.step_scales) / self._lipschitz
        for step in steps:
            z = z - step * (z @ H + linear_terms)
            if self._bound is not None:
                z = torch.clamp(z, -self._bound, self._bound)
        return z[:, : self.m]

    def learned_parameters(self) -> dict[str, np.ndarray]:
        return {
            name: getattr(self, name).detach().numpy().copy()
            for name in ("state_scales", "input_scales", "step_scales")
        }

    def set_learned_parameters(self, parameters: dict[str, np.ndarray]) -> None:
        with torch.no_grad():
            for name, value in parameters.items():
                target = getattr(self, name)
                if np.shape(value) != tuple(target.shape):
                    raise ValueError(f"{name} must have shape {tuple(target.shape)}")
                target.copy_(torch.as_tensor(np.array(value)))
