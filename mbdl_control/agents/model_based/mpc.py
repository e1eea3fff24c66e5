r"""Model predictive control on a linear model, solved by cvxpy at every step.

Rawlings, Mayne, Diehl, *Model Predictive Control: Theory, Computation, and Design* (2017),
§1.3 and §2.2. At state ``x`` the agent solves

.. math::

    \min_{u_{0:H-1}} \sum_{k=0}^{H-1} \big(x_k^\top Q x_k + u_k^\top R u_k\big)
        + x_H^\top P x_H
    \quad\text{s.t.}\quad x_0 = x,\; x_{k+1} = A x_k + B u_k,\;
    |u_k| \le u_{\max},\; |x_{k}| \le x_{\max}\ (k \ge 1)

and applies ``u_0``. The terminal weight ``P`` is the steady-state Riccati solution, so with
inactive constraints the action equals the infinite-horizon LQR action. The problem is built
once with the initial state as a cvxpy Parameter (checked DPP) and re-solved warm-started.
A solve that fails or is inaccurate applies the *safe action*, the saturated LQR action of the
same model, and is counted in ``diagnostics()``; the evaluation never crashes on it.
"""

from __future__ import annotations

from typing import Any

import cvxpy as cp
import numpy as np

from mbdl_control.agents.base import positive_int
from mbdl_control.agents.model_based.convex_policy import ConvexPolicyAgent
from mbdl_control.models import LinearGaussianModel, symmetric_sqrt


class MPC(ConvexPolicyAgent):
    """Receding-horizon control with input (and optional state) bounds on the given model."""

    def __init__(
        self,
        model: LinearGaussianModel,
        horizon: int = 10,
        state_bound: float | np.ndarray | None = None,
        solver: str = "CLARABEL",
        solver_options: dict[str, Any] | None = None,
        warm_start: bool = True,
        knowledge: str = "nominal",
    ) -> None:
        super().__init__(model, solver, solver_options, warm_start, knowledge)
        self.horizon = positive_int("horizon", horizon)
        if state_bound is not None:
            bound = np.broadcast_to(np.asarray(state_bound, dtype=np.float64), (model.n,))
            if not np.all(bound > 0):
                raise ValueError(f"state_bound must be positive (or None), got {state_bound}")
            state_bound = bound
        self.state_bound = state_bound
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
        if state_bound is not None:
            constraints.append(cp.abs(states[1:]) <= np.tile(state_bound, (self.horizon, 1)))
        self._use_problem(objective, constraints, x0, inputs)

    @property
    def config(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "horizon": self.horizon,
            "state_bound": self.state_bound,
            "solver": self.solver,
            "solver_options": self.solver_options,
            "warm_start": self.warm_start,
            "knowledge": self.knowledge,
        }
