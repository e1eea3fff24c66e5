"""Training the published convex policies of the vehicle and the supply chain: the exact QP
layers against the published cvxpylayers recipe, in the same run.

For each example (Agrawal, Barratt, Boyd & Stellato, L4DC 2020, §6.2-6.3), the agent's
published recipe (vehicle: SGD 0.1, 100 iterations of one 100-step episode, clipping at 10;
supply chain: SGD 0.05, 200 iterations of 5 20-period episodes) on the true model, with the
policy's argmin differentiated by

* ours: the exact batched layers, ``box_qp`` (vehicle) and ``polytope_qp`` (supply chain);
* cvxpylayers: the published problem as the published code writes it (diffcp + SCS with the
  published ``acceleration_lookback = 0``; the supply chain's without our ridge 1e-3‖u‖²),
  on the same simulation.

Part 1 times ``--repeats`` iterations through each (a training batch's loss and its backward
pass, after one untimed warm-up): seconds per iteration, median, and the extrapolated wall
time of the published recipe's iterations. Part 2
trains through ours end to end and evaluates the policy on ``--episodes`` episodes (seed 0),
with the published figure beside it. ``--full-cvxpylayers`` also trains through cvxpylayers
end to end (vehicle about 3 minutes, supply chain about 2) and evaluates it on the same
episodes, for a paired comparison. torch and BLAS run on one thread.

    .venv/bin/python benchmarks/published_examples_training.py [--repeats 3] [--episodes 500]
        [--full-cvxpylayers]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import cvxpy as cp
import gymnasium as gym
import numpy as np
import torch
from cvxpylayers.torch import CvxpyLayer
from threadpoolctl import threadpool_limits

import mbdl_control  # noqa: F401  (registers the envs)
from mbdl_control.agents import LearnedSupplyChainCOCP, LearnedVehicleCOCP
from mbdl_control.blocks.vehicle_policy import vehicle_prediction
from mbdl_control.evaluation import evaluate
from mbdl_control.models.supply_chain import NODES, RETAIL, incidence

SOLVER_ARGS = {"acceleration_lookback": 0}
#: the published figures: untuned → tuned
PUBLISHED = {"vehicle": "4.055 → 0.912", "supply chain": "-0.279 → -0.341"}


def vehicle_layer(model) -> Any:
    """The published vehicle problem as a cvxpylayer: parameters ``P, q, f̂, B̂, κ``."""
    P, q = cp.Parameter((4, 4)), cp.Parameter(4)
    f, B, curvature = cp.Parameter(4), cp.Parameter((4, 2)), cp.Parameter(1)
    u, y = cp.Variable(2), cp.Variable(4)
    weights = model.weights
    objective = weights[3] * cp.square(u[0]) + weights[4] * cp.square(u[1])
    objective += cp.sum_squares(P @ y) + q @ y
    constraints = [
        y == f + B @ u,
        cp.abs(u[0]) <= model.accel_max,
        cp.abs(u[1] + model.wheelbase * curvature) <= model.steer_max,
    ]
    layer = CvxpyLayer(
        cp.Problem(cp.Minimize(objective), constraints), [P, q, f, B, curvature], [u]
    )

    def policy(agent, model, x):
        f_hat, B_hat = vehicle_prediction(model, x)
        batch = len(x)
        (inputs,) = layer(
            agent.P.expand(batch, 4, 4), agent.q.expand(batch, 4), f_hat, B_hat,
            x[:, 5:6], solver_args=SOLVER_ARGS,
        )  # fmt: skip
        return inputs

    return policy


def supply_chain_layer(model) -> Any:
    """The published supply-chain problem as a cvxpylayer: parameters ``x, P, q``."""
    into, out_of = incidence()
    x, P, q = cp.Parameter(NODES + 4), cp.Parameter((NODES, NODES)), cp.Parameter(NODES)
    u, stocks_next = cp.Variable(8), cp.Variable(NODES)
    stocks, prices, demands = x[:NODES], x[NODES : NODES + 2], x[NODES + 2 :]
    linear = cp.hstack([prices, model.shipping_cost * np.ones(4), -model.retail_price * np.ones(2)])
    objective = linear @ u + cp.sum_squares(P @ stocks_next) + q @ stocks_next
    constraints = [
        stocks_next == stocks + (into - out_of) @ u,
        stocks_next <= model.stock_max,
        u >= 0,
        u <= model.flow_max,
        out_of @ u <= stocks,
        u[RETAIL] <= demands,
    ]
    layer = CvxpyLayer(cp.Problem(cp.Minimize(objective), constraints), [x, P, q], [u])

    def policy(agent, model, states):
        batch = len(states)
        # SCS's flows meet the constraints to its tolerance only, so a stock can come out a
        # hair below 0 and make the next problem infeasible: the layer sees stocks in range
        stocks = torch.clamp(states[:, :NODES], 0.0, model.stock_max)
        (flows,) = layer(
            torch.cat((stocks, states[:, NODES:]), -1), agent.P.expand(batch, NODES, NODES),
            agent.q.expand(batch, NODES), solver_args=SOLVER_ARGS,
        )  # fmt: skip
        return torch.clamp(flows, 0.0, model.flow_max)

    return policy


#: each example's env, learned policy, cvxpylayers policy and episode length
EXAMPLES = {
    "vehicle": ("mbdl/VehiclePathTracking-v0", LearnedVehicleCOCP, vehicle_layer, 100),
    "supply chain": ("mbdl/SupplyChain-v0", LearnedSupplyChainCOCP, supply_chain_layer, 20),
}


def agent_for(example: str, layer: str, **kwargs: Any) -> Any:
    """The example's learned policy on the truth, its argmin through ``layer``."""
    env_id, cls, cvxpylayer, _ = EXAMPLES[example]
    agent = cls(gym.make(env_id).unwrapped.true_model, knowledge="true", **kwargs)
    if layer == "cvxpylayers":
        through = cvxpylayer(agent.model)
        agent.policy = lambda model, x: through(agent, model, x)
    return agent


