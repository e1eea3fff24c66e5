r"""The convex-optimization control policy, its problem written once, solved three ways.

Agrawal, Barratt, Boyd, Stellato, "Learning Convex Optimization Control Policies", L4DC 2020,
§5.1 (an approximate dynamic programming policy):

.. math::

    \pi_{\theta,q}(x) = \operatorname*{argmin}_{u \in \mathcal U}\;
        u^\top R u + \|\theta (A x + B u)\|_2^2 + q^\top (A x + B u),
    \qquad \mathcal U = \{u : |u_i| \le u_{\max,i}\}.

``θᵀθ`` plays the role of the value function's quadratic; with ``θ = P^½`` from the Riccati
equation, ``q = 0`` and no input bounds the policy *is* LQR. With ``M = θB``, dropping the
terms free of ``u`` and halving (the same argmin), it is the box QP (:func:`policy_qp`)

.. math::

    \min_{|u| \le u_{\max}}\; \tfrac12 u^\top H u + (F x + f_0)^\top u, \qquad
    H = R + M^\top M, \qquad F = M^\top \theta A, \qquad f_0 = \tfrac12 B^\top q,

unconstrained when the model has no input bound. The same problem is solved

* by DAQP at each state, or by :func:`~mbdl_control.blocks.qp.box_qp.box_qp` for a batch of
  states (:class:`ConvexPolicy`, the ``"DAQP"`` path);
* through cvxpy, with ``x``, ``θ`` and ``q`` as Parameters (:func:`policy_problem`; ``x_next``
  is a variable tied by an equality, which keeps ``θ x_next`` DPP): the ``"CLARABEL"``,
  ``"OSQP"`` and ``"SCS"`` paths of :class:`ConvexPolicy`, and :func:`convex_policy_layer`
  (cvxpylayers; Agrawal, Amos, Barratt, Boyd, Diamond, Kolter, NeurIPS 2019);
* differentiably in torch by :func:`box_qp_policy_layer` (exact, on the active set).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cvxpy as cp
import numpy as np

from mbdl_control.blocks.optimization_policy import OptimizationPolicy
from mbdl_control.blocks.qp.parametric_qp import ParametricQP
from mbdl_control.models import LinearGaussianModel, symmetric_sqrt


def policy_qp(A: Any, B: Any, R: Any, theta: Any, q: Any) -> tuple[Any, Any, Any]:
    """``(H, F, f₀)`` of the policy's QP (module docstring), for numpy arrays or torch
    tensors alike (differentiable in ``θ`` and ``q`` for tensors)."""
    theta_B = theta @ B
    return R + theta_B.T @ theta_B, theta_B.T @ theta @ A, 0.5 * (q @ B)


def policy_problem(
    model: LinearGaussianModel, x: cp.Parameter, theta: cp.Parameter, q: cp.Parameter
) -> tuple[cp.Problem, cp.Variable]:
    """The policy's problem in cvxpy with the state, ``θ`` and ``q`` as Parameters, and its
    input variable; DPP (checked)."""
    u, x_next = cp.Variable(model.m), cp.Variable(model.n)
    objective = (
        cp.sum_squares(symmetric_sqrt(model.R) @ u) + cp.sum_squares(theta @ x_next) + q @ x_next
    )
    constraints = [x_next == model.A @ x + model.B @ u]
    if model.u_max is not None:
        constraints.append(cp.abs(u) <= model.u_max)
    problem = cp.Problem(cp.Minimize(objective), constraints)
    if not problem.is_dpp():  # pragma: no cover - guarded by construction
        raise ValueError("the convex policy problem must be DPP")
    return problem, u


def _parameters(n: int) -> tuple[cp.Parameter, cp.Parameter, cp.Parameter]:
    return cp.Parameter(n, name="x"), cp.Parameter((n, n), name="theta"), cp.Parameter(n, name="q")


def _checked(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    array = np.array(value, dtype=np.float64)
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got {array}")
    return array


class ConvexPolicy(OptimizationPolicy):
    """``u = argmin_{u∈U} uᵀRu + ‖θ(Ax+Bu)‖² + qᵀ(Ax+Bu)`` on ``model`` with ``θ`` (default
    ``P^½``) and ``q`` (default 0) given."""

    def __init__(
        self,
        model: LinearGaussianModel,
        theta: np.ndarray | None = None,
        q: np.ndarray | None = None,
        solver: str = "DAQP",
        solver_options: dict[str, Any] | None = None,
        warm_start: bool = True,
    ) -> None:
        super().__init__(model, solver, solver_options, warm_start)
        n = model.n
        self.theta = _checked("theta", symmetric_sqrt(self.P) if theta is None else theta, (n, n))
        self.q = _checked("q", np.zeros(n) if q is None else q, (n,))
        self._build()

    def _parametric_qp(self) -> ParametricQP:
        model = self.model
        H, F, f0 = policy_qp(model.A, model.B, model.R, self.theta, self.q)
        u_max = model.u_max
        return ParametricQP(
            H,
            F,
            f0,
            lb=None if u_max is None else -u_max,
            ub=u_max,
            settings=self.solver_options,
            box_qp_batches=True,
        )

    def _cvxpy_problem(self) -> tuple[cp.Problem, cp.Parameter, cp.Variable]:
        x, theta, q = _parameters(self.model.n)
        theta.value, q.value = self.theta, self.q
        problem, u = policy_problem(self.model, x, theta, q)
        return problem, x, u


def convex_policy_layer(model: LinearGaussianModel) -> Any:
    """The policy as a cvxpylayers layer ``(x, θ, q) ↦ (u,)`` (built once; DPP)."""
    from cvxpylayers.torch import CvxpyLayer  # torch and diffcp load only for this layer

    x, theta, q = _parameters(model.n)
    problem, u = policy_problem(model, x, theta, q)
    return CvxpyLayer(problem, parameters=[x, theta, q], variables=[u])


def box_qp_policy_layer(model: LinearGaussianModel) -> Callable[..., Any]:
    """The policy as a differentiable layer ``(x, θ, q) ↦ u`` solved exactly by
    :func:`~mbdl_control.blocks.qp.box_qp.box_qp`: ``x`` is ``(n,)`` or ``(batch, n)``; the
    layer follows the dtype of ``θ`` and is differentiable in ``x``, ``θ`` and ``q``."""
    import torch

    from mbdl_control.blocks.qp.box_qp import box_qp

    A, B, R = (torch.tensor(np.array(matrix)) for matrix in (model.A, model.B, model.R))
    bounds = () if model.u_max is None else (torch.tensor(-model.u_max), torch.tensor(model.u_max))

    def layer(x: Any, theta: Any, q: Any) -> Any:
        dtype = theta.dtype
        H, F, f0 = policy_qp(A.to(dtype), B.to(dtype), R.to(dtype), theta, q)
        return box_qp(H, x @ F.T + f0, *(bound.to(dtype) for bound in bounds))

    return layer
