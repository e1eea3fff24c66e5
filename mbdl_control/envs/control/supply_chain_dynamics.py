r"""The pure dynamics of ``mbdl/SupplyChain-v0``, shared by the single and batched envs.

Every call consumes 8 standard normals ``z`` of its env's generator, whatever the action:

.. math::

    \text{reset:}\; h_0 = h_{0,\max}\,\Phi(z_{1:4}),\; p_0 = e^{\mu_p + \sigma_p z_{5:6}},\;
    d_0 = e^{\mu_d + \sigma_d z_{7:8}}; \qquad
    \text{step:}\; p^+ = e^{\mu_p + \sigma_p z_{1:2}},\; d^+ = e^{\mu_d + \sigma_d z_{3:4}},

(``Φ`` the standard normal CDF, so ``h₀`` is uniform on ``[0, h_{0,max}]⁴``). A step clips the
requested flows to their bounds ``[0, u_max]`` (as every control env clips to its action
box), applies them when they are feasible, and otherwise their Euclidean projection onto the
feasible polytope of :meth:`~mbdl_control.models.supply_chain.SupplyChainModel.constraints`
(the nearest feasible order: ``min ½‖u − u_req‖²`` s.t. ``G u ≤ b``, solved exactly by DAQP),
then moves the stocks and charges the cost on the next state (the published timing). The
observation is ``(h, p, d)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import daqp
import numpy as np
from scipy.special import ndtr

from mbdl_control.models.supply_chain import NODES, SupplyChainModel, incidence

#: a requested flow within this of every constraint counts as feasible and passes unchanged
FEASIBILITY_TOLERANCE = 1e-9


@dataclass(frozen=True, eq=False)
class SupplyChainDynamics:
    """The true supply chain and its incidence matrices."""

    model: SupplyChainModel

    @property
    def draws(self) -> int:
        return 8

    @property
    def network(self) -> np.ndarray:
        into, out_of = incidence()
        return into - out_of

    def _market(self, z: np.ndarray) -> np.ndarray:
        model = self.model
        prices = np.exp(model.price_log_mean + model.price_log_std * z[..., :2])
        demands = np.exp(model.demand_log_mean + model.demand_log_std * z[..., 2:4])
        return np.concatenate((prices, demands), -1)

    def reset(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        stocks = self.model.initial_stock_max * ndtr(z[..., :NODES])
        x = np.concatenate((stocks, self._market(z[..., NODES:])), -1)
        return x, x.copy()

    def project(self, x: np.ndarray, requested: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The applied flows ``(..., 8)`` and whether each row was clipped or projected (1.0 or
        0.0)."""
        G, b = self.model.constraints(x[..., :NODES], x[..., NODES + 2 :])
        rows_b = np.atleast_2d(b)
        rows_u = np.clip(np.atleast_2d(requested), 0.0, self.model.flow_max)
        applied = rows_u.copy()
        clipped = (rows_u != np.atleast_2d(requested)).any(-1)
        infeasible = (rows_u @ G.T > rows_b + FEASIBILITY_TOLERANCE).any(-1)
        for row in np.flatnonzero(infeasible):
            lower = np.full(len(G), -1e30)
            u, _, exitflag, _ = daqp.solve(np.eye(G.shape[1]), -rows_u[row], G, rows_b[row], lower)
            if exitflag != 1:
                raise RuntimeError(f"projecting the order {rows_u[row]} failed (DAQP {exitflag})")
            applied[row] = np.minimum(np.maximum(u, 0.0), self.model.flow_max)
        flags = (clipped | infeasible).astype(np.float64)
        return applied.reshape(requested.shape), flags.reshape(requested.shape[:-1])

    def step(
        self, x: np.ndarray, requested: np.ndarray, z: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Applied flows, stage cost (on the next state), whether the order was projected,
        next state, and its observation."""
        u, projected = self.project(x, requested)
        stocks = x[..., :NODES] + u @ self.network.T
        market = self._market(z)
        cost = (self.model.flow_costs(market[..., :2]) * u).sum(-1) + self.model.storage_cost(
            stocks
        )
        x_next = np.concatenate((stocks, market), -1)
        return u, cost, projected, x_next, x_next.copy()

    def overflows(self, cost, x_next, observation) -> dict[str, np.ndarray]:
        """Nothing overflows: flows and stocks are bounded, prices are log-normal draws."""
        return {}
