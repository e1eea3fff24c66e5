"""Throughput of the native batched envs, and of ``evaluate`` on batches of episodes.

1. Env-steps per second of ``gym.make_vec(id, N, "vector_entry_point")`` (our native batch of
   the linear envs and the cart-pole) at 64 and 1024 envs against ``make_vec(id, 64, "sync")``
   (a Python loop over single envs), with zero actions; Gymnasium's own native ``CartPole-v1``
   batch calibrates the machine.
2. The batched BoxLQR step at 1024 envs against its ceiling (issue 16): what any batch that keeps
   per-env generators (identical to single envs) must spend, the draws of its
   :class:`~mbdl_control.envs.normal_streams.NormalStreams` (refills amortized), plus the bare
   dynamics ``x' = Ax + Bu + W^½ z`` with the clip and the stage cost in the cheapest numpy
   form we found; the env's share of the ceiling (goal ≥ 85 %).
3. Seconds to ``evaluate`` 1000 episodes (no oracle) batched vs episode by episode, and the
   largest difference between the two runs' episode costs.

Each figure is the median over ``--repeats`` runs with min and max. numpy's BLAS is limited to
one thread and torch to one thread, as in the harness's workers: splitting a 1024 × 8 product
over two threads costs more than it saves.

    .venv/bin/python benchmarks/vector_envs.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from functools import partial

import gymnasium as gym
import numpy as np
import torch
from threadpoolctl import threadpool_limits

import mbdl_control  # noqa: F401  (registers the envs)
from mbdl_control.agents import COCP, LQG, LQR, MPC, SaturatedLQR
from mbdl_control.evaluation import evaluate

ENV_IDS = ("mbdl/BoxLQR-v0", "mbdl/LinearQuadratic-v0", "mbdl/LQG-v0", "mbdl/CartPole-v0")
AGENTS = (
    ("mbdl/LinearQuadratic-v0", "LQR (time-varying)", lambda model: LQR(model, horizon=100)),
    ("mbdl/LQG-v0", "LQG (time-varying)", lambda model: LQG(model, horizon=100)),
    ("mbdl/BoxLQR-v0", "saturated LQR", SaturatedLQR),
    ("mbdl/BoxLQR-v0", "COCP (batches by box_qp)", COCP),
    ("mbdl/BoxLQR-v0", "MPC H=10 (DAQP per state)", lambda model: MPC(model, horizon=10)),
)


def steps_per_second(env_id: str, num_envs: int, mode: str, steps: int) -> float:
    envs = gym.make_vec(env_id, num_envs, vectorization_mode=mode)
    envs.reset(seed=0)
    actions = np.zeros(envs.action_space.shape, dtype=envs.action_space.dtype)
    for _ in range(10):  # warm up
        envs.step(actions)
    start = time.perf_counter()
    for _ in range(steps):
        envs.step(actions)
    return num_envs * steps / (time.perf_counter() - start)


def summary(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def repeat(measure: Callable[[], float], repeats: int) -> tuple[float, float, float]:
    return summary([measure() for _ in range(repeats)])


def throughput_table(repeats: int) -> None:
    print("| env | path | envs | env-steps/s (median) | min | max | ratio to sync at 64 |")
    print("|---|---|---|---|---|---|---|")
    rows = [(env_id, "sync", 64, 200) for env_id in ENV_IDS]
    rows += [(env_id, "vector_entry_point", n, 2000) for env_id in ENV_IDS for n in (64, 1024)]
    rows += [("CartPole-v1", "vector_entry_point", n, 2000) for n in (64, 1024)]
    baseline = {}
    for env_id, mode, num_envs, steps in sorted(rows, key=lambda row: row[1] != "sync"):
        measure = partial(steps_per_second, env_id, num_envs, mode, steps)
        median, low, high = repeat(measure, repeats)
        if mode == "sync":
            baseline[env_id] = median
        ratio = f"{median / baseline[env_id]:.0f}x" if env_id in baseline else "—"
        print(
            f"| {env_id} | {mode} | {num_envs} | {median / 1e6:.3f} M | {low / 1e6:.3f} M | "
            f"{high / 1e6:.3f} M | {ratio} |"
        )


def microseconds(call: Callable[[], object], calls: int = 1000) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - start) / calls * 1e6


def ceiling_table(repeats: int, num_envs: int = 1024) -> None:
    envs = gym.make_vec("mbdl/BoxLQR-v0", num_envs, vectorization_mode="vector_entry_point")
    envs.reset(seed=0)
    dynamics, actions = envs.dynamics, np.zeros(envs.action_space.shape)
    model, rows = dynamics.model, np.arange(num_envs)
    noise_map, ones_n, ones_m = dynamics.process_factor.T, np.ones(model.n), np.ones(model.m)
    state = envs.dynamics.reset(envs._streams.draw(rows))[0]
    upper = np.broadcast_to(model.u_max, actions.shape).copy()
    lower = -upper

    def bare_step() -> tuple[np.ndarray, np.ndarray]:
        z = envs._streams.draw(rows)
        u = np.minimum(np.maximum(actions, lower), upper)
        cost = ((state @ model.Q) * state) @ ones_n + ((u @ model.R) * u) @ ones_m
        return state @ model.A.T + u @ model.B.T + z[:, : model.n] @ noise_map, cost

    parts = {
        "env step": lambda: envs.step(actions),
        "draws alone": lambda: envs._streams.draw(rows),
        "ceiling: draws + bare dynamics": bare_step,
    }
    print(f"\n| BoxLQR, {num_envs} envs | µs per batch step (median) | min | max |")
    print("|---|---|---|---|")
    medians = {}
    for name, call in parts.items():
        medians[name], low, high = repeat(lambda call=call: microseconds(call), repeats)
        print(f"| {name} | {medians[name]:.1f} | {low:.1f} | {high:.1f} |")
    share = medians["ceiling: draws + bare dynamics"] / medians["env step"]
    print(f"the env at {100 * share:.0f} % of the ceiling")


def evaluation_seconds(agent, env, batched: bool) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    result = evaluate(agent, env, 1000, seed=0, compare_to_oracle=False, batched=batched)
    return time.perf_counter() - start, result.episode_costs


def evaluation_table(repeats: int) -> None:
    print(
        "\n| env | agent | episode by episode, s (median) | batched, s (median) | min | max "
        "| speed-up | max abs Δ episode cost |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for env_id, name, make_agent in AGENTS:
        env = gym.make(env_id, mismatch=0.2)
        agent = make_agent(env.unwrapped.nominal_model)
        one_by_one, batched, difference = [], [], 0.0
        for _ in range(repeats):
            seconds, reference = evaluation_seconds(agent, env, batched=False)
            one_by_one.append(seconds)
            seconds, costs = evaluation_seconds(agent, env, batched=True)
            batched.append(seconds)
            difference = max(difference, float(np.max(np.abs(costs - reference))))
        slow, (fast, low, high) = statistics.median(one_by_one), summary(batched)
        print(
            f"| {env_id} | {name} | {slow:.2f} | {fast:.3f} | {low:.3f} | {high:.3f} | "
            f"{slow / fast:.0f}x | {difference:.1e} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, Python "
        f"{platform.python_version()}, numpy {np.__version__}, gymnasium {gym.__version__}"
    )
    torch.set_num_threads(1)
    with threadpool_limits(1):
        throughput_table(arguments.repeats)
        ceiling_table(arguments.repeats)
        evaluation_table(arguments.repeats)


if __name__ == "__main__":
    main()
