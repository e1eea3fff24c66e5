"""Seconds per training iteration of the learned convex policy on the published box LQR.

One iteration of the published schedule simulates a batch of 6 episodes of 100 steps through
the cvxpylayers policy layer and backpropagates; the published reproduction runs 100 of them.
Prints the median, min and max over repeats, and the extrapolated wall time of 100 iterations.

    .venv/bin/python benchmarks/cocp_training.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import gymnasium as gym

import mbdl_control  # noqa: F401  (registers the envs)
from mbdl_control.agents import LearnedCOCP


def seconds_per_iteration(repeats: int) -> list[float]:
    env = gym.make("mbdl/BoxLQR-v0")
    times = []
    for repeat in range(repeats):
        agent = LearnedCOCP(env.unwrapped.true_model, iterations=1)
        start = time.perf_counter()
        agent.fit(env, seed=repeat)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()
    times = seconds_per_iteration(arguments.repeats)
    median = statistics.median(times)
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    print("| path | s / iteration (median) | min | max | 100 iterations |")
    print("|---|---|---|---|---|")
    print(
        f"| cvxpylayers (diffcp + SCS, eps 1e-8) | {median:.2f} | {min(times):.2f} | "
        f"{max(times):.2f} | {100 * median / 60:.1f} min |"
    )


if __name__ == "__main__":
    main()
