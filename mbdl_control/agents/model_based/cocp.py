r"""The convex-optimization control policy with given parameters.

Agrawal, Barratt, Boyd, Stellato, "Learning Convex Optimization Control Policies", L4DC 2020,
§5.1 (an approximate dynamic programming policy):

.. math::

    \pi(x) = \operatorname*{argmin}_{u \in \mathcal U}\;
        u^\top R u + \|\theta (A x + B u)\|_2^2 + q^\top (A x + B u),
    \qquad \mathcal U = \{u : |u_i| \le u_{\max,i}\}.

``θᵀθ`` plays the role of the value function's quadratic; with ``θ = P^½`` from the Riccati
equation, ``q = 0`` and no input bounds the policy *is* LQR. The default is that untuned
``θ = P^½``; learning ``θ`` and ``q`` through the convex problem is the learned-optimizer
family's job.

With the default solver ``"DAQP"`` the problem is the box-constrained QP in ``u``
(:class:`~mbdl_control.agents.model_based.parametric_qp.ParametricQP`), dropping the constant
``‖θAx‖² + qᵀAx``:

.. math::

    \min_u\; \tfrac12 u^\top \underbrace{2(R + B^\top \theta^\top \theta B)}_{H} u
        + (\underbrace{2 B^\top \theta^\top \theta A}_{F} x + B^\top q)^\top u
    \quad\text{s.t.}\quad |u| \le u_{\max}.

With ``"CLARABEL"``, ``"OSQP"`` or ``"SCS"`` the problem is built once through cvxpy with ``x``,
``θ`` and ``q`` as Parameters (``x_next`` is a variable tied by an equality, which keeps
``θ x_next`` DPP). A failed solve applies the saturated LQR action and is counted.
"""

from __future__ import annotations

from typing import Any

import cvxpy as cp
import numpy as np

from mbdl_control.agents.model_based.convex_policy import ConvexPolicyAgent
from mbdl_control.agents.model_based.parametric_qp import ParametricQP
from mbdl_control.models import LinearGaussianModel, symmetric_sqrt


def _checked(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    array = np.array(value, dtype=np.float64)
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got {array}")
    return array


class COCP(ConvexPolicyAgent):
    """``u = argmin_{u∈U} uᵀRu + ‖θ(Ax+Bu)‖² + qᵀ(Ax+Bu)`` on the given model, θ and q given."""

    def __init__(
        self,
        model: LinearGaussianModel,
        theta: np.ndarray | None = None,
        q: np.ndarray | None = None,
        solver: str = "DAQP",
        solver_options: dict[str, Any] | None = None,
        warm_start: bool = True,
        knowledge: str = "nominal",
    ) -> None:
        super().__init__(model, solver, solver_options, warm_start, knowledge)
        n = model.n
        self.theta = _checked("theta", symmetric_sqrt(self.P) if theta is None else theta, (n, n))
        self.q = _checked("q", np.zeros(n) if q is None else q, (n,))
        self._build()

    def _parametric_qp(self) -> ParametricQP:
        model = self.model
        value_weight = self.theta.T @ self.theta
        u_max = model.u_max
        return ParametricQP(
            2 * (model.R + model.B.T @ value_weight @ model.B),
            2 * model.B.T @ value_weight @ model.A,
            model.B.T @ self.q,
            lb=None if u_max is None else -u_max,
            ub=u_max,
            settings=self.solver_options,
            box_qp_batches=True,
        )

    def _cvxpy_problem(self) -> tuple[cp.Expression, list, cp.Parameter, cp.Variable]:
        model = self.model
        x = cp.Parameter(model.n, name="x")
        theta = cp.Parameter((model.n, model.n), name="theta", value=self.theta)
        q = cp.Parameter(model.n, name="q", value=self.q)
        u = cp.Variable(model.m)
        x_next = cp.Variable(model.n)
        objective = (
            cp.sum_squares(symmetric_sqrt(model.R) @ u)
            + cp.sum_squares(theta @ x_next)
            + q @ x_next
        )
        constraints = [x_next == model.A @ x + model.B @ u]
        if model.u_max is not None:
            constraints.append(cp.abs(u) <= model.u_max)
        return objective, constraints, x, u

    @property
    def config(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "theta": self.theta,
            "q": self.q,
            "solver": self.solver,
            "solver_options": self.solver_options,
            "warm_start": self.warm_start,
            "knowledge": self.knowledge,
        }
