r"""The linear MPC law on a linear model, solved as a condensed QP at every step.

Rawlings, Mayne, Diehl, *Model Predictive Control: Theory, Computation, and Design* (2017),
§1.3 and §2.2. At state ``x`` the agent solves

.. math::

    \min_{u_{0:H-1}} \sum_{k=0}^{H-1} \big(x_k^\top Q x_k + u_k^\top R u_k\big)
        + x_H^\top P x_H
    \quad\text{s.t.}\quad x_0 = x,\; x_{k+1} = A x_k + B u_k,\;
    |u_k| \le u_{\max},\; |x_{k}| \le x_{\max}\ (k \ge 1)

and applies ``u_0``. The terminal weight ``P`` is the steady-state Riccati solution, so with
inactive constraints the action equals the infinite-horizon LQR action.

*Condensed QP* (the default solver ``"DAQP"``; Borrelli, Bemporad, Morari, *Predictive Control
for Linear and Hybrid Systems*, 2017, §8.2). The states are eliminated through
``x_{1:H} = Φ x + Γ z`` with the stacked inputs ``z = u_{0:H-1}`` (:func:`prediction_matrices`),
leaving, up to the constant ``xᵀQx + xᵀΦᵀQ̄Φx``,

.. math::

    \min_z\; \tfrac12 z^\top \underbrace{2(\Gamma^\top \bar Q \Gamma + \bar R)}_{H} z
        + (\underbrace{2\Gamma^\top \bar Q \Phi}_{F} x)^\top z
    \quad\text{s.t.}\quad |z| \le u_{\max},\;
    -x_{\max} - \Phi x \le \Gamma z \le x_{\max} - \Phi x,

with ``Q̄ = diag(Q, …, Q, P)`` and ``R̄ = diag(R, …, R)``. It is solved exactly by
:class:`~mbdl_control.blocks.qp.parametric_qp.ParametricQP` (DAQP, started cold: a
shifted warm start does not pay at these sizes, see there). The solvers ``"CLARABEL"``,
``"OSQP"`` and ``"SCS"`` solve the same problem as written above through cvxpy, built once
with the initial state as a Parameter (checked DPP) and re-solved warm-started. A solve that
fails or is inaccurate applies the *safe action*, the saturated LQR action of the same model,
and is counted in ``diagnostics()``; the evaluation never crashes on it.
"""

from __future__ import annotations

from typing import Any

import cvxpy as cp
import numpy as np
import scipy.linalg

from mbdl_control.blocks.optimization_policy import OptimizationPolicy
from mbdl_control.blocks.qp.parametric_qp import ParametricQP
from mbdl_control.core import positive_int
from mbdl_control.models import LinearGaussianModel, symmetric_sqrt


def prediction_matrices(model: LinearGaussianModel, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """``(Φ, Γ)`` with ``x_{1:H} = Φ x_0 + Γ u_{0:H-1}`` stacked: block row ``k`` of ``Φ`` is
    ``A^{k+1}``, block ``(k, j)`` of ``Γ`` is ``A^{k-j} B`` for ``j ≤ k`` and zero above."""
    n, m = model.n, model.m
    powers = [np.eye(n)]
    for _ in range(horizon):
        powers.append(model.A @ powers[-1])
    Phi = np.vstack(powers[1:])
    Gamma = np.zeros((horizon * n, horizon * m))
    for k in range(horizon):
        for j in range(k + 1):
            Gamma[k * n : (k + 1) * n, j * m : (j + 1) * m] = powers[k - j] @ model.B
    return Phi, Gamma


class MPCPolicy(OptimizationPolicy):
    """Receding-horizon control with input (and optional state) bounds on the given model."""

    def __init__(
        self,
        model: LinearGaussianModel,
        horizon: int = 10,
        state_bound: float | np.ndarray | None = None,
        solver: str = "DAQP",
        solver_options: dict[str, Any] | None = None,
        warm_start: bool = True,
    ) -> None:
        super().__init__(model, solver, solver_options, warm_start)
        self.horizon = positive_int("horizon", horizon)
        if state_bound is not None:
            bound = np.broadcast_to(np.asarray(state_bound, dtype=np.float64), (model.n,))
            if not np.all(bound > 0):
                raise ValueError(f"state_bound must be positive (or None), got {state_bound}")
            state_bound = bound
        self.state_bound = state_bound
        self._build()

    def _parametric_qp(self) -> ParametricQP:
        model, horizon = self.model, self.horizon
        Phi, Gamma = prediction_matrices(model, horizon)
        Q_bar = scipy.linalg.block_diag(*[model.Q] * (horizon - 1), self.P)
        R_bar = np.kron(np.eye(horizon), model.R)
        H = 2 * (Gamma.T @ Q_bar @ Gamma + R_bar)
        F = 2 * Gamma.T @ Q_bar @ Phi
        u_max = None if model.u_max is None else np.tile(model.u_max, horizon)
        rows: dict[str, Any] = {}
        if self.state_bound is not None:
            x_max = np.tile(self.state_bound, horizon)
            rows = {"G": Gamma, "E": -Phi, "h_lower": -x_max, "h_upper": x_max}
        return ParametricQP(
            H,
            F,
            lb=None if u_max is None else -u_max,
            ub=u_max,
            settings=self.solver_options,
            **rows,
        )

    def _cvxpy_problem(self) -> tuple[cp.Problem, cp.Parameter, cp.Variable]:
        model = self.model
        x0 = cp.Parameter(model.n, name="x0")
        states = cp.Variable((self.horizon + 1, model.n))
        inputs = cp.Variable((self.horizon, model.m))
        objective = (
            cp.sum_squares(states[:-1] @ symmetric_sqrt(model.Q))
            + cp.sum_squares(inputs @ symmetric_sqrt(model.R))
            + cp.sum_squares(states[-1] @ symmetric_sqrt(self.P))
        )
        constraints = [
            states[0] == x0,
            states[1:] == states[:-1] @ model.A.T + inputs @ model.B.T,
        ]
        if model.u_max is not None:
            constraints.append(cp.abs(inputs) <= np.tile(model.u_max, (self.horizon, 1)))
        if self.state_bound is not None:
            constraints.append(cp.abs(states[1:]) <= np.tile(self.state_bound, (self.horizon, 1)))
        return cp.Problem(cp.Minimize(objective), constraints), x0, inputs
