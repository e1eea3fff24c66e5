"""Agents that act by solving a parametrized convex problem at every state, never crashing.

The subclass builds the problem once, with the current state as a cvxpy Parameter, and hands it
to :meth:`ConvexPolicyAgent._use_problem`. A solve that raises, or ends in any status but
``optimal``, applies the *safe action* (the saturated LQR action of the same model) and is
counted; ``optimal_inaccurate`` counts as a failure because the action would carry the solver's
error into the closed loop.
"""

from __future__ import annotations

from typing import Any

import cvxpy as cp
import numpy as np

from mbdl_control.agents.base import BaseAgent, check_observation_size
from mbdl_control.models import LinearGaussianModel, saturate
from mbdl_control.models.riccati import lqr_steady_state

SOLVERS = ("CLARABEL", "OSQP", "SCS")


def check_solver(solver: str) -> str:
    """The solver name in upper case, or a ``ValueError`` listing the valid ones."""
    name = str(solver).upper()
    if name not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    return name


class ConvexPolicyAgent(BaseAgent):
    """Base of MPC and the convex policy: solve, read the first input, fall back on failure."""

    family = "model-based"

    def __init__(
        self,
        model: LinearGaussianModel,
        solver: str,
        solver_options: dict[str, Any] | None,
        warm_start: bool,
        knowledge: str,
    ) -> None:
        super().__init__(knowledge)
        self.model = model
        self.solver = check_solver(solver)
        self.solver_options = dict(solver_options or {})
        self.warm_start = bool(warm_start)
        self.gain, self.P = lqr_steady_state(model)
        self.solves = 0
        self.failed_solves = 0

    def _use_problem(
        self, objective: cp.Expression, constraints: list, state: cp.Parameter, inputs: cp.Variable
    ) -> None:
        """Minimize ``objective`` s.t. ``constraints``; the action is the first ``m`` entries
        of ``inputs`` (row-major). Checked DPP, so re-solves reuse the compiled problem."""
        self._problem = cp.Problem(cp.Minimize(objective), constraints)
        if not self._problem.is_dpp():
            raise ValueError("the problem is not DPP; parameters would force recompilation")
        self._state, self._inputs = state, inputs

    def safe_action(self, x: np.ndarray) -> np.ndarray:
        """The saturated LQR action of the same model, applied when a solve fails."""
        return saturate(self.model, -self.gain @ x)

    def _solve(self, x: np.ndarray) -> np.ndarray:
        self.solves += 1
        self._state.value = x
        try:
            self._problem.solve(
                solver=self.solver, warm_start=self.warm_start, **self.solver_options
            )
        except cp.error.SolverError:
            self.failed_solves += 1
            return self.safe_action(x)
        if self._problem.status != cp.OPTIMAL or self._inputs.value is None:
            self.failed_solves += 1
            return self.safe_action(x)
        return np.asarray(self._inputs.value, dtype=np.float64).reshape(-1)[: self.model.m]

    def diagnostics(self) -> dict[str, float]:
        rate = self.failed_solves / self.solves if self.solves else 0.0
        return {"solves": self.solves, "failed_solves": self.failed_solves, "failure_rate": rate}

    def _act(
        self, observations: np.ndarray, state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        check_observation_size(self, observations, self.model.n)
        return np.stack([self._solve(x) for x in observations]), None
