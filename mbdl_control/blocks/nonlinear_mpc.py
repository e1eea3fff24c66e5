r"""Nonlinear MPC by sequential convex programming: linearize the plan, solve a QP, repeat.

At state ``x`` the controller seeks

.. math::

    \min_{u_{0:H-1}} \sum_{k=0}^{H-1} \big(x_k^\top Q x_k + u_k^\top R u_k\big)
        + x_H^\top P x_H
    \quad\text{s.t.}\quad x_0 = x,\; x_{k+1} = f(x_k, u_k),\; |u_k| \le u_{\max},

for a nonlinear, differentiable ``f`` (the model's ``step``), with ``P`` the Riccati solution
of the model's linearization at its equilibrium (the LQR cost-to-go there). Each iteration
of sequential convex programming (Boyd's EE364b notes "Sequential convex programming";
Diehl, Bock & Schlöder's real-time iteration, SIAM J. Control Optim. 43(5), 2005) rolls the
plan ``ū`` out through ``f`` (single shooting, ``x̄``), linearizes ``f`` along it,
``A_k = ∂f/∂x``, ``B_k = ∂f/∂u`` at ``(x̄_k, ū_k)`` by torch autograd (one batched backward pass
per state component, for any model written for torch: the physics, or physics plus a
network), and solves the QP in the step ``δu``:

.. math::

    \min_{\delta u}\; \sum_{k=1}^{H} (\bar x_k + \Gamma_k \delta u)^\top Q_k
        (\bar x_k + \Gamma_k \delta u) + \sum_k (\bar u_k + \delta u_k)^\top R
        (\bar u_k + \delta u_k)
    \quad\text{s.t.}\quad -u_{\max} \le \bar u + \delta u \le u_{\max},\; |\delta u| \le \rho,

with ``Q_H = P``, ``Γ`` the condensed sensitivity (block ``(k, j)`` is ``A_{k-1}⋯A_{j+1}B_j``,
built one block row at a time) and ``ρ`` an optional trust region. The QP is dense in ``H·m``
inputs and goes to DAQP (exact active-set; the same solver as the linear MPC's
:class:`~mbdl_control.blocks.qp.parametric_qp.ParametricQP`, set up anew each iteration
because ``Γ`` changes). The plan is warm-started from the previous step's, shifted by one
stage. A QP that DAQP does not solve, or a non-finite plan, applies the saturated LQR action
of the linearization instead, restarts the plan and is counted.

A hand-written SCP rather than a general NLP solver: the step costs a rollout, a backward
pass and a small dense QP (``benchmarks/nmpc_latency.py`` measures it against CasADi/IPOPT
on the same problem), and it runs on any torch model, including one with a network inside
(:class:`~mbdl_control.agents.dnn_aided.neural_mpc.NeuralAugmentedMPC`).
"""

from __future__ import annotations

from typing import Any, Protocol

import daqp
import numpy as np
import scipy.linalg
import torch

from mbdl_control.blocks.qp.parametric_qp import DAQP_OPTIMAL
from mbdl_control.blocks.riccati import lqr_steady_state
from mbdl_control.core import positive_int
from mbdl_control.models import LinearGaussianModel, saturate


class NonlinearControlModel(Protocol):
    """What nonlinear MPC needs of a model: dimensions, cost, bound, a step that takes numpy
    arrays and torch tensors alike, and the linearization at its equilibrium."""

    n: int
    m: int
    Q: np.ndarray
    R: np.ndarray

    @property
    def u_max(self) -> np.ndarray: ...

    def step(self, x: Any, u: Any, wrap: bool = True) -> Any: ...

    def linearized(self) -> LinearGaussianModel: ...


def jacobians(model: NonlinearControlModel, x: np.ndarray, u: np.ndarray) -> tuple[Any, Any]:
    """``(A, B)``: ``∂f/∂x`` ``(H, n, n)`` and ``∂f/∂u`` ``(H, n, m)`` at each row of ``x``
    ``(H, n)`` and ``u`` ``(H, m)``, by one backward pass per output component (the rows are
    independent, so the gradient of a column's sum holds every row's Jacobian row)."""
    states = torch.tensor(x, requires_grad=True)
    inputs = torch.tensor(u, requires_grad=True)
    images = model.step(states, inputs, wrap=False)
    A, B = np.empty((len(x), model.n, model.n)), np.empty((len(x), model.n, model.m))
    for row in range(model.n):
        d_state, d_input = torch.autograd.grad(
            images[:, row].sum(), (states, inputs), retain_graph=row < model.n - 1
        )
        A[:, row], B[:, row] = d_state.numpy(), d_input.numpy()
    return A, B


