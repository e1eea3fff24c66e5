r"""The published convex policy of the supply chain, as a model-based agent.

Agrawal, Barratt, Boyd & Stellato, "Learning Convex Optimization Control Policies" (L4DC 2020,
§6.3): at stocks ``h``, prices ``p`` and demands ``d``,

.. math::

    u = \operatorname*{argmin}_{u}\; c(p)^\top u + \|P h^+\|_2^2 + q^\top h^+ + \epsilon\|u\|^2
    \quad\text{s.t.}\quad h^+ = h + (A_{\rm in} - A_{\rm out}) u,\; G u \le b(h, d),

the constraints those of the env (:meth:`~mbdl_control.models.supply_chain.SupplyChainModel
.constraints`), ``c(p)`` the links' costs, ``P = I`` and ``q = −3·1`` the published starting
parameters. ``ε = 1e-6`` (not published) makes the quadratic term strictly convex: ``‖P h⁺‖²``
sees only the 4 stock changes of 8 flows, and without it the argmin need not be unique. Each
state's QP goes to DAQP; a solve that fails applies no flow and is counted.
"""

from __future__ import annotations

from typing import Any

import daqp
import numpy as np

from mbdl_control.core import BaseAgent, vector_space
from mbdl_control.models.supply_chain import (
    NODES,
    SupplyChainModel,
    incidence,
    require_supply_chain,
)

#: the ridge that makes the policy's QP strictly convex
RIDGE = 1e-6


class SupplyChainCOCP(BaseAgent):
    """The supply chain's convex policy with ``P`` and ``q`` given (published start)."""

    family = "model-based"

    def __init__(
        self,
        model: SupplyChainModel,
        P: np.ndarray | None = None,
        q: np.ndarray | None = None,
        knowledge: str = "nominal",
    ) -> None:
        super().__init__(knowledge)
        self.model = require_supply_chain("SupplyChainCOCP", model)
        self.P = np.eye(NODES) if P is None else np.array(P, dtype=np.float64)
        self.q = np.full(NODES, -3.0) if q is None else np.array(q, dtype=np.float64)
        if self.P.shape != (NODES, NODES) or self.q.shape != (NODES,):
            raise ValueError(f"P must be (4, 4) and q (4,), got {self.P.shape}, {self.q.shape}")
        into, out_of = incidence()
        self._network = into - out_of
        weighted = self.P @ self._network
        self._hessian = 2 * (weighted.T @ weighted + RIDGE * np.eye(len(into.T)))
        self.solves = self.failed_solves = 0
        self.observation_space = vector_space(NODES + 4)

    @property
    def config(self) -> dict[str, Any]:
        return {"model": self.model, "P": self.P, "q": self.q, "knowledge": self.knowledge}

    def diagnostics(self) -> dict[str, float]:
        rate = self.failed_solves / self.solves if self.solves else 0.0
        return {"solves": self.solves, "failed_solves": self.failed_solves, "failure_rate": rate}

    def _act(
        self, observations: np.ndarray, state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        stocks, prices, demands = (
            observations[:, :NODES],
            observations[:, NODES : NODES + 2],
            observations[:, NODES + 2 :],
        )
        G, b = self.model.constraints(stocks, demands)
        gram = self.P.T @ self.P
        linear = (
            self.model.flow_costs(prices)
            + 2 * (stocks @ gram) @ self._network
            + self.q @ self._network
        )
        actions = np.zeros((len(observations), self.model.m))
        lower = np.full(len(G), -1e30)
        for row in range(len(observations)):
            u, _, exitflag, _ = daqp.solve(self._hessian, linear[row], G, b[row], lower)
            self.solves += 1
            if exitflag == 1:
                actions[row] = np.clip(u, 0.0, self.model.flow_max)
            else:
                self.failed_solves += 1
        return actions, None
