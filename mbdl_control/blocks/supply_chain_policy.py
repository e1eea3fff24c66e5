r"""The supply chain's convex policy at a batch of states, solved by DAQP per state.

Agrawal, Barratt, Boyd & Stellato (L4DC 2020, §6.3): at stocks ``h``, prices ``p`` and demands
``d``,

.. math::

    u = \operatorname*{argmin}_{u}\; c(p)^\top u + \|P h^+\|_2^2 + q^\top h^+ + \epsilon\|u\|^2
    \quad\text{s.t.}\quad h^+ = h + (A_{\rm in} - A_{\rm out}) u,\; G u \le b(h, d),

with the env's constraints (:meth:`~mbdl_control.models.supply_chain.SupplyChainModel
.constraints`), ``c(p)`` the links' costs and ``ε`` the ridge
:data:`~mbdl_control.models.supply_chain.POLICY_RIDGE` (not published: it makes the argmin
unique). Shared by the untuned agent and the learned one, which differentiates the same
problem through :func:`~mbdl_control.blocks.qp.polytope_qp.polytope_qp` when it trains.
"""

from __future__ import annotations

import daqp
import numpy as np

from mbdl_control.blocks.qp.parametric_qp import DAQP_OPTIMAL
from mbdl_control.models.supply_chain import NODES, POLICY_RIDGE, SupplyChainModel, incidence


def published_start() -> tuple[np.ndarray, np.ndarray]:
    """The published ``(P, q)``: ``I`` and ``−3·1``."""
    return np.eye(NODES), np.full(NODES, -3.0)


def supply_chain_flows(
    model: SupplyChainModel, P: np.ndarray, q: np.ndarray, states: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The flows ``(batch, 8)`` at ``states`` ``(batch, 8)`` and whether each solve succeeded
    (a failed row, e.g. an infeasible state, gets no flow)."""
    into, out_of = incidence()
    network = into - out_of
    weighted = P @ network
    hessian = 2 * (weighted.T @ weighted + POLICY_RIDGE * np.eye(model.m))
    stocks, prices, demands = (
        states[:, :NODES],
        states[:, NODES : NODES + 2],
        states[:, NODES + 2 :],
    )
    G, b = model.constraints(stocks, demands)
    linear = model.flow_costs(prices) + 2 * (stocks @ (P.T @ P)) @ network + q @ network
    flows = np.zeros((len(states), model.m))
    solved = np.zeros(len(states), dtype=bool)
    lower = np.full(len(G), -1e30)
    for row in range(len(states)):
        u, _, exitflag, _ = daqp.solve(hessian, linear[row], G, b[row], lower)
        if exitflag == DAQP_OPTIMAL:
            flows[row], solved[row] = np.clip(u, 0.0, model.flow_max), True
    return flows, solved
