r"""The supply chain of Agrawal, Barratt, Boyd & Stellato, "Learning Convex Optimization Control
Policies" (L4DC 2020, §6.3), as their code writes it: a network flow with storage.

Four nodes (warehouses) hold stocks ``h ∈ [0, h_max]⁴``; eight links move goods: two supply
links buy into nodes 1 and 2 at prices ``p`` (two log-normal draws per period), four internal
links (1→3, 1→4, 2→4, 4→3) ship at cost ``τ`` each, and two retail links sell from nodes 3 and
4 at price ``r``, at most the period's demands ``d`` (two log-normal draws). With the flows
``u ∈ [0, u_max]⁸``, ``A_in`` and ``A_out`` the node-link incidence of where a link delivers
and where it draws from,

.. math::

    h^+ = h + (A_{\rm in} - A_{\rm out})\,u,\qquad
    \text{feasible: } 0 \le u \le u_{\max},\; A_{\rm out} u \le h,\; h^+ \le h_{\max},\;
    u_{\rm retail} \le d,

and the stage cost, paid on the next state as the published simulator pays it,

.. math::

    c = p^{+\top} u_{\rm supply} + \tau\, \mathbf 1^\top u_{\rm internal}
        - r\, \mathbf 1^\top u_{\rm retail} + \alpha\, \mathbf 1^\top h^+ + \beta \|h^+\|^2.

The model holds the numbers and the distributions (log-means and spreads of ``p`` and ``d``);
the same frozen dataclass is the truth an env simulates and the nominal model a designer gets.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from mbdl_control.models.linear_gaussian import LinearStructure, _freeze_vector
from mbdl_control.models.required import required
from mbdl_control.models.value_model import ValueModel, checked_scalar

#: the links: (from node, to node), ``None`` outside the network; nodes 0–3 are the paper's 1–4
LINKS = (
    (None, 0),  # supply into node 1
    (None, 1),  # supply into node 2
    (0, 2),
    (0, 3),
    (1, 3),
    (3, 2),
    (2, None),  # retail from node 3
    (3, None),  # retail from node 4
)
SUPPLY, INTERNAL, RETAIL = slice(0, 2), slice(2, 6), slice(6, 8)
#: the ridge ``ε‖u‖²`` added to the convex policy's objective (not published): ``‖P h⁺‖²``
#: sees only the 4 stock changes of 8 flows, so without it the argmin need not be unique, and
#: at 1e-6 the exact layer's KKT systems were too ill-conditioned to verify
POLICY_RIDGE = 1e-3
NODES, FLOWS = 4, len(LINKS)


def incidence() -> tuple[np.ndarray, np.ndarray]:
    """``(A_in, A_out)`` ``(4, 8)``: where each link delivers and where it draws from."""
    into, out_of = np.zeros((NODES, FLOWS)), np.zeros((NODES, FLOWS))
    for link, (source, target) in enumerate(LINKS):
        if target is not None:
            into[target, link] = 1.0
        if source is not None:
            out_of[source, link] = 1.0
    return into, out_of


@dataclass(frozen=True, eq=False)
class SupplyChainModel(ValueModel):
    """The network's numbers and its price and demand distributions (published values)."""

    price_log_mean: np.ndarray = dataclasses.field(default_factory=lambda: np.array([0.0, 0.1]))
    price_log_std: float = 0.2
    demand_log_mean: np.ndarray = dataclasses.field(default_factory=lambda: np.array([0.0, 0.4]))
    demand_log_std: float = 0.2
    shipping_cost: float = 0.05
    retail_price: float = 1.3
    storage_linear: float = 0.01
    storage_quadratic: float = 0.01
    stock_max: float = 3.0
    flow_max: float = 2.0
    initial_stock_max: float = 3.0

    def __post_init__(self) -> None:
        for name in ("price_log_mean", "demand_log_mean"):
            object.__setattr__(self, name, _freeze_vector(name, getattr(self, name), 2))
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, np.ndarray):
                positive = field.name in ("stock_max", "flow_max")
                object.__setattr__(self, field.name, checked_scalar(field.name, value, positive))

    n = NODES + 4  # observed: stocks, prices, demands
    m = FLOWS

    def flow_costs(self, prices: np.ndarray) -> np.ndarray:
        """The linear cost of each link ``(..., 8)`` at supply prices ``(..., 2)``."""
        shape = prices.shape[:-1]
        return np.concatenate(
            (
                prices,
                np.full((*shape, 4), self.shipping_cost),
                np.full((*shape, 2), -self.retail_price),
            ),
            -1,
        )

    def storage_cost(self, stocks: np.ndarray) -> np.ndarray:
        """``α 1ᵀh + β ‖h‖²`` per row."""
        return self.storage_linear * stocks.sum(-1) + self.storage_quadratic * (stocks**2).sum(-1)

    def constraints(self, stocks: np.ndarray, demands: np.ndarray) -> tuple[np.ndarray, Any]:
        """``(G, b)`` with the feasible flows ``G u ≤ b``: ``G`` ``(26, 8)`` shared, ``b``
        ``(..., 26)`` per state (the flow bounds, stock drawn ≤ stock, next stock ≤
        ``h_max``, retail ≤ demand; next stock ≥ 0 follows from the third)."""
        into, out_of = incidence()
        eye = np.eye(FLOWS)
        G = np.vstack((eye, -eye, out_of, into - out_of, eye[RETAIL]))
        shape = stocks.shape[:-1]
        b = np.concatenate(
            (
                np.full((*shape, FLOWS), self.flow_max),
                np.zeros((*shape, FLOWS)),
                stocks,
                self.stock_max - stocks,
                demands,
            ),
            -1,
        )
        return G, b

    def structure(self) -> LinearStructure:
        """The form without the numbers: 8 observed values, 8 flows, the flow bound."""
        return LinearStructure(self.n, self.m, 0, np.full(self.m, self.flow_max))


def require_supply_chain(owner: str, model: object) -> SupplyChainModel:
    """``model``, or a ``TypeError`` saying that ``owner`` is built on a supply-chain model."""
    return required(owner, model, SupplyChainModel, "a mbdl/SupplyChain-v0 model")