def seconds_per_iteration(example: str, layer: str, repeats: int) -> list[float]:
    """One published iteration, timed: the loss of a training batch simulated through the
    layer, and its backward pass (``repeats`` times, after one untimed warm-up)."""
    horizon = EXAMPLES[example][3]
    agent = agent_for(example, layer)
    times = []
    for repeat in range(repeats + 1):
        generator = torch.Generator().manual_seed(repeat)
        start = time.perf_counter()
        agent.episode_cost(agent.model, agent.batch_size, horizon, generator).backward()
        times.append(time.perf_counter() - start)
    return times[1:]


def trained(example: str, layer: str) -> tuple[Any, float]:
    """The agent trained by its published recipe (its defaults), and the wall time."""
    agent = agent_for(example, layer)
    start = time.perf_counter()
    agent.fit(None, seed=0, horizon=EXAMPLES[example][3])
    return agent, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=500)
    parser.add_argument("--full-cvxpylayers", action="store_true")
    arguments = parser.parse_args()
    layers = ("ours", "cvxpylayers") if arguments.full_cvxpylayers else ("ours",)
    torch.set_num_threads(1)
    print("| example | layer | s / iteration (median) | published recipe | ratio |")
    print("|---|---|---|---|---|")
    rows = []
    with threadpool_limits(1):
        for example, (env_id, cls, _, _) in EXAMPLES.items():
            iterations = cls(gym.make(env_id).unwrapped.true_model).iterations
            medians = {
                layer: statistics.median(seconds_per_iteration(example, layer, arguments.repeats))
                for layer in ("ours", "cvxpylayers")
            }
            for layer, median in medians.items():
                print(
                    f"| {example} | {layer} | {median:.3f} | {iterations * median:.0f} s | "
                    f"{medians['cvxpylayers'] / median:.1f}x |"
                )
            for layer in layers:
                agent, seconds = trained(example, layer)
                result = evaluate(
                    agent, env_id, arguments.episodes, seed=0, compare_to_oracle=False
                )
                rows.append((example, layer, seconds, result))
    print(
        f"\n| example | trained through | wall time | cost per step, {arguments.episodes} "
        "episodes (mean ± s.e.) | published |"
    )
    print("|---|---|---|---|---|")
    for example, layer, seconds, result in rows:
        print(
            f"| {example} | {layer} | {seconds:.1f} s | {result.mean_cost:.4f} ± "
            f"{result.std_error:.4f} | {PUBLISHED[example]} |"
        )


if __name__ == "__main__":
    main()
