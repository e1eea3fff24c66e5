"""Solving a parametrized cvxpy problem inside a control loop without ever crashing it.

A solve that raises, or ends in any status but ``optimal``, yields the caller's fallback action
and is counted; ``optimal_inaccurate`` counts as a failure because the action would carry the
solver's error into the closed loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cvxpy as cp
import numpy as np

SOLVERS = ("CLARABEL", "OSQP", "SCS")


def check_solver(solver: str) -> str:
    """The solver name in upper case, or a ``ValueError`` listing the valid ones."""
    name = str(solver).upper()
    if name not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    return name


def build_dpp_problem(objective: cp.Expression, constraints: list) -> cp.Problem:
    """``Minimize(objective)`` subject to ``constraints``, checked to be DPP (so that
    re-solving with new parameter values reuses the compiled problem)."""
    problem = cp.Problem(cp.Minimize(objective), constraints)
    if not problem.is_dpp():
        raise ValueError("the problem is not DPP; parameters would force recompilation")
    return problem


@dataclass
class GuardedSolver:
    """Solves ``problem`` and reads ``variable``; falls back to ``fallback(x)`` on failure."""

    problem: cp.Problem
    variable: cp.Variable
    fallback: Callable[[np.ndarray], np.ndarray]
    solver: str = "CLARABEL"
    options: dict[str, Any] | None = None
    warm_start: bool = True
    solves: int = 0
    failures: int = 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.solves += 1
        try:
            self.problem.solve(
                solver=self.solver, warm_start=self.warm_start, **(self.options or {})
            )
        except cp.error.SolverError:
            self.failures += 1
            return self.fallback(x)
        if self.problem.status != cp.OPTIMAL or self.variable.value is None:
            self.failures += 1
            return self.fallback(x)
        return np.array(self.variable.value, dtype=np.float64).reshape(-1)

    def diagnostics(self) -> dict[str, float]:
        """Solves, failures, and the failure rate."""
        rate = self.failures / self.solves if self.solves else 0.0
        return {"solves": self.solves, "failed_solves": self.failures, "failure_rate": rate}
