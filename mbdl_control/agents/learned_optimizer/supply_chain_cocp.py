"""The supply chain's convex policy with ``P`` and ``q`` learned through the exact QP layer.

Agrawal, Barratt, Boyd & Stellato (L4DC 2020, §6.3): the policy of
:class:`~mbdl_control.agents.model_based.supply_chain_policy.SupplyChainCOCP`, its parameters
tuned by SGD (rate 0.05, the published 200 iterations of 5 episodes) on the mean cost of
episodes simulated in a market model, differentiating each period's argmin through
:func:`~mbdl_control.blocks.qp.polytope_qp.polytope_qp` (exact, DAQP forward, OptNet
backward) instead of cvxpylayers. The simulation is the env's, in torch: orders feasible by
construction, the cost on the next state. The market is the nominal one, or, learning from
the system, the log-normal fit to the prices and demands the env shows
(:class:`~mbdl_control.blocks.identify_then_tune.IdentifyThenTune`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from mbdl_control.blocks.grey_box_identification import identify_market
from mbdl_control.blocks.identify_then_tune import IdentifyThenTune
from mbdl_control.blocks.qp.polytope_qp import polytope_qp
from mbdl_control.blocks.supply_chain_policy import published_start, supply_chain_flows
from mbdl_control.core import vector_space
from mbdl_control.models.supply_chain import (
    NODES,
    POLICY_RIDGE,
    SupplyChainModel,
    incidence,
    require_supply_chain,
)


class LearnedSupplyChainCOCP(IdentifyThenTune):
    """The supply chain's convex policy, ``P`` (from ``I``) and ``q`` (from ``−3·1``) learned
    in the nominal or the identified market."""

    identified_fields = ("price_log_mean", "demand_log_mean", "price_log_std", "demand_log_std")

    def __init__(
        self,
        model: SupplyChainModel,
        iterations: int = 200,
        batch_size: int = 5,
        learning_rate: float = 0.05,
        clip_norm: float | None = None,
        learn_from: str = "model",
        exploration: float = 0.0,
        knowledge: str = "nominal",
    ) -> None:
        model = require_supply_chain("LearnedSupplyChainCOCP", model)
        super().__init__(
            model, *published_start(), iterations, batch_size, learning_rate,
            clip_norm, learn_from, exploration, knowledge,
        )  # fmt: skip
        into, out_of = incidence()
        self._network = torch.from_numpy(into - out_of)
        self.observation_space = vector_space(NODES + 4)

    def identify(
        self, states: np.ndarray, inputs: np.ndarray, next_states: np.ndarray
    ) -> SupplyChainModel:
        return identify_market(self.model, np.vstack((states, next_states[-1:])))

    def policy(self, model: SupplyChainModel, x: torch.Tensor) -> torch.Tensor:
        """The flows ``(batch, 8)`` at states ``(h, p, d)`` ``(batch, 8)``, differentiable in
        ``P`` and ``q`` (the policy sees the market, so ``model``'s does not enter)."""
        stocks, prices, demands = x[:, :NODES], x[:, NODES : NODES + 2], x[:, NODES + 2 :]
        weighted = self.P @ self._network
        hessian = 2 * (weighted.T @ weighted) + 2 * POLICY_RIDGE * torch.eye(8, dtype=x.dtype)
        costs = torch.from_numpy(self.model.flow_costs(np.zeros((len(x), 2))))
        costs = torch.cat((prices, costs[:, 2:]), -1)
        linear = costs + 2 * (stocks @ (self.P.T @ self.P)) @ self._network + self.q @ self._network
        G, _ = self.model.constraints(np.zeros(NODES), np.zeros(2))
        bounds = torch.cat(
            (
                torch.full((len(x), 8), self.model.flow_max, dtype=x.dtype),
                torch.zeros((len(x), 8), dtype=x.dtype),
                stocks,
                self.model.stock_max - stocks,
                demands,
            ),
            -1,
        )
        u = polytope_qp(hessian, linear, torch.from_numpy(G), bounds)
        return torch.clamp(u, 0.0, self.model.flow_max)

    def episode_cost(
        self, model: SupplyChainModel, batch: int, horizon: int, generator: torch.Generator
    ) -> torch.Tensor:
        """The mean cost per period of ``batch`` episodes simulated in ``model``."""

        def market() -> torch.Tensor:
            z = torch.randn(batch, 4, generator=generator, dtype=torch.float64)
            prices = torch.exp(torch.tensor(model.price_log_mean) + model.price_log_std * z[:, :2])
            demands = torch.exp(
                torch.tensor(model.demand_log_mean) + model.demand_log_std * z[:, 2:]
            )
            return torch.cat((prices, demands), -1)

        uniform = torch.rand(batch, NODES, generator=generator, dtype=torch.float64)
        x = torch.cat((model.initial_stock_max * uniform, market()), -1)
        total = torch.zeros((), dtype=torch.float64)
        for _ in range(horizon):
            u = self.policy(model, x)
            stocks = x[:, :NODES] + u @ self._network.T
            x = torch.cat((stocks, market()), -1)
            shipping = model.shipping_cost * u[:, 2:6].sum(-1) - model.retail_price * u[:, 6:].sum(
                -1
            )
            storage = model.storage_linear * stocks.sum(-1) + model.storage_quadratic * (
                stocks**2
            ).sum(-1)
            total = (
                total + ((x[:, NODES : NODES + 2] * u[:, :2]).sum(-1) + shipping + storage).sum()
            )
        return total / (batch * horizon)

    def _act(
        self, observations: np.ndarray, state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        """The flows by the untuned agent's solve (a failed row, an infeasible state, gets
        none instead of raising as the training layer does)."""
        P, q = (value.detach().numpy() for value in (self.P, self.q))
        return supply_chain_flows(self.policy_model, P, q, observations)[0], None
