"""Policies that act by solving a parametrized convex problem at every state, never crashing.

The base of the linear MPC law (:mod:`.mpc`) and the convex control policy
(:mod:`.convex_policy`), shared by the model-based agents and the learned convex policy. The
subclass states its problem twice, and the solver name picks one, built once:

* ``"DAQP"`` (the default of MPC and COCP): the problem condensed to a dense QP in the inputs,
  :class:`~mbdl_control.blocks.qp.parametric_qp.ParametricQP`, solved exactly by the
  dual active-set solver DAQP in tens of microseconds (``benchmarks/mpc_latency.py``);
  ``solver_options`` are DAQP settings, and every solve starts cold (see ParametricQP).
* ``"CLARABEL"``, ``"OSQP"``, ``"SCS"``: the general, readable cvxpy problem, with the state as
  a Parameter (checked DPP); ``solver_options`` go to ``problem.solve``, as does
  ``warm_start``.

A solve that raises, or ends in any status but optimal, applies the *safe action* (the
saturated LQR action of the same model) and is counted in ``diagnostics()``;
``optimal_inaccurate`` counts as a failure because the action would carry the solver's error
into the closed loop.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from typing import Any

import cvxpy as cp
import numpy as np

from mbdl_control.blocks.qp.parametric_qp import ParametricQP
from mbdl_control.blocks.riccati import lqr_steady_state
from mbdl_control.core.solves import SolveCounts
from mbdl_control.models import LinearGaussianModel, require_linear_gaussian, saturate

SOLVERS = ("DAQP", "CLARABEL", "OSQP", "SCS")


def check_solver(solver: str) -> str:
    """The solver name in upper case, or a ``ValueError`` listing the valid ones."""
    name = str(solver).upper()
    if name not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    return name


class OptimizationPolicy(SolveCounts, ABC):
    """Base of MPC and the convex policy: solve, read the first input, fall back on failure."""

    def __init__(
        self,
        model: LinearGaussianModel,
        solver: str = "DAQP",
        solver_options: dict[str, Any] | None = None,
        warm_start: bool = True,
    ) -> None:
        self.model = model = require_linear_gaussian(type(self).__name__, model)
        self.solver = check_solver(solver)
        self.solver_options = dict(solver_options or {})
        self.warm_start = bool(warm_start)
        self.gain, self.P = lqr_steady_state(model)

    @abstractmethod
    def _parametric_qp(self) -> ParametricQP:
        """The problem condensed to a QP in the stacked inputs (the ``"DAQP"`` path)."""

    @abstractmethod
    def _cvxpy_problem(self) -> tuple[cp.Problem, cp.Parameter, cp.Variable]:
        """``(problem, state, inputs)``: the cvxpy problem with the state as a Parameter (the
        other paths)."""

    def _build(self) -> None:
        """Build the chosen solver's problem once; the subclass calls this last in __init__."""
        if self.solver == "DAQP":
            self._qp = self._parametric_qp()
            return
        self._qp = None
        self._problem, self._state, self._inputs = self._cvxpy_problem()
        if not self._problem.is_dpp():
            raise ValueError("the problem is not DPP; parameters would force recompilation")

    def safe_action(self, states: np.ndarray) -> np.ndarray:
        """The saturated LQR action of the same model (one state or a batch), applied when a
        solve fails."""
        return saturate(self.model, -states @ self.gain.T)

    def _solve_batch(self, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The stacked inputs at each state ``(batch, N)`` and whether each solve succeeded."""
        if self._qp is not None:
            return self._qp.solve_batch(states)
        inputs = np.zeros((len(states), self._inputs.size))
        solved = np.zeros(len(states), dtype=bool)
        for row, x in enumerate(states):
            solution = self._solve_cvxpy(x)
            if solution is not None:
                inputs[row], solved[row] = solution, True
        return inputs, solved

    def _solve_cvxpy(self, x: np.ndarray) -> np.ndarray | None:
        """The stacked inputs (row-major), or ``None`` unless the status is optimal."""
        self._state.value = x
        try:
            with warnings.catch_warnings():  # an inaccurate solve is counted, not printed
                warnings.simplefilter("ignore", UserWarning)
                self._problem.solve(
                    solver=self.solver, warm_start=self.warm_start, **self.solver_options
                )
        except (cp.error.SolverError, TypeError, ValueError, ArithmeticError):
            return None  # a failed solver, options it refuses, data it cannot take
        if self._problem.status != cp.OPTIMAL or self._inputs.value is None:
            return None
        solution = np.asarray(self._inputs.value, dtype=np.float64).reshape(-1)
        return solution if np.all(np.isfinite(solution)) else None

    def act_one(self, x: np.ndarray) -> np.ndarray:
        """:meth:`act` for one state ``(n,)`` (float64): the same check, solve, projection and
        fallback, without building a batch — the hot loop of a controller stepping one plant,
        where the bookkeeping of a batch of one cost as much as DAQP's solve."""
        if not np.isfinite(x).all():
            raise ValueError(f"states must be finite; the state {x} holds NaN or inf")
        self.solves += 1  # counted inline: the hot loop
        solution = self._qp.solve(x) if self._qp is not None else self._solve_cvxpy(x)
        if solution is None:
            self.failed_solves += 1
            return self.safe_action(x)
        return saturate(self.model, solution[: self.model.m])

    def act(self, states: np.ndarray) -> np.ndarray:
        """The inputs ``(batch, m)`` at states ``(batch, n)``: the first stage of each solution,
        or the safe action where a solve failed (counted). A non-finite state is refused:
        no action would be meaningful, and a silent NaN would spread through the loop."""
        if not np.isfinite(states).all():
            bad = np.flatnonzero(~np.isfinite(states).all(axis=1)).tolist()
            raise ValueError(f"states must be finite; rows {bad} hold NaN or inf")
        inputs, solved = self._solve_batch(states)
        # a solver's tolerance may leave an input a hair outside its bounds (DAQP accepts
        # primal_tol = 1e-6): project, so the env never counts tolerance as saturation
        actions = saturate(self.model, inputs[:, : self.model.m])
        self.count_solves(solved)
        if not solved.all():
            actions = np.where(~solved[:, None], self.safe_action(states), actions)
        return actions
