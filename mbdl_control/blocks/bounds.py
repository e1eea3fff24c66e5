r"""Lower bounds on the expected cost of linear stochastic control with bounded inputs.

Wang & Boyd, "Performance bounds for linear stochastic control", Systems & Control Letters 58
(2009). A quadratic ``V_t(x) = xᵀP_t x + s_t`` that satisfies the Bellman inequality

.. math::

    V_t(x) \le x^\top Q x + u^\top R u + \mathbb E\, V_{t+1}(Ax + Bu + w)
    \quad \text{for all } x \text{ and all } |u_i| \le u_{\max,i}

bounds the optimal cost-to-go from below. The S-procedure with multipliers ``λ_t ≥ 0`` for the
constraints ``u_i² ≤ u_max,i²`` makes that a linear matrix inequality:

.. math::

    \begin{bmatrix} R + \operatorname{diag}(\lambda_t) + B^\top P_{t+1} B & B^\top P_{t+1} A \\
    A^\top P_{t+1} B & Q + A^\top P_{t+1} A - P_t \end{bmatrix} \succeq 0,
    \qquad s_t = s_{t+1} + \operatorname{tr}(P_{t+1} W)
        - \textstyle\sum_i u_{\max,i}^2 \lambda_{t,i}.

Both SDPs are solved once per process for each model and horizon (:func:`_cached`): building
the finite-horizon one takes cvxpy about 1.2 s of its 1.7 s for the published box LQR
(``T = 100``), and every trial of a study on the same true model asks for the same bound.
Building the SDP once with the model as cvxpy Parameters was tried: it is DPP only with
auxiliary variables for ``P_{t+1}A`` and ``P_{t+1}B``, its first solve took 1.9 s, a new
model's 0.9 s, and Clarabel flagged that solve inaccurate (26.633 against 26.645 for the
published system with ``2W``); with the cache, the plain form is built once per process anyway.

*Finite horizon* (``P_T = 0``, ``s_T = 0``): the expected episode cost from ``x_0 ~ N(x̄_0, Σ_0)``
is at least ``x̄_0ᵀP_0x̄_0 + tr(P_0Σ_0) + s_0``; divided by ``T`` this bounds the expected cost
per step of any policy over the episode. *Stationary* (``P_t = P``, ``λ_t = λ``): the average
cost per step in steady state is at least ``tr(PW) − Σ_i u_max,i² λ_i``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

import cvxpy as cp
import numpy as np

from mbdl_control.models.linear_gaussian import LinearGaussianModel


@dataclass(frozen=True)
class QuadraticBound:
    """A lower bound ``value`` (cost per step) and the quadratic ``P`` that certifies it
    (``P_0`` for a finite horizon)."""

    value: float
    P: np.ndarray


#: the bounds solved in this process, by kind, model, horizon and solver
_SOLVED: dict[tuple, QuadraticBound] = {}


def model_key(model: LinearGaussianModel) -> tuple:
    """Every array of ``model`` by value (shape and bytes): equal models, equal keys."""
    key = []
    for field in fields(model):
        value = getattr(model, field.name)
        if isinstance(value, np.ndarray):
            value = (value.shape, value.dtype.str, value.tobytes())
        key.append((field.name, value))
    return tuple(key)


def _cached(key: tuple, solve: Callable[[], QuadraticBound]) -> QuadraticBound:
    """The bound of ``key`` solved in this process, or ``solve()``'s (kept; its ``P`` made
    read-only, since every later caller shares it). A failure is not kept."""
    if key not in _SOLVED:
        bound = solve()
        bound.P.setflags(write=False)
        _SOLVED[key] = bound
    return _SOLVED[key]


def _bellman_lmi(model: LinearGaussianModel, P_now, P_next, lam) -> cp.Constraint:
    A, B = model.A, model.B
    block = cp.bmat(
        [
            [model.R + cp.diag(lam) + B.T @ P_next @ B, B.T @ P_next @ A],
            [A.T @ P_next @ B, model.Q + A.T @ P_next @ A - P_now],
        ]
    )
    return (block + block.T) / 2 >> 0


def _require_bounds(model: LinearGaussianModel) -> np.ndarray:
    if model.u_max is None:
        raise ValueError("the S-procedure bound needs input bounds; the model's u_max is None")
    return model.u_max**2


def _solve(problem: cp.Problem, solver: str) -> None:
    try:
        problem.solve(solver=solver)
    except cp.error.SolverError as error:
        raise RuntimeError(f"the bound's SDP solver failed: {error}") from error
    if problem.status != cp.OPTIMAL:
        raise RuntimeError(f"the bound's SDP was not solved to optimality: {problem.status}")


def stationary_bound(model: LinearGaussianModel, solver: str = "CLARABEL") -> QuadraticBound:
    """Lower bound on the steady-state average cost per step (solved once per process)."""
    u_max_sq = _require_bounds(model)
    return _cached(
        ("stationary", model_key(model), solver),
        lambda: _stationary_bound(model, u_max_sq, solver),
    )


def _stationary_bound(
    model: LinearGaussianModel, u_max_sq: np.ndarray, solver: str
) -> QuadraticBound:
    P = cp.Variable((model.n, model.n), symmetric=True)
    lam = cp.Variable(model.m, nonneg=True)
    objective = cp.trace(P @ model.W) - u_max_sq @ lam
    problem = cp.Problem(cp.Maximize(objective), [_bellman_lmi(model, P, P, lam)])
    _solve(problem, solver)
    return QuadraticBound(value=float(problem.value), P=P.value)


def finite_horizon_bound(
    model: LinearGaussianModel, horizon: int, solver: str = "CLARABEL"
) -> QuadraticBound:
    """Lower bound on the expected cost per step of a ``horizon``-step episode (solved once
    per process)."""
    u_max_sq = _require_bounds(model)
    if horizon < 1:
        raise ValueError(f"horizon must be a positive number of steps, got {horizon}")
    return _cached(
        ("finite", model_key(model), int(horizon), solver),
        lambda: _finite_horizon_bound(model, int(horizon), u_max_sq, solver),
    )


def _finite_horizon_bound(
    model: LinearGaussianModel, horizon: int, u_max_sq: np.ndarray, solver: str
) -> QuadraticBound:
    P = [cp.Variable((model.n, model.n), symmetric=True) for _ in range(horizon)]
    P.append(cp.Constant(np.zeros((model.n, model.n))))
    lam = cp.Variable((horizon, model.m), nonneg=True)
    constraints = [_bellman_lmi(model, P[t], P[t + 1], lam[t]) for t in range(horizon)]
    x0 = model.x0_mean
    total = x0 @ P[0] @ x0 + cp.trace(P[0] @ model.x0_cov)
    total += sum(cp.trace(P[t + 1] @ model.W) for t in range(horizon - 1))
    total -= cp.sum(lam @ u_max_sq)
    problem = cp.Problem(cp.Maximize(total), constraints)
    _solve(problem, solver)
    return QuadraticBound(value=float(problem.value) / horizon, P=P[0].value)
