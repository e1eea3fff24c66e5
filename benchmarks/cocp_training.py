"""Training the learned convex policy on the published box LQR: box_qp against cvxpylayers.

1. Seconds per training iteration (a batch of 6 episodes of 100 steps through the policy
   layer, then backpropagation) through each layer: the exact box QP (``layer="box_qp"``) and
   cvxpylayers (diffcp + SCS at the published eps 1e-8); median, min and max over
   ``--repeats`` one-iteration trainings (after one untimed warm-up), and the extrapolated
   wall time of the published 100 iterations.
2. The published training (100 iterations, batch 6, T = 100, seed 0) through box_qp, timed
   end to end (and its speed-up over cvxpylayers' 100 iterations, extrapolated from part 1
   or measured), and the trained policy's cost per step on ``--episodes`` episodes (seed 0),
   against the cvxpylayers-trained policy's (:data:`CVXPYLAYERS_REFERENCE` on 500 episodes;
   published 13.01). ``--full-cvxpylayers`` also trains through cvxpylayers (about 5
   minutes) and evaluates it on the same episodes, for a paired comparison.

torch and BLAS run on one thread, as in the harness's workers.

    .venv/bin/python benchmarks/cocp_training.py [--repeats 5] [--episodes 500] [--full-cvxpylayers]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import gymnasium as gym
import numpy as np
import torch
from threadpoolctl import threadpool_limits

import mbdl_control  # noqa: F401  (registers the envs)
from mbdl_control.agents import LearnedCOCP
from mbdl_control.evaluation import evaluate

ENV_ID = "mbdl/BoxLQR-v0"
LAYERS = {
    "box_qp": "box_qp (exact active set)",
    "cvxpylayers": "cvxpylayers (diffcp + SCS, eps 1e-8)",
}
#: the cvxpylayers-trained policy's cost per step on the 500 episodes of seed 0 (mean, s.e.),
#: measured with ``--full-cvxpylayers`` on 2026-11-26, and the same with the tree of dcdb03d
#: (before the batched evaluate and DAQP); the README's 12.98 ± 0.14 is the study's, on other
#: evaluation episodes (evaluation seed = seed + seed_offset)
CVXPYLAYERS_REFERENCE = (12.82, 0.16)


def seconds_per_iteration(layer: str, repeats: int) -> list[float]:
    env = gym.make(ENV_ID)
    LearnedCOCP(env.unwrapped.true_model, iterations=1, layer=layer).fit(env, seed=repeats)
    times = []
    for repeat in range(repeats):
        agent = LearnedCOCP(env.unwrapped.true_model, iterations=1, layer=layer)
        start = time.perf_counter()
        agent.fit(env, seed=repeat)
        times.append(time.perf_counter() - start)
    return times


def published_training(layer: str) -> tuple[LearnedCOCP, float]:
    """The agent trained by the published schedule (the defaults), and the wall time."""
    env = gym.make(ENV_ID)
    agent = LearnedCOCP(env.unwrapped.true_model, layer=layer)
    start = time.perf_counter()
    agent.fit(env, seed=0)
    return agent, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--episodes", type=int, default=500)
    parser.add_argument("--full-cvxpylayers", action="store_true")
    arguments = parser.parse_args()
    trained = ("box_qp", "cvxpylayers") if arguments.full_cvxpylayers else ("box_qp",)
    torch.set_num_threads(1)
    with threadpool_limits(1):
        times = {layer: seconds_per_iteration(layer, arguments.repeats) for layer in LAYERS}
        trainings = {layer: published_training(layer) for layer in trained}
        results = {
            layer: evaluate(
                agent, ENV_ID, n_episodes=arguments.episodes, seed=0, compare_to_oracle=False
            )
            for layer, (agent, _) in trainings.items()
        }
    medians = {layer: statistics.median(times[layer]) for layer in LAYERS}
    print(
        f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, Python "
        f"{platform.python_version()}, torch {torch.__version__} ({torch.get_num_threads()} "
        "thread)"
    )
    print("| layer | s / iteration (median) | min | max | 100 iterations | ratio |")
    print("|---|---|---|---|---|---|")
    for layer, label in LAYERS.items():
        print(
            f"| {label} | {medians[layer]:.3f} | {min(times[layer]):.3f} | "
            f"{max(times[layer]):.3f} | {100 * medians[layer]:.0f} s | "
            f"{medians['cvxpylayers'] / medians[layer]:.0f}x |"
        )
    baseline = (
        trainings["cvxpylayers"][1] if "cvxpylayers" in trainings else 100 * medians["cvxpylayers"]
    )
    print(
        "\n| published training through | wall time, end to end | cvxpylayers' time / this | "
        f"cost per step, {arguments.episodes} episodes (mean ± s.e.) |"
    )
    print("|---|---|---|---|")
    for layer, (_, seconds) in trainings.items():
        print(
            f"| {LAYERS[layer]} | {seconds:.1f} s | {baseline / seconds:.1f}x | "
            f"{results[layer].mean_cost:.2f} ± {results[layer].std_error:.2f} |"
        )
    if arguments.full_cvxpylayers:
        difference = results["box_qp"].episode_costs - results["cvxpylayers"].episode_costs
        error = difference.std(ddof=1) / np.sqrt(len(difference))
        mean = difference.mean()
        print(f"\npaired cost difference, box_qp minus cvxpylayers: {mean:+.4f} ± {error:.4f}")
    else:
        mean, error = CVXPYLAYERS_REFERENCE
        print(
            f"| {LAYERS['cvxpylayers']}: reference | {baseline:.0f} s (extrapolated) | 1x | "
            f"{mean} ± {error} (500 episodes) |"
        )


if __name__ == "__main__":
    main()