def condensed_sensitivity(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``Γ`` ``(H·n, H·m)`` with ``δx_{1:H} = Γ δu_{0:H-1}`` for ``δx_{k+1} = A_k δx_k + B_k
    δu_k``, ``δx_0 = 0``: block row ``k`` is ``[A_k Γ_{k-1}, B_k, 0]``."""
    horizon, n, m = B.shape
    gamma = np.zeros((horizon, n, horizon, m))
    for k in range(horizon):
        if k:
            gamma[k, :, :k] = np.tensordot(A[k], gamma[k - 1, :, :k], axes=1)
        gamma[k, :, k] = B[k]
    return gamma.reshape(horizon * n, horizon * m)


class NonlinearMPCPolicy:
    """Receding-horizon control of a nonlinear model by SCP (module docstring)."""

    def __init__(
        self,
        model: NonlinearControlModel,
        horizon: int = 20,
        iterations: int = 1,
        trust_region: float | None = None,
        solver_options: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.horizon = positive_int("horizon", horizon)
        self.iterations = positive_int("iterations", iterations)
        if trust_region is not None and not (np.isfinite(trust_region) and trust_region > 0):
            raise ValueError(f"trust_region must be a positive float or None, got {trust_region}")
        self.trust_region = trust_region
        self.solver_options = dict(solver_options or {})
        self.linearization = model.linearized()
        self.gain, self.P = lqr_steady_state(self.linearization)
        self._state_weights = scipy.linalg.block_diag(*[model.Q] * (horizon - 1), self.P)
        self._input_weights = np.kron(np.eye(horizon), model.R)
        self._u_max = np.tile(model.u_max, horizon)
        self.solves = 0
        self.failed_solves = 0

    def safe_action(self, x: np.ndarray) -> np.ndarray:
        """The saturated LQR action of the linearization, applied when a solve fails."""
        return saturate(self.linearization, -self.gain @ x)

    def initial_plan(self) -> np.ndarray:
        """The plan of a new episode: no force."""
        return np.zeros((self.horizon, self.model.m))

    def rollout(self, x: np.ndarray, plan: np.ndarray) -> np.ndarray:
        """The predicted states ``(H + 1, n)`` of ``plan`` from ``x`` (the angle kept
        continuous)."""
        states = np.empty((self.horizon + 1, self.model.n))
        states[0] = x
        for k in range(self.horizon):
            states[k + 1] = self.model.step(states[k], plan[k], wrap=False)
        return states

    def improve(self, x: np.ndarray, plan: np.ndarray) -> np.ndarray | None:
        """One SCP iteration: the plan after the QP step, or ``None`` if DAQP fails."""
        states = self.rollout(x, plan)
        A, B = jacobians(self.model, states[:-1], plan)
        gamma = condensed_sensitivity(A, B)
        weighted = gamma.T @ self._state_weights
        hessian = 2 * (weighted @ gamma + self._input_weights)
        flat = plan.reshape(-1)
        linear = 2 * (weighted @ states[1:].reshape(-1) + self._input_weights @ flat)
        upper, lower = self._u_max - flat, -self._u_max - flat
        if self.trust_region is not None:
            upper = np.minimum(upper, self.trust_region)
            lower = np.maximum(lower, -self.trust_region)
        step, _, exitflag, _ = daqp.solve(
            hessian, linear, np.zeros((0, len(flat))), upper, lower, **self.solver_options
        )
        if exitflag != DAQP_OPTIMAL or not np.all(np.isfinite(step)):
            return None
        return np.clip(flat + step, -self._u_max, self._u_max).reshape(plan.shape)

    def act_one(self, x: np.ndarray, plan: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The input at ``x`` and the next step's warm start, from the warm start ``plan``."""
        if not np.isfinite(x).all():
            raise ValueError(f"states must be finite; the state {x} holds NaN or inf")
        self.solves += 1
        for _ in range(self.iterations):
            improved = self.improve(x, plan)
            if improved is None:
                self.failed_solves += 1
                return self.safe_action(x), self.initial_plan()
            plan = improved
        return plan[0].copy(), np.concatenate((plan[1:], plan[-1:]))

    def diagnostics(self) -> dict[str, float]:
        rate = self.failed_solves / self.solves if self.solves else 0.0
        return {"solves": self.solves, "failed_solves": self.failed_solves, "failure_rate": rate}
