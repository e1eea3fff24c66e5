"""The convex-optimization control policy with given parameters, as a model-based agent.

Agrawal, Barratt, Boyd, Stellato, "Learning Convex Optimization Control Policies", L4DC 2020,
§5.1: ``u = argmin_{u∈U} uᵀRu + ‖θ(Ax+Bu)‖² + qᵀ(Ax+Bu)``, the problem and its solves in
:mod:`mbdl_control.blocks.convex_policy`. The default is the untuned ``θ = P^½`` (LQR's
value function), ``q = 0``; learning ``θ`` and ``q`` through the convex problem is the
learned-optimizer family's job (``LearnedCOCP``). A failed solve applies the saturated LQR
action and is counted.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mbdl_control.agents.model_based.policy_agent import PolicyAgent
from mbdl_control.blocks.convex_policy import ConvexPolicy
from mbdl_control.models import LinearGaussianModel


class COCP(PolicyAgent):
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
        super().__init__(
            ConvexPolicy(model, theta, q, solver, solver_options, warm_start), knowledge
        )

    @property
    def theta(self) -> np.ndarray:
        return self.policy.theta

    @property
    def q(self) -> np.ndarray:
        return self.policy.q

    @property
    def config(self) -> dict[str, Any]:
        policy = self.policy
        return {
            "model": self.model,
            "theta": policy.theta,
            "q": policy.q,
            "solver": policy.solver,
            "solver_options": policy.solver_options,
            "warm_start": policy.warm_start,
            "knowledge": self.knowledge,
        }
