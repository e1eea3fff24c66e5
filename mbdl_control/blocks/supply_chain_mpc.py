r"""Model predictive control of the supply chain: plan the flows of the next ``H`` periods on the
market's expected prices and demands, apply the first.

At stocks ``h₀``, prices ``p`` and demands ``d``, with ``N = A_in − A_out`` and the market
model's means ``p̄ = E p = e^{μ_p + σ_p²/2}``, ``d̄ = E d``:

.. math::

    \min_{u_0, \dots, u_{H-1}}\; \sum_{k=0}^{H-1} \Big( [\bar p;\, \tau \mathbf 1;\,
        -r \mathbf 1]^\top u_k + \alpha \mathbf 1^\top h_{k+1} + \beta \|h_{k+1}\|^2
        + \epsilon \|u_k\|^2 \Big)
    \quad\text{s.t.}\quad h_{k+1} = h_k + N u_k,\; 0 \le u_k \le u_{\max},\;
    A_{\rm out} u_k \le h_k,\; h_{k+1} \le h_{\max},\; u_{k,\rm retail} \le d_k,

with ``d₀ = d`` (this period's demand, seen) and ``d_k = d̄`` after (certainty equivalence).
Every period's purchase is priced at ``p̄``, the current price included: the env charges the
*next* period's draw (the published timing), which the current price says nothing about. The
ridge ``ε`` is the convex policy's :data:`~mbdl_control.models.supply_chain.POLICY_RIDGE`
(a unique argmin). Condensed on the flows alone (``h_{k+1} = h₀ + N Σ_{j≤k} u_j``), it is a
dense QP in ``8H`` variables whose constraint matrix is the same at every state; each state's
goes to DAQP (exact active set).
"""

from __future__ import annotations

import daqp
import numpy as np

from mbdl_control.blocks.qp.parametric_qp import DAQP_OPTIMAL
from mbdl_control.models.supply_chain import (
    FLOWS,
    NODES,
    POLICY_RIDGE,
    RETAIL,
    SupplyChainModel,
    incidence,
)


def log_normal_means(log_mean: np.ndarray, log_std: float) -> np.ndarray:
    """``E e^{μ + σ w} = e^{μ + σ²/2}``."""
    return np.exp(log_mean + log_std**2 / 2)


class SupplyChainMPCPolicy:
    """The condensed QP of the module docstring for one market model and horizon."""

    def __init__(self, model: SupplyChainModel, horizon: int) -> None:
        self.model, self.horizon = model, horizon
        into, out_of = incidence()
        network = into - out_of
        eye_h = np.eye(horizon)
        #: the stocks after each period: h_{k+1} = h0 + cumulative @ U
        self.cumulative = np.kron(np.tril(np.ones((horizon, horizon))), network)
        before = np.kron(np.tril(np.ones((horizon, horizon)), -1), network)
        retail = np.kron(eye_h, np.eye(FLOWS)[RETAIL])
        eye = np.eye(FLOWS * horizon)
        self.G = np.vstack((eye, -eye, np.kron(eye_h, out_of) - before, self.cumulative, retail))
        self.hessian = 2 * (
            model.storage_quadratic * self.cumulative.T @ self.cumulative + POLICY_RIDGE * eye
        )
        price = log_normal_means(model.price_log_mean, model.price_log_std)
        costs = model.flow_costs(price)
        self.expected_demand = log_normal_means(model.demand_log_mean, model.demand_log_std)
        self.linear = np.tile(costs, horizon) + model.storage_linear * self.cumulative.sum(0)

    def flows(self, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The first period's flows ``(batch, 8)`` at ``states`` ``(batch, 8)`` and whether
        each solve succeeded (a failed row, an infeasible state, gets no flow)."""
        model, horizon = self.model, self.horizon
        flows = np.zeros((len(states), FLOWS))
        solved = np.zeros(len(states), dtype=bool)
        lower = np.full(len(self.G), -1e30)
        for row, x in enumerate(states):
            stocks = np.tile(x[:NODES], horizon)
            demands = np.concatenate((x[NODES + 2 :], np.tile(self.expected_demand, horizon - 1)))
            b = np.concatenate(
                (
                    np.full(FLOWS * horizon, model.flow_max),
                    np.zeros(FLOWS * horizon),
                    stocks,
                    model.stock_max - stocks,
                    demands,
                )
            )
            linear = self.linear + 2 * model.storage_quadratic * self.cumulative.T @ stocks
            u, _, exitflag, _ = daqp.solve(self.hessian, linear, self.G, b, lower)
            if exitflag == DAQP_OPTIMAL:
                flows[row] = np.clip(u[:FLOWS], 0.0, model.flow_max)
                solved[row] = True
        return flows, solved
