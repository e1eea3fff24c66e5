"""Model predictive control on a linear model, as a model-based agent.

Rawlings, Mayne, Diehl, *Model Predictive Control* (2017), §1.3 and §2.2: at each state, the
``horizon``-step problem with input (and optional state) bounds and the Riccati terminal cost,
solved as a condensed QP by DAQP or through cvxpy (:mod:`mbdl_control.blocks.mpc`); the first
input is applied. A solve that fails or is inaccurate applies the saturated LQR action of the
same model and is counted in ``diagnostics()``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mbdl_control.agents.model_based.policy_agent import PolicyAgent
from mbdl_control.blocks.mpc import MPCPolicy
from mbdl_control.models import LinearGaussianModel


class MPC(PolicyAgent):
    """Receding-horizon control with input (and optional state) bounds on the given model."""

    def __init__(
        self,
        model: LinearGaussianModel,
        horizon: int = 10,
        state_bound: float | np.ndarray | None = None,
        solver: str = "DAQP",
        solver_options: dict[str, Any] | None = None,
        warm_start: bool = True,
        knowledge: str = "nominal",
    ) -> None:
        super().__init__(
            MPCPolicy(model, horizon, state_bound, solver, solver_options, warm_start), knowledge
        )

    @property
    def horizon(self) -> int:
        return self.policy.horizon

    @property
    def config(self) -> dict[str, Any]:
        policy = self.policy
        return {
            "model": self.model,
            "horizon": policy.horizon,
            "state_bound": policy.state_bound,
            "solver": policy.solver,
            "solver_options": policy.solver_options,
            "warm_start": policy.warm_start,
            "knowledge": self.knowledge,
        }
