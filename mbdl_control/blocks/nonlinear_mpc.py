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
``A_k = ∂f/∂x``, ``B_k = ∂f/∂u`` at ``(x̄_k, ū_k)`` by the model's ``jacobians`` (the
cart-pole's by the complex step in numpy, exact to rounding and about 30 times faster than
autograd on a plan; a model with a network inside by torch autograd,
:func:`autograd_jacobians`), and solves the QP in the step ``δu``:

.. math::

    \min_{\delta u}\; \sum_{k=1}^{H} (\bar x_k + \Gamma_k \delta u)^\top Q_k
        (\bar x_k + \Gamma_k \delta u) + \sum_k (\bar u_k + \delta u_k)^\top R
        (\bar u_k + \delta u_k)
    \quad\text{s.t.}\quad -u_{\max} \le \bar u + \delta u \le u_{\max},\; |\delta u| \le \rho,

with ``Q_H = P`` (or the model's ``terminal_weight`` where it has one: a model without an
equilibrium to linearize at), ``Γ`` the condensed sensitivity (block ``(k, j)`` is
``A_{k-1}⋯A_{j+1}B_j``, built one block row at a time) and ``ρ`` an optional trust region.
The QP is dense in ``H·m`` inputs and goes to DAQP (exact active-set; the same solver as the
linear MPC's :class:`~mbdl_control.blocks.qp.parametric_qp.ParametricQP`, set up anew each iteration
because ``Γ`` changes). The plan is warm-started from the previous step's, shifted by one
stage. A QP that DAQP does not solve, or a non-finite plan, applies the saturated LQR action
of the linearization instead, restarts the plan and is counted.

