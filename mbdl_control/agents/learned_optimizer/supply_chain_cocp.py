"""The supply chain's convex policy with ``P`` and ``q`` learned through the exact QP layer.

Agrawal, Barratt, Boyd & Stellato (L4DC 2020, §6.3): the policy of
:class:`~mbdl_control.agents.model_based.supply_chain_policy.SupplyChainCOCP`, its parameters
tuned by SGD (rate 0.05, the published 200 iterations of 5 episodes) on the mean cost of
episodes simulated in the agent's model (its market distributions: nominal or true),
differentiating each period's argmin through
:func:`~mbdl_control.blocks.qp.polytope_qp.polytope_qp` (exact, DAQP forward, OptNet
backward) instead of cvxpylayers. The simulation is the env's, in torch: orders feasible by
construction, the cost on the next state. A training that does not lower the cost of a
validation batch is undone (:func:`~mbdl_control.blocks.policy_training.train_on_loss`).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from mbdl_control.blocks.policy_training import simulated_fit_report, train_on_loss
from mbdl_control.blocks.qp.polytope_qp import polytope_qp
from mbdl_control.blocks.supply_chain_policy import supply_chain_flows
from mbdl_control.core import (
    BaseAgent,
    Budget,
    FitReport,
    episode_length,
    positive_int,
    vector_space,
)
from mbdl_control.models.supply_chain import (
    NODES,
    POLICY_RIDGE,
    SupplyChainModel,
    incidence,
    require_supply_chain,
)


class LearnedSupplyChainCOCP(BaseAgent):
    """The supply chain's convex policy, ``P`` (from ``I``) and ``q`` (from ``−3·1``) learned
    in the model."""

    family = "learned-optimizer"

    def __init__(
        self,
        model: SupplyChainModel,
        iterations: int = 200,
        batch_size: int = 5,
        learning_rate: float = 0.05,
        knowledge: str = "nominal",
    ) -> None:
        super().__init__(knowledge)
        self.model = require_supply_chain("LearnedSupplyChainCOCP", model)
        self.iterations = positive_int("iterations", iterations)
        self.batch_size = positive_int("batch_size", batch_size)
        if not (np.isfinite(learning_rate) and learning_rate > 0):
            raise ValueError(f"learning_rate must be a positive float, got {learning_rate!r}")
        self.learning_rate = learning_rate
        self.P = torch.nn.Parameter(torch.eye(NODES, dtype=torch.float64))
        self.q = torch.nn.Parameter(torch.full((NODES,), -3.0, dtype=torch.float64))
        into, out_of = incidence()
        self._network = torch.from_numpy(into - out_of)
        self.diverged = False
        self.observation_space = vector_space(NODES + 4)

    @property
    def config(self) -> dict[str, Any]:
        names = "model iterations batch_size learning_rate knowledge"
        return {name: getattr(self, name) for name in names.split()}

    def learned_parameters(self) -> dict[str, np.ndarray]:
        return {"P": self.P.detach().numpy().copy(), "q": self.q.detach().numpy().copy()}

    def set_learned_parameters(self, parameters: dict[str, np.ndarray]) -> None:
        with torch.no_grad():
            for name in ("P", "q"):
                target = getattr(self, name)
                if np.shape(parameters[name]) != tuple(target.shape):
                    raise ValueError(f"{name} must have shape {tuple(target.shape)}")
                target.copy_(torch.as_tensor(np.array(parameters[name])))

    def diagnostics(self) -> dict[str, float]:
        return {"diverged": float(self.diverged)}

    def policy(self, x: torch.Tensor) -> torch.Tensor:
        """The flows ``(batch, 8)`` at states ``(h, p, d)`` ``(batch, 8)``, differentiable in
        ``P`` and ``q``."""
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

    def episode_cost(self, batch: int, horizon: int, generator: torch.Generator) -> torch.Tensor:
        """The mean cost per period of ``batch`` episodes simulated in the model."""
        model = self.model

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
            u = self.policy(x)
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

    def fit(
        self,
        env: Any,
        budget: Budget | None = None,
        seed: int | None = None,
        horizon: int | None = None,
    ) -> FitReport:
        """Tune ``P`` and ``q`` in the model on episodes of the env's length (or ``horizon``;
        20 by default); no env step is used."""
        started = time.perf_counter()
        seed = 0 if seed is None else seed
        horizon = horizon or episode_length(env) or 20
        curve, self.diverged = train_on_loss(
            lambda size, generator: self.episode_cost(size, horizon, generator),
            [self.P, self.q],
            self.iterations,
            self.batch_size,
            self.learning_rate,
            seed,
            optimizer=torch.optim.SGD,
        )
        return simulated_fit_report(curve, self.batch_size, horizon, started, self.diverged)

    def _act(
        self, observations: np.ndarray, state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        P, q = (value.detach().numpy() for value in (self.P, self.q))
        return supply_chain_flows(self.model, P, q, observations)[0], None
