"""``mbdl/SupplyChain-v0``: the published supply chain, ordered through a wrong market model."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from mbdl_control.envs.arguments import checked_arguments
from mbdl_control.envs.control.control_env import ControlEnv
from mbdl_control.envs.control.control_vector import ControlVectorEnv
from mbdl_control.envs.control.supply_chain_dynamics import SupplyChainDynamics
from mbdl_control.models import relative_errors
from mbdl_control.models.supply_chain import NODES, SupplyChainModel

#: the horizon of the oracle's MPC
MPC_HORIZON = 5


def nominal_supply_chain(true: SupplyChainModel, mismatch: float) -> SupplyChainModel:
    """The designer's market: price log-means ``mismatch·σ_p`` too high, demand log-means
    ``mismatch·σ_d`` too low, both spreads ``1 + mismatch`` times the truth's."""
    return true.replace(
        price_log_mean=true.price_log_mean + mismatch * true.price_log_std,
        demand_log_mean=true.demand_log_mean - mismatch * true.demand_log_std,
        price_log_std=true.price_log_std * (1 + mismatch),
        demand_log_std=true.demand_log_std * (1 + mismatch),
    )


class SupplyChainEnv(ControlEnv):
    """
    ## Description

    Run the four-warehouse, eight-link supply chain of Agrawal, Barratt, Boyd & Stellato,
    "Learning Convex Optimization Control Policies" (L4DC 2020, §6.3), as their code does:
    buy at random prices, ship, sell up to random demands, pay for storage. Its convex policy
    is not an LQR in disguise: a network flow with inequality constraints on states and
    inputs.

    ## Action Space

    ``Box(0, 2, (8,), float64)``: the flows on the two supply, four internal and two retail
    links. An order is clipped to ``[0, 2]``; one still infeasible (drawing more than a node
    holds, filling a node past ``h_max = 3``, selling more than the demand) is replaced by its
    Euclidean projection onto the feasible flows (exact, by DAQP); either way
    ``info["saturated"]`` is 1.0.

    ## Observation Space

    ``Box(-inf, inf, (8,), float64)``: the stocks ``h`` (4), the supply prices ``p`` (2) and the
    demands ``d`` (2) of the period.

    ## Transition Dynamics

    ``h⁺ = h + (A_in − A_out) u`` (the network of :mod:`mbdl_control.models.supply_chain`);
    ``p`` and ``d`` are drawn afresh every period
    (:mod:`~mbdl_control.envs.control.supply_chain_dynamics`).

    ## Noise Model

    ``p ~ LogNormal((0, 0.1), 0.2)``, ``d ~ LogNormal((0, 0.4), 0.2)`` i.i.d. in time,
    ``h₀ ~ 3·U(0, 1)⁴``, from ``self.np_random`` (8 normals per reset and step, whatever the
    action).

    ## Known vs Unknown

    The designer knows the network, the costs and the bounds, and sees ``p`` and ``d``; its
    *market model* is off: price log-means ``mismatch·0.2`` too high, demand log-means
    ``mismatch·0.2`` too low, both log-spreads ``1 + mismatch`` times ``0.2``. The market
    model only matters to what a designer simulates (tuning a policy, MPC's forecasts).

    ## Reward

    ``−c`` with ``c = p⁺ᵀu_supply + 0.05·1ᵀu_internal − 1.3·1ᵀu_retail + 0.01·1ᵀh⁺ +
    0.01‖h⁺‖²``, charged on the next state as the published simulator charges it: the supply
    price paid is the *next* period's draw (kept, so the published figures apply; with i.i.d.
    prices it makes buying on a low price worthless). Negative costs are profits.

    ## Starting State

    ``h₀ ~ 3·U(0, 1)⁴`` and the first period's prices and demands.

    ## Episode End

    Truncation after ``max_episode_steps = 20`` periods.

    ## Oracle and Bound

    ``oracle()``: MPC on the true market (:class:`~mbdl_control.agents.SupplyChainMPC`,
    horizon 5, the plan shrinking to the episode's end), the best known policy. It was chosen
    over the other candidate, the published convex policy tuned on the truth (its published
    recipe through the exact QP layer), by a paired evaluation (1000 episodes, seed 1):
    −0.679 against −0.413 per period. Most of the margin is the episode's end, which MPC
    sees: it sells off the stock, which the episode does not value; the receding-horizon MPC,
    stationary like the convex policy, reaches −0.422. ``performance_bound()``: ``None``;
    none is known.

    ## Arguments

    ``mismatch`` (≥ 0), ``render_mode`` (``None``, ``"ansi"`` or ``"rgb_array"``).

    ## Version History

    * v0: initial version, with a native batched version (``gym.make_vec``); later, the
      oracle MPC on the truth (it was the convex policy tuned on the truth, which MPC beats).
    """

    default_horizon = 20

    @checked_arguments()
    def __init__(self, mismatch: float = 0.0, render_mode: str | None = None) -> None:
        super().__init__(mismatch, render_mode)
        self.true_model = SupplyChainModel()
        self.nominal_model = nominal_supply_chain(self.true_model, self.mismatch)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (NODES + 4,), np.float64)
        self.action_space = gym.spaces.Box(0.0, self.true_model.flow_max, (8,), np.float64)
        self.dynamics = SupplyChainDynamics(self.true_model)

    def oracle(self, horizon: int | None = None) -> Any:
        """MPC on the truth, chosen over the tuned convex policy (Oracle and Bound above)."""
        from mbdl_control.agents.model_based.supply_chain_mpc import SupplyChainMPC  # lazily

        return SupplyChainMPC(
            self.true_model, MPC_HORIZON, episode_steps=horizon or self.horizon, knowledge="true"
        )

    def _compute_bound(self, horizon: int) -> None:
        return None

    def mismatch_report(self) -> dict[str, float]:
        report = relative_errors(self.true_model, self.nominal_model)
        for name in ("price_log_std", "demand_log_std"):
            true, nominal = getattr(self.true_model, name), getattr(self.nominal_model, name)
            report[f"rel_error_{name}"] = abs(nominal - true) / true
        return report


class SupplyChainVectorEnv(ControlVectorEnv):
    """``mbdl/SupplyChain-v0`` batched, built by ``gym.make_vec(id, num_envs)``."""

    single_env_class = SupplyChainEnv