A hand-written SCP rather than a general NLP solver: the step costs a rollout, the Jacobians
and a small dense QP (``benchmarks/nmpc_latency.py`` measures it against CasADi/IPOPT
on the same problem), and it runs on any torch model, including one with a network inside
(:class:`~mbdl_control.agents.dnn_aided.neural_mpc.NeuralAugmentedMPC`). A model whose
input bounds move with its state (the vehicle's steering, ``|z + Lκ| ≤ 0.68``) gives them by
``input_bounds(states)``: each stage's bound is taken at its predicted state, exact where the
state it depends on does not depend on the plan.
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
from mbdl_control.core.solves import SolveCounts
from mbdl_control.models import LinearGaussianModel, saturate


class NonlinearControlModel(Protocol):
    """What nonlinear MPC needs of a model: dimensions, cost, bound, a step (numpy; torch too
    where its Jacobians come from autograd), the Jacobians along a plan, and the linearization
    at its equilibrium. A model may instead give ``input_bounds(states)`` (bounds that move
    with the state, for ``u_max``) and a ``terminal_weight`` (for the linearization's Riccati
    cost-to-go), as the vehicle's does."""

    n: int
    m: int
    Q: np.ndarray
    R: np.ndarray

    @property
    def u_max(self) -> np.ndarray: ...

    def step(self, x: Any, u: Any, wrap: bool = True) -> Any: ...

    def jacobians(self, x: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def linearized(self) -> LinearGaussianModel: ...


def autograd_jacobians(model: Any, x: np.ndarray, u: np.ndarray) -> tuple[Any, Any]:
    """``(A, B)``: ``∂f/∂x`` ``(..., n, n)`` and ``∂f/∂u`` ``(..., n, m)`` of ``model.step`` at
    each row of ``x`` ``(..., n)`` and ``u`` ``(..., m)`` by torch autograd, one backward pass
    per output component (the rows are independent, so the gradient of a column's sum holds
    every row's Jacobian row): the ``jacobians`` of a model with a network inside."""
    states = torch.tensor(x, requires_grad=True)
    inputs = torch.tensor(u, requires_grad=True)
    images = model.step(states, inputs, wrap=False)
    A = np.empty((*x.shape, model.n))
    B = np.empty((*x.shape, model.m))
    for row in range(model.n):
        d_state, d_input = torch.autograd.grad(
            images[..., row].sum(), (states, inputs), retain_graph=row < model.n - 1
        )
        A[..., row, :], B[..., row, :] = d_state.numpy(), d_input.numpy()
    return A, B


def condensed_sensitivity(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``Γ`` ``(..., H·n, H·m)`` with ``δx_{1:H} = Γ δu_{0:H-1}`` for ``δx_{k+1} = A_k δx_k +
    B_k δu_k``, ``δx_0 = 0``, from ``A`` ``(..., H, n, n)`` and ``B`` ``(..., H, n, m)``: block row
    ``k`` is ``[A_k Γ_{k-1}, B_k, 0]``."""
    *batch, horizon, n, m = B.shape
    gamma = np.zeros((*batch, horizon, n, horizon, m))
    for k in range(horizon):
        if k:
            gamma[..., k, :, :k, :] = np.einsum(
                "...ij,...jkl->...ikl", A[..., k, :, :], gamma[..., k - 1, :, :k, :]
            )
        gamma[..., k, :, k, :] = B[..., k, :, :]
    return gamma.reshape(*batch, horizon * n, horizon * m)


class NonlinearMPCPolicy(SolveCounts):
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
        terminal_weight = getattr(model, "terminal_weight", None)
        if terminal_weight is None:
            self.linearization = model.linearized()
            self.gain, self.P = lqr_steady_state(self.linearization)
        else:
            self.gain, self.P = None, terminal_weight
        self._state_weights = scipy.linalg.block_diag(*[model.Q] * (horizon - 1), self.P)
        self._input_weights = np.kron(np.eye(horizon), model.R)

    def input_bounds(self, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(lower, upper)`` of the inputs at ``states`` ``(..., n)``: the model's own
        ``input_bounds`` where it has them (bounds that move with the state), else
        ``∓u_max``."""
        if hasattr(self.model, "input_bounds"):
            return self.model.input_bounds(states)
        upper = np.broadcast_to(self.model.u_max, (*states.shape[:-1], self.model.m))
        return -upper, upper

    def safe_action(self, states: np.ndarray) -> np.ndarray:
        """The saturated LQR action of the linearization (for a model with its own terminal
        weight, no input, within the bounds), applied when a solve fails."""
        if self.gain is None:
            lower, upper = self.input_bounds(states)
            return np.clip(np.zeros_like(lower), lower, upper)
        return saturate(self.linearization, -states @ self.gain.T)

    def initial_plans(self, count: int) -> np.ndarray:
        """The plans of new episodes: no force."""
        return np.zeros((count, self.horizon, self.model.m))

    def rollout(self, states: np.ndarray, plans: np.ndarray) -> np.ndarray:
        """The predicted states ``(batch, H + 1, n)`` of ``plans`` ``(batch, H, m)`` from
        ``states`` ``(batch, n)``, all episodes at once (the angle kept continuous)."""
        predicted = np.empty((len(states), self.horizon + 1, self.model.n))
        predicted[:, 0] = states
        for k in range(self.horizon):
            predicted[:, k + 1] = self.model.step(predicted[:, k], plans[:, k], wrap=False)
        return predicted

    def improve(self, states: np.ndarray, plans: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One SCP iteration for a batch: the plans after the QP step and whether DAQP solved
        each (a failed row keeps its plan)."""
        predicted = self.rollout(states, plans)
        A, B = self.model.jacobians(predicted[:, :-1], plans)
        gamma = condensed_sensitivity(A, B)
        weighted = gamma.transpose(0, 2, 1) @ self._state_weights
        hessians = 2 * (weighted @ gamma + self._input_weights)
        flat = plans.reshape(len(states), -1)
        linear = 2 * (
            np.einsum("bij,bj->bi", weighted, predicted[:, 1:].reshape(len(states), -1))
            + flat @ self._input_weights
        )
        lowest, highest = (
            bound.reshape(len(states), -1) for bound in self.input_bounds(predicted[:, :-1])
        )
        upper, lower = highest - flat, lowest - flat
        if self.trust_region is not None:
            upper = np.minimum(upper, self.trust_region)
            lower = np.maximum(lower, -self.trust_region)
        improved, solved = plans.copy(), np.zeros(len(states), dtype=bool)
        no_rows = np.zeros((0, flat.shape[1]))
        for row in range(len(states)):
            step, _, exitflag, _ = daqp.solve(
                hessians[row], linear[row], no_rows, upper[row], lower[row],
                **self.solver_options,
            )  # fmt: skip
            if exitflag == DAQP_OPTIMAL and np.all(np.isfinite(step)):
                solved[row] = True
                improved[row] = np.clip(flat[row] + step, lowest[row], highest[row]).reshape(
                    plans.shape[1:]
                )
        return improved, solved

    def act(
        self, states: np.ndarray, plans: np.ndarray | None, episode_start: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The inputs ``(batch, m)`` at ``states`` and the plans to warm-start the next step
        from (shifted by one stage): the plans of a batch of episodes are an agent's memory
        (``None``, or a row whose episode starts, begins from :meth:`initial_plans`). A row
        whose QP fails applies the safe action and restarts its plan (counted)."""
        if not np.isfinite(states).all():
            bad = np.flatnonzero(~np.isfinite(states).all(axis=1)).tolist()
            raise ValueError(f"states must be finite; rows {bad} hold NaN or inf")
        fresh = self.initial_plans(len(states))
        plans = fresh if plans is None else np.where(episode_start[:, None, None], fresh, plans)
        working = np.ones(len(states), dtype=bool)
        for _ in range(self.iterations):
            plans[working], solved = self.improve(states[working], plans[working])
            working[np.flatnonzero(working)[~solved]] = False
        self.count_solves(working)
        actions = np.where(working[:, None], plans[:, 0], self.safe_action(states))
        plans[~working] = 0.0
        return actions, np.concatenate((plans[:, 1:], plans[:, -1:]), axis=1)
